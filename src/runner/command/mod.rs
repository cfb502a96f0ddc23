//! A command sweep's trial as a run: its folder made by the run store, its program started
//! (`child`), what it reports read (`metrics`) and written as `metrics` events between a
//! `start` and a `done`, so that the sweep's book, pruners, the runs screen and compare read it
//! as they read gradboard's own runs. Stop, prune and pause reach the program's process group;
//! when the trial ends, for any reason, nothing it started is left running.

mod child;
mod metrics;

pub use child::{STDERR_FILE, STDOUT_FILE, TOKEN_ENV};

use super::{Observer, RunHandle};
use crate::config::sweep::CommandSpec;
use crate::config::RunConfig;
use crate::events::{Event, EventKind, EventSink, RunStatus, StartInfo, SweepRef, SCHEMA};
use crate::runs::RunWriter;
use crate::train::{Command, Control, Summary};
use crate::{Error, Result};
use child::TrialProcess;
use metrics::Collector;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The JSON-lines file in a trial's folder that `GRADBOARD_METRICS` names.
pub const METRICS_FILE: &str = "metrics.jsonl";

/// How often the trial's files are read for new figures.
const FILE_POLL: Duration = Duration::from_secs(1);

/// Lines of stderr a failed trial's reason quotes.
const STDERR_LINES: usize = 3;

/// A trial to run.
#[derive(Debug, Clone)]
pub struct CommandRequest {
    /// The command and its objective.
    pub command: CommandSpec,
    /// Every place's value but `run_dir` (filled once the folder exists).
    pub values: BTreeMap<String, String>,
    /// The swept values, as the `start` event's `changed`.
    pub changed: BTreeMap<String, String>,
    /// The name its run id carries.
    pub name: String,
    /// Its seed.
    pub seed: u64,
    /// The sweep it belongs to.
    pub sweep: Option<SweepRef>,
    /// Its stopped or lost run's folder, to run again there with `GRADBOARD_RESUME=1`.
    pub resume: Option<PathBuf>,
}

/// Starts the trial: its folder now (so a bad request fails here), its program on a thread
/// that supervises it to its end. `observer` gets every event after the store has it.
pub fn start(
    runs_dir: &Path,
    request: CommandRequest,
    observer: Observer,
    control: Arc<Control>,
) -> Result<RunHandle> {
    // Only the seed is gradboard's; a command's steps are its own.
    let config = RunConfig {
        seed: request.seed,
        steps: 0,
        ..RunConfig::default()
    };
    let (writer, history) = match &request.resume {
        Some(dir) => {
            let stored = crate::runs::StoredRun::load(dir)?;
            (RunWriter::reopen(dir)?, Some(stored.state()))
        }
        None => (RunWriter::create(runs_dir, &request.name, &config)?, None),
    };
    let dir = absolute(writer.dir());
    let mut values = request.values.clone();
    values.insert("run_dir".into(), dir.display().to_string());
    let argv = match &history {
        // A resumed trial runs the very command it ran.
        Some(state) => state
            .start
            .as_ref()
            .and_then(|s| s.command.clone())
            .ok_or_else(|| Error::Other(format!("{}: no command to run again", dir.display())))?,
        None => request.command.render(&values)?,
    };
    let run_id = writer.run_id().to_string();
    let trial = Trial {
        run_id: run_id.clone(),
        dir: dir.clone(),
        argv,
        env: environment(&request, &run_id, &dir),
        objective: request.command.objective.clone(),
        grace: Duration::from_secs_f64(request.command.kill_after),
        workdir: request.command.workdir.clone(),
        start: StartInfo {
            config,
            schema: SCHEMA,
            version: env!("CARGO_PKG_VERSION").to_string(),
            threads: 0,
            device: "command".into(),
            data: Default::default(),
            train_size: 0,
            preset: request.name.clone(),
            changed: request
                .changed
                .iter()
                .map(|(k, v)| (k.clone(), value_json(v)))
                .collect(),
            parent: None,
            sweep: request.sweep.clone(),
            params: None,
            flops: None,
            command: None,
        },
        history,
    };
    let thread_control = control.clone();
    let thread = crate::threads::spawn(format!("gradboard-command-{run_id}"), move || {
        let mut sink = Sink { writer, observer };
        trial.supervise(&mut sink, &thread_control)
    })
    .map_err(|e| Error::Other(format!("cannot start a trial thread: {e}")))?;
    Ok(RunHandle {
        run_id,
        dir,
        control,
        thread: Some(thread),
    })
}

/// The trial's environment: who it is, where its folder is, where to append its figures.
fn environment(request: &CommandRequest, run_id: &str, dir: &Path) -> Vec<(String, String)> {
    let trial_id = request
        .sweep
        .as_ref()
        .map_or(run_id.to_string(), |s| s.index.to_string());
    let mut env = vec![
        ("GRADBOARD_TRIAL_ID".to_string(), trial_id),
        ("GRADBOARD_RUN_ID".to_string(), run_id.to_string()),
        ("GRADBOARD_RUN_DIR".to_string(), dir.display().to_string()),
        (
            "GRADBOARD_METRICS".to_string(),
            dir.join(METRICS_FILE).display().to_string(),
        ),
    ];
    if let Some(s) = &request.sweep {
        env.push(("GRADBOARD_SWEEP_ID".into(), s.id.clone()));
    }
    if request.resume.is_some() {
        env.push(("GRADBOARD_RESUME".into(), "1".into()));
    }
    env
}

/// A value as JSON: numbers as numbers, other text as it is.
fn value_json(text: &str) -> serde_json::Value {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => serde_json::json!(v),
        _ => serde_json::json!(text),
    }
}

/// `path` from the root (the program may change its directory).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The store first, then the observer.
struct Sink {
    writer: RunWriter,
    observer: Observer,
}

impl Sink {
    /// The `prune` event of a pruner's decision at the objective's `step`.
    fn pruned(&mut self, run_id: &str, step: usize, reason: &str) {
        let reason = reason.to_string();
        self.send(run_id, EventKind::Prune { step, reason });
    }

    fn send(&mut self, run_id: &str, kind: EventKind) {
        let event = Event::now(run_id, kind);
        if let Err(e) = self.writer.emit(&event) {
            tracing::error!(run = %run_id, "{e}");
        }
        (self.observer)(&event);
    }
}

/// A trial ready to run.
struct Trial {
    run_id: String,
    dir: PathBuf,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    objective: String,
    grace: Duration,
    workdir: Option<PathBuf>,
    start: StartInfo,
    /// A resumed trial's events so far, folded.
    history: Option<crate::runs::RunState>,
}

/// How the program's run ended, before the words.
enum Ending {
    /// It exited by itself.
    Exited(std::process::ExitStatus),
    /// It was stopped (`Command::Stop`) or pruned.
    Ended(RunStatus, Option<String>),
    /// It could not start.
    NotStarted(String),
}

impl Trial {
    /// Runs the program to its end and writes the run's events; returns its summary.
    fn supervise(mut self, sink: &mut Sink, control: &Control) -> Summary {
        let run_id = self.run_id.clone();
        let began = Instant::now();
        let mut tally = Tally::default();
        let mut collector = Collector::new(&self.dir, &self.dir.join(METRICS_FILE));
        match self.history.take() {
            Some(state) => {
                tally.step = state.step;
                tally.last = state
                    .scalars
                    .get(&self.objective)
                    .and_then(|c| c.last().copied());
                let counts = state
                    .scalars
                    .iter()
                    .map(|(k, v)| (k.clone(), v.len()))
                    .collect();
                collector.resume_from(&counts);
                sink.send(&run_id, EventKind::Resume { step: tally.step });
            }
            None => {
                let mut start = self.start.clone();
                start.command = Some(self.argv.clone());
                sink.send(&run_id, EventKind::Start(Box::new(start)));
            }
        }
        let token = format!(
            "{}-{}-{}",
            run_id,
            std::process::id(),
            crate::events::unix_now()
        );
        let mut paused_for = Duration::ZERO;
        let mut paused_at: Option<Instant> = None;
        let (ending, process) = match TrialProcess::start(
            &self.argv,
            &self.env,
            self.workdir.as_deref(),
            &self.dir,
            &token,
        ) {
            Err(e) => (Ending::NotStarted(e.to_string()), None),
            Ok(mut process) => {
                let mut last_files = Instant::now() - FILE_POLL;
                let mut asked: Option<(RunStatus, Option<String>)> = None;
                let ending = loop {
                    for command in control.drain() {
                        match command {
                            Command::Stop if asked.is_none() => {
                                asked = Some((RunStatus::Stopped, Some("stopped".into())));
                                process.terminate();
                            }
                            Command::Prune { reason } if asked.is_none() => {
                                sink.pruned(&run_id, tally.at(), &reason);
                                asked = Some((RunStatus::Pruned, Some(reason)));
                                process.terminate();
                            }
                            Command::Pause if paused_at.is_none() && asked.is_none() => {
                                process.pause(true);
                                paused_at = Some(Instant::now());
                                let step = tally.step;
                                sink.send(&run_id, EventKind::Paused { step, paused: true });
                            }
                            Command::Resume => {
                                if let Some(at) = paused_at.take() {
                                    process.pause(false);
                                    paused_for += at.elapsed();
                                    sink.send(
                                        &run_id,
                                        EventKind::Paused {
                                            step: tally.step,
                                            paused: false,
                                        },
                                    );
                                }
                            }
                            _ => {}
                        }
                    }
                    process.tick(self.grace);
                    let exited = process.exited();
                    let lines: Vec<String> = process.lines.try_iter().collect();
                    for line in &lines {
                        collector.add_line(line);
                    }
                    let files = exited.is_some() || last_files.elapsed() >= FILE_POLL;
                    if files {
                        last_files = Instant::now();
                    }
                    let new = collector.poll(files);
                    // A pruned trial's figures end at the decision.
                    if !matches!(asked, Some((RunStatus::Pruned, _))) {
                        tally.report(&self.objective, &run_id, sink, control, new);
                    }
                    if let Some(status) = exited {
                        break match asked.take() {
                            Some((status, reason)) => Ending::Ended(status, reason),
                            None => Ending::Exited(status),
                        };
                    }
                    std::thread::sleep(Duration::from_millis(if lines.is_empty() {
                        100
                    } else {
                        10
                    }));
                };
                (ending, Some(process))
            }
        };
        let mut leftovers = 0;
        let mut tail = String::new();
        let pruned = matches!(ending, Ending::Ended(RunStatus::Pruned, _));
        if let Some(mut process) = process {
            leftovers = process.end_leftovers(self.grace);
            // Lines the program printed just before it ended.
            std::thread::sleep(Duration::from_millis(20));
            for line in process.lines.try_iter() {
                collector.add_line(&line);
            }
            let new = collector.poll(true);
            if !pruned {
                tally.report(&self.objective, &run_id, sink, control, new);
            }
            tail = process.stderr_tail(STDERR_LINES);
        }
        // The pruner may have judged the last figures after the program ended: its word stands.
        let mut ending = ending;
        if let Ending::Exited(_) = ending {
            for command in control.drain() {
                if let Command::Prune { reason } = command {
                    sink.pruned(&run_id, tally.at(), &reason);
                    ending = Ending::Ended(RunStatus::Pruned, Some(reason));
                    break;
                }
            }
        }
        let said = |tail: &str| match tail.is_empty() {
            true => String::new(),
            false => format!("; stderr: {tail}"),
        };
        let (status, mut reason) = match ending {
            Ending::NotStarted(e) => (RunStatus::Failed, Some(e)),
            Ending::Ended(status, reason) => (status, reason),
            Ending::Exited(exit) => match (&tally.non_finite, exit.success(), tally.last) {
                (Some((name, at)), _, _) => (
                    RunStatus::Diverged,
                    Some(format!("{name} reported as not a number at step {at}")),
                ),
                (None, true, Some(_)) => (RunStatus::Completed, None),
                (None, true, None) => (
                    RunStatus::Failed,
                    Some(format!(
                        "the command never reported {} (print {}=VALUE, append to $GRADBOARD_METRICS, or log it to TensorBoard under $GRADBOARD_RUN_DIR){}",
                        self.objective, self.objective, said(&tail)
                    )),
                ),
                (None, false, _) => (
                    RunStatus::Failed,
                    Some(format!("the command {}{}", child::exit_text(exit), said(&tail))),
                ),
            },
        };
        if leftovers > 0 {
            let note = format!("ended {leftovers} process(es) it left running");
            reason = Some(match reason {
                Some(r) => format!("{r}; {note}"),
                None => note,
            });
        }
        if let Some(at) = paused_at {
            paused_for += at.elapsed();
        }
        let summary = Summary {
            step: tally.at(),
            status,
            seconds: began.elapsed().saturating_sub(paused_for).as_secs_f64(),
            reason,
            ..Summary::failed(String::new())
        };
        sink.send(&run_id, summary.done_event());
        summary
    }
}

/// What a trial has reported so far.
#[derive(Default)]
struct Tally {
    /// The last step of any figure.
    step: usize,
    /// The objective's last report (step, value): its steps are what the sweep's rungs,
    /// prunes and budget count in.
    last: Option<(usize, f64)>,
    /// The objective's first non-finite report (name, step).
    non_finite: Option<(String, usize)>,
}

impl Tally {
    /// The step a decision or the end is recorded at: the objective's, else any figure's.
    fn at(&self) -> usize {
        self.last.map_or(self.step, |l| l.0)
    }

    /// Writes new figures as `metrics` events, until a stop or prune is asked, and keeps
    /// count of them.
    fn report(
        &mut self,
        objective: &str,
        run_id: &str,
        sink: &mut Sink,
        control: &Control,
        new: metrics::NewPoints,
    ) {
        for (_, at) in &new.non_finite {
            self.step = self.step.max(*at);
        }
        if self.non_finite.is_none() {
            self.non_finite = new
                .non_finite
                .into_iter()
                .find(|(name, _)| name == objective);
        }
        for (at, values) in new.by_step {
            // A trial stopped or pruned at a step records nothing after it.
            if control.stop_requested() {
                break;
            }
            self.step = self.step.max(at);
            if let Some(&v) = values.get(objective) {
                self.last = Some((at, v));
            }
            sink.send(run_id, EventKind::Metrics { step: at, values });
        }
    }
}
