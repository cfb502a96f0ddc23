//! `gradboard presets`: every preset with its description.

use anyhow::Result;
use gradboard::config::PresetDirs;
use std::process::ExitCode;

/// Prints every preset with its description.
pub fn run() -> Result<ExitCode> {
    let dirs = PresetDirs::discover();
    let presets = dirs.list();
    if presets.is_empty() {
        anyhow::bail!(
            "no presets found in {} (set GRADBOARD_PRESETS to the project's presets folder)",
            dirs.dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        );
    }
    let width = presets
        .iter()
        .filter_map(|p| p.as_ref().ok().map(|p| p.name.len()))
        .max()
        .unwrap_or(0);
    for preset in presets {
        match preset {
            Ok(p) => println!("{:width$}  {}", p.name, p.description),
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
