//! `gradboard sweep`: a grid, random draws, TPE trials or a sweep file, trained run after run
//! through the runner, judged by a pruner when asked; prints each run's end and the results
//! (or, with `--json`, every run's events and then one `sweep_done` line). Ctrl-C stops the
//! running runs and cancels the rest. `gradboard sweep show SWEEP_DIR` prints any sweep's
//! state from its folder.

use anyhow::Result;
use gradboard::config::sweep::{PrunerOptions, SweepPlan, SweepRequest};
use gradboard::config::PresetDirs;
use gradboard::data::Cifar10;
use gradboard::events::{unix_now, Event, EventKind};
use gradboard::model::Compute;
use gradboard::runner::sweep::{bar, read_sweep, start_sweep, SweepCommand, SweepState};
use gradboard::runner::Runner;
use gradboard::runs::accuracy_text as figure;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Options of `gradboard sweep`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    /// A sweep's state from its folder.
    #[command(subcommand)]
    pub action: Option<SweepAction>,
    /// A sweep file, or the name of a shipped one (presets/sweeps/, e.g. lab-ablation).
    #[arg(conflicts_with_all = ["preset", "grid", "random", "ranges", "choices"])]
    pub sweep: Option<String>,
    /// The preset every run starts from.
    #[arg(long, required_unless_present = "sweep")]
    pub preset: Option<String>,
    /// A grid key and its values (repeatable): lr=1e-3,2e-3; list keys take ; between
    /// alternatives: 'hidden=800,400;200,100'.
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub grid: Vec<String>,
    /// How settings are chosen: grid (every combination), random (draws), tpe (Parzen
    /// estimator).
    #[arg(long, value_name = "grid|random|tpe")]
    pub sampler: Option<String>,
    /// Random draws or TPE trials: how many configurations.
    #[arg(long, value_name = "N")]
    pub trials: Option<usize>,
    /// Random draws: how many (the random sampler with N trials).
    #[arg(long, value_name = "N")]
    pub random: Option<usize>,
    /// A numeric key's range (repeatable): lr=1e-4..1e-2:log, dropout=0..0.5; integer keys
    /// draw integers.
    #[arg(long = "range", value_name = "KEY=LO..HI[:log]")]
    pub ranges: Vec<String>,
    /// A categorical key's values (repeatable): optimizer=sgd,adam.
    #[arg(long = "choice", value_name = "KEY=A,B,...")]
    pub choices: Vec<String>,
    /// Train every configuration with K seeds (seed, seed+1, ...); they fold into one group.
    #[arg(long, value_name = "K")]
    pub seeds: Option<usize>,
    /// Override a key in every run (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// The pruner: median (Optuna's rule), asha (successive halving) or none.
    #[arg(long, value_name = "median|asha|none")]
    pub prune: Option<String>,
    /// median: evaluations of a run never judged (default 1).
    #[arg(long, value_name = "N")]
    pub prune_warmup: Option<usize>,
    /// median: finished runs that must have reached a step before a run is judged there
    /// (default 2).
    #[arg(long, value_name = "N")]
    pub prune_min_runs: Option<usize>,
    /// asha: the reduction factor, a rung keeps 1/ETA of the runs (default 4).
    #[arg(long, value_name = "ETA")]
    pub prune_reduction: Option<usize>,
    /// asha: steps of the first rung (default: the runs' first evaluation).
    #[arg(long, value_name = "S")]
    pub prune_min_steps: Option<usize>,
    /// Seed of the sampler's draws.
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

/// Words of `sweep` that are not sweep files.
#[derive(Debug, clap::Subcommand)]
pub enum SweepAction {
    /// Print a sweep's state from its folder, whoever runs it: its runs, groups of seeds,
    /// what mattered and the budget.
    Show {
        /// The sweep's folder (RUNS/sweeps/ID).
        sweep_dir: PathBuf,
        /// One JSON object instead of tables.
        #[arg(long)]
        json: bool,
    },
}

/// The request the arguments describe, assembled and checked as the dashboard's form is.
fn request(args: &SweepArgs) -> SweepRequest {
    SweepRequest {
        file: args.sweep.clone(),
        preset: args.preset.clone(),
        grid: args.grid.clone(),
        ranges: args.ranges.clone(),
        choices: args.choices.clone(),
        sampler: args.sampler.clone(),
        trials: args.trials,
        random: args.random.unwrap_or(0),
        seeds: args.seeds,
        set: args.overrides.clone(),
        prune: args.prune.clone(),
        prune_options: PrunerOptions {
            warmup: args.prune_warmup,
            min_runs: args.prune_min_runs,
            reduction: args.prune_reduction,
            min_steps: args.prune_min_steps,
        },
        seed: args.seed,
    }
}

/// The results table for the terminal.
pub fn table(state: &SweepState) -> String {
    let with_expected = state.queue.iter().any(|e| e.expected.is_some());
    let label_width = state.label_width().clamp(8, 60);
    let objective = state.objective_label();
    let mut out = format!(
        "{:>3}  {:label_width$}  {:16}  {:>6}  {:>9}  {:>9}  {:>9}{}  run\n",
        "#",
        "settings",
        "status",
        "steps",
        format!("best {}", objective.split(' ').next().unwrap_or("")),
        "best test",
        "final test",
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
            "{:>3}  {label:label_width$}  {status:16}  {:>6}  {:>9}  {:>9}  {:>9}{}  {}\n",
            e.index,
            e.step,
            figure(e.best),
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

/// The groups of seeds, what mattered and the budget, for the terminal.
pub fn summary(state: &SweepState) -> String {
    let mut out = String::new();
    let objective = state.objective_label();
    if state.seeds > 1 && !state.groups.is_empty() {
        out.push_str(&format!(
            "\ngroups ({} seeds each): n, best {objective} mean ± std, final test acc mean ± std\n",
            state.seeds
        ));
        let mut groups: Vec<_> = state.groups.iter().collect();
        groups.sort_by(|a, b| {
            b.best_mean
                .unwrap_or(-1.0)
                .total_cmp(&a.best_mean.unwrap_or(-1.0))
        });
        for g in groups {
            out.push_str(&format!(
                "{:>3}  {:40}  n={}  {} ± {}  {} ± {}\n",
                g.group,
                g.label.chars().take(40).collect::<String>(),
                g.n,
                figure(g.best_mean),
                figure(g.best_std),
                figure(g.final_mean),
                figure(g.final_std)
            ));
        }
    }
    if !state.importance.is_empty() {
        out.push_str(&format!(
            "\nwhat mattered (PED-ANOVA, share of importance to reach the top 10 % of {objective}; on {}):\n",
            state.importance_basis
        ));
        for (k, share) in &state.importance {
            out.push_str(&format!("  {k:16} {share:.3}  {}\n", bar(*share, 40, '#')));
        }
    }
    out.push_str(&format!("\nbudget: {}\n", state.budget_text()));
    if let Some(best) = state.best_run() {
        out.push_str(&format!(
            "best: #{} {} ({objective} {}, test acc {}) run {}\n",
            best.index,
            best.label,
            figure(best.best),
            figure(best.best_test_acc),
            best.run_id().unwrap_or("-")
        ));
    }
    out
}

/// Runs the sweep to its end, or shows one.
pub fn run(args: SweepArgs, compute: Compute, threads: usize) -> Result<ExitCode> {
    if let Some(SweepAction::Show { sweep_dir, json }) = &args.action {
        return show(sweep_dir, *json);
    }
    let presets = PresetDirs::discover();
    let spec = request(&args).assemble(&presets)?;
    let plan = SweepPlan::new(spec, &presets)?;
    let path = crate::data_setup::ensure_data(args.data.as_deref())?;
    let data = Arc::new(Cifar10::load(&path)?);
    let runner = Runner::new(data, &path, &args.runs_dir, compute, threads);
    let (tx, rx) = std::sync::mpsc::channel::<Event>();
    let sweep = start_sweep(
        &runner,
        plan,
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
    let start = sweep.state();
    let total = start.queue.len();
    if !args.json {
        println!(
            "sweep {}: {total} runs ({} sampler, {} seed(s) each), {} at a time, chosen on {}, pruner {}; folder {}",
            sweep.id,
            start.sampler,
            start.seeds,
            args.parallel,
            start.objective_label(),
            start.pruner,
            sweep.dir.display()
        );
        if let Some(n) = &start.notice {
            println!("note: {n}");
        }
    }
    let mut stdout = std::io::stdout().lock();
    let mut runs: HashMap<String, usize> = HashMap::new();
    loop {
        while let Ok(command) = cmd_rx.try_recv() {
            sweep.send(command);
        }
        match rx.recv_timeout(std::time::Duration::from_millis(200)) {
            Ok(event) => {
                if args.json {
                    let _ = writeln!(stdout, "{}", event.to_json()).and_then(|_| stdout.flush());
                } else if let Some(line) = progress_line(&sweep, &mut runs, &event, total) {
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
        let mut done = state.show_json();
        done["event"] = serde_json::json!("sweep_done");
        done["dir"] = serde_json::json!(dir.display().to_string());
        done["results"] = serde_json::to_value(state.results()).unwrap_or_default();
        done["time"] = serde_json::json!(unix_now());
        let _ = writeln!(stdout, "{done}");
    } else {
        let _ = write!(stdout, "\n{}{}", table(&state), summary(&state));
        let _ = writeln!(
            stdout,
            "results: {}",
            dir.join(gradboard::runner::sweep::RESULTS_MD).display()
        );
    }
    Ok(if stop.load(std::sync::atomic::Ordering::SeqCst) {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// `sweep show`: the state from the folder.
fn show(dir: &std::path::Path, json: bool) -> Result<ExitCode> {
    if !dir.is_dir() {
        anyhow::bail!("{}: no such sweep folder", dir.display());
    }
    let state = read_sweep(dir)?;
    if json {
        println!("{}", state.show_json());
    } else {
        println!(
            "sweep {} ({}): {} sampler, {} seed(s) each, chosen on {}, pruner {}",
            state.id,
            state.status.as_str(),
            state.sampler,
            state.seeds,
            state.objective_label(),
            state.pruner
        );
        print!("\n{}{}", table(&state), summary(&state));
    }
    Ok(ExitCode::SUCCESS)
}

/// One line when a run starts, is pruned or ends.
fn progress_line(
    sweep: &gradboard::runner::sweep::SweepHandle,
    runs: &mut HashMap<String, usize>,
    event: &Event,
    total: usize,
) -> Option<String> {
    if let EventKind::Start(info) = &event.kind {
        if let Some(s) = &info.sweep {
            runs.insert(event.run_id.clone(), s.index);
        }
    }
    let index = *runs.get(&event.run_id)?;
    let label = || {
        sweep
            .state()
            .queue
            .get(index)
            .map(|e| e.label.clone())
            .unwrap_or_default()
    };
    let head = |label: String| format!("[{}/{total}] {label}", index + 1);
    match &event.kind {
        EventKind::Start(_) => Some(format!("{}: started {}", head(label()), event.run_id)),
        EventKind::Prune { reason, .. } => Some(format!("{}: {reason}", head(label()))),
        EventKind::Done {
            status,
            best_test_acc,
            final_test_acc,
            best_val_acc,
            step,
            ..
        } => {
            let val = best_val_acc
                .map(|v| format!("best val acc {v:.4}, "))
                .unwrap_or_default();
            Some(format!(
                "{}: {} at step {step}, {val}best test acc {}, final {}",
                head(label()),
                status.as_str(),
                figure(*best_test_acc),
                figure(*final_test_acc)
            ))
        }
        _ => None,
    }
}
