//! `gradboard runs`: every run in a runs folder, newest first, with its status (`running`
//! while its process lives, `crashed` after, else its `done` status) and what it reached; then
//! the groups of runs that differ only by seed (n, mean ± std). `--groups` lists only groups.

use anyhow::Result;
use gradboard::runs::groups::{group_runs, RunGroup};
use gradboard::runs::{accuracy_text as acc, list_runs, RunRecord};
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `gradboard runs`.
#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    /// Folder of run folders.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// One JSON object a line (DESIGN.md's fields) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// One row a group of runs that differ only by seed: n, mean and standard deviation of
    /// their best and final test accuracy.
    #[arg(long)]
    pub groups: bool,
    /// Other programs' runs: every folder under DIR with TensorBoard event files or a
    /// metrics.jsonl (and gradboard's run folders), their settings and scalars.
    #[arg(long, value_name = "DIR", conflicts_with = "groups")]
    pub logdir: Option<PathBuf>,
}

/// `runs --logdir DIR`: a row a run (its id, source, settings and each tag's last value), or
/// with `--json` an object a line (id, path, source, settings, scalars: {tag: {count, last,
/// step, min, max}}).
fn log_runs(dir: &std::path::Path, json: bool) -> Result<ExitCode> {
    let runs = gradboard::logs::scan(dir)?;
    if runs.is_empty() {
        anyhow::bail!(
            "{}: no runs (a run is a folder with events.out.tfevents.* files or a metrics.jsonl)",
            dir.display()
        );
    }
    for run in &runs {
        if json {
            println!("{}", run.json());
            continue;
        }
        let settings: Vec<String> = run
            .settings
            .iter()
            .map(|(k, v)| format!("{k}={}", gradboard::config::json_text(v)))
            .collect();
        let tags: Vec<String> = run
            .summaries()
            .iter()
            .map(|(tag, s)| match s.last {
                Some(v) => format!("{tag}={v:.4}@{}", s.step),
                None => format!("{tag}=nan@{}", s.step),
            })
            .collect();
        let skipped = match run.skipped {
            0 => String::new(),
            n => format!("  ({n} corrupt records or lines skipped)"),
        };
        println!(
            "{:32} {:11} {}  {}{skipped}",
            run.id,
            format!("{:?}", run.source).to_lowercase(),
            tags.join(" "),
            settings.join(" ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The settings a run changed from its preset, as `key=value` words (without its seed when
/// `seedless`), then its live changes (`lr 0.001 -> 0.003 @244`).
fn changed_text(r: &RunRecord, seedless: bool) -> String {
    r.changed
        .iter()
        .filter(|(k, _)| !(seedless && *k == "seed"))
        .map(|(k, v)| format!("{k}={}", gradboard::config::json_text(v)))
        .chain(r.live_changes.iter().map(|c| c.text()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The groups as rows: the first run (and how many more), n, best and final mean ± std.
fn group_table(groups: &[&RunGroup], runs: &[RunRecord]) -> String {
    let mut out = format!(
        "{:32}  {:>3}  {:>17}  {:>17}  {:12}  changed\n",
        "group (first run)", "n", "best test ± std", "final test ± std", "seeds"
    );
    for g in groups {
        let first = runs.iter().find(|r| r.run_id == g.runs[0]);
        let name = match g.runs.len() {
            1 => g.runs[0].clone(),
            k => format!("{} +{}", g.runs[0], k - 1),
        };
        let seeds: Vec<String> = g.seeds.iter().map(|s| s.to_string()).collect();
        out.push_str(&format!(
            "{name:32}  {:>3}  {:>17}  {:>17}  {:12}  {}\n",
            g.n,
            g.best_text(),
            g.final_text(),
            seeds.join(","),
            first.map(|r| changed_text(r, true)).unwrap_or_default()
        ));
    }
    out
}

/// The highest accuracy level a run reached and when: `0.8 in 412 s`, or `-`.
fn time_to_text(time_to: &std::collections::BTreeMap<String, f64>) -> String {
    time_to
        .iter()
        .max_by(|a, b| {
            let level = |k: &str| k.parse::<f64>().unwrap_or(0.0);
            level(a.0).total_cmp(&level(b.0))
        })
        .map_or("-".to_string(), |(level, s)| format!("{level} in {s:.0} s"))
}

/// Lists the runs.
pub fn run(args: RunsArgs) -> Result<ExitCode> {
    if let Some(dir) = &args.logdir {
        return log_runs(dir, args.json);
    }
    let runs = list_runs(&args.runs_dir)?;
    let groups = group_runs(&runs);
    if args.groups {
        if args.json {
            for g in &groups {
                let line = serde_json::json!({
                    "runs": g.runs, "seeds": g.seeds, "n": g.n,
                    "best_mean": g.best_mean, "best_std": g.best_std,
                    "final_mean": g.final_mean, "final_std": g.final_std,
                });
                println!("{line}");
            }
        } else if groups.is_empty() {
            println!("no runs in {}", args.runs_dir.display());
        } else {
            print!("{}", group_table(&groups.iter().collect::<Vec<_>>(), &runs));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.json {
        for r in &runs {
            println!("{}", serde_json::to_string(r)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        println!("no runs in {}", args.runs_dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let id_w = runs
        .iter()
        .map(|r| r.run_id.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "{:id_w$}  {:9}  {:>7}  {:>7}  {:>7}  {:>8}  {:14}  changed",
        "run", "status", "step", "final", "best", "seconds", "time to"
    );
    for r in &runs {
        println!(
            "{:id_w$}  {:9}  {:>7}  {:>7}  {:>7}  {:>8.1}  {:14}  {}",
            r.run_id,
            r.status.as_str(),
            r.step,
            acc(r.final_test_acc),
            acc(r.best_test_acc),
            r.seconds,
            time_to_text(&r.time_to),
            changed_text(r, false)
        );
    }
    let seeded: Vec<&RunGroup> = groups.iter().filter(|g| g.runs.len() > 1).collect();
    if !seeded.is_empty() {
        println!("\nruns that differ only by seed:");
        print!("{}", group_table(&seeded, &runs));
    }
    Ok(ExitCode::SUCCESS)
}
