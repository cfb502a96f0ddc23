//! `gradboard train`: one run to the end through the runner, with JSONL on stdout or a
//! progress bar on stderr. Also a fork (`--from RUN_DIR`) or a resume (`--resume RUN_DIR`).
//! Ctrl-C and SIGTERM stop the run cleanly: it writes its weights and its `done`.

use anyhow::{bail, Result};
use gradboard::config::{PresetDirs, RunConfig};
use gradboard::events::{Event, EventKind, RunStatus};
use gradboard::model::Compute;
use gradboard::runner::{From, RunRequest, Runner};
use gradboard::runs::{RunState, StoredRun};
use gradboard::train::{Command, Fault};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

pub use gradboard::train::FAULT_ENV;

/// Options of `gradboard train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Preset name or TOML file (for a fork: defaults to the parent's preset).
    #[arg(long, required_unless_present_any = ["from", "resume"])]
    pub preset: Option<String>,
    /// Override a configuration key (repeatable), e.g. --set lr=0.001 --set hidden=512,256.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// The data set: the .tar.gz archive or the extracted folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Folder of run folders.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Write the JSONL events on stdout (and nothing else).
    #[arg(long)]
    pub json: bool,
    /// Fork: start from this run's last checkpoint with its settings changed by --set; the
    /// new run's steps count on from the parent's.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "resume")]
    pub from: Option<PathBuf>,
    /// Continue this stopped or crashed run in its folder from its last checkpoint.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["preset", "overrides"])]
    pub resume: Option<PathBuf>,
}

/// Shows the run: JSON lines on stdout with `--json`; on stderr a header with the settings,
/// a line at each evaluation and warning, and in a terminal a progress bar under them that
/// stays on screen when the run ends. All from the run's events folded into its state as
/// every front end folds them (a resumed run's history first).
struct Printer {
    json: bool,
    bar: ProgressBar,
    state: RunState,
    /// Images a second over the recent steps, from the last train event.
    rate: f64,
}

impl Printer {
    /// A line above the bar (or on stderr without one).
    fn say(&self, line: String) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    fn show(&mut self, event: &Event) {
        if self.json {
            let mut out = std::io::stdout().lock();
            // A closed stdout (e.g. `| head`) must not end the run: the store still records it.
            let _ = writeln!(out, "{}", event.to_json()).and_then(|_| out.flush());
        }
        self.state.apply(event);
        let s = &self.state;
        self.bar.set_length(s.config.steps as u64);
        self.bar
            .set_position(s.step.saturating_sub(s.first_step) as u64);
        match &event.kind {
            EventKind::Start(info) => self.say(header(&event.run_id, info)),
            EventKind::Train {
                loss,
                samples_per_sec,
                ..
            } => {
                self.rate = *samples_per_sec;
                let acc = gradboard::runs::accuracy_text(s.final_test_acc());
                let val = s
                    .final_val_acc()
                    .map(|a| format!(" val acc {a:.4}"))
                    .unwrap_or_default();
                self.bar
                    .set_message(format!("loss {loss:.4} test acc {acc}{val}"));
            }
            EventKind::Eval {
                step,
                test_loss,
                test_acc,
                val_loss,
                val_acc,
                ..
            } => {
                let train = s
                    .curves
                    .train_loss
                    .points()
                    .last()
                    .map(|p| format!("  train loss {:.4}", p.1))
                    .unwrap_or_default();
                let val = match (val_loss, val_acc) {
                    (Some(l), Some(a)) => format!("  val loss {l:.4} acc {a:.4}"),
                    _ => String::new(),
                };
                self.say(format!(
                    "step {step:>7}{train}  test loss {test_loss:.4} acc {test_acc:.4}{val}  {:.0} images/s",
                    self.rate
                ));
            }
            EventKind::Warning { step, message, .. } => {
                self.say(format!("warning at step {step}: {message}"))
            }
            // The bar's last state stays on screen, above the summary.
            EventKind::Done { .. } => self.bar.abandon(),
            _ => {}
        }
    }
}

/// The run's opening line: what it trains and with which settings (those that differ from its
/// preset's named).
fn header(run_id: &str, info: &gradboard::events::StartInfo) -> String {
    let c = &info.config;
    let changed = if info.changed.is_empty() {
        String::new()
    } else {
        let pairs: Vec<String> = info
            .changed
            .iter()
            .map(|(k, v)| format!("{k}={}", gradboard::config::json_text(v)))
            .collect();
        format!(" with {}", pairs.join(" "))
    };
    let epochs = match info.train_size {
        0 => String::new(),
        n => format!(
            " ({:.1} epochs of {n})",
            (c.steps * c.batch_size) as f64 / n as f64
        ),
    };
    format!(
        "run {run_id}: preset {}{changed}; {} steps of {}{epochs}, {} lr {}, seed {}; {} with {} threads",
        if info.preset.is_empty() { "-" } else { &info.preset },
        c.steps,
        c.batch_size,
        gradboard::config::Choice::name(c.optimizer),
        gradboard::config::format_float(c.lr),
        c.seed,
        info.device,
        info.threads
    )
}

/// The preset name, the preset's settings and the run's settings for a fresh run or a fork.
fn settings(args: &TrainArgs) -> Result<(String, Option<RunConfig>, RunConfig)> {
    let Some(parent) = &args.from else {
        let preset = args.preset.as_deref().expect("clap requires --preset here");
        let (name, base, config) = super::load_config(preset, &args.overrides)?;
        return Ok((name, Some(base), config));
    };
    let stored = StoredRun::load(parent)?;
    let preset = match (&args.preset, stored.start()) {
        (Some(p), _) => p.clone(),
        (None, Some(start)) if !start.preset.is_empty() => start.preset.clone(),
        _ => "fork".to_string(),
    };
    let base = PresetDirs::discover().find(&preset).ok().map(|p| p.config);
    let mut config = stored.state().config;
    for o in &args.overrides {
        config.apply_override(o)?;
    }
    config.validate()?;
    Ok((preset, base, config))
}

/// Trains one run to the end and prints its summary.
pub fn run(args: TrainArgs, compute: Compute, threads: usize) -> Result<ExitCode> {
    let fault = match std::env::var(FAULT_ENV) {
        Ok(text) if !text.is_empty() => Some(Fault::parse(&text)?),
        _ => None,
    };
    let mut prior = RunState::new("", RunConfig::default());
    let (request, runs_dir) = match &args.resume {
        Some(dir) => {
            if !dir.is_dir() {
                bail!("{}: no such run folder", dir.display());
            }
            let stored = StoredRun::load(dir)?;
            for e in stored.history() {
                prior.apply(e);
            }
            let preset = stored.start().map(|s| s.preset.clone()).unwrap_or_default();
            let runs_dir = dir.parent().map(PathBuf::from).unwrap_or_default();
            let mut request = RunRequest::new(&preset, stored.config, None);
            request.from = From::Resume(dir.clone());
            (request, runs_dir)
        }
        None => {
            let (preset, base, config) = settings(&args)?;
            let mut request = RunRequest::new(&preset, config, base);
            if let Some(parent) = &args.from {
                request.from = From::Fork(parent.clone());
            }
            (request, args.runs_dir.clone())
        }
    };
    let mut request = request;
    request.fault = fault;
    let path = crate::data_setup::ensure_data(args.data.as_deref())?;
    let options = match &request.from {
        From::Resume(dir) => gradboard::runs::StoredRun::load(dir)?
            .state()
            .config
            .data_options(),
        _ => request.config.data_options(),
    };
    let data = Arc::new(crate::data_setup::load_data(&path, &options)?);
    let runner = Runner::new(data, &path, &runs_dir, compute, threads);
    let (tx, rx) = std::sync::mpsc::channel::<Event>();
    let handle = runner.start(request, Box::new(move |e| drop(tx.send(e.clone()))))?;
    let control = handle.control();
    let _ = ctrlc::set_handler(move || control.send(Command::Stop));
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  ETA {eta}")
                .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut printer = Printer {
        json: args.json,
        bar,
        state: prior,
        rate: 0.0,
    };
    for event in rx {
        printer.show(&event);
    }
    let run_id = handle.run_id.clone();
    let dir = handle.dir.clone();
    let summary = handle.wait();
    if let RunStatus::Diverged | RunStatus::Failed | RunStatus::Pruned = summary.status {
        eprintln!(
            "error: run {}: {} (run {run_id}, step {}, saved in {})",
            summary.status.as_str(),
            summary.reason.unwrap_or_default(),
            summary.step,
            dir.display()
        );
        return Ok(ExitCode::from(1));
    }
    let figure = gradboard::runs::accuracy_text;
    let val = match summary.best_val_acc {
        Some(_) => format!(
            ", val acc {} (best {})",
            figure(summary.final_val_acc),
            figure(summary.best_val_acc)
        ),
        None => String::new(),
    };
    let line = format!(
        "run {run_id} {}: step {}, test acc {} (best {}){val}, {:.1} s; saved in {}",
        summary.status.as_str(),
        summary.step,
        figure(summary.final_test_acc),
        figure(summary.best_test_acc),
        summary.seconds,
        dir.display()
    );
    if args.json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
    Ok(match summary.status {
        RunStatus::Completed => ExitCode::SUCCESS,
        _ => ExitCode::from(130),
    })
}
