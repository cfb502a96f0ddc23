//! One sweep's trials, the same wherever they train (this process's queue, a cluster's array
//! tasks): a run is claimed in the folder so it never trains twice, its configuration is
//! chosen (fixed, or by TPE from the folder) and written before it starts, it starts fresh or
//! resumes its stopped or crashed run, and each of its evaluations is judged by the pruner
//! from its siblings' figures in the folder.

use super::book::Book;
use super::folder::{
    Mark, RungRecord, SweepFolder, SweepMeta, TrialRecord, RESULTS_FILE, RESULTS_MD, SPEC_FILE,
};
use super::state::{Local, SweepState};
use super::Launcher;
use super::{figure, parallel};
use crate::config::sweep::{Configuration, PrunerSpec, SamplerKind, SweepPlan, SweepSpec};
use crate::data::derive_seed;
use crate::events::{Event, EventKind, RunStatus, SweepRef};
use crate::runner::command::{self, CommandRequest};
use crate::runner::{From, Observer, RunHandle, RunRequest};
use crate::search::median::Verdict;
use crate::search::stats::mean;
use crate::search::tpe::{Outcome, Tpe};
use crate::train::{Command, Control};
use crate::{Error, Result};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The observer every run's events go on to after the sweep has seen them.
pub type Forward = Arc<Mutex<Observer>>;

/// What every process that trains a sweep's runs shares: its plan, its folder, the book.
pub struct SweepCore {
    /// The sweep's id.
    pub id: String,
    /// Its plan.
    pub plan: SweepPlan,
    /// Its folder.
    pub folder: SweepFolder,
    /// The folder read back.
    pub book: Mutex<Book>,
    /// The pruner's latest words about each run this process judged.
    notes: Mutex<HashMap<usize, String>>,
}

impl SweepCore {
    /// Makes a sweep's folder for `plan` in `runs_dir`: its spec, its plan's facts (with the
    /// presets), the configurations fixed in advance.
    pub fn create(runs_dir: &Path, plan: SweepPlan, notice: Option<String>) -> Result<Self> {
        let trials = plan.trials();
        if trials == 0 {
            return Err(Error::Config(format!(
                "sweep {}: no runs (give --grid, --random or --sampler tpe with ranges, or runs in the file)",
                plan.spec.name
            )));
        }
        let (id, folder) = SweepFolder::create(runs_dir, &plan.spec.name)?;
        crate::files::write_text_atomically(&folder.dir().join(SPEC_FILE), &plan.spec.to_toml())?;
        let meta = SweepMeta {
            sweep_id: id.clone(),
            name: plan.spec.name.clone(),
            groups: plan.groups(),
            seeds: plan.spec.seeds.max(1),
            trials,
            objective: plan.objective(),
            objective_at: plan.spec.objective_at,
            first_eval: plan.first_eval(),
            steps: plan.steps(),
            notice,
            bases: plan.bases().clone(),
        };
        folder.write_meta(&meta)?;
        for conf in plan.fixed_all() {
            folder.write_group(conf)?;
        }
        Ok(SweepCore {
            id,
            book: Mutex::new(Book::open(folder.clone(), meta)),
            folder,
            plan,
            notes: Mutex::default(),
        })
    }

    /// The sweep in folder `dir`, as a task that trains some of its runs opens it.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.join(super::META_FILE).is_file() {
            return Err(super::not_a_sweep(dir));
        }
        let folder = SweepFolder::at(dir);
        let meta = folder.read_meta()?;
        let mut spec = SweepSpec::load(&dir.join(SPEC_FILE))?;
        spec.name = meta.name.clone();
        let plan = SweepPlan::from_parts(spec, meta.bases.clone())?;
        Ok(SweepCore {
            id: meta.sweep_id.clone(),
            book: Mutex::new(Book::open(folder.clone(), meta)),
            folder,
            plan,
            notes: Mutex::default(),
        })
    }

    /// The state as the folder says, with what this process knows beside it.
    pub fn state(&self, mut local: Local, fresh: bool, max_age: std::time::Duration) -> SweepState {
        local
            .notes
            .extend(self.notes.lock().expect("sweep notes").clone());
        let mut book = self.book.lock().expect("sweep book");
        if fresh {
            book.refresh();
        } else {
            book.refresh_if_older(max_age);
        }
        SweepState::build(&self.plan.spec, &book, &local)
    }

    /// Writes run `index`'s record.
    pub fn record(
        &self,
        index: usize,
        mark: Mark,
        run: Option<(&str, u64)>,
        reason: Option<String>,
    ) {
        let record = TrialRecord {
            index,
            group: self.plan.locate(index).0,
            seed: run.map(|r| r.1),
            run_id: run.map(|r| r.0.to_string()),
            worker: (mark == Mark::Started).then(super::folder::worker_name),
            mark,
            reason,
        };
        if let Err(e) = self.folder.write_trial(&record) {
            tracing::warn!("sweep {}: {e}", self.id);
        }
    }

    /// Configuration `group`: fixed in advance, chosen already by another run of it, or
    /// chosen now by TPE from what the folder says of every other; written before any of its
    /// runs starts.
    fn configure(&self, group: usize) -> Result<Configuration> {
        let _guard = self.folder.guard()?;
        let mut book = self.book.lock().expect("sweep book");
        book.refresh();
        if let Some(conf) = book.group(group) {
            return Ok(conf.clone());
        }
        let plan = &self.plan;
        let conf = match plan.fixed(group) {
            Some(c) => c.clone(),
            None if plan.spec.sampler == SamplerKind::Tpe => {
                let space = plan.spec.space();
                let history = book.observations(&space, group);
                let finished = history
                    .iter()
                    .filter(|o| o.outcome != Outcome::Running)
                    .count();
                let tpe = Tpe::default();
                let mut rng = SmallRng::seed_from_u64(derive_seed(plan.spec.seed, group as u64));
                let point = tpe.suggest(&space, &history, &mut rng);
                let source = if finished < tpe.startup {
                    "startup"
                } else {
                    "tpe"
                };
                plan.sampled(group, &point, source)
            }
            None => {
                return Err(Error::Other(format!(
                    "sweep: configuration {group} is not in the plan"
                )))
            }
        };
        self.folder.write_group(&conf)?;
        book.refresh();
        Ok(conf)
    }

    /// Starts run `index`: its stopped or crashed run resumed in its folder when it has one,
    /// else a fresh run of its configuration. `None` when it has already ended (completed,
    /// pruned, diverged or failed): a run never trains twice. Every event goes on to
    /// `forward`.
    pub fn start(
        self: &Arc<Self>,
        launcher: &Launcher,
        index: usize,
        control: Arc<Control>,
        forward: Forward,
    ) -> Result<Option<RunHandle>> {
        let (group, _) = self.plan.locate(index);
        let existing = {
            let mut book = self.book.lock().expect("sweep book");
            book.refresh();
            book.trial(index)
                .filter(|t| t.mark == Mark::Started)
                .and_then(|t| t.run_id.clone())
                .map(|run_id| {
                    let ended = book
                        .run(index)
                        .and_then(|r| r.ended.as_ref().map(|e| e.status));
                    (run_id, ended)
                })
        };
        let (core, observer_control) = (self.clone(), control.clone());
        let observer: Observer = Box::new(move |event: &Event| {
            core.observe(index, &observer_control, event);
            (forward.lock().expect("sweep observer"))(event);
        });
        if let Some(spec) = &self.plan.spec.command {
            let resume = match existing {
                Some((_, Some(status))) if status != RunStatus::Stopped => return Ok(None),
                Some((run_id, _)) => Some(self.folder.runs_dir().join(run_id)),
                None => None,
            };
            let conf = self.configure(group)?;
            let mut request = self.command_request(spec, index, &conf)?;
            request.sweep = Some(SweepRef {
                id: self.id.clone(),
                index,
                group: Some(group),
            });
            request.resume = resume;
            return command::start(launcher.runs_dir(), request, observer, control).map(Some);
        }
        let Launcher::Engine(runner) = launcher else {
            return Err(Error::Other(format!(
                "sweep {}: its runs train on gradboard's engine, not a command",
                self.id
            )));
        };
        let request = match existing {
            Some((_, Some(status))) if status != RunStatus::Stopped => return Ok(None),
            Some((run_id, _)) => {
                let dir = self.folder.runs_dir().join(&run_id);
                let mut request = RunRequest::new("", Default::default(), None);
                request.from = From::Resume(dir);
                request
            }
            None => {
                let run = self
                    .configure(group)
                    .and_then(|conf| self.plan.run(index, &conf))?;
                let mut request =
                    RunRequest::new(&run.preset, run.config.clone(), Some(run.base.clone()));
                request.sweep = Some(SweepRef {
                    id: self.id.clone(),
                    index,
                    group: Some(group),
                });
                request
            }
        };
        runner.start_with(request, observer, control).map(Some)
    }

    /// A command sweep's trial `index` run again outside the sweep ("fork" for a command):
    /// the same command with the same values, in a new run folder.
    pub fn rerun_request(&self, index: usize) -> Result<CommandRequest> {
        let Some(spec) = &self.plan.spec.command else {
            return Err(Error::Other(format!(
                "sweep {}: its runs are gradboard's; fork them instead",
                self.id
            )));
        };
        let (group, _) = self.plan.locate(index);
        let conf = {
            let mut book = self.book.lock().expect("sweep book");
            book.refresh();
            book.group(group).cloned()
        }
        .ok_or_else(|| Error::Other(format!("sweep {}: trial {index} has not started", self.id)))?;
        self.command_request(spec, index, &conf)
    }

    /// Trial `index` of configuration `conf` as a fresh command run outside any sweep.
    fn command_request(
        &self,
        spec: &crate::config::sweep::CommandSpec,
        index: usize,
        conf: &Configuration,
    ) -> Result<CommandRequest> {
        let planned = self.plan.run(index, conf)?;
        Ok(CommandRequest {
            command: spec.clone(),
            values: self.plan.command_values(index, conf),
            changed: planned.swept.iter().cloned().collect(),
            name: self.plan.spec.name.clone(),
            seed: planned.config.seed,
            sweep: None,
            resume: None,
        })
    }

    /// A run's record is written at its `start` (before any evaluation); each evaluation but
    /// the last is judged by the pruner.
    fn observe(&self, index: usize, control: &Control, event: &Event) {
        match &event.kind {
            EventKind::Start(info) => {
                let run = (event.run_id.as_str(), info.config.seed);
                self.record(index, Mark::Started, Some(run), None);
            }
            EventKind::Metrics { step, values } => {
                let (Some(pruner), Some(c)) = (self.plan.spec.prune, &self.plan.spec.command)
                else {
                    return;
                };
                if values.contains_key(&c.objective) {
                    if let Err(e) = self.judge(pruner, index, *step, control) {
                        tracing::warn!("sweep pruner: {e}");
                    }
                }
            }
            EventKind::Eval { step, .. } => {
                let Some(pruner) = self.plan.spec.prune else {
                    return;
                };
                let last = self
                    .book
                    .lock()
                    .expect("sweep book")
                    .run(index)
                    .map_or(usize::MAX, |r| r.last_step());
                if *step < last {
                    if let Err(e) = self.judge(pruner, index, *step, control) {
                        tracing::warn!("sweep pruner: {e}");
                    }
                }
            }
            _ => {}
        }
    }

    /// The pruner's decision after run `index`'s evaluation at `step`, from the folder: the
    /// median of the finished configurations at that step, or successive halving's rungs
    /// (each decision appended to the folder). A configuration's figure is the mean of its
    /// runs' once they have reported.
    fn judge(
        &self,
        pruner: PrunerSpec,
        index: usize,
        step: usize,
        control: &Control,
    ) -> Result<()> {
        let _guard = self.folder.guard()?;
        let mut book = self.book.lock().expect("sweep book");
        book.refresh();
        let group = self.plan.locate(index).0;
        let curve = book.curve(index);
        let Some(&(at, value)) = curve.last() else {
            return Ok(());
        };
        if at != step {
            return Ok(());
        }
        let objective = book.meta.objective.label().to_string();
        let objective = objective.as_str();
        let sign = book.meta.objective.score(1.0);
        let note = match pruner {
            PrunerSpec::Median(median) => {
                let best_so_far = |curve: &[(usize, f64)]| {
                    curve
                        .iter()
                        .filter(|p| p.0 <= step)
                        .map(|p| p.1)
                        .fold(f64::NEG_INFINITY, f64::max)
                };
                let mut own: Vec<f64> = vec![best_so_far(&curve)];
                for sibling in book.members(group).filter(|&i| i != index) {
                    let c = book.curve(sibling);
                    if c.iter().any(|p| p.0 == step) {
                        own.push(best_so_far(&c));
                    }
                }
                // The finished configurations' figures at this step, one a configuration.
                let finished: Vec<f64> = book
                    .groups()
                    .filter(|c| c.group != group)
                    .filter(|c| matches!(book.outcome(c.group), Some(Outcome::Complete(_))))
                    .filter_map(|c| {
                        let at_step: Vec<f64> = book
                            .members(c.group)
                            .filter_map(|i| book.curve(i).iter().find(|p| p.0 == step).map(|p| p.1))
                            .collect();
                        mean(&at_step)
                    })
                    .collect();
                let judged: Vec<(usize, f64)> = curve
                    .iter()
                    .map(|&(s, v)| {
                        if s == step {
                            (s, mean(&own).unwrap_or(v))
                        } else {
                            (s, v)
                        }
                    })
                    .collect();
                let verdict = median.judge_as(&judged, &finished, objective, sign);
                if let Verdict::Prune(reason) = &verdict {
                    control.send(Command::Prune {
                        reason: reason.clone(),
                    });
                }
                verdict.text().to_string()
            }
            PrunerSpec::Asha { .. } => {
                let asha = pruner.asha(self.plan.first_eval()).expect("asha");
                let passed = book.rungs_of(index).map(|r| r.rung + 1).max().unwrap_or(0);
                let mut own = book.group_rung_values(group, passed, index);
                own.push(value);
                let figure = mean(&own).unwrap_or(value);
                let decisions = asha.judge(passed, step, figure, |k| book.rung_values(k, group));
                let mut note = None;
                for d in &decisions {
                    let record = RungRecord {
                        index,
                        group,
                        rung: d.rung,
                        rung_step: d.rung_step,
                        step,
                        value: d.value,
                        run_value: Some(value),
                        cutoff: d.cutoff,
                        competitors: d.competitors,
                        keep: d.keep,
                        promoted: d.promoted,
                    };
                    self.folder.append_rung(&record)?;
                    note = Some(d.text_as(sign));
                    if !d.promoted {
                        control.send(Command::Prune {
                            reason: d.text_as(sign),
                        });
                    }
                }
                book.refresh();
                match note {
                    Some(n) => n,
                    None => return Ok(()),
                }
            }
        };
        drop(book);
        self.notes.lock().expect("sweep notes").insert(index, note);
        Ok(())
    }

    /// Rewrites the results in the folder (JSON, Markdown, the parallel-coordinates figure)
    /// under the folder's lock, whichever process ends a run; a failure is logged.
    pub fn write_results(&self, local: Local) {
        let state = self.state(local, true, std::time::Duration::ZERO);
        match self.folder.guard() {
            Ok(_guard) => write_results_of(&state, self.folder.dir()),
            Err(e) => tracing::warn!("sweep {}: {e}", self.id),
        }
    }
}

/// Writes `state`'s results into `dir`.
pub fn write_results_of(state: &SweepState, dir: &Path) {
    let mut json = state.show_json();
    json["results"] = serde_json::to_value(state.results()).unwrap_or_default();
    json["queue"] = serde_json::to_value(&state.queue).unwrap_or_default();
    json["finished"] = serde_json::json!(state.finished);
    json["pruning"] = serde_json::json!(state.pruning);
    for (file, text) in [
        (
            RESULTS_FILE,
            serde_json::to_string_pretty(&json).unwrap_or_default(),
        ),
        (RESULTS_MD, state.markdown()),
    ] {
        if let Err(e) = crate::files::write_text_atomically(&dir.join(file), &text) {
            tracing::warn!("sweep {}: {e}", state.id);
        }
    }
    if !state.axes.params.is_empty() {
        let figure = parallel::Parallel::of(state);
        let title = format!("sweep {}: {}", state.id, state.objective_label());
        if let Err(e) = figure::write(&figure, &title, dir) {
            tracing::warn!("sweep {}: {e}", state.id);
        }
    }
    if let Err(e) = super::history_figure::write(state, dir) {
        tracing::warn!("sweep {}: {e}", state.id);
    }
}
