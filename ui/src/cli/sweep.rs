//! `gradboard sweep`: a grid, random draws, TPE trials or a sweep file, trained run after run
//! through the runner, judged by a pruner when asked; prints each run's end and the results
//! (or, with `--json`, every run's events and then one `sweep_done` line). Ctrl-C stops the
//! running runs and cancels the rest. `gradboard sweep show SWEEP_DIR` prints any sweep's
//! state from its folder.

use anyhow::Result;
use gradboard::config::sweep::{ObjectiveAt, PrunerOptions, SweepPlan, SweepRequest};
use gradboard::config::PresetDirs;
use gradboard::events::{unix_now, Event, EventKind};
use gradboard::model::Compute;
use gradboard::runner::sweep::{bar, read_sweep, start_sweep, SweepCommand, SweepState};
use gradboard::runner::Runner;
use gradboard::runs::accuracy_text as figure;
use gradboard::runs::groups::spread_text;
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
    #[arg(long, required_unless_present_any = ["sweep", "command"])]
    pub preset: Option<String>,
    /// Sweep your own program instead: a command line whose {key} places take each trial's
    /// values ('python train.py --lr {lr} --bs {batch_size}'; also {seed}, {trial},
    /// {run_dir}). Each trial runs in its own process group and run folder, with
    /// GRADBOARD_TRIAL_ID, GRADBOARD_RUN_DIR and GRADBOARD_METRICS (a file to append JSON
    /// lines to) in its environment; its figures come from that file, TensorBoard logs
    /// under its run folder, and key=value lines on its stdout.
    #[arg(long, value_name = "'CMD {key} ...'", conflicts_with = "preset")]
    pub command: Option<String>,
    /// A command sweep's objective: the name of the metric the command reports.
    #[arg(long, value_name = "NAME")]
    pub objective: Option<String>,
    /// Which evaluations make a run's figure, the one every table ranks by and "best" means:
    /// best (its peak, the default: it rewards a run that spiked and then collapsed), final
    /// (its last evaluation) or last-K (the mean of its last K, e.g. last-3).
    #[arg(long, value_name = "best|final|last-K")]
    pub objective_at: Option<String>,
    /// Whether the objective is better larger (max, the default) or smaller (min).
    #[arg(long, value_name = "max|min")]
    pub direction: Option<String>,
    /// A stopped or pruned trial's processes get SIGTERM, then SIGKILL after S seconds.
    #[arg(long, value_name = "S")]
    pub kill_after: Option<f64>,
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
    /// Where the runs train: here (default), or `slurm`: one array job, a task a run, into
    /// this runs folder (it and the data must be on a file system every node sees).
    #[arg(long, value_name = "slurm")]
    pub on: Option<String>,
    /// An option for sbatch (repeatable): --sbatch=--partition=gpu --sbatch=--time=02:00:00.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true, requires = "on")]
    pub sbatch: Vec<String>,
    /// With --on slurm: print the job script and submit nothing.
    #[arg(long, requires = "on")]
    pub dry_run: bool,
}

/// Words of `sweep` that are not sweep files.
#[derive(Debug, clap::Subcommand)]
pub enum SweepAction {
    /// Train run I of the sweep in SWEEP_DIR (what a cluster task runs): claimed so it never
    /// trains twice, resumed when it was stopped or its node lost; USR1 stops it and asks
    /// SLURM to requeue it.
    Trial {
        /// The sweep's folder.
        sweep_dir: PathBuf,
        /// The run's index in the sweep.
        #[arg(long)]
        index: usize,
        /// The data set (default: GRADBOARD_DATA).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Continue a sweep whose process was killed: every run that never started, was stopped
    /// or was lost with its process trains (a lost or stopped one resumes its checkpoint),
    /// one after another, here.
    Resume {
        /// The sweep's folder.
        sweep_dir: PathBuf,
        /// The data set (default: GRADBOARD_DATA).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Run a command sweep's trial again with its values, outside the sweep, in a new run
    /// folder (a command's "fork": its program's checkpoints are its own). Without --index,
    /// the best trial (of the best group of seeds).
    Rerun {
        /// The sweep's folder.
        sweep_dir: PathBuf,
        /// The trial's index in the sweep (default: the best).
        #[arg(long)]
        index: Option<usize>,
    },
    /// Stop a sweep wherever it runs: scancel for a cluster's, its process's queue otherwise.
    Cancel {
        /// The sweep's folder.
        sweep_dir: PathBuf,
    },
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
        command: args.command.clone(),
        objective: args.objective.clone(),
        objective_at: args.objective_at.clone(),
        direction: args.direction.clone(),
        kill_after: args.kill_after,
    }
}

/// The results table for the terminal.
pub fn table(state: &SweepState) -> String {
    let table = state.result_rows(true);
    let label_width = state.label_width().clamp(8, 60);
    if table.on_metric {
        let objective = state.value_header();
        let width = objective.chars().count().max(9);
        let mut out = format!(
            "{:>3}  {:label_width$}  {:16}  {:>6}  {objective:>width$}  {:>7}  run\n",
            "#", "settings", "status", "steps", "seconds"
        );
        for r in &table.rows {
            let label: String = r.entry.label.chars().take(label_width).collect();
            out.push_str(&format!(
                "{:>3}  {label:label_width$}  {:16}  {:>6}  {:>width$}  {:>7}  {}\n",
                r.entry.index, r.status, r.entry.step, r.value, r.seconds, r.run
            ));
        }
        return out;
    }
    // A sweep chosen on validation shows its figure beside the test figures; one chosen on
    // test accuracy has it in the best- or final-test column already, unless it is a mean
    // of the last evaluations.
    let ranked = match (table.on_val, state.objective_at) {
        (true, at) => Some(at.header("val")),
        (false, ObjectiveAt::LastK(_)) => Some(state.objective_at.header("test")),
        _ => None,
    };
    let width = ranked.as_ref().map_or(9, |r| r.chars().count().max(9));
    let column = |text: &str| format!("  {text:>width$}");
    let mut out = format!(
        "{:>3}  {:label_width$}  {:16}  {:>6}{}  {:>9}  {:>9}{}  run\n",
        "#",
        "settings",
        "status",
        "steps",
        ranked.as_deref().map(column).unwrap_or_default(),
        "best test",
        "final test",
        if table.with_expected { "   report" } else { "" }
    );
    for r in &table.rows {
        let label: String = r.entry.label.chars().take(label_width).collect();
        out.push_str(&format!(
            "{:>3}  {label:label_width$}  {:16}  {:>6}{}  {:>9}  {:>9}{}  {}\n",
            r.entry.index,
            r.status,
            r.entry.step,
            if ranked.is_some() {
                column(&r.value)
            } else {
                String::new()
            },
            r.best_test,
            r.final_test,
            if table.with_expected {
                format!("  {:>7}", r.expected)
            } else {
                String::new()
            },
            r.run
        ));
    }
    out
}

/// The groups of seeds, what mattered and the budget, for the terminal.
pub fn summary(state: &SweepState) -> String {
    let mut out = String::new();
    let objective = state.objective_label();
    let ranked = state.value_header();
    if state.seeds > 1 && !state.groups.is_empty() {
        out.push_str(&format!(
            "\ngroups ({} seeds each), best first: n, {ranked} mean ± std, final test acc mean ± std\n",
            state.seeds
        ));
        let groups = state.ranked_groups();
        for g in groups {
            out.push_str(&format!(
                "{:>3}  {:40}  n={}  {:15}  {:15}\n",
                g.group,
                g.label.chars().take(40).collect::<String>(),
                g.n,
                spread_text(g.value_mean, g.value_std.filter(|_| g.n > 1)),
                spread_text(g.final_mean, g.final_std.filter(|_| g.n > 1))
            ));
        }
    }
    if !state.importance.is_empty() {
        out.push_str(&format!(
            "\nwhat mattered ({}, each key's share of the importance for {objective}; on {}):\n",
            state.importance_method, state.importance_basis
        ));
        for (k, share) in &state.importance {
            out.push_str(&format!("  {k:16} {share:.3}  {}\n", bar(*share, 40, '#')));
        }
    } else if !state.importance_basis.is_empty() {
        out.push_str(&format!("\nwhat mattered: {}\n", state.importance_basis));
    }
    out.push_str(&format!("\nbudget: {}\n", state.budget_text()));
    let Some(best) = state.best_member() else {
        return out;
    };
    // The one best every front end names (`F` forks it): with seeds, the best
    // configuration's best run.
    let group = match state.best_group() {
        Some(g) if state.seeds > 1 => format!(
            " of the best configuration (group {}, {ranked} {} over {} seeds)",
            g.group,
            spread_text(g.value_mean, g.value_std.filter(|_| g.n > 1)).trim_end(),
            g.n
        ),
        _ => String::new(),
    };
    let test = if state.result_rows(false).on_metric {
        String::new()
    } else {
        format!(", final test acc {}", figure(best.final_test_acc))
    };
    out.push_str(&format!(
        "best: #{} {} ({ranked} {}{test}) run {}{group}\n",
        best.index,
        best.label,
        figure(best.value),
        best.run_id().unwrap_or("-")
    ));
    out
}

/// Runs the sweep to its end, or shows one.
pub fn run(args: SweepArgs, compute: Compute, threads: usize) -> Result<ExitCode> {
    match &args.action {
        Some(SweepAction::Show { sweep_dir, json }) => return show(sweep_dir, *json),
        Some(SweepAction::Trial {
            sweep_dir,
            index,
            data,
        }) => return trial(sweep_dir, *index, data.as_deref(), compute, threads),
        Some(SweepAction::Resume { sweep_dir, data }) => {
            return resume(sweep_dir, data.as_deref(), compute, threads)
        }
        Some(SweepAction::Rerun { sweep_dir, index }) => return rerun(sweep_dir, *index),
        Some(SweepAction::Cancel { sweep_dir }) => {
            println!("{}", gradboard::runner::sweep::cancel_sweep(sweep_dir)?);
            return Ok(ExitCode::SUCCESS);
        }
        None => {}
    }
    let presets = PresetDirs::discover();
    let mut spec = request(&args).assemble(&presets)?;
    if let Some(c) = &mut spec.command {
        // The command runs where the sweep was started, wherever its trials run later.
        let cwd = std::env::current_dir()?;
        c.workdir = Some(match c.workdir.take() {
            Some(w) => cwd.join(w),
            None => cwd,
        });
    }
    let plan = SweepPlan::new(spec, &presets)?;
    match args.on.as_deref() {
        Some("slurm") => return on_slurm(&args, plan, threads),
        Some(other) => anyhow::bail!("--on {other:?}: the runs train here, or --on slurm"),
        None => {}
    }
    let (tx, rx) = std::sync::mpsc::channel::<Event>();
    let observer: gradboard::runner::Observer = Box::new(move |e| drop(tx.send(e.clone())));
    let sweep = match plan.spec.command.is_some() {
        true => gradboard::runner::sweep::start_command_sweep(
            &args.runs_dir,
            plan,
            args.parallel as usize,
            observer,
        )?,
        false => {
            let runner = sweep_runner(
                &plan,
                args.data.as_deref(),
                &args.runs_dir,
                compute,
                threads,
            )?;
            start_sweep(&runner, plan, args.parallel as usize, observer)?
        }
    };
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
            "sweep {}: {total} runs ({} sampler, {} seed(s) each), {} at a time, chosen on {} (ranked by {}), pruner {}; folder {}",
            sweep.id,
            start.sampler,
            start.seeds,
            args.parallel,
            start.objective_label(),
            start.value_header(),
            start.pruner,
            sweep.dir.display()
        );
        if let Some(n) = &start.notice {
            println!("note: {n}");
        }
    }
    let mut stdout = std::io::stdout().lock();
    let mut runs: HashMap<String, usize> = HashMap::new();
    let mut bests: HashMap<String, f64> = HashMap::new();
    loop {
        while let Ok(command) = cmd_rx.try_recv() {
            sweep.send(command);
        }
        match rx.recv_timeout(std::time::Duration::from_millis(200)) {
            Ok(event) => {
                if args.json {
                    let _ = writeln!(stdout, "{}", event.to_json()).and_then(|_| stdout.flush());
                } else if let Some(line) =
                    progress_line(&sweep, &mut runs, &mut bests, &event, total)
                {
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
    let (state, failed) = sweep.wait();
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
    failed?;
    Ok(if stop.load(std::sync::atomic::Ordering::SeqCst) {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// The runner a sweep's runs train with: the data set (`data`, else GRADBOARD_DATA or the
/// download) read with the plan's data settings, runs in `runs_dir`.
fn sweep_runner(
    plan: &SweepPlan,
    data: Option<&std::path::Path>,
    runs_dir: &std::path::Path,
    compute: Compute,
    threads: usize,
) -> Result<Runner> {
    let path = crate::data_setup::ensure_data(data)?;
    let data = Arc::new(crate::data_setup::load_data(&path, &plan.data_options())?);
    Ok(Runner::new(data, &path, runs_dir, compute, threads))
}

/// What an opened sweep's runs start with: its command, or the engine on its data.
fn launcher(
    core: &gradboard::runner::sweep::SweepCore,
    data: Option<&std::path::Path>,
    compute: Compute,
    threads: usize,
) -> Result<gradboard::runner::sweep::Launcher> {
    use gradboard::runner::sweep::Launcher;
    let runs_dir = core.folder.runs_dir();
    Ok(match core.plan.spec.command.is_some() {
        true => Launcher::Command { runs_dir },
        false => Launcher::Engine(sweep_runner(&core.plan, data, &runs_dir, compute, threads)?),
    })
}

/// `--on slurm`: the folder written, the array job submitted (or its script printed).
fn on_slurm(args: &SweepArgs, mut plan: SweepPlan, threads: usize) -> Result<ExitCode> {
    use gradboard::runner::sweep::slurm::{submit, SlurmOptions};
    // The data every task reads: a path (a download here would not reach the nodes); a
    // command reads its own.
    let (data, notice) = match plan.spec.command.is_some() {
        true => (None, None),
        false => {
            let data = crate::data_setup::ensure_data(args.data.as_deref())?;
            let read = crate::data_setup::load_data(&data, &plan.data_options())?;
            let notice = gradboard::runner::sweep::fit_plan(&mut plan, &read, 1)?;
            (Some(data), notice)
        }
    };
    let options = SlurmOptions {
        parallel: args.parallel as usize,
        sbatch: args.sbatch.clone(),
        threads,
        data,
        exe: std::env::current_exe()?,
    };
    let submitted = submit(&args.runs_dir, plan, &options, args.dry_run)?;
    if args.dry_run {
        print!("{}", submitted.script);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(n) = notice {
        println!("note: {n}");
    }
    let job = submitted.job.map(|j| j.job_id).unwrap_or_default();
    println!(
        "sweep {}: submitted job {job} ({} at a time); folder {}; follow it with `gradboard sweep show {}` or the dashboard's sweep screen (`gradboard --runs-dir {}`); stop it with `gradboard sweep cancel {}`",
        submitted.id.unwrap_or_default(),
        args.parallel,
        submitted.dir.display(),
        submitted.dir.display(),
        args.runs_dir.display(),
        submitted.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `sweep trial`: one run of a sweep, as a cluster task trains it. SIGTERM (scancel,
/// preemption, a requeue) stops it cleanly; SIGUSR1 (the time limit near) stops it and asks
/// SLURM to requeue the task, which resumes it.
fn trial(
    dir: &std::path::Path,
    index: usize,
    data: Option<&std::path::Path>,
    compute: Compute,
    threads: usize,
) -> Result<ExitCode> {
    use gradboard::runner::sweep::{run_task, slurm, SweepCore, TaskOutcome};
    use std::sync::atomic::{AtomicBool, Ordering};
    let core = Arc::new(SweepCore::open(dir)?);
    let runner = launcher(&core, data, compute, threads)?;
    let control = Arc::new(gradboard::train::Control::new());
    let stop = control.clone();
    let _ = ctrlc::set_handler(move || stop.send(gradboard::train::Command::Stop));
    let requeue = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGUSR1, requeue.clone())?;
    let (watched, watch_control) = (requeue.clone(), control.clone());
    std::thread::spawn(move || loop {
        if watched.load(Ordering::SeqCst) {
            watch_control.send(gradboard::train::Command::Stop);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    });
    let forward: gradboard::runner::sweep::Forward =
        Arc::new(std::sync::Mutex::new(Box::new(|_| {})));
    let outcome = run_task(&core, &runner, index, control, forward)?;
    let name = format!("sweep {} run {index}", core.id);
    match outcome {
        TaskOutcome::Trained(summary) => {
            let figures = match core.plan.spec.command.is_some() {
                true => summary
                    .reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                false => format!(", test acc {}", figure(summary.final_test_acc)),
            };
            println!(
                "{name}: {} at step {}{figures}",
                summary.status.as_str(),
                summary.step
            );
            if summary.status == gradboard::events::RunStatus::Stopped {
                if !requeue.load(Ordering::SeqCst) {
                    return Ok(ExitCode::from(130));
                }
                slurm::requeue_this_task()?;
                println!("{name}: requeued; the next start resumes it");
            }
        }
        TaskOutcome::AlreadyDone => println!("{name}: already trained"),
        TaskOutcome::Claimed => println!("{name}: another task trains it"),
        TaskOutcome::Cancelled => println!("{name}: the sweep was cancelled"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `sweep resume`: every unfinished run of a killed local sweep, one after another, then the
/// results. Ctrl-C stops the run in training (resumable again) and exits 130.
fn resume(
    dir: &std::path::Path,
    data: Option<&std::path::Path>,
    compute: Compute,
    threads: usize,
) -> Result<ExitCode> {
    use gradboard::runner::sweep::{run_task, unfinished, SweepCore, TaskOutcome};
    if !dir.is_dir() {
        anyhow::bail!("{}: no such sweep folder", dir.display());
    }
    let core = Arc::new(SweepCore::open(dir)?);
    if core.folder.cancelled() {
        anyhow::bail!("sweep {}: it was cancelled; start a new one", core.id);
    }
    if core.folder.running() {
        anyhow::bail!("sweep {}: a process runs it now", core.id);
    }
    let _running = core.folder.lock_running()?;
    let todo = unfinished(&core);
    if todo.is_empty() {
        println!("sweep {}: every run has ended; nothing to resume", core.id);
        return Ok(ExitCode::SUCCESS);
    }
    let runner = launcher(&core, data, compute, threads)?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let current: Arc<std::sync::Mutex<Option<Arc<gradboard::train::Control>>>> = Arc::default();
    let (stop_flag, stop_current) = (stop.clone(), current.clone());
    let _ = ctrlc::set_handler(move || {
        stop_flag.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(c) = stop_current.lock().expect("current run").as_ref() {
            c.send(gradboard::train::Command::Stop);
        }
    });
    println!(
        "sweep {}: resuming {} of {} runs ({})",
        core.id,
        todo.len(),
        core.plan.trials(),
        todo.iter()
            .map(|i| format!("#{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    for index in todo {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        let control = Arc::new(gradboard::train::Control::new());
        *current.lock().expect("current run") = Some(control.clone());
        let forward: gradboard::runner::sweep::Forward =
            Arc::new(std::sync::Mutex::new(Box::new(|_| {})));
        let name = format!("run {index}");
        match run_task(&core, &runner, index, control, forward) {
            Ok(TaskOutcome::Trained(s)) => println!(
                "{name}: {} at step {}, test acc {}",
                s.status.as_str(),
                s.step,
                figure(s.final_test_acc)
            ),
            Ok(TaskOutcome::AlreadyDone) => println!("{name}: already trained"),
            Ok(TaskOutcome::Claimed) => println!("{name}: another process trains it"),
            Ok(TaskOutcome::Cancelled) => break,
            Err(e) => println!("{name}: refused: {e}"),
        }
    }
    drop(_running);
    let state = read_sweep(dir)?;
    print!("\n{}{}", table(&state), summary(&state));
    Ok(if stop.load(std::sync::atomic::Ordering::SeqCst) {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// `sweep rerun`: a command sweep's trial again, its figures printed as they come; Ctrl-C
/// stops it (its processes with it).
fn rerun(dir: &std::path::Path, index: Option<usize>) -> Result<ExitCode> {
    use gradboard::runner::sweep::SweepCore;
    if !dir.is_dir() {
        anyhow::bail!("{}: no such sweep folder", dir.display());
    }
    let core = SweepCore::open(dir)?;
    let index = match index {
        Some(i) => i,
        None => read_sweep(dir)?
            .best_member()
            .map(|e| e.index)
            .ok_or_else(|| anyhow::anyhow!("sweep {}: no trial has a figure yet", core.id))?,
    };
    let request = core.rerun_request(index)?;
    let objective = core.plan.objective();
    let control = Arc::new(gradboard::train::Control::new());
    let stop = control.clone();
    let _ = ctrlc::set_handler(move || stop.send(gradboard::train::Command::Stop));
    let handle = gradboard::runner::command::start(
        &core.folder.runs_dir(),
        request,
        Box::new(move |e: &Event| {
            if let EventKind::Metrics { step, values } = &e.kind {
                if let Some(v) = values.get(objective.name()) {
                    println!("step {step}: {} {v}", objective.name());
                }
            }
        }),
        control,
    )?;
    println!(
        "trial #{index} of sweep {} runs again as {}",
        core.id, handle.run_id
    );
    let summary = handle.wait();
    println!(
        "{}: {} at step {}{}",
        core.id,
        summary.status.as_str(),
        summary.step,
        summary
            .reason
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    Ok(match summary.status {
        gradboard::events::RunStatus::Completed => ExitCode::SUCCESS,
        gradboard::events::RunStatus::Stopped => ExitCode::from(130),
        _ => ExitCode::FAILURE,
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
            "sweep {} ({}{}): {} sampler, {} seed(s) each, ranked by {}, pruner {}",
            state.id,
            state.status.as_str(),
            state
                .job
                .as_ref()
                .map(|j| format!(", SLURM job {j}"))
                .unwrap_or_default(),
            state.sampler,
            state.seeds,
            state.value_header(),
            state.pruner
        );
        if let Some(n) = &state.notice {
            println!("note: {n}");
        }
        print!("\n{}{}", table(&state), summary(&state));
    }
    Ok(ExitCode::SUCCESS)
}

/// One line when a run starts, is pruned or ends.
fn progress_line(
    sweep: &gradboard::runner::sweep::SweepHandle,
    runs: &mut HashMap<String, usize>,
    bests: &mut HashMap<String, f64>,
    event: &Event,
    total: usize,
) -> Option<String> {
    if let EventKind::Start(info) = &event.kind {
        if let Some(s) = &info.sweep {
            runs.insert(event.run_id.clone(), s.index);
        }
    }
    let index = *runs.get(&event.run_id)?;
    if let (EventKind::Metrics { values, .. }, Some(c)) = (&event.kind, &sweep.plan().spec.command)
    {
        if let Some(&v) = values.get(&c.objective) {
            let score = sweep.plan().objective().score(v);
            let best = bests.entry(event.run_id.clone()).or_insert(score);
            *best = best.max(score);
        }
    }
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
            step,
            reason,
            ..
        } if sweep.plan().spec.command.is_some() => {
            let objective = sweep.plan().objective();
            let best = bests.get(&event.run_id).map(|&b| objective.score(b));
            Some(format!(
                "{}: {} at step {step}, best {} {}{}",
                head(label()),
                status.as_str(),
                objective.label(),
                figure(best),
                reason
                    .as_ref()
                    .filter(|_| *status != gradboard::events::RunStatus::Pruned)
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ))
        }
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
