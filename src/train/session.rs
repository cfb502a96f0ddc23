//! One training run's loop: batches in, trainer steps, evaluations, checkpoints, events out,
//! commands in between. It ends with exactly one `done`, whatever happens inside: errors end
//! it `failed`, a non-finite figure ends it `diverged` before the step is applied, a stop ends
//! it `stopped` (evaluation checks for a stop between chunks) with a checkpoint where it
//! stopped, so nothing it trained is lost to a resume or a fork.

use super::build_trainer;
use super::checkpoint::{self, Checkpoint, CheckpointState};
use super::control::{Command, Control};
use super::diag::{probe_batch, Diag, PROBE_IMAGES};
use super::inference::evaluate;
use crate::config::{key, RunConfig};
use crate::data::augment::Seeds;
use crate::data::{derive_seed, BatchSampler, Dataset, Holdout, Split};
use crate::events::{Event, EventKind, EventSink, RunStatus, StartInfo};
use crate::files::WEIGHTS_FILE;
use crate::model::{load_weights, write_safetensors, Compute, Hyper, Network, StepReport, Trainer};
use crate::optim::schedule::LrSchedule;
use crate::{Error, Result};
use candle_core::Tensor;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Random streams derived from the run's seed.
const SAMPLER_STREAM: u64 = 1;
const DROPOUT_STREAM: u64 = 2;
const AUGMENT_STREAM: u64 = 3;

/// How a run ended, as in its `done` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Last step done.
    pub step: usize,
    /// How it ended.
    pub status: RunStatus,
    /// Test accuracy of the last evaluation; `None` when none ran.
    pub final_test_acc: Option<f64>,
    /// Best test accuracy; `None` when no evaluation ran.
    pub best_test_acc: Option<f64>,
    /// Validation accuracy of the last evaluation (with a `val_split`).
    pub final_val_acc: Option<f64>,
    /// Best validation accuracy (with a `val_split`).
    pub best_val_acc: Option<f64>,
    /// Training and evaluation seconds, pauses excluded.
    pub seconds: f64,
    /// Why it ended early, and anything the user must know about its files.
    pub reason: Option<String>,
    /// Its per-layer warnings, `kind layer` each.
    pub warnings: Vec<String>,
    /// When its evaluated accuracy first reached each level (`done`'s `time_to`).
    pub time_to: std::collections::BTreeMap<String, f64>,
}

impl Summary {
    /// A failure at step 0 that measured nothing, for `reason`.
    pub fn failed(reason: String) -> Self {
        Summary {
            step: 0,
            status: RunStatus::Failed,
            final_test_acc: None,
            best_test_acc: None,
            final_val_acc: None,
            best_val_acc: None,
            seconds: 0.0,
            reason: Some(reason),
            warnings: Vec::new(),
            time_to: Default::default(),
        }
    }

    /// The `done` event of this summary.
    pub fn done_event(&self) -> EventKind {
        EventKind::Done {
            step: self.step,
            status: self.status,
            final_test_acc: self.final_test_acc,
            best_test_acc: self.best_test_acc,
            final_val_acc: self.final_val_acc,
            best_val_acc: self.best_val_acc,
            seconds: self.seconds,
            reason: self.reason.clone(),
            warnings: self.warnings.clone(),
            time_to: self.time_to.clone(),
        }
    }
}

/// Environment variable that injects a failure (`panic@N`, `error@N`, `nan@N` into a run;
/// `sweep-panic@I` into the sweep thread that takes run I), for testing the failure paths.
pub const FAULT_ENV: &str = "GRADBOARD_FAULT";

/// A deliberate failure for tests of the failure paths (`GRADBOARD_FAULT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Panic inside step N.
    PanicAtStep(usize),
    /// Return an engine error from step N.
    ErrorAtStep(usize),
    /// Make step N's loss NaN (divergence).
    NanAtStep(usize),
}

impl Fault {
    /// Parses `panic@N`, `error@N` or `nan@N`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::Config(format!(
                "fault {text:?}: expected panic@N, error@N or nan@N"
            ))
        };
        let (kind, step) = text.split_once('@').ok_or_else(bad)?;
        let step: usize = step.parse().map_err(|_| bad())?;
        match kind {
            "panic" => Ok(Fault::PanicAtStep(step)),
            "error" => Ok(Fault::ErrorAtStep(step)),
            "nan" => Ok(Fault::NanAtStep(step)),
            _ => Err(bad()),
        }
    }
}

/// Where a run starts from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// Fresh weights from the seed.
    Fresh,
    /// A fork: another run's checkpoint; this run's steps count on from its step.
    Fork(Box<Checkpoint>),
    /// The same run again from its own checkpoint, in its folder, to its configured steps.
    Resume(Box<Checkpoint>),
}

/// The lookahead decay at the end of a run (0.95⁵: airbench's pull every 5 steps).
const LOOKAHEAD_DECAY: f64 = 0.773_780_937_5;

/// Training images a network's `fit` sees (airbench whitens on 5000).
const FIT_IMAGES: usize = 5000;

/// One run to be trained.
pub struct Session<'a> {
    /// The run id carried by every event.
    pub run_id: String,
    /// The configuration it starts with.
    pub config: RunConfig,
    /// What the `start` event records besides the configuration (ignored on resume).
    pub start: StartInfo,
    /// The data set.
    pub data: &'a Dataset,
    /// Device and kernels.
    pub compute: Compute,
    /// The run folder, where weights and checkpoints go; `None` keeps nothing.
    pub folder: Option<PathBuf>,
    /// Where it starts from.
    pub origin: Origin,
    /// Commands from the front ends.
    pub control: &'a Control,
    /// A deliberate failure, for tests.
    pub fault: Option<Fault>,
}

struct Throughput {
    window: VecDeque<(Instant, usize)>,
}

impl Throughput {
    fn record(&mut self, samples: usize) -> f64 {
        let now = Instant::now();
        self.window.push_back((now, samples));
        if self.window.len() > 20 {
            self.window.pop_front();
        }
        let first = self.window.front().map(|w| w.0).unwrap_or(now);
        let elapsed = now.duration_since(first).as_secs_f64();
        let count: usize = self.window.iter().skip(1).map(|w| w.1).sum();
        if elapsed > 0.0 {
            count as f64 / elapsed
        } else {
            0.0
        }
    }
}

/// The loop's state, kept apart from the session's inputs.
struct Progress {
    step: usize,
    /// The step this run started from (a fork's parent step), where its schedule begins.
    first_step: usize,
    last_step: usize,
    schedule: LrSchedule,
    /// Ended by early stopping: the saved model is the best evaluation's.
    keep_best: bool,
    config: RunConfig,
    summary: Summary,
    best_step: usize,
    /// The evaluation of `step` is due and was not done (a stop came during it).
    pending_eval: bool,
    active: Duration,
    resumed_at: Instant,
    sampler: BatchSampler,
    /// The held-out training images (with a `val_split`), evaluated beside the test set.
    val: Option<Split>,
    /// The probe batch of the per-layer statistics: the first training images.
    probe: Vec<u32>,
    /// The per-layer statistics' state.
    diag: Diag,
    throughput: Throughput,
}

impl Progress {
    fn seconds(&self) -> f64 {
        (self.active + self.resumed_at.elapsed()).as_secs_f64()
    }

    /// The settings of the next step, its learning rate scheduled, with a lookahead pull
    /// every `lookahead` steps and at the last (airbench's decay, 0.95⁵ (t / T)³; 1 at the
    /// last step, which leaves the average as the weights).
    fn hyper(&self) -> Hyper {
        let t = self.step + 1 - self.first_step;
        let every = self.config.lookahead;
        let lookahead = (every > 0 && (t.is_multiple_of(every) || self.step + 1 == self.last_step))
            .then(|| match self.step + 1 == self.last_step {
                true => 1.0,
                false => LOOKAHEAD_DECAY * (t as f64 / self.schedule.steps() as f64).powi(3),
            });
        Hyper {
            lr: self.config.lr * self.schedule.factor(t),
            lookahead,
            ..Hyper::of(&self.config)
        }
    }

    fn end(&mut self, status: RunStatus, reason: impl Into<String>) {
        self.summary.status = status;
        self.summary.reason = Some(reason.into());
    }
}

/// What a step of the loop decided.
enum Flow {
    Continue,
    End,
}

impl Session<'_> {
    /// Runs to the end, a stop, a divergence or a failure, sending every event to `sink`.
    /// Returns the summary its `done` event carries; an error only when even `done` could not
    /// be delivered.
    pub fn run(self, sink: &mut dyn EventSink) -> Result<Summary> {
        let started = match &self.origin {
            Origin::Resume(cp) => Event::now(
                &self.run_id,
                EventKind::Resume {
                    step: cp.state.step,
                },
            ),
            _ => {
                let mut info = self.start.clone();
                info.config = self.config.clone();
                Event::now(&self.run_id, EventKind::Start(Box::new(info)))
            }
        };
        sink.emit(&started)?;
        let mut progress = self.progress();
        let trainer = self.prepare(&mut progress);
        let mut trainer = match trainer {
            Ok(t) => Some(t),
            Err(e) => {
                progress.end(RunStatus::Failed, e.to_string());
                None
            }
        };
        // A panic inside the loop ends the run as a failure that keeps what it measured; its
        // weights may be half-updated, so the model saved is the last checkpoint's.
        let mut panicked = false;
        if let Some(t) = trainer.as_mut() {
            match crate::threads::catch(|| self.train(t.as_mut(), &mut progress, sink)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => progress.end(RunStatus::Failed, e.to_string()),
                Err(panic) => {
                    panicked = true;
                    progress.end(RunStatus::Failed, panic);
                }
            }
        }
        progress.summary.seconds = progress.seconds();
        progress.summary.step = progress.step;
        progress.summary.warnings = progress
            .diag
            .warned
            .iter()
            .map(|(kind, layer)| format!("{kind} {layer}"))
            .collect();
        let stopped = matches!(
            progress.summary.status,
            RunStatus::Stopped | RunStatus::Pruned
        );
        if let (true, Some(folder), Some(t)) = (stopped, &self.folder, trainer.as_ref()) {
            // A stop keeps where it stopped: resume and fork go on from this step.
            if let Err(e) = self.write_checkpoints(folder, t.as_ref(), &progress, false) {
                let note = format!("no checkpoint at the stop: {e}");
                progress.summary.reason = Some(match progress.summary.reason.take() {
                    Some(r) => format!("{r}; {note}"),
                    None => note,
                });
            }
        }
        if let (Some(folder), Some(t)) = (&self.folder, trainer.as_ref()) {
            let saved = if progress.keep_best {
                save_best_weights(folder)
            } else if panicked {
                save_checkpoint_as_model(folder, checkpoint::LAST, "the last checkpoint's")
            } else {
                save_final_weights(folder, t.network_ref())
            };
            if let Some(note) = saved {
                progress.summary.reason = Some(match progress.summary.reason.take() {
                    Some(r) => format!("{r}; {note}"),
                    None => note,
                });
            }
        }
        let summary = progress.summary.clone();
        sink.emit(&Event::now(&self.run_id, summary.done_event()))?;
        Ok(summary)
    }

    fn progress(&self) -> Progress {
        let mut progress = Progress {
            step: 0,
            first_step: 0,
            last_step: self.config.steps,
            schedule: LrSchedule::new(&self.config),
            keep_best: false,
            config: self.config.clone(),
            summary: Summary {
                step: 0,
                status: RunStatus::Completed,
                final_test_acc: None,
                best_test_acc: None,
                final_val_acc: None,
                best_val_acc: None,
                seconds: 0.0,
                time_to: Default::default(),
                reason: None,
                warnings: Vec::new(),
            },
            best_step: 0,
            pending_eval: false,
            active: Duration::ZERO,
            resumed_at: Instant::now(),
            sampler: BatchSampler::new(0, 0),
            val: None,
            probe: Vec::new(),
            diag: Diag::new(Vec::new()),
            throughput: Throughput {
                window: VecDeque::new(),
            },
        };
        let mut at = None;
        match &self.origin {
            Origin::Fresh => {}
            Origin::Fork(cp) => {
                progress.step = cp.state.step;
                progress.first_step = cp.state.step;
                progress.last_step = cp.state.step + self.config.steps;
                at = Some(cp.state.sampler);
            }
            Origin::Resume(cp) => {
                let s = &cp.state;
                progress.step = s.step;
                progress.first_step = s.first_step;
                progress.last_step = s.first_step + s.config.steps;
                progress.schedule = LrSchedule::new(&s.config);
                progress.config = s.config.clone();
                at = Some(s.sampler);
                progress.summary.final_test_acc = s.final_test_acc;
                progress.summary.best_test_acc = s.best_test_acc;
                progress.summary.final_val_acc = s.final_val_acc;
                progress.summary.best_val_acc = s.best_val_acc;
                progress.best_step = s.best_step;
                progress.pending_eval = s.pending_eval;
                progress.diag = Diag::new(s.warned.clone());
                progress.active = Duration::from_secs_f64(s.seconds.max(0.0));
                progress.summary.time_to = s.time_to.clone();
            }
        }
        let c = &progress.config;
        let holdout = Holdout::new(self.data.train.len(), c.val_split, c.seed);
        progress.val = holdout.val_split(&self.data.train);
        let probe = PROBE_IMAGES.min(2 * c.batch_size);
        progress.probe = holdout.train().iter().take(probe).copied().collect();
        progress.sampler = BatchSampler::over(
            holdout.train().to_vec(),
            derive_seed(c.seed, SAMPLER_STREAM),
        );
        if let Some(at) = at {
            progress.sampler.restore(at);
        }
        progress
    }

    /// The trainer, with the checkpoint's weights and optimizer state when forking or resuming.
    fn prepare(&self, progress: &mut Progress) -> Result<Box<dyn Trainer>> {
        // The settings passed `Runner::check` before the session was made.
        let mut rng = SmallRng::seed_from_u64(progress.config.seed);
        let mut trainer =
            build_trainer(&progress.config, self.data.shape, &mut rng, &self.compute)?;
        match &self.origin {
            Origin::Fork(cp) | Origin::Resume(cp) => {
                let origin = self.folder.clone().unwrap_or_default();
                load_weights(trainer.network(), cp.model.clone(), &origin)?;
                trainer.load_optimizer_state(cp.state.optimizer_steps, &cp.optimizer)?;
            }
            Origin::Fresh => {
                // What the network takes from its data (whitening filters): the first
                // training images in the sampler's order, as a batch gives them unaugmented.
                let indices = progress.sampler.first(FIT_IMAGES);
                let seeds = Seeds {
                    run: 0,
                    step: 0,
                    epoch: 0,
                };
                let (rows, _) =
                    self.data
                        .training_batch(&indices, crate::config::Augment::None, seeds);
                let x = Tensor::from_vec(
                    rows,
                    (indices.len(), self.data.image_bytes()),
                    self.compute.device(),
                )?;
                trainer.network().fit(&x)?;
            }
        }
        trainer.network().set_dropout(progress.config.dropout);
        Ok(trainer)
    }

    fn train(
        &self,
        trainer: &mut dyn Trainer,
        p: &mut Progress,
        sink: &mut dyn EventSink,
    ) -> Result<()> {
        let train_size = p.sampler.len().max(1) as f64;
        if p.pending_eval {
            // Resumed from a stop during this step's evaluation: it is done first.
            let epoch = (p.step * p.config.batch_size) as f64 / train_size;
            if let Flow::End = self.evaluate_and_checkpoint(trainer, p, epoch, sink)? {
                return Ok(());
            }
        }
        while p.step < p.last_step {
            if let Flow::End = self.handle_commands(trainer, p, sink)? {
                return Ok(());
            }
            let step = p.step + 1;
            let indices = p.sampler.next_indices(p.config.batch_size).to_vec();
            let seeds = Seeds {
                run: derive_seed(p.config.seed, AUGMENT_STREAM),
                step: step as u64,
                epoch: p.sampler.epoch(),
            };
            let (rows, labels) = self.data.training_batch(&indices, p.config.augment, seeds);
            let x = Tensor::from_vec(
                rows,
                (indices.len(), self.data.image_bytes()),
                self.compute.device(),
            )?;
            trainer
                .network()
                .set_epoch((p.step * p.config.batch_size) as f64 / train_size);
            trainer.network().reseed(derive_seed(
                derive_seed(p.config.seed, DROPOUT_STREAM),
                step as u64,
            ));
            let hyper = p.hyper();
            let diag = p.config.diag_every > 0 && step.is_multiple_of(p.config.diag_every);
            let before = match diag {
                true => Some(Diag::before(trainer)?),
                false => None,
            };
            let mut report = match self.fault {
                Some(Fault::PanicAtStep(n)) if n == step => {
                    panic!("injected fault: panic at step {step}")
                }
                Some(Fault::ErrorAtStep(n)) if n == step => {
                    return Err(Error::Other(format!(
                        "injected fault: error at step {step}"
                    )))
                }
                Some(Fault::NanAtStep(n)) if n == step => StepReport {
                    loss: f64::NAN,
                    correct: 0,
                    grad_norm: None,
                    applied: false,
                },
                _ => trainer.step(&x, &labels, &hyper)?,
            };
            if let Some(why) = report.divergence() {
                p.end(
                    RunStatus::Diverged,
                    format!(
                        "{why} at step {step}, before its update: the weights of step {} are kept; try a smaller learning rate (lr = {})",
                        p.step,
                        crate::config::format_float(hyper.lr)
                    ),
                );
                return Ok(());
            }
            p.step = step;
            if report.grad_norm.is_some_and(|g| !g.is_finite()) {
                report.grad_norm = None;
            }
            let epoch = (step * labels.len()) as f64 / train_size;
            sink.emit(&Event::now(
                &self.run_id,
                EventKind::Train {
                    step,
                    epoch,
                    loss: report.loss,
                    acc: report.correct as f64 / labels.len().max(1) as f64,
                    lr: hyper.lr,
                    samples_per_sec: p.throughput.record(labels.len()),
                    grad_norm: report.grad_norm,
                },
            ))?;
            if let Some(before) = before {
                let (data, images, compute) = (self.data, &p.probe, &self.compute);
                let events = p
                    .diag
                    .after(trainer, before, (step, hyper.lr, &p.config), &|| {
                        probe_batch(data, images, compute)
                    })?;
                for kind in events {
                    sink.emit(&Event::now(&self.run_id, kind))?;
                }
            }
            if step.is_multiple_of(p.config.eval_every) || step == p.last_step {
                if let Flow::End = self.evaluate_and_checkpoint(trainer, p, epoch, sink)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn evaluate_and_checkpoint(
        &self,
        trainer: &mut dyn Trainer,
        p: &mut Progress,
        epoch: f64,
        sink: &mut dyn EventSink,
    ) -> Result<Flow> {
        let stop = || self.control.stop_requested();
        let stats = evaluate(
            trainer.network(),
            self.data,
            &self.data.test,
            &self.compute,
            p.config.tta,
            &stop,
        )?;
        let val = match (&stats, &p.val) {
            (Some(_), Some(split)) => evaluate(
                trainer.network(),
                self.data,
                split,
                &self.compute,
                p.config.tta,
                &stop,
            )?
            .map(Some),
            _ => Some(None),
        };
        let (Some(stats), Some(val)) = (stats, val) else {
            p.pending_eval = true;
            p.end(
                RunStatus::Stopped,
                format!("stopped during the evaluation after step {}", p.step),
            );
            return Ok(Flow::End);
        };
        p.pending_eval = false;
        let (test_loss, test_acc) = (stats.mean_loss(), stats.accuracy());
        let (val_loss, val_acc) = (val.map(|v| v.mean_loss()), val.map(|v| v.accuracy()));
        let figures = [Some(test_loss), Some(test_acc), val_loss, val_acc];
        if figures.iter().flatten().any(|f| !f.is_finite()) {
            let (what, value) = match val_loss {
                Some(v) if !v.is_finite() => ("validation loss", v),
                _ => ("test loss", test_loss),
            };
            p.end(
                RunStatus::Diverged,
                format!(
                    "{what} is {value} at step {}; try a smaller learning rate (lr = {})",
                    p.step,
                    crate::config::format_float(p.config.lr)
                ),
            );
            return Ok(Flow::End);
        }
        // With a split, "best" (the early stop and the best checkpoint) is validation's.
        let (figure, before) = match val_acc {
            Some(v) => (v, p.summary.best_val_acc),
            None => (test_acc, p.summary.best_test_acc),
        };
        let best = before.is_none_or(|b| figure > b);
        if best {
            p.best_step = p.step;
        }
        let seconds = p.seconds();
        crate::events::reach(&mut p.summary.time_to, figure, seconds);
        p.summary.final_test_acc = Some(test_acc);
        if p.summary.best_test_acc.is_none_or(|b| test_acc > b) {
            p.summary.best_test_acc = Some(test_acc);
        }
        p.summary.final_val_acc = val_acc;
        if let Some(v) = val_acc.filter(|&v| p.summary.best_val_acc.is_none_or(|b| v > b)) {
            p.summary.best_val_acc = Some(v);
        }
        sink.emit(&Event::now(
            &self.run_id,
            EventKind::Eval {
                step: p.step,
                epoch,
                test_loss,
                test_acc,
                val_loss,
                val_acc,
            },
        ))?;
        if let Some(folder) = &self.folder {
            self.write_checkpoints(folder, trainer, p, best)?;
        }
        if let Some(patience) = p.config.early_stop {
            let since_best = (p.step - p.best_step) / p.config.eval_every.max(1);
            if since_best >= patience && p.step < p.last_step {
                p.keep_best = self.folder.is_some();
                p.end(
                    RunStatus::Completed,
                    format!(
                        "early stop: no better {} accuracy in {since_best} evaluations after step {} ({:.4})",
                        if p.val.is_some() { "validation" } else { "test" },
                        p.best_step,
                        p.summary.best_val_acc.or(p.summary.best_test_acc).unwrap_or(f64::NAN)
                    ),
                );
                return Ok(Flow::End);
            }
        }
        Ok(Flow::Continue)
    }

    fn write_checkpoints(
        &self,
        folder: &Path,
        trainer: &dyn Trainer,
        p: &Progress,
        best: bool,
    ) -> Result<()> {
        let (optimizer_steps, optimizer) = trainer.optimizer_state()?;
        let state = CheckpointState {
            run_id: self.run_id.clone(),
            step: p.step,
            first_step: p.first_step,
            config: p.config.clone(),
            sampler: p.sampler.position(),
            optimizer_steps,
            final_test_acc: p.summary.final_test_acc,
            best_test_acc: p.summary.best_test_acc,
            final_val_acc: p.summary.final_val_acc,
            best_val_acc: p.summary.best_val_acc,
            best_step: p.best_step,
            pending_eval: p.pending_eval,
            warned: p.diag.warned.clone(),
            seconds: p.seconds(),
            time_to: p.summary.time_to.clone(),
        };
        let model = trainer.network_ref().params().snapshot()?;
        checkpoint::write(&folder.join(checkpoint::LAST), &state, &model, &optimizer)?;
        if best {
            checkpoint::write(&folder.join(checkpoint::BEST), &state, &model, &[])?;
        }
        Ok(())
    }

    /// Applies pending commands; while paused, waits for Resume or Stop.
    fn handle_commands(
        &self,
        trainer: &mut dyn Trainer,
        p: &mut Progress,
        sink: &mut dyn EventSink,
    ) -> Result<Flow> {
        let mut paused_since: Option<Instant> = None;
        let mut pending: VecDeque<Command> = self.control.drain().into();
        loop {
            let command = match pending.pop_front() {
                Some(c) => c,
                None if paused_since.is_some() => {
                    match self.control.wait(Duration::from_millis(250)) {
                        Some(c) => c,
                        None => continue,
                    }
                }
                None => return Ok(Flow::Continue),
            };
            if paused_since.is_some() && matches!(command, Command::Stop | Command::Prune { .. }) {
                p.resumed_at = Instant::now();
            }
            match command {
                Command::Stop => {
                    p.end(
                        RunStatus::Stopped,
                        format!("stopped by the user after step {}", p.step),
                    );
                    return Ok(Flow::End);
                }
                Command::Prune { reason } => {
                    sink.emit(&Event::now(
                        &self.run_id,
                        EventKind::Prune {
                            step: p.step,
                            reason: reason.clone(),
                        },
                    ))?;
                    p.end(RunStatus::Pruned, reason);
                    return Ok(Flow::End);
                }
                Command::Set { key: name, value } => {
                    self.apply_set(trainer, p, sink, &name, &value)?
                }
                Command::Pause if paused_since.is_none() => {
                    p.active += p.resumed_at.elapsed();
                    paused_since = Some(Instant::now());
                    sink.emit(&Event::now(
                        &self.run_id,
                        EventKind::Paused {
                            step: p.step,
                            paused: true,
                        },
                    ))?;
                }
                Command::Resume if paused_since.is_some() => {
                    sink.emit(&Event::now(
                        &self.run_id,
                        EventKind::Paused {
                            step: p.step,
                            paused: false,
                        },
                    ))?;
                    p.resumed_at = Instant::now();
                    p.throughput.window.clear();
                    paused_since = None;
                }
                Command::Pause | Command::Resume => {}
            }
        }
    }

    /// A live change: checked like any `--set`, refused for keys that need a restart.
    fn apply_set(
        &self,
        trainer: &mut dyn Trainer,
        p: &mut Progress,
        sink: &mut dyn EventSink,
        name: &str,
        value: &str,
    ) -> Result<()> {
        let spec = match key(name) {
            Ok(s) if s.live => s,
            Ok(_) => {
                tracing::warn!(run = %self.run_id, "{name} cannot change while the run trains; restart instead");
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(run = %self.run_id, "{e}");
                return Ok(());
            }
        };
        let mut candidate = p.config.clone();
        if let Err(e) = spec
            .set(&mut candidate, value)
            .and_then(|_| candidate.validate())
        {
            tracing::warn!(run = %self.run_id, "live change refused: {e}");
            return Ok(());
        }
        p.config = candidate;
        trainer.network().set_dropout(p.config.dropout);
        sink.emit(&Event::now(
            &self.run_id,
            EventKind::Set {
                step: p.step,
                key: name.to_string(),
                value: spec.json(&p.config),
            },
        ))?;
        Ok(())
    }
}

/// Writes the best evaluation's weights (an early stop) as the run's model. Returns a note
/// for the `done` reason.
fn save_best_weights(folder: &Path) -> Option<String> {
    save_checkpoint_as_model(folder, checkpoint::BEST, "the best evaluation's")
}

/// Writes checkpoint `name`'s weights as the run's model; the note says whose they are.
fn save_checkpoint_as_model(folder: &Path, name: &str, whose: &str) -> Option<String> {
    let result = checkpoint::read(&folder.join(name)).and_then(|cp| {
        let tensors: Vec<(String, Tensor)> = cp.model.into_iter().collect();
        write_safetensors(&tensors, &folder.join(WEIGHTS_FILE))?;
        Ok(cp.state.step)
    });
    Some(match result {
        Ok(step) => format!("{WEIGHTS_FILE} holds step {step}'s weights, {whose}"),
        Err(e) => format!("weights not saved: {e}"),
    })
}

/// Writes the final weights when they are all finite; otherwise the last checkpoint's, which
/// are. Returns a note for the `done` reason when the file is not the run's last state.
fn save_final_weights(folder: &Path, net: &dyn Network) -> Option<String> {
    let path = folder.join(WEIGHTS_FILE);
    let finite = match net.params().all_finite() {
        Ok(f) => f,
        Err(e) => return Some(format!("weights not saved: {e}")),
    };
    if finite {
        return net
            .params()
            .save(&path)
            .err()
            .map(|e| format!("weights not saved: {e}"));
    }
    match checkpoint::read(&folder.join(checkpoint::LAST)) {
        Ok(cp) => {
            let tensors: Vec<(String, Tensor)> = cp.model.into_iter().collect();
            match write_safetensors(&tensors, &path) {
                Ok(()) => Some(format!(
                    "{WEIGHTS_FILE} holds step {}'s weights, the last finite ones",
                    cp.state.step
                )),
                Err(e) => Some(format!("weights not saved: {e}")),
            }
        }
        Err(_) => Some("the weights are not finite and no checkpoint exists: nothing saved".into()),
    }
}
