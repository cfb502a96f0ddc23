//! One training run: batches in, model steps, evaluations, events out. It runs on whatever
//! thread calls it and checks for commands between steps.

use crate::config::RunConfig;
use crate::data::{BatchSampler, Cifar10, Split};
use crate::events::{Event, EventSink, RunStatus};
use crate::model::{build_model, EvalStats, Model};
use crate::{Error, Result};
use candle_core::{Device, Tensor};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

/// What the dashboard can tell a running session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command {
    /// Stop after the current step, wait for Resume or Stop.
    Pause,
    /// Continue after a pause.
    Resume,
    /// End the run after the current step (status `stopped`).
    Stop,
    /// Use this learning rate from the next step on.
    SetLr(f64),
}

/// How a run ended, as in its `done` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Last step done.
    pub step: usize,
    /// How it ended.
    pub status: RunStatus,
    /// Test accuracy of the last evaluation.
    pub final_test_acc: f64,
    /// Best test accuracy.
    pub best_test_acc: f64,
    /// Training and evaluation seconds.
    pub seconds: f64,
    /// Why it ended early.
    pub reason: Option<String>,
}

/// One run to be trained.
pub struct Session<'a> {
    /// The run id carried by every event.
    pub run_id: String,
    /// The configuration.
    pub config: RunConfig,
    /// The data set.
    pub data: &'a Cifar10,
    /// Where to save the trained weights, if anywhere.
    pub weights_path: Option<PathBuf>,
    /// Commands from the dashboard, if any.
    pub commands: Option<Receiver<Command>>,
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

    fn reset(&mut self) {
        self.window.clear();
    }
}

impl Session<'_> {
    /// Runs to the end (or to a stop), sending every event to `sink`.
    pub fn run(mut self, sink: &mut dyn EventSink) -> Result<Summary> {
        self.config.validate()?;
        let config = self.config.clone();
        let run_id = self.run_id.clone();
        sink.emit(&Event::Start {
            run_id: run_id.clone(),
            config: config.clone(),
            train_size: self.data.train.len(),
        })?;
        let device = Device::Cpu;
        let mut rng = SmallRng::seed_from_u64(config.seed);
        let mut sampler = BatchSampler::new(self.data.train.len(), config.seed.wrapping_add(1));
        let mut active = Duration::ZERO;
        let mut resumed_at = Instant::now();
        let mut model = build_model(&config, &mut rng, &device)?;
        let mut lr = config.lr;
        let mut throughput = Throughput {
            window: VecDeque::new(),
        };
        let mut summary = Summary {
            step: 0,
            status: RunStatus::Completed,
            final_test_acc: 0.0,
            best_test_acc: 0.0,
            seconds: 0.0,
            reason: None,
        };
        let train_size = self.data.train.len().max(1) as f64;
        let mut step = 0;
        while step < config.steps {
            match self.poll_commands(&mut lr, sink, step)? {
                Poll::Stop => {
                    summary.status = RunStatus::Stopped;
                    summary.reason = Some("stopped by the user".into());
                    break;
                }
                Poll::Resumed(pause) => {
                    active += resumed_at.elapsed().saturating_sub(pause);
                    resumed_at = Instant::now();
                    throughput.reset();
                }
                Poll::Continue => {}
            }
            step += 1;
            let indices = sampler.next_indices(config.batch_size);
            let inputs = self.data.preprocess(&self.data.train, indices);
            let labels: Vec<u8> = indices
                .iter()
                .map(|&i| self.data.train.labels()[i as usize])
                .collect();
            let x = Tensor::from_vec(inputs, (labels.len(), crate::data::IMAGE_BYTES), &device)?;
            let stats = model.train_step(&x, &labels, lr)?;
            summary.step = step;
            let epoch = (step * labels.len()) as f64 / train_size;
            if !stats.loss.is_finite() {
                summary.status = RunStatus::Diverged;
                summary.reason = Some(format!(
                    "loss is {} at step {step}; try a smaller learning rate (lr = {})",
                    stats.loss, lr
                ));
                break;
            }
            sink.emit(&Event::Train {
                run_id: run_id.clone(),
                step,
                epoch,
                loss: stats.loss,
                acc: stats.correct as f64 / labels.len() as f64,
                lr,
                samples_per_sec: throughput.record(labels.len()),
            })?;
            if step % config.eval_every == 0 || step == config.steps {
                let eval = evaluate(model.as_mut(), self.data, &self.data.test)?;
                let test_acc = eval.correct as f64 / self.data.test.len().max(1) as f64;
                let test_loss = eval.loss_sum / self.data.test.len().max(1) as f64;
                summary.final_test_acc = test_acc;
                summary.best_test_acc = summary.best_test_acc.max(test_acc);
                sink.emit(&Event::Eval {
                    run_id: run_id.clone(),
                    step,
                    epoch,
                    test_loss,
                    test_acc,
                })?;
            }
        }
        active += resumed_at.elapsed();
        summary.seconds = active.as_secs_f64();
        if let Some(path) = &self.weights_path {
            model.save(path)?;
        }
        sink.emit(&Event::Done {
            run_id,
            step: summary.step,
            status: summary.status,
            final_test_acc: summary.final_test_acc,
            best_test_acc: summary.best_test_acc,
            seconds: summary.seconds,
            reason: summary.reason.clone(),
        })?;
        Ok(summary)
    }

    /// Applies pending commands; while paused, waits for Resume or Stop.
    fn poll_commands(
        &mut self,
        lr: &mut f64,
        sink: &mut dyn EventSink,
        step: usize,
    ) -> Result<Poll> {
        let Some(commands) = &self.commands else {
            return Ok(Poll::Continue);
        };
        let mut paused_since: Option<Instant> = None;
        loop {
            let command = if paused_since.is_some() {
                match commands.recv() {
                    Ok(c) => c,
                    Err(_) => return Ok(Poll::Stop),
                }
            } else {
                match commands.try_recv() {
                    Ok(c) => c,
                    Err(TryRecvError::Empty) => return Ok(Poll::Continue),
                    Err(TryRecvError::Disconnected) => return Ok(Poll::Stop),
                }
            };
            match command {
                Command::Stop => return Ok(Poll::Stop),
                Command::SetLr(v) if v.is_finite() && v > 0.0 => *lr = v,
                Command::SetLr(_) => {}
                Command::Pause if paused_since.is_none() => {
                    paused_since = Some(Instant::now());
                    sink.emit(&Event::Paused {
                        run_id: self.run_id.clone(),
                        step,
                        paused: true,
                    })?;
                }
                Command::Resume => {
                    if let Some(since) = paused_since {
                        sink.emit(&Event::Paused {
                            run_id: self.run_id.clone(),
                            step,
                            paused: false,
                        })?;
                        return Ok(Poll::Resumed(since.elapsed()));
                    }
                }
                Command::Pause => {}
            }
        }
    }
}

enum Poll {
    Continue,
    Stop,
    Resumed(Duration),
}

/// Loss and accuracy counts over a whole split, in the model's chunks, in order.
pub fn evaluate(model: &mut dyn Model, data: &Cifar10, split: &Split) -> Result<EvalStats> {
    let mut total = EvalStats::default();
    let indices: Vec<u32> = (0..split.len() as u32).collect();
    for chunk in indices.chunks(model.eval_chunk().max(1)) {
        let inputs = data.preprocess(split, chunk);
        let labels = &split.labels()[chunk[0] as usize..chunk[0] as usize + chunk.len()];
        let x = Tensor::from_vec(
            inputs,
            (chunk.len(), crate::data::IMAGE_BYTES),
            &Device::Cpu,
        )?;
        let stats = model.evaluate(&x, labels)?;
        total.loss_sum += stats.loss_sum;
        total.correct += stats.correct;
    }
    if split.is_empty() {
        return Err(Error::Other("evaluation on an empty split".into()));
    }
    Ok(total)
}
