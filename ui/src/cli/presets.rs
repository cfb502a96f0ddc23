//! `gradboard presets`: every preset with its description; `--keys`: every configuration key.

use anyhow::Result;
use gradboard::config::{PresetDirs, KEYS};
use std::process::ExitCode;

/// Options of `gradboard presets`.
#[derive(Debug, clap::Args)]
pub struct PresetsArgs {
    /// List the configuration keys (what each takes, whether it changes live) instead.
    #[arg(long)]
    pub keys: bool,
}

/// Prints every preset with its description, or the key table.
pub fn run(args: PresetsArgs) -> Result<ExitCode> {
    if args.keys {
        print_keys();
        return Ok(ExitCode::SUCCESS);
    }
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

fn print_keys() {
    let name_w = KEYS.iter().map(|k| k.name.len()).max().unwrap_or(0);
    let values: Vec<String> = KEYS.iter().map(|k| k.kind().describe()).collect();
    let value_w = values.iter().map(|v| v.len()).max().unwrap_or(0);
    println!(
        "{:name_w$}  {:value_w$}  {:7}  help",
        "key", "values", "changes"
    );
    for (k, v) in KEYS.iter().zip(&values) {
        let when = if k.live { "live" } else { "restart" };
        println!("{:name_w$}  {v:value_w$}  {when:7}  {}", k.name, k.help);
    }
    for (name, values, help) in [
        (
            "net",
            "NAME, FILE.toml or none",
            "a network as data (gradboard net list; makes model = net)",
        ),
        (
            "net.VAR",
            "a number",
            "a variable of the run's net (gradboard net show NET)",
        ),
    ] {
        println!("{name:name_w$}  {values:value_w$}  {:7}  {help}", "restart");
    }
    println!("\nWhat each value of a choice means:");
    for k in KEYS {
        let values = k.value_help();
        if values.is_empty() {
            continue;
        }
        println!("\n{}", k.name);
        let w = values.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (name, help) in values {
            println!("  {name:w$}  {help}");
        }
    }
    println!("\nSet with --set key=value or in a preset's TOML; `live` keys also change while a run trains.");
}
