//! The one way to run: a `Runner` starts runs (fresh, forked from another run's checkpoint, or
//! resumed in their own folder) each on a thread of its own with a compute pool of its own,
//! writes their folders, and hands back a `RunHandle` to send commands to. Every run ends
//! with exactly one `done`: a panic or an error on the run's thread is caught and written as
//! `failed` with its message.

pub mod command;
pub mod sweep;

use crate::config::{key, RunConfig};
use crate::data::Dataset;
use crate::events::{
    DataInfo, Event, EventKind, EventSink, ParentRef, RunStatus, StartInfo, SweepRef, SCHEMA,
};
use crate::model::Compute;
use crate::runs::RunWriter;
use crate::train::checkpoint::{self, Checkpoint};
use crate::train::{Command, Control, Fault, Origin, Session, Summary};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Threads that train runs are named with this prefix (panic hooks tell them apart by it).
pub const RUN_THREAD_PREFIX: &str = "gradboard-run";

/// Where a new run comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum From {
    /// Fresh weights.
    New,
    /// A fork of the run in this folder, from its last checkpoint.
    Fork(PathBuf),
    /// The stopped or crashed run in this folder, continued from its last checkpoint.
    Resume(PathBuf),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The preset the settings came from (named in the run id and the `start` event).
    pub preset: String,
    /// The settings (ignored on resume: the run's own are used).
    pub config: RunConfig,
    /// The preset's own settings, to record which keys differ; `None` records none.
    pub base: Option<RunConfig>,
    /// Fresh, fork or resume.
    pub from: From,
    /// The sweep it belongs to.
    pub sweep: Option<SweepRef>,
    /// A deliberate failure, for tests.
    pub fault: Option<Fault>,
}

impl RunRequest {
    /// A fresh run of `config` from preset `preset` (whose settings are `base`).
    pub fn new(preset: &str, config: RunConfig, base: Option<RunConfig>) -> Self {
        RunRequest {
            preset: preset.to_string(),
            config,
            base,
            from: From::New,
            sweep: None,
            fault: None,
        }
    }
}

/// Receives every event of a run after the run store has it.
pub type Observer = Box<dyn FnMut(&Event) + Send>;

/// Starts runs on one data set, in one runs folder.
#[derive(Clone)]
pub struct Runner {
    data: Arc<Dataset>,
    data_info: DataInfo,
    runs_dir: PathBuf,
    compute: Compute,
    threads: usize,
}

/// A started run.
pub struct RunHandle {
    /// Its id.
    pub run_id: String,
    /// Its folder.
    pub dir: PathBuf,
    control: Arc<Control>,
    thread: Option<JoinHandle<std::result::Result<Summary, String>>>,
}

impl RunHandle {
    /// Sends a command; it takes effect between steps (a stop also between evaluation chunks).
    pub fn send(&self, command: Command) {
        self.control.send(command);
    }

    /// The run's control, for handlers on other threads (Ctrl-C).
    pub fn control(&self) -> Arc<Control> {
        self.control.clone()
    }

    /// Whether the run has ended (its `done` is written).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits for the run to end and returns its summary.
    pub fn wait(mut self) -> Summary {
        let thread = self.thread.take().expect("a run is waited for once");
        let failure = match thread.join() {
            Ok(Ok(summary)) => return summary,
            Ok(Err(failure)) => failure,
            Err(_) => "the run's thread ended without its summary".to_string(),
        };
        Summary::failed(failure)
    }
}

impl Runner {
    /// A runner training on `data` (read from `data_path`), writing to `runs_dir`, with
    /// `threads` CPU threads a run.
    pub fn new(
        data: Arc<Dataset>,
        data_path: &Path,
        runs_dir: &Path,
        compute: Compute,
        threads: usize,
    ) -> Self {
        Runner {
            data_info: DataInfo {
                path: data_path.display().to_string(),
                train: data.train.len(),
                test: data.test.len(),
                format: data.format.name().to_string(),
                shape: data.shape.dims().to_vec(),
                classes: data.shape.classes,
                class_names: data.class_names.clone(),
            },
            data,
            runs_dir: runs_dir.to_path_buf(),
            compute,
            threads: threads.max(1),
        }
    }

    /// The same runner with `threads` CPU threads a run.
    pub fn with_threads(&self, threads: usize) -> Runner {
        Runner {
            threads: threads.max(1),
            ..self.clone()
        }
    }

    /// The device and kernels runs use.
    pub fn compute(&self) -> &Compute {
        &self.compute
    }

    /// CPU threads a run trains with.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The runs folder.
    pub fn runs_dir(&self) -> &Path {
        &self.runs_dir
    }

    /// The data set.
    pub fn data(&self) -> &Arc<Dataset> {
        &self.data
    }

    /// Starts a run: creates (or reopens) its folder now, so bad requests fail here, then
    /// trains it on a thread of its own. `observer` gets every event after the store has it.
    pub fn start(&self, request: RunRequest, observer: Observer) -> Result<RunHandle> {
        self.start_with(request, observer, Arc::new(Control::new()))
    }

    /// `start` with a control made beforehand, so the observer can command its own run.
    pub fn start_with(
        &self,
        request: RunRequest,
        observer: Observer,
        control: Arc<Control>,
    ) -> Result<RunHandle> {
        let Prepared {
            writer,
            config,
            origin,
            parent,
            measured,
        } = self.prepare(&request)?;
        let run_id = writer.run_id().to_string();
        let dir = writer.dir().to_path_buf();
        let changed: BTreeMap<String, serde_json::Value> = match &request.base {
            Some(base) => {
                let mut changed: BTreeMap<String, serde_json::Value> = config
                    .differences(base)
                    .into_iter()
                    .filter_map(|(k, _)| {
                        key(k).ok().map(|spec| (k.to_string(), spec.json(&config)))
                    })
                    .collect();
                changed.extend(net_differences(&config, base));
                changed
            }
            None => BTreeMap::new(),
        };
        let summary = crate::model::summary::of_config(&config, self.data.shape);
        let start = StartInfo {
            config: config.clone(),
            schema: SCHEMA,
            version: env!("CARGO_PKG_VERSION").to_string(),
            threads: self.threads,
            device: self.compute.name().to_string(),
            data: self.data_info.clone(),
            train_size: self.data.train.len() - config.val_split.min(self.data.train.len()),
            preset: request.preset.clone(),
            changed,
            parent,
            sweep: request.sweep.clone(),
            params: summary.as_ref().map(|s| s.params),
            flops: summary.as_ref().map(|s| s.flops as f64),
            command: None,
        };
        let thread_control = control.clone();
        let data = self.data.clone();
        let compute = self.compute.clone();
        let threads = self.threads;
        let fault = request.fault;
        let thread_id = run_id.clone();
        let thread = crate::threads::spawn(format!("{RUN_THREAD_PREFIX}-{run_id}"), move || {
            let mut sink = Tee {
                writer,
                observer,
                done_sent: false,
                measured,
            };
            let session = Session {
                run_id: thread_id.clone(),
                config,
                start,
                data: &data,
                compute,
                folder: Some(sink.writer.dir().to_path_buf()),
                origin,
                control: &thread_control,
                fault,
            };
            let outcome = crate::threads::catch(|| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("{RUN_THREAD_PREFIX}-worker-{i}"))
                    .start_handler(|_| crate::threads::mark_reported())
                    .build()
                    .map_err(|e| Error::Other(format!("cannot start the compute threads: {e}")))?;
                pool.install(|| session.run(&mut sink))
            });
            let failure = match outcome {
                Ok(Ok(summary)) if sink.done_sent => return summary,
                Ok(Ok(_)) => "the run ended without its done event".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(panic) => panic,
            };
            tracing::error!(run = %thread_id, "run failed: {failure}");
            let summary = sink.failed(failure);
            sink.deliver_done(&Event::now(&thread_id, summary.done_event()));
            summary
        })
        .map_err(|e| Error::Other(format!("cannot start a run thread: {e}")))?;
        Ok(RunHandle {
            run_id,
            dir,
            control,
            thread: Some(thread),
        })
    }

    /// The one gate before a run's folder is made: settings against each other and the data
    /// set, the device, and the memory the run needs.
    pub fn check(&self, config: &RunConfig) -> Result<()> {
        self.data.options.check_same(&config.data_options())?;
        crate::train::check(
            config,
            self.data.shape,
            Some(self.data.train.len()),
            &self.compute,
        )
    }

    /// The folder writer, the settings, where the run starts from, and its parent.
    fn prepare(&self, request: &RunRequest) -> Result<Prepared> {
        match &request.from {
            From::New => {
                self.check(&request.config)?;
                let writer = RunWriter::create(&self.runs_dir, &request.preset, &request.config)?;
                Ok(Prepared::new(
                    writer,
                    request.config.clone(),
                    Origin::Fresh,
                    None,
                ))
            }
            From::Fork(parent_dir) => {
                self.check(&request.config)?;
                let mut cp = read_checkpoint(parent_dir)?;
                if let Some((k, mine, theirs)) = request.config.network_difference(&cp.state.config)
                {
                    return Err(Error::Config(format!(
                        "a fork keeps its parent's network: {k} is {theirs} there, not {mine}"
                    )));
                }
                if request.config.optimizer != cp.state.config.optimizer {
                    cp.optimizer.clear();
                    cp.state.optimizer_steps = 0;
                }
                let parent = ParentRef {
                    run_id: cp.state.run_id.clone(),
                    step: cp.state.step,
                };
                let writer = RunWriter::create(&self.runs_dir, &request.preset, &request.config)?;
                Ok(Prepared::new(
                    writer,
                    request.config.clone(),
                    Origin::Fork(Box::new(cp)),
                    Some(parent),
                ))
            }
            From::Resume(dir) => {
                let stored = crate::runs::StoredRun::load(dir)?;
                let ended = stored.history().iter().rev().find_map(|e| match &e.kind {
                    EventKind::Done { status, .. } => Some(*status),
                    _ => None,
                });
                if ended == Some(RunStatus::Completed) {
                    return Err(Error::Other(format!(
                        "{}: the run completed; fork it (--from) to train it further",
                        dir.display()
                    )));
                }
                // A checkpoint at the last step (killed after its last evaluation) resumes
                // too: the session trains nothing, writes the model and the `done`.
                let cp = read_checkpoint(dir)?;
                self.check(&cp.state.config)?;
                let writer = RunWriter::reopen(dir)?;
                let parent = stored.start().and_then(|s| s.parent.clone());
                let mut prepared = Prepared::new(
                    writer,
                    cp.state.config.clone(),
                    Origin::Resume(Box::new(cp)),
                    parent,
                );
                for e in stored.history() {
                    prepared.measured.apply(e);
                }
                Ok(prepared)
            }
        }
    }
}

/// The net and its variables where `config`'s differ from `base`'s, as `changed` lists them.
fn net_differences(config: &RunConfig, base: &RunConfig) -> Vec<(String, serde_json::Value)> {
    let Some(net) = &config.net else {
        return Vec::new();
    };
    let same_net = base.net.as_ref().is_some_and(|b| b.name == net.name);
    let mut out = Vec::new();
    // The variables are compared with the base's net, or with the net's own file.
    let reference = match same_net {
        true => base.net.clone(),
        false => {
            out.push(("net".to_string(), serde_json::json!(net.name)));
            let dirs = crate::config::net::net_dirs(&crate::config::PresetDirs::discover());
            crate::config::net::NetConfig::load(&net.name, &dirs).ok()
        }
    };
    for (var, value) in net.vars() {
        let before = reference.as_ref().and_then(|b| b.var(&var));
        if before != Some(value) {
            let number = match value.fract() == 0.0 && value.abs() < 1e15 {
                true => serde_json::json!(value as i64),
                false => serde_json::json!(value),
            };
            out.push((format!("net.{var}"), number));
        }
    }
    out
}

fn read_checkpoint(dir: &Path) -> Result<Checkpoint> {
    let path = dir.join(checkpoint::LAST);
    if !path.is_file() {
        return Err(Error::Other(format!(
            "{}: no checkpoint (a run writes one at each evaluation and when it stops; this one was killed before either)",
            dir.display()
        )));
    }
    checkpoint::read(&path)
}

/// A run ready to start: its folder's writer, its settings, where it starts from, its parent,
/// and what it measured before (a resumed run's history, folded), so that a failure that loses
/// the session's own summary still reports it.
struct Prepared {
    writer: RunWriter,
    config: RunConfig,
    origin: Origin,
    parent: Option<ParentRef>,
    measured: crate::runs::RunState,
}

impl Prepared {
    fn new(
        writer: RunWriter,
        config: RunConfig,
        origin: Origin,
        parent: Option<ParentRef>,
    ) -> Self {
        let measured = crate::runs::RunState::new(writer.run_id(), config.clone());
        Prepared {
            writer,
            config,
            origin,
            parent,
            measured,
        }
    }
}

/// The run's sink: the store first, then the observer; it remembers whether `done` went out.
struct Tee {
    writer: RunWriter,
    observer: Observer,
    done_sent: bool,
    /// Every event the session sent, stored or not.
    measured: crate::runs::RunState,
}

impl Tee {
    /// The summary of a run that failed with `failure` outside the session's own accounts:
    /// its figures and seconds as far as its events went.
    fn failed(&self, failure: String) -> Summary {
        let m = &self.measured;
        let reason = match m.ended.as_ref().and_then(|e| e.reason.clone()) {
            Some(r) => format!("{failure}; {r}"),
            None => failure,
        };
        Summary {
            step: m.step,
            final_test_acc: m.final_test_acc(),
            best_test_acc: m.best_test_acc(),
            final_val_acc: m.final_val_acc(),
            best_val_acc: m.best_val_acc(),
            seconds: m.elapsed(m.last_time),
            ..Summary::failed(reason)
        }
    }

    /// Delivers a `done` the session could not: to the store if it still takes writes, and to
    /// the observer in any case.
    fn deliver_done(&mut self, event: &Event) {
        if let Err(e) = self.writer.emit(event) {
            tracing::error!(run = %event.run_id, "cannot write the done event: {e}");
        }
        (self.observer)(event);
        self.done_sent = true;
    }
}

impl EventSink for Tee {
    fn emit(&mut self, event: &Event) -> Result<()> {
        self.measured.apply(event);
        let stored = self.writer.emit(event);
        if stored.is_ok() {
            (self.observer)(event);
            if let EventKind::Done { .. } = event.kind {
                self.done_sent = true;
            }
        }
        stored
    }
}
