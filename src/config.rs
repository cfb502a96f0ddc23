//! The run configuration: the keys of DESIGN.md, loaded from a preset TOML and overridden by
//! `key=value` strings. One parser per key serves both, so both give the same messages.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// Which implementation trains the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// Section 1: modules with hand-written backward passes, no autograd.
    Manual,
    /// Sections 2-4: candle's autograd.
    Autograd,
}

/// The network architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// A multi-layer perceptron on flattened images.
    Mlp,
    /// The small VGG of section 4.
    Convnet,
}

/// Normalisation after each hidden Linear (or conv) layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Norm {
    /// No normalisation.
    None,
    /// candle-nn's batch norm.
    Batchnorm,
    /// Section 3's batch norm, backward by autograd.
    CustomAutograd,
    /// Section 3's batch norm, backward written by hand.
    CustomManual,
}

/// The optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// Plain stochastic gradient descent.
    Sgd,
    /// SGD with heavy-ball momentum (PyTorch's formula).
    Momentum,
    /// Adam.
    Adam,
    /// Adam with decoupled weight decay.
    Adamw,
    /// RMSprop.
    Rmsprop,
}

/// A choice key's values, for messages, cycling in the dashboard, and parsing.
pub trait Choice: Sized + Copy + PartialEq + 'static {
    /// Every value with its name, in display order.
    const ALL: &'static [(Self, &'static str)];

    /// The value's name as written in presets.
    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(v, _)| *v == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }

    /// Parses a name.
    fn parse(key: &str, text: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == text)
            .map(|(v, _)| *v)
            .ok_or_else(|| {
                Error::Config(format!(
                    "{key}: unknown value {text:?}; allowed: {}",
                    Self::ALL
                        .iter()
                        .map(|(_, n)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// The value after this one, wrapping around.
    fn next(self) -> Self {
        let i = Self::ALL.iter().position(|(v, _)| *v == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()].0
    }
}

impl Choice for Engine {
    const ALL: &'static [(Self, &'static str)] =
        &[(Engine::Manual, "manual"), (Engine::Autograd, "autograd")];
}
impl Choice for ModelKind {
    const ALL: &'static [(Self, &'static str)] =
        &[(ModelKind::Mlp, "mlp"), (ModelKind::Convnet, "convnet")];
}
impl Choice for Norm {
    const ALL: &'static [(Self, &'static str)] = &[
        (Norm::None, "none"),
        (Norm::Batchnorm, "batchnorm"),
        (Norm::CustomAutograd, "custom-autograd"),
        (Norm::CustomManual, "custom-manual"),
    ];
}
impl Choice for OptimizerKind {
    const ALL: &'static [(Self, &'static str)] = &[
        (OptimizerKind::Sgd, "sgd"),
        (OptimizerKind::Momentum, "momentum"),
        (OptimizerKind::Adam, "adam"),
        (OptimizerKind::Adamw, "adamw"),
        (OptimizerKind::Rmsprop, "rmsprop"),
    ];
}

/// Everything that defines one training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// `manual` (section 1) or `autograd`.
    pub engine: Engine,
    /// `mlp` or `convnet`.
    pub model: ModelKind,
    /// Hidden layer widths of the MLP.
    pub hidden: Vec<usize>,
    /// Normalisation after each hidden layer.
    pub norm: Norm,
    /// Dropout probability after every hidden layer but the last.
    pub dropout: f64,
    /// LeakyReLU negative slope.
    pub neg_slope: f64,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Learning rate.
    pub lr: f64,
    /// Momentum (heavy ball) for `momentum`, smoothing constant alpha for `rmsprop`.
    pub momentum: f64,
    /// L2 penalty (decoupled for `adamw`).
    pub weight_decay: f64,
    /// Standard deviation of Linear weights; absent for the default (the manual engine: the
    /// lab's 1e-4; the autograd MLP: candle-nn's; the ConvNet: PyTorch's, as the spec says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_std: Option<f64>,
    /// Images per training step.
    pub batch_size: usize,
    /// Training steps.
    pub steps: usize,
    /// Steps between evaluations on the test set.
    pub eval_every: usize,
    /// Seed of every random source of the run.
    pub seed: u64,
}

impl Default for RunConfig {
    /// Section 1's defaults on the manual engine.
    fn default() -> Self {
        RunConfig {
            engine: Engine::Manual,
            model: ModelKind::Mlp,
            hidden: vec![100],
            norm: Norm::None,
            dropout: 0.0,
            neg_slope: 0.02,
            optimizer: OptimizerKind::Sgd,
            lr: 2e-3,
            momentum: 0.9,
            weight_decay: 0.0,
            init_std: None,
            batch_size: 200,
            steps: 1500,
            eval_every: 100,
            seed: 42,
        }
    }
}

/// What kind of value a key takes, for editors and help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// One of a fixed list of names.
    Choice(&'static [&'static str]),
    /// A floating-point number.
    Float,
    /// An optional floating-point number (`default` for none).
    OptionalFloat,
    /// A non-negative integer.
    Integer,
    /// A comma-separated list of integers.
    IntegerList,
}

/// Every key, in display order, with its kind and a short help text.
pub const KEYS: &[(&str, KeyKind, &str)] = &[
    (
        "engine",
        KeyKind::Choice(&["manual", "autograd"]),
        "manual = hand-written backward (section 1)",
    ),
    (
        "model",
        KeyKind::Choice(&["mlp", "convnet"]),
        "network architecture",
    ),
    (
        "hidden",
        KeyKind::IntegerList,
        "MLP hidden widths, e.g. 800,400,200,100",
    ),
    (
        "norm",
        KeyKind::Choice(&["none", "batchnorm", "custom-autograd", "custom-manual"]),
        "normalisation after hidden layers",
    ),
    ("dropout", KeyKind::Float, "dropout probability, 0 to <1"),
    ("neg_slope", KeyKind::Float, "LeakyReLU negative slope"),
    (
        "optimizer",
        KeyKind::Choice(&["sgd", "momentum", "adam", "adamw", "rmsprop"]),
        "optimizer",
    ),
    ("lr", KeyKind::Float, "learning rate"),
    (
        "momentum",
        KeyKind::Float,
        "momentum / RMSprop alpha, 0 to <1",
    ),
    (
        "weight_decay",
        KeyKind::Float,
        "L2 penalty (decoupled for adamw)",
    ),
    (
        "init_std",
        KeyKind::OptionalFloat,
        "Linear weight std, or default",
    ),
    ("batch_size", KeyKind::Integer, "images per step"),
    ("steps", KeyKind::Integer, "training steps"),
    (
        "eval_every",
        KeyKind::Integer,
        "steps between test evaluations",
    ),
    ("seed", KeyKind::Integer, "seed of every random source"),
];

fn unknown_key(key: &str) -> Error {
    Error::Config(format!(
        "unknown key {key:?}; keys: {}",
        KEYS.iter().map(|k| k.0).collect::<Vec<_>>().join(", ")
    ))
}

fn parse_float(key: &str, text: &str) -> Result<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| Error::Config(format!("{key}: expected a number, got {text:?}")))
}

fn parse_int(key: &str, text: &str) -> Result<usize> {
    text.trim()
        .parse::<usize>()
        .map_err(|_| Error::Config(format!("{key}: expected a whole number >= 0, got {text:?}")))
}

fn range_error(key: &str, value: impl fmt::Display, allowed: &str) -> Error {
    Error::Config(format!(
        "{key}: {value} is out of range; allowed: {allowed}"
    ))
}

impl RunConfig {
    /// Sets one key from its text form (`--set key=value`, the dashboard's editor).
    /// The value is checked on its own; `validate` checks the combination.
    pub fn set(&mut self, key: &str, text: &str) -> Result<()> {
        let text = text.trim();
        match key {
            "engine" => self.engine = Engine::parse(key, text)?,
            "model" => self.model = ModelKind::parse(key, text)?,
            "norm" => self.norm = Norm::parse(key, text)?,
            "optimizer" => self.optimizer = OptimizerKind::parse(key, text)?,
            "hidden" => {
                let text = text.trim_start_matches('[').trim_end_matches(']');
                self.hidden = if text.trim().is_empty() {
                    Vec::new()
                } else {
                    text.split(',')
                        .map(|w| match parse_int(key, w) {
                            Ok(0) | Err(_) => Err(Error::Config(format!(
                                "hidden: expected widths >= 1 separated by commas, e.g. 800,400,200,100; got {text:?}"
                            ))),
                            Ok(w) => Ok(w),
                        })
                        .collect::<Result<_>>()?
                };
                if self.hidden.iter().any(|&w| w > 16384) || self.hidden.len() > 16 {
                    return Err(range_error(
                        key,
                        text,
                        "at most 16 layers of at most 16384 units",
                    ));
                }
            }
            "dropout" => {
                let v = parse_float(key, text)?;
                if !(0.0..1.0).contains(&v) {
                    return Err(range_error(key, v, "0.0 to below 1.0"));
                }
                self.dropout = v;
            }
            "neg_slope" => {
                let v = parse_float(key, text)?;
                if !(0.0..=1.0).contains(&v) {
                    return Err(range_error(key, v, "0.0 to 1.0"));
                }
                self.neg_slope = v;
            }
            "lr" => {
                let v = parse_float(key, text)?;
                if !(v > 0.0 && v <= 10.0) {
                    return Err(range_error(key, v, "above 0 and at most 10"));
                }
                self.lr = v;
            }
            "momentum" => {
                let v = parse_float(key, text)?;
                if !(0.0..1.0).contains(&v) {
                    return Err(range_error(key, v, "0.0 to below 1.0"));
                }
                self.momentum = v;
            }
            "weight_decay" => {
                let v = parse_float(key, text)?;
                if !(0.0..=1.0).contains(&v) {
                    return Err(range_error(key, v, "0.0 to 1.0"));
                }
                self.weight_decay = v;
            }
            "init_std" => {
                self.init_std = match text {
                    "default" | "none" | "" => None,
                    _ => {
                        let v = parse_float(key, text)?;
                        if !(v > 0.0 && v <= 10.0) {
                            return Err(range_error(key, v, "above 0 and at most 10, or default"));
                        }
                        Some(v)
                    }
                }
            }
            "batch_size" => {
                let v = parse_int(key, text)?;
                if !(1..=50_000).contains(&v) {
                    return Err(range_error(key, v, "1 to 50000"));
                }
                self.batch_size = v;
            }
            "steps" => {
                let v = parse_int(key, text)?;
                if !(1..=10_000_000).contains(&v) {
                    return Err(range_error(key, v, "1 to 10000000"));
                }
                self.steps = v;
            }
            "eval_every" => {
                let v = parse_int(key, text)?;
                if v < 1 {
                    return Err(range_error(key, v, "1 or more"));
                }
                self.eval_every = v;
            }
            "seed" => {
                self.seed = text.parse::<u64>().map_err(|_| {
                    Error::Config(format!("seed: expected a whole number >= 0, got {text:?}"))
                })?
            }
            _ => return Err(unknown_key(key)),
        }
        Ok(())
    }

    /// The text form of one key's value, as `set` reads it back.
    pub fn get(&self, key: &str) -> Result<String> {
        Ok(match key {
            "engine" => self.engine.name().to_string(),
            "model" => self.model.name().to_string(),
            "norm" => self.norm.name().to_string(),
            "optimizer" => self.optimizer.name().to_string(),
            "hidden" => self
                .hidden
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join(","),
            "dropout" => format_float(self.dropout),
            "neg_slope" => format_float(self.neg_slope),
            "lr" => format_float(self.lr),
            "momentum" => format_float(self.momentum),
            "weight_decay" => format_float(self.weight_decay),
            "init_std" => self
                .init_std
                .map(format_float)
                .unwrap_or_else(|| "default".into()),
            "batch_size" => self.batch_size.to_string(),
            "steps" => self.steps.to_string(),
            "eval_every" => self.eval_every.to_string(),
            "seed" => self.seed.to_string(),
            _ => return Err(unknown_key(key)),
        })
    }

    /// Applies a `key=value` override.
    pub fn apply_override(&mut self, assignment: &str) -> Result<()> {
        let (key, value) = assignment.split_once('=').ok_or_else(|| {
            Error::Config(format!(
                "--set {assignment:?}: expected key=value, e.g. lr=0.001"
            ))
        })?;
        self.set(key.trim(), value)
    }

    /// Checks that the keys fit together (each key was range-checked when set).
    pub fn validate(&self) -> Result<()> {
        if self.engine == Engine::Manual {
            let mut wrong = Vec::new();
            if self.model != ModelKind::Mlp {
                wrong.push("model = mlp");
            }
            if self.norm != Norm::None {
                wrong.push("norm = none");
            }
            if self.dropout != 0.0 {
                wrong.push("dropout = 0");
            }
            if self.optimizer != OptimizerKind::Sgd {
                wrong.push("optimizer = sgd");
            }
            if !wrong.is_empty() {
                return Err(Error::Config(format!(
                    "engine = manual (section 1) needs {}; use engine = autograd for the rest",
                    wrong.join(", ")
                )));
            }
        }
        if self.model == ModelKind::Mlp && self.hidden.is_empty() && self.norm != Norm::None {
            return Err(Error::Config(
                "norm: needs at least one hidden layer (hidden is empty)".into(),
            ));
        }
        if self.norm != Norm::None && self.batch_size < 2 {
            return Err(Error::Config(
                "batch_size: batch norm needs batches of at least 2".into(),
            ));
        }
        Ok(())
    }

    /// Builds a configuration from TOML text (a preset's keys; `description` is skipped).
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            Error::Preset(format!("{origin}: not valid TOML: {}", e.message()))
        })?;
        let mut config = RunConfig::default();
        for (key, value) in &table {
            if key == "description" {
                continue;
            }
            let text = toml_value_text(value).ok_or_else(|| {
                Error::Config(format!("{origin}: {key}: unsupported value {value}"))
            })?;
            config
                .set(key, &text)
                .map_err(|e| Error::Config(format!("{origin}: {e}")))?;
        }
        config
            .validate()
            .map_err(|e| Error::Config(format!("{origin}: {e}")))?;
        Ok(config)
    }

    /// The configuration as TOML, with `description` first when given.
    pub fn to_toml(&self, description: Option<&str>) -> String {
        let mut out = String::new();
        if let Some(d) = description {
            out.push_str(&format!("description = {}\n", toml::Value::from(d)));
        }
        out.push_str(&toml::to_string(self).unwrap_or_default());
        out
    }
}

fn toml_value_text(value: &toml::Value) -> Option<String> {
    Some(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => items
            .iter()
            .map(toml_value_text)
            .collect::<Option<Vec<_>>>()?
            .join(","),
        _ => return None,
    })
}

/// Short text for a float: plain for ordinary values, scientific for small or large ones.
pub fn format_float(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e5) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

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
