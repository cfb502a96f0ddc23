//! Presets: named configurations in TOML files, the built-in ones and the user's own.

use super::RunConfig;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// A preset: a named configuration with a one-line description.
#[derive(Debug, Clone)]
pub struct Preset {
    /// Name (the file stem).
    pub name: String,
    /// One-line description.
    pub description: String,
    /// The configuration.
    pub config: RunConfig,
    /// The file it came from.
    pub path: PathBuf,
}

impl Preset {
    /// Reads a preset file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Preset(format!("{}: {e}", path.display())))?;
        let origin = path.display().to_string();
        let config = RunConfig::from_toml(&text, &origin)?;
        let description = text
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| {
                t.get("description")
                    .and_then(|d| d.as_str().map(str::to_string))
            })
            .unwrap_or_default();
        Ok(Preset {
            name: path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("?")
                .to_string(),
            description,
            config,
            path: path.to_path_buf(),
        })
    }
}

/// Where presets live: the project's `presets/` and the user's own folder.
#[derive(Debug, Clone)]
pub struct PresetDirs {
    /// Folders searched in order; the last one is the user's, where new presets are saved.
    pub dirs: Vec<PathBuf>,
}

/// Environment variable naming the folder of built-in presets.
pub const PRESETS_ENV: &str = "GRADBOARD_PRESETS";

impl PresetDirs {
    /// The built-in folder (`GRADBOARD_PRESETS`, else `presets/` next to the working directory
    /// or the source tree) and the user's folder (`~/.config/gradboard/presets`).
    pub fn discover() -> Self {
        let mut dirs = Vec::new();
        if let Some(p) = std::env::var_os(PRESETS_ENV).filter(|v| !v.is_empty()) {
            dirs.push(PathBuf::from(p));
        } else {
            let here = PathBuf::from("presets");
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets");
            if here.is_dir() {
                dirs.push(here);
            } else {
                dirs.push(source);
            }
        }
        dirs.push(
            dirs::config_dir()
                .unwrap_or_else(std::env::temp_dir)
                .join("gradboard")
                .join("presets"),
        );
        PresetDirs { dirs }
    }

    /// The user's folder, where saved presets go.
    pub fn user_dir(&self) -> &Path {
        self.dirs.last().expect("at least one preset folder")
    }

    /// Every preset, sorted by name within each folder; unreadable files are reported.
    pub fn list(&self) -> Vec<Result<Preset>> {
        let mut out = Vec::new();
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            paths.sort();
            out.extend(paths.iter().map(|p| Preset::load(p)));
        }
        out
    }

    /// Finds a preset by name, or reads it from a file path.
    pub fn find(&self, name_or_file: &str) -> Result<Preset> {
        let as_path = Path::new(name_or_file);
        if name_or_file.ends_with(".toml") || as_path.components().count() > 1 {
            if as_path.is_file() {
                return Preset::load(as_path);
            }
            return Err(Error::Preset(format!(
                "preset file {name_or_file}: not found"
            )));
        }
        for dir in &self.dirs {
            let path = dir.join(format!("{name_or_file}.toml"));
            if path.is_file() {
                return Preset::load(&path);
            }
        }
        let known: Vec<String> = self
            .list()
            .into_iter()
            .filter_map(|p| p.ok().map(|p| p.name))
            .collect();
        Err(Error::Preset(format!(
            "unknown preset {name_or_file:?}; presets: {}",
            known.join(", ")
        )))
    }

    /// Saves `config` as the user's preset `name`.
    pub fn save(&self, name: &str, description: &str, config: &RunConfig) -> Result<PathBuf> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::Preset(format!(
                "preset name {name:?}: use letters, digits, - and _"
            )));
        }
        let dir = self.user_dir();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, config.to_toml(Some(description)))
            .map_err(|e| Error::io(&path, e))?;
        Ok(path)
    }
}
