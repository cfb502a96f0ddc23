//! The sweep screen's state and actions, and the form that starts a sweep: a sweep file's
//! name, or a preset with grid keys, ranges, a count of random draws, common settings, the
//! pruner and a seed, each a text field. The form gives a `SweepRequest`; a worker assembles
//! and checks it as the command line does, and the sweep starts once it is found good.

use super::{Ctx, Field, Request};
use crate::dashboard::keymap::Action;
use crate::dashboard::msg::{Effect, Mode, Screen};
use crossterm::event::KeyEvent;
use gradboard::config::sweep::{SweepRequest, SweepSpec};
use gradboard::runner::sweep::{QueueState, SweepCommand, SweepState};

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
        let values = ["", preset, "", "", "0", "", "median", "0"];
        SweepForm {
            fields: values.iter().map(|v| Field::new(v)).collect(),
            focus: 2,
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
        let file = Some(self.value("file").to_string()).filter(|f| !f.is_empty());
        Ok(SweepRequest {
            preset: (file.is_none()).then(|| self.value("preset").to_string()),
            file,
            grid: words(self.value("grid")),
            ranges: words(self.value("ranges")),
            random: usize::try_from(number("count")?).map_err(|e| e.to_string())?,
            set: words(self.value("set")),
            prune: Some(self.value("pruner").to_string()).filter(|p| !p.is_empty()),
            prune_warmup: None,
            prune_min_runs: None,
            seed: Some(number("seed")?),
        })
    }
}

/// The sweep screen's state.
#[derive(Debug, Clone, Default)]
pub struct SweepScreen {
    /// The sweep's state as the runtime last saw it, or as its folder says.
    pub state: Option<SweepState>,
    /// Whether this dashboard runs the sweep shown (and can command it).
    pub local: bool,
    /// The queue row under the cursor.
    pub selected: usize,
    /// Which swept key the scatter plot shows.
    pub scatter_key: usize,
    /// The form of a new sweep, while it is open.
    pub form: Option<SweepForm>,
}

impl SweepScreen {
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
            _ if !self.local
                && matches!(
                    action,
                    Action::CancelQueued | Action::Stop | Action::TogglePause | Action::StopSweep
                ) =>
            {
                cx.shared
                    .warn("this sweep is read from its folder: only its own process commands it");
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
        assert_eq!(s.expand(&presets()).unwrap().len(), 4);
        assert!(s.prune.is_some());
        assert_eq!(s.set, vec!["steps=300", "eval_every=50"]);
        let s = spec(&[
            ("ranges", "lr=1e-4..1e-2:log"),
            ("count", "5"),
            ("pruner", "none"),
        ])
        .unwrap();
        assert_eq!((s.random, s.prune), (5, None));
        let s = spec(&[("file", "lab-ablation")]).unwrap();
        assert_eq!(s.runs.len(), 6);
        for (values, wanted) in [
            (vec![], "nothing to sweep"),
            (vec![("grid", "lr=fast")], "lr"),
            (vec![("ranges", "lr=1..2")], "count"),
            (vec![("grid", "lr=1e-3"), ("pruner", "mean")], "prune"),
            (vec![("grid", "lr=1e-3"), ("set", "steps=-1")], "steps"),
            (vec![("file", "nope")], "unknown sweep"),
            (
                vec![("ranges", "lr=1e-4..1e-2"), ("count", "many")],
                "count",
            ),
            (
                vec![("ranges", "lr=1e-4..1e-2"), ("count", "100000")],
                "at most",
            ),
        ] {
            let e = spec(&values).unwrap_err();
            assert!(e.contains(wanted), "{values:?}: {e}");
        }
    }
}
