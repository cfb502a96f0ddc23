//! The sweep screen's state and actions, and the form that starts a sweep: a sweep file's
//! name, or a preset with what to vary (grid, ranges, choices), the sampler and its trials,
//! seeds, common settings, the pruner and a seed, each a text field. The form gives a
//! `SweepRequest`; a worker assembles and checks it as the command line does, and the sweep
//! starts once it is found good.

use super::{Ctx, Field, Request};
use crate::dashboard::keymap::Action;
use crate::dashboard::msg::{Effect, Mode, Screen};
use crossterm::event::KeyEvent;
use gradboard::config::sweep::{PrunerOptions, SweepRequest, SweepSpec};
use gradboard::runner::sweep::parallel::Parallel;
use gradboard::runner::sweep::{QueueState, SweepCommand, SweepState};

/// The form's fields: name and hint.
pub const FORM_FIELDS: [(&str, &str); 13] = [
    (
        "file",
        "a sweep file or a shipped sweep (lab-ablation); empty: the fields below",
    ),
    ("preset", "the preset every run starts from"),
    (
        "sampler",
        "grid (every combination), random (draws) or tpe (learns from the runs so far)",
    ),
    (
        "grid",
        "every combination: lr=1e-3,2e-3 optimizer=sgd,adam (lists: hidden=800,400;200,100)",
    ),
    ("ranges", "random / tpe: lr=1e-4..1e-1:log dropout=0..0.5"),
    (
        "choices",
        "random / tpe: optimizer=sgd,adam batch_size=64,128",
    ),
    ("trials", "random / tpe: how many configurations"),
    (
        "seeds",
        "seeds each configuration trains with (groups of seeds)",
    ),
    (
        "objective at",
        "a run's figure: best (its peak: rewards a run that spiked then fell), final, last-3",
    ),
    ("set", "every run: steps=600 eval_every=100"),
    (
        "pruner",
        "asha (successive halving), median (Optuna's rule) or none",
    ),
    (
        "pruner options",
        "asha: reduction=4 min_steps=100; median: warmup=1 min_runs=2",
    ),
    ("seed", "seed of the sampler's draws"),
];

/// The form of a new sweep.
#[derive(Debug, Clone)]
pub struct SweepForm {
    /// One field a row of `FORM_FIELDS`.
    pub fields: Vec<Field>,
    /// The field with the cursor.
    pub focus: usize,
    /// Why the last start was refused.
    pub error: Option<String>,
    /// Whether its sweep is being checked.
    pub checking: bool,
}

impl SweepForm {
    /// A form for sweeps of `preset`.
    pub fn new(preset: &str) -> Self {
        let values = [
            "", preset, "grid", "", "", "", "0", "1", "best", "", "median", "", "0",
        ];
        SweepForm {
            fields: values.iter().map(|v| Field::new(v)).collect(),
            focus: 3,
            error: None,
            checking: false,
        }
    }

    fn value(&self, name: &str) -> &str {
        let i = FORM_FIELDS
            .iter()
            .position(|f| f.0 == name)
            .expect("a form field");
        self.fields[i].input.value().trim()
    }

    /// The request the fields describe; an error names a field that is not a number.
    pub fn request(&self) -> Result<SweepRequest, String> {
        let words =
            |text: &str| -> Vec<String> { text.split_whitespace().map(str::to_string).collect() };
        let number = |name: &str| -> Result<u64, String> {
            self.value(name)
                .parse()
                .map_err(|_| format!("{name}: a whole number, got {:?}", self.value(name)))
        };
        let count = |name: &str| -> Result<usize, String> {
            usize::try_from(number(name)?).map_err(|e| format!("{name}: {e}"))
        };
        let mut options = PrunerOptions::default();
        for word in words(self.value("pruner options")) {
            let (k, v) = word
                .split_once('=')
                .ok_or_else(|| format!("pruner options: {word:?} is not name=value"))?;
            let v: usize = v
                .parse()
                .map_err(|_| format!("pruner options: {k} takes a whole number, got {v:?}"))?;
            let slot = match k {
                "reduction" | "eta" => &mut options.reduction,
                "min_steps" => &mut options.min_steps,
                "warmup" => &mut options.warmup,
                "min_runs" => &mut options.min_runs,
                _ => {
                    return Err(format!(
                        "pruner options: unknown {k:?}; reduction, min_steps (asha), warmup, min_runs (median)"
                    ))
                }
            };
            *slot = Some(v);
        }
        let file = Some(self.value("file").to_string()).filter(|f| !f.is_empty());
        let trials = count("trials")?;
        Ok(SweepRequest {
            preset: (file.is_none()).then(|| self.value("preset").to_string()),
            sampler: Some(self.value("sampler").to_string()).filter(|s| !s.is_empty()),
            grid: words(self.value("grid")),
            ranges: words(self.value("ranges")),
            choices: words(self.value("choices")),
            trials: (trials > 0).then_some(trials),
            seeds: Some(count("seeds")?),
            objective_at: Some(self.value("objective at").to_string()).filter(|s| !s.is_empty()),
            set: words(self.value("set")),
            prune: Some(self.value("pruner").to_string()).filter(|p| !p.is_empty()),
            prune_options: options,
            seed: Some(number("seed")?),
            file,
            random: 0,
            ..SweepRequest::default()
        })
    }
}

/// The plot beside the parallel coordinates (`m` cycles).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Plot {
    /// The figure against one swept key.
    #[default]
    Scatter,
    /// Each trial's figure and the best so far.
    History,
    /// Every trial's evaluations by step, pruned ones marked.
    Intermediate,
    /// The figure over two swept keys.
    Contour,
    /// Which trial ran when.
    Timeline,
}

impl Plot {
    /// The next plot, round.
    pub fn next(self) -> Plot {
        match self {
            Plot::Scatter => Plot::History,
            Plot::History => Plot::Intermediate,
            Plot::Intermediate => Plot::Contour,
            Plot::Contour => Plot::Timeline,
            Plot::Timeline => Plot::Scatter,
        }
    }
}

/// A brushed range of one axis of the parallel coordinates, as fractions of the axis.
pub type BrushRange = (f64, f64);

/// The sweep screen's state.
#[derive(Debug, Clone, Default)]
pub struct SweepScreen {
    /// The sweep's state as the runtime last saw it, or as its folder says.
    pub state: Option<SweepState>,
    /// Whether this dashboard runs the sweep shown (and can command it).
    pub local: bool,
    /// The queue row under the cursor.
    pub selected: usize,
    /// Which swept key the scatter plot shows (the contour's x).
    pub scatter_key: usize,
    /// The contour's y key.
    pub contour_key: usize,
    /// The plot beside the parallel coordinates.
    pub plot: Plot,
    /// The selected axis of the parallel coordinates.
    pub axis: usize,
    /// The brushed range of each axis, where one is brushed.
    pub brushes: Vec<Option<BrushRange>>,
    /// The form of a new sweep, while it is open.
    pub form: Option<SweepForm>,
    /// The folder of the sweep shown from its files, and every sweep folder (oldest first).
    pub folder: Option<(std::path::PathBuf, Vec<std::path::PathBuf>)>,
    /// When the shown sweep's folder was last asked for (Unix seconds).
    pub asked: f64,
}

/// Seconds between readings of a sweep followed from its folder.
const FOLLOW_EVERY: f64 = 2.0;

/// How far `[`, `]`, `-` and `+` move or size a brush.
const BRUSH_STEP: f64 = 0.1;

impl SweepScreen {
    /// The runs inside every brush: (queue index) of the lines the brushes keep.
    pub fn brushed(&self, figure: &Parallel) -> Vec<usize> {
        figure
            .lines
            .iter()
            .filter(|l| {
                self.brushes.iter().enumerate().all(|(axis, b)| match b {
                    Some((lo, hi)) => l.positions.get(axis).is_some_and(|p| p >= lo && p <= hi),
                    None => true,
                })
            })
            .map(|l| l.index)
            .collect()
    }

    /// A sweep read from its folder: shown unless this dashboard runs one.
    pub fn on_read(&mut self, read: crate::dashboard::msg::SweepRead) {
        if self.local && self.running() {
            return;
        }
        let changed = self.folder.as_ref().map(|f| &f.0) != Some(&read.dir);
        if changed {
            self.selected = 0;
            self.brushes.clear();
        }
        self.local = false;
        self.state = Some(read.state);
        self.folder = Some((read.dir, read.sweeps));
    }

    /// Every `FOLLOW_EVERY` seconds, the shown sweep's folder again (one another process runs,
    /// or a finished one of this dashboard's, so both show the same).
    pub fn follow(&mut self, now: f64) -> Vec<Effect> {
        // A sweep that no longer changes is read again seldom (for new sweeps in the list).
        let settled = self.folder.is_some()
            && self
                .state
                .as_ref()
                .is_some_and(|s| s.status != gradboard::runner::sweep::SweepStatus::Running);
        let every = if settled {
            10.0 * FOLLOW_EVERY
        } else {
            FOLLOW_EVERY
        };
        if self.running() || now - self.asked < every {
            return vec![];
        }
        self.asked = now;
        vec![Effect::ReadSweep(self.folder.as_ref().map(|f| f.0.clone()))]
    }

    /// The run id of the queue row under the cursor, once started.
    pub fn selected_run(&self) -> Option<String> {
        let state = self.state.as_ref()?;
        let e = state
            .queue
            .get(self.selected.min(state.queue.len().saturating_sub(1)))?;
        e.run_id().map(str::to_string)
    }

    /// Whether any axis is brushed.
    pub fn brushing(&self) -> bool {
        self.brushes.iter().any(Option::is_some)
    }

    fn brush_action(&mut self, action: Action, axes: usize, figure: &Parallel) {
        if axes == 0 {
            return;
        }
        self.axis = self.axis.min(axes - 1);
        self.brushes.resize(axes, None);
        // A new brush holds the upper third of where the runs cross the axis.
        let start = match figure.data_span(self.axis) {
            Some((lo, hi)) if hi - lo > 1e-9 => (lo + (hi - lo) * 2.0 / 3.0 - 1e-9, hi + 1e-9),
            Some((lo, hi)) => ((lo - 0.05).max(0.0), (hi + 0.05).min(1.0)),
            None => (2.0 / 3.0, 1.0),
        };
        let slot = &mut self.brushes[self.axis];
        match (action, slot.as_mut()) {
            (Action::Brush, None) => *slot = Some(start),
            (Action::Brush, Some(_)) => *slot = None,
            (Action::BrushLower | Action::BrushHigher, Some((lo, hi))) => {
                let width = *hi - *lo;
                let shift = if action == Action::BrushLower {
                    -BRUSH_STEP
                } else {
                    BRUSH_STEP
                };
                *lo = (*lo + shift).clamp(0.0, 1.0 - width);
                *hi = *lo + width;
            }
            (Action::BrushNarrow, Some((lo, hi))) if *hi - *lo > BRUSH_STEP * 1.5 => {
                *lo += BRUSH_STEP / 2.0;
                *hi -= BRUSH_STEP / 2.0;
            }
            (Action::BrushWiden, Some((lo, hi))) => {
                *lo = (*lo - BRUSH_STEP / 2.0).max(0.0);
                *hi = (*hi + BRUSH_STEP / 2.0).min(1.0);
            }
            _ => {}
        }
    }

    /// Whether a sweep of this dashboard is running.
    pub fn running(&self) -> bool {
        self.local && self.state.as_ref().is_some_and(|s| !s.finished)
    }

    /// Opens the form of a new sweep of `preset`, unless a sweep is running.
    pub fn open_form(&mut self, preset: &str, cx: &mut Ctx) {
        if self.running() {
            cx.shared
                .warn("a sweep is running: stop it (S) before starting another");
            return;
        }
        self.form = Some(SweepForm::new(preset));
        *cx.mode = Mode::SweepForm;
    }

    /// A key while the form is open.
    pub fn on_form_key(
        &mut self,
        action: Option<Action>,
        key: KeyEvent,
        cx: &mut Ctx,
    ) -> Vec<Effect> {
        let Some(mut form) = self.form.take() else {
            return vec![];
        };
        let n = FORM_FIELDS.len();
        let mut effects = vec![];
        match action {
            Some(Action::Cancel) => {
                cx.shared.notify("no sweep started");
                return vec![];
            }
            Some(Action::NextField) => form.focus = (form.focus + 1) % n,
            Some(Action::PrevField) => form.focus = (form.focus + n - 1) % n,
            Some(Action::Accept) if !form.checking => match form.request() {
                Ok(request) => {
                    form.checking = true;
                    form.error = None;
                    effects.push(Effect::CheckSweep(Box::new(request)));
                }
                Err(e) => form.error = Some(e),
            },
            _ => {
                form.fields[form.focus].type_key(key);
                form.error = None;
            }
        }
        self.form = Some(form);
        *cx.mode = Mode::SweepForm;
        effects
    }

    /// The form's sweep, checked: it starts (and the sweep screen shows it), or the form says
    /// why not.
    pub fn on_checked(
        &mut self,
        result: Result<Box<SweepSpec>, String>,
        cx: &mut Ctx,
    ) -> Vec<Effect> {
        let Some(mut form) = self.form.take() else {
            return vec![];
        };
        match result {
            Ok(spec) => {
                if *cx.mode == Mode::SweepForm {
                    *cx.mode = Mode::Normal;
                }
                self.selected = 0;
                let runs = spec.run_count().unwrap_or(0);
                cx.shared
                    .notify(format!("starting sweep {}: {runs} runs", spec.name));
                cx.requests.push(Request::Show(Screen::Sweep));
                vec![Effect::StartSweep(spec)]
            }
            Err(e) => {
                form.checking = false;
                form.error = Some(e);
                self.form = Some(form);
                vec![]
            }
        }
    }

    /// The screen's actions.
    pub fn update(&mut self, action: Action, cx: &mut Ctx) -> Vec<Effect> {
        let len = self.state.as_ref().map_or(0, |s| s.queue.len());
        let selected = self.selected.min(len.saturating_sub(1));
        let entry = self
            .state
            .as_ref()
            .and_then(|s| s.queue.get(selected))
            .cloned();
        let run_id = entry
            .as_ref()
            .and_then(|e| e.run_id())
            .filter(|i| !i.is_empty())
            .map(str::to_string);
        match action {
            Action::Up => self.selected = selected.saturating_sub(1),
            Action::Down => self.selected = (selected + 1).min(len.saturating_sub(1)),
            Action::CancelQueued => match entry {
                Some(e) if e.state == QueueState::Pending => {
                    return vec![Effect::Sweep(SweepCommand::Cancel(e.index))]
                }
                Some(e) => cx.shared.warn(format!(
                    "run {} is {}: only queued runs are cancelled",
                    e.index,
                    e.state_name()
                )),
                None => {}
            },
            Action::Stop => match entry {
                Some(e) if matches!(e.state, QueueState::Running { .. }) => {
                    return vec![Effect::Sweep(SweepCommand::StopRun(e.index))]
                }
                _ => cx.shared.warn("the selected run is not running"),
            },
            Action::StopSweep if !self.local => {
                let running = self
                    .state
                    .as_ref()
                    .is_some_and(|s| s.status == gradboard::runner::sweep::SweepStatus::Running);
                match &self.folder {
                    Some((dir, _)) if running => {
                        cx.shared
                            .notify(format!("cancelling sweep {}...", dir.display()));
                        return vec![Effect::CancelSweep(dir.clone())];
                    }
                    _ => cx.shared.warn("this sweep is not running"),
                }
            }
            _ if !self.local
                && matches!(
                    action,
                    Action::CancelQueued | Action::Stop | Action::TogglePause
                ) =>
            {
                cx.shared.warn(
                    "this sweep is read from its folder: S cancels it; its runs are its own process's",
                );
            }
            Action::TogglePause => {
                if let Some(state) = self.state.as_ref().filter(|s| !s.finished) {
                    let command = if state.paused {
                        SweepCommand::Resume
                    } else {
                        SweepCommand::Pause
                    };
                    return vec![Effect::Sweep(command)];
                }
            }
            Action::StopSweep if self.running() => {
                return vec![Effect::Sweep(SweepCommand::StopAll)];
            }
            Action::NextSweptKey => {
                let keys = self.state.as_ref().map_or(0, |s| s.swept_keys.len());
                self.scatter_key = (self.scatter_key + 1) % keys.max(1);
            }
            Action::NextContourKey => {
                let keys = self.state.as_ref().map_or(0, |s| s.axes.params.len());
                self.contour_key = (self.contour_key + 1) % keys.max(1);
                if self.plot != Plot::Contour {
                    self.plot = Plot::Contour;
                }
            }
            Action::NextPlot => self.plot = self.plot.next(),
            Action::Left | Action::Right => {
                let axes = self.state.as_ref().map_or(0, |s| s.axes.params.len() + 1);
                if axes > 0 {
                    self.axis = if action == Action::Left {
                        (self.axis.min(axes - 1) + axes - 1) % axes
                    } else {
                        (self.axis + 1) % axes
                    };
                }
            }
            Action::Brush
            | Action::BrushLower
            | Action::BrushHigher
            | Action::BrushNarrow
            | Action::BrushWiden => {
                let axes = self.state.as_ref().map_or(0, |s| {
                    if s.axes.params.is_empty() {
                        0
                    } else {
                        s.axes.params.len() + 1
                    }
                });
                if axes == 0 {
                    cx.shared.warn("this sweep sweeps no key: nothing to brush");
                } else {
                    let figure = self.state.as_ref().map(Parallel::of).unwrap_or_default();
                    self.brush_action(action, axes, &figure);
                }
            }
            Action::Fork => return fork(entry.as_ref().and_then(|e| e.run_id()), cx),
            Action::OlderSweep | Action::NewerSweep => {
                let Some((dir, sweeps)) = &self.folder else {
                    cx.shared.warn("no sweep folder read yet");
                    return vec![];
                };
                if self.running() {
                    cx.shared
                        .warn("this dashboard's sweep is running: other sweeps wait for it");
                    return vec![];
                }
                let at = sweeps.iter().position(|d| d == dir).unwrap_or(sweeps.len());
                let next = match action {
                    Action::OlderSweep => at.checked_sub(1),
                    _ => Some(at + 1).filter(|&i| i < sweeps.len()),
                };
                match next.and_then(|i| sweeps.get(i)) {
                    Some(d) => return vec![Effect::ReadSweep(Some(d.clone()))],
                    None => cx.shared.notify(format!(
                        "no {} sweep in the runs folder",
                        if action == Action::OlderSweep {
                            "older"
                        } else {
                            "newer"
                        }
                    )),
                }
            }
            Action::ForkBest => {
                let best = self.state.as_ref().and_then(|s| s.best_member().cloned());
                let command = self
                    .state
                    .as_ref()
                    .is_some_and(|s| s.result_rows(false).on_metric);
                match (best, &self.folder) {
                    // A command's trial is run again with its values: its program has no
                    // checkpoint gradboard can read.
                    (Some(e), Some((dir, _))) if command => {
                        return vec![Effect::Rerun {
                            sweep: dir.clone(),
                            index: e.index,
                        }]
                    }
                    (Some(e), _) => return fork(e.run_id(), cx),
                    (None, _) => cx.shared.warn("no run of this sweep has a figure yet"),
                }
            }
            Action::Open => {
                if let Some(id) = run_id {
                    cx.requests.push(Request::Open(id));
                }
            }
            Action::Analyze => {
                if let Some(id) = run_id {
                    cx.requests.push(Request::Analyze(id));
                }
            }
            _ => {}
        }
        vec![]
    }
}

/// Forks run `run_id` as the runs screen does: its checkpoint's settings go to the settings
/// panel.
fn fork(run_id: Option<&str>, cx: &mut Ctx) -> Vec<Effect> {
    let Some(run_id) = run_id else {
        cx.shared
            .warn("the selected run has not started: nothing to fork");
        return vec![];
    };
    match cx.shared.listing.get(run_id).cloned() {
        Some(r) => {
            cx.shared
                .notify(format!("reading the checkpoint of {}...", r.run_id));
            vec![Effect::ReadFork {
                run_id: r.run_id,
                dir: r.dir,
                preset: r.preset,
            }]
        }
        None => {
            cx.shared.warn(format!(
                "run {run_id} is not in the runs folder's listing yet"
            ));
            vec![]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradboard::config::PresetDirs;
    use std::path::PathBuf;
    use tui_input::Input;

    fn presets() -> PresetDirs {
        PresetDirs {
            dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../presets")],
        }
    }

    fn form(values: &[(&str, &str)]) -> SweepForm {
        let mut f = SweepForm::new("mlp-default");
        for (name, value) in values {
            let i = FORM_FIELDS.iter().position(|x| x.0 == *name).unwrap();
            f.fields[i].input = Input::new(value.to_string());
        }
        f
    }

    fn spec(values: &[(&str, &str)]) -> Result<SweepSpec, String> {
        form(values)
            .request()?
            .assemble(&presets())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_form_builds_grids_draws_and_files_and_names_what_is_wrong() {
        let s = spec(&[
            ("grid", "lr=1e-3,2e-3 hidden=100;50,50"),
            ("set", "steps=300 eval_every=50"),
        ])
        .unwrap();
        assert_eq!(s.run_count().unwrap(), 4);
        assert!(s.prune.is_some());
        assert_eq!(s.set, vec!["steps=300", "eval_every=50"]);
        let s = spec(&[
            ("sampler", "tpe"),
            ("ranges", "lr=1e-4..1e-2:log"),
            ("choices", "optimizer=sgd,adam"),
            ("trials", "5"),
            ("seeds", "3"),
            ("pruner", "asha"),
            ("pruner options", "reduction=3 min_steps=100"),
        ])
        .unwrap();
        assert_eq!((s.trials, s.seeds, s.run_count().unwrap()), (5, 3, 15));
        assert_eq!(
            s.prune,
            Some(gradboard::config::sweep::PrunerSpec::Asha {
                eta: 3,
                min_steps: Some(100)
            })
        );
        let s = spec(&[
            ("sampler", "random"),
            ("ranges", "lr=1e-4..1e-2:log"),
            ("trials", "5"),
            ("pruner", "none"),
        ])
        .unwrap();
        assert_eq!((s.trials, s.prune), (5, None));
        let s = spec(&[("file", "lab-ablation")]).unwrap();
        assert_eq!(s.runs.len(), 6);
        for (values, wanted) in [
            (vec![], "nothing to sweep"),
            (vec![("grid", "lr=fast")], "lr"),
            (vec![("ranges", "lr=1..2")], "sampler"),
            (vec![("grid", "lr=1e-3"), ("pruner", "mean")], "prune"),
            (vec![("grid", "lr=1e-3"), ("set", "steps=-1")], "steps"),
            (vec![("file", "nope")], "unknown sweep"),
            (
                vec![
                    ("sampler", "tpe"),
                    ("ranges", "lr=1e-4..1e-2"),
                    ("trials", "many"),
                ],
                "trials",
            ),
            (
                vec![
                    ("sampler", "random"),
                    ("ranges", "lr=1e-4..1e-2"),
                    ("trials", "100000"),
                ],
                "at most",
            ),
            (
                vec![
                    ("sampler", "tpe"),
                    ("ranges", "lr=1e-4..1e-2"),
                    ("trials", "4"),
                    ("pruner", "asha"),
                    ("pruner options", "eta=1"),
                ],
                "2 or more",
            ),
            (
                vec![
                    ("grid", "lr=1e-3"),
                    ("pruner", "median"),
                    ("pruner options", "reduction=3"),
                ],
                "asha",
            ),
        ] {
            let e = spec(&values).unwrap_err();
            assert!(e.contains(wanted), "{values:?}: {e}");
        }
    }
}
