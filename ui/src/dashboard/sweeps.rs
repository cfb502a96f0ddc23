//! The sweep screen's state and actions, and the form that starts a sweep: a sweep file's
//! name, or a preset with grid keys, ranges, a count of random draws, common settings, the
//! pruner and a seed, each a text field.

use super::app::{App, Effect, Mode};
use super::keymap::{Action, Screen};
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use gradboard::config::sweep::{find_sweep, PrunerSpec, Range, SweepSpec};
use gradboard::config::PresetDirs;
use gradboard::runner::sweep::{QueueState, SweepCommand, SweepState};
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;

/// The sweep screen's state.
#[derive(Debug, Clone, Default)]
pub struct SweepScreen {
    /// The sweep's state as the runtime last saw it.
    pub state: Option<SweepState>,
    /// The queue row under the cursor.
    pub selected: usize,
    /// Which swept key the scatter plot shows.
    pub scatter_key: usize,
}

/// The form's fields: name and hint.
pub const FORM_FIELDS: [(&str, &str); 8] = [
    (
        "file",
        "a sweep file or a shipped sweep (lab-ablation); empty: the fields below",
    ),
    ("preset", "the preset every run starts from"),
    (
        "grid",
        "every combination: lr=1e-3,2e-3 optimizer=sgd,adam (lists: hidden=800,400;200,100)",
    ),
    ("ranges", "random draws: lr=1e-4..1e-2:log dropout=0..0.5"),
    ("count", "how many random draws (0: none)"),
    ("set", "every run: steps=300 eval_every=50"),
    ("pruner", "median (Optuna's rule) or none"),
    ("seed", "seed of the random draws"),
];

/// The form of a new sweep.
#[derive(Debug, Clone)]
pub struct SweepForm {
    /// One input a field of `FORM_FIELDS`.
    pub inputs: Vec<Input>,
    /// The field with the cursor.
    pub focus: usize,
    /// Why the last start was refused.
    pub error: Option<String>,
}

impl SweepForm {
    /// A form for sweeps of `preset`.
    pub fn new(preset: &str) -> Self {
        let values = ["", preset, "", "", "0", "", "median", "0"];
        SweepForm {
            inputs: values.iter().map(|v| Input::new(v.to_string())).collect(),
            focus: 2,
            error: None,
        }
    }

    fn value(&self, name: &str) -> &str {
        let i = FORM_FIELDS
            .iter()
            .position(|f| f.0 == name)
            .expect("a form field");
        self.inputs[i].value().trim()
    }

    /// The sweep the fields describe, checked (every run's settings built).
    pub fn spec(&self, presets: &PresetDirs) -> Result<SweepSpec, String> {
        let fail = |e: gradboard::Error| e.to_string();
        let words =
            |text: &str| -> Vec<String> { text.split_whitespace().map(str::to_string).collect() };
        let mut spec = match self.value("file") {
            "" => {
                let mut spec = SweepSpec::new(self.value("preset"), self.value("preset"));
                for g in words(self.value("grid")) {
                    spec.add_grid(&g).map_err(fail)?;
                }
                for r in words(self.value("ranges")) {
                    spec.ranges.push(Range::parse(&r).map_err(fail)?);
                }
                spec.random = self
                    .value("count")
                    .parse()
                    .map_err(|_| format!("count: a whole number, got {:?}", self.value("count")))?;
                if spec.random > 0 && spec.ranges.is_empty() {
                    return Err("count: random draws need at least one range".into());
                }
                if spec.random == 0 && !spec.ranges.is_empty() {
                    return Err("ranges: give count, the number of random draws".into());
                }
                if spec.grid.is_empty() && spec.random == 0 {
                    return Err("nothing to sweep: fill grid, or ranges and count".into());
                }
                spec
            }
            file => find_sweep(presets, file).map_err(fail)?,
        };
        spec.set.extend(words(self.value("set")));
        spec.prune = match self.value("pruner") {
            "median" => Some(spec.prune.unwrap_or_else(PrunerSpec::default)),
            "none" | "" => None,
            other => return Err(format!("pruner: median or none, got {other:?}")),
        };
        spec.seed = self
            .value("seed")
            .parse()
            .map_err(|_| format!("seed: a whole number, got {:?}", self.value("seed")))?;
        spec.expand(presets).map_err(fail)?;
        Ok(spec)
    }
}

impl App {
    /// Opens the form of a new sweep.
    pub(super) fn open_sweep_form(&mut self) {
        self.mode = Mode::SweepForm(SweepForm::new(&self.preset));
    }

    /// A key while the sweep form is open.
    pub(super) fn on_sweep_form_key(&mut self, key: KeyEvent, mut form: SweepForm) -> Vec<Effect> {
        let n = FORM_FIELDS.len();
        match key.code {
            KeyCode::Esc => {
                self.notify("no sweep started");
                return vec![];
            }
            KeyCode::Tab | KeyCode::Down => form.focus = (form.focus + 1) % n,
            KeyCode::BackTab | KeyCode::Up => form.focus = (form.focus + n - 1) % n,
            KeyCode::Enter if !key.modifiers.contains(KeyModifiers::ALT) => {
                match form.spec(&self.presets) {
                    Ok(spec) => {
                        self.screen = Screen::Sweep;
                        self.sweep.selected = 0;
                        self.notify(format!("starting sweep {}", spec.name));
                        return vec![Effect::StartSweep(Box::new(spec))];
                    }
                    Err(e) => form.error = Some(e),
                }
            }
            _ => {
                if form.inputs[form.focus]
                    .handle_event(&TermEvent::Key(key))
                    .is_some()
                {
                    form.error = None;
                }
            }
        }
        self.mode = Mode::SweepForm(form);
        vec![]
    }

    /// The sweep screen's actions.
    pub(super) fn on_sweep_action(&mut self, action: Action) -> Vec<Effect> {
        let len = self.sweep.state.as_ref().map_or(0, |s| s.queue.len());
        let selected = self.sweep.selected.min(len.saturating_sub(1));
        let entry = self
            .sweep
            .state
            .as_ref()
            .and_then(|s| s.queue.get(selected))
            .cloned();
        match action {
            Action::Up => self.sweep.selected = selected.saturating_sub(1),
            Action::Down => self.sweep.selected = (selected + 1).min(len.saturating_sub(1)),
            Action::NewSweep => {
                if self.sweep.state.as_ref().is_some_and(|s| !s.finished) {
                    self.warn("a sweep is running: stop it (S) before starting another");
                } else {
                    self.open_sweep_form();
                }
            }
            Action::CancelQueued => match entry {
                Some(e) if e.state == QueueState::Pending => {
                    return vec![Effect::Sweep(SweepCommand::Cancel(e.index))]
                }
                Some(e) => self.warn(format!(
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
                _ => self.warn("the selected run is not running"),
            },
            Action::TogglePause => {
                if let Some(state) = &self.sweep.state {
                    let command = if state.paused {
                        SweepCommand::Resume
                    } else {
                        SweepCommand::Pause
                    };
                    return vec![Effect::Sweep(command)];
                }
            }
            Action::StopSweep if self.sweep.state.is_some() => {
                return vec![Effect::Sweep(SweepCommand::StopAll)];
            }
            Action::NextSweptKey => {
                let keys = self.sweep.state.as_ref().map_or(0, |s| s.swept_keys.len());
                self.sweep.scatter_key = (self.sweep.scatter_key + 1) % keys.max(1);
            }
            Action::Open => {
                if let Some(id) = entry
                    .as_ref()
                    .and_then(|e| e.run_id())
                    .filter(|i| !i.is_empty())
                {
                    let id = id.to_string();
                    self.current = Some(id.clone());
                    self.screen = Screen::Live;
                    return self.ensure_loaded(&id);
                }
            }
            Action::Analyze => {
                if let Some(id) = entry
                    .as_ref()
                    .and_then(|e| e.run_id())
                    .filter(|i| !i.is_empty())
                {
                    return self.analyze(id.to_string());
                }
            }
            _ => {}
        }
        vec![]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn presets() -> PresetDirs {
        PresetDirs {
            dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../presets")],
        }
    }

    fn form(values: &[(&str, &str)]) -> SweepForm {
        let mut f = SweepForm::new("mlp-default");
        for (name, value) in values {
            let i = FORM_FIELDS.iter().position(|x| x.0 == *name).unwrap();
            f.inputs[i] = Input::new(value.to_string());
        }
        f
    }

    #[test]
    fn the_form_builds_grids_draws_and_files_and_names_what_is_wrong() {
        let spec = form(&[
            ("grid", "lr=1e-3,2e-3 hidden=100;50,50"),
            ("set", "steps=300 eval_every=50"),
        ])
        .spec(&presets())
        .unwrap();
        assert_eq!(spec.expand(&presets()).unwrap().len(), 4);
        assert!(spec.prune.is_some());
        assert_eq!(spec.set, vec!["steps=300", "eval_every=50"]);
        let spec = form(&[
            ("ranges", "lr=1e-4..1e-2:log"),
            ("count", "5"),
            ("pruner", "none"),
        ])
        .spec(&presets())
        .unwrap();
        assert_eq!((spec.random, spec.prune), (5, None));
        let spec = form(&[("file", "lab-ablation")]).spec(&presets()).unwrap();
        assert_eq!(spec.runs.len(), 6);
        for (values, wanted) in [
            (vec![], "nothing to sweep"),
            (vec![("grid", "lr=fast")], "lr"),
            (vec![("ranges", "lr=1..2")], "count"),
            (vec![("grid", "lr=1e-3"), ("pruner", "mean")], "pruner"),
            (vec![("grid", "lr=1e-3"), ("set", "steps=-1")], "steps"),
            (vec![("file", "nope")], "unknown sweep"),
        ] {
            let e = form(&values).spec(&presets()).unwrap_err();
            assert!(e.contains(wanted), "{values:?}: {e}");
        }
    }
}
