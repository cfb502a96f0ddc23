//! `gradboard sweep`: a grid, random draws or a sweep file, trained run after run through the
//! runner, with the median pruner when asked; prints each run's end and the results table
//! (or, with `--json`, every run's events and then one `sweep_done` line). Ctrl-C stops the
//! running run and cancels the rest.

use anyhow::Result;
use gradboard::config::sweep::{SweepRequest, SweepSpec};
use gradboard::config::PresetDirs;
use gradboard::data::Cifar10;
use gradboard::events::{unix_now, Event, EventKind};
use gradboard::model::Compute;
use gradboard::runner::sweep::{start_sweep, SweepCommand, SweepState};
use gradboard::runner::Runner;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Options of `gradboard sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// A sweep file, or the name of a shipped one (presets/sweeps/, e.g. lab-ablation).
    #[arg(conflicts_with_all = ["preset", "grid", "random", "ranges"])]
    pub sweep: Option<String>,
    /// The preset every run starts from.
    #[arg(long, required_unless_present = "sweep")]
    pub preset: Option<String>,
    /// A grid key and its values (repeatable): lr=1e-3,2e-3; list keys take ; between
    /// alternatives: 'hidden=800,400;200,100'.
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub grid: Vec<String>,
    /// Random draws: how many (each with every --range drawn anew).
    #[arg(long, value_name = "N", requires = "ranges")]
    pub random: Option<usize>,
    /// A range for random draws (repeatable): lr=1e-4..1e-2:log, dropout=0..0.5.
    #[arg(long = "range", value_name = "KEY=LO..HI[:log]", requires = "random")]
    pub ranges: Vec<String>,
    /// Override a key in every run (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// The pruner: median (Optuna's rule) or none.
    #[arg(long, value_name = "median|none")]
    pub prune: Option<String>,
    /// The pruner's warm-up: evaluations of a run never judged (default 1).
    #[arg(long, value_name = "N")]
    pub prune_warmup: Option<usize>,
    /// Earlier completed runs that must have reached a step before a run is judged there
    /// (default 2).
    #[arg(long, value_name = "N")]
    pub prune_min_runs: Option<usize>,
    /// Seed of the random draws.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Runs trained at once (the threads are shared among them).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    /// The data set: the .tar.gz archive or the extracted folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Folder of run folders (the sweep's own folder goes in its sweeps/).
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Every run's JSONL events on stdout, then one sweep_done line.
    #[arg(long)]
    pub json: bool,
}

/// The spec the arguments describe, assembled and checked as the dashboard's form is.
fn spec(args: &SweepArgs, presets: &PresetDirs) -> Result<SweepSpec> {
    let request = SweepRequest {
        file: args.sweep.clone(),
        preset: args.preset.clone(),
        grid: args.grid.clone(),
        ranges: args.ranges.clone(),
        random: args.random.unwrap_or(0),
        set: args.overrides.clone(),
        prune: args.prune.clone(),
        prune_warmup: args.prune_warmup,
        prune_min_runs: args.prune_min_runs,
        seed: args.seed,
    };
    Ok(request.assemble(presets)?)
}

/// The results table for the terminal.
fn table(state: &SweepState) -> String {
    let with_expected = state.queue.iter().any(|e| e.expected.is_some());
    let label_width = state.label_width().clamp(8, 60);
    let figure = gradboard::runs::accuracy_text;
    let mut out = format!(
        "{:>3}  {:label_width$}  {:16}  {:>6}  {:>7}  {:>7}{}  run\n",
        "#",
        "settings",
        "status",
        "steps",
        "best",
        "final",
        if with_expected { "   report" } else { "" }
    );
    let mut rows = state.results();
    rows.extend(state.queue.iter().filter(|e| e.run_id().is_none()));
    for e in rows {
        let status = match e.pruned_at {
            Some(s) => format!("pruned at {s}"),
            None => e.state_name(),
        };
        let label: String = e.label.chars().take(label_width).collect();
        out.push_str(&format!(
            "{:>3}  {label:label_width$}  {status:16}  {:>6}  {:>7}  {:>7}{}  {}\n",
            e.index,
            e.step,
            figure(e.best_test_acc),
            figure(e.final_test_acc),
            if with_expected {
                format!("  {:>7}", figure(e.expected))
            } else {
                String::new()
            },
            e.run_id().unwrap_or("-")
        ));
    }
    out
}

/// Runs the sweep to its end.
pub fn run(args: SweepArgs, compute: Compute, threads: usize) -> Result<ExitCode> {
    let presets = PresetDirs::discover();
    let spec = spec(&args, &presets)?;
    let planned = spec.expand(&presets)?;
    let path = crate::data_setup::ensure_data(args.data.as_deref())?;
    let data = Arc::new(Cifar10::load(&path)?);
    let runner = Runner::new(data, &path, &args.runs_dir, compute, threads);
    let total = planned.len();
    let steps: usize = planned.iter().map(|r| r.config.steps).sum();
    let (tx, rx) = std::sync::mpsc::channel::<Event>();
    let sweep = start_sweep(
        &runner,
        &spec,
        planned,
        args.parallel as usize,
        Box::new(move |e| drop(tx.send(e.clone()))),
    )?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_flag = stop.clone();
    let (cmd_tx, cmd_rx) = std::sync::mpsc::channel::<SweepCommand>();
    let _ = ctrlc::set_handler(move || {
        stop_flag.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = cmd_tx.send(SweepCommand::StopAll);
    });
    if !args.json {
        println!(
            "sweep {}: {total} runs of {steps} training steps in all, {} at a time, pruner {}; folder {}",
            sweep.id,
            args.parallel,
            if spec.prune.is_some() {
                "median"
            } else {
                "off"
            },
            sweep.dir.display()
        );
    }
    let mut stdout = std::io::stdout().lock();
    loop {
        while let Ok(command) = cmd_rx.try_recv() {
            sweep.send(command);
        }
        match rx.recv_timeout(std::time::Duration::from_millis(200)) {
            Ok(event) => {
                if args.json {
                    let _ = writeln!(stdout, "{}", event.to_json()).and_then(|_| stdout.flush());
                } else if let Some(line) = progress_line(&sweep.state(), &event, total) {
                    let _ = writeln!(stdout, "{line}");
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if sweep.is_finished() {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let dir = sweep.dir.clone();
    let state = sweep.wait();
    if args.json {
        let done = serde_json::json!({
            "event": "sweep_done",
            "sweep_id": state.id,
            "dir": dir.display().to_string(),
            "results": state.results(),
            "time": unix_now(),
        });
        let _ = writeln!(stdout, "{done}");
    } else {
        let _ = write!(stdout, "\n{}", table(&state));
        let _ = writeln!(stdout, "results: {}", dir.join("results.md").display());
    }
    Ok(if stop.load(std::sync::atomic::Ordering::SeqCst) {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// One line when a run starts, is pruned or ends.
fn progress_line(state: &SweepState, event: &Event, total: usize) -> Option<String> {
    let entry = state
        .queue
        .iter()
        .find(|e| e.run_id() == Some(event.run_id.as_str()))?;
    let head = format!("[{}/{total}] {}", entry.index + 1, entry.label);
    match &event.kind {
        EventKind::Start(_) => Some(format!("{head}: started {}", event.run_id)),
        EventKind::Prune { reason, .. } => Some(format!("{head}: {reason}")),
        EventKind::Done {
            status,
            best_test_acc,
            final_test_acc,
            step,
            ..
        } => Some(format!(
            "{head}: {} at step {step}, best test acc {}, final {}",
            status.as_str(),
            gradboard::runs::accuracy_text(*best_test_acc),
            gradboard::runs::accuracy_text(*final_test_acc)
        )),
        _ => None,
    }
}
