//! The live screen's actions: the run's commands, the settings panel's editing (live keys go
//! to the running run), presets, and starting runs (fresh, or the armed fork).

use super::app::{App, DataState, Effect, Mode, PresetItem};
use super::keymap::Action;
use super::state::Status;
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent};
use gradboard::config::{key, KeySpec};
use gradboard::runner::From;
use gradboard::train::Command;
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;

fn key_spec(name: &str) -> &'static KeySpec {
    key(name).expect("a key of the table")
}

impl App {
    /// The live screen's actions.
    pub(super) fn on_live_action(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Restart => self.restart(),
            Action::TogglePause => {
                let Some(run) = self.active_run() else {
                    self.warn("no run of this dashboard to pause: press r to start one");
                    return vec![];
                };
                let command = if run.status == Status::Paused {
                    Command::Resume
                } else {
                    Command::Pause
                };
                let run_id = run.run_id.clone();
                self.send(run_id, command)
            }
            Action::Stop => {
                let Some(run_id) = self.active_run().map(|r| r.run_id.clone()) else {
                    self.warn("no run of this dashboard to stop");
                    return vec![];
                };
                if let Some(run) = self.runs.get_mut(&run_id) {
                    run.status = Status::Stopping;
                }
                self.notify("stopping after the current step");
                self.send(run_id, Command::Stop)
            }
            Action::Up => {
                self.selected = (self.selected + gradboard::config::KEYS.len() - 1)
                    % gradboard::config::KEYS.len();
                vec![]
            }
            Action::Down => {
                self.selected = (self.selected + 1) % gradboard::config::KEYS.len();
                vec![]
            }
            Action::Edit => self.edit_selected(),
            Action::LrUp | Action::LrDown => {
                let factor = if action == Action::LrUp { 2.0 } else { 0.5 };
                let value = gradboard::config::format_float(self.config.lr * factor);
                self.set_value(key_spec("lr"), &value)
            }
            Action::Presets => {
                self.open_presets();
                vec![]
            }
            Action::SavePreset => {
                self.mode = Mode::SaveName {
                    input: Input::default(),
                    error: None,
                };
                vec![]
            }
            _ => vec![],
        }
    }

    /// Starts a run with the edited settings (the armed fork, if any), stopping the live
    /// screen's run first.
    pub(super) fn restart(&mut self) -> Vec<Effect> {
        if !matches!(self.data, DataState::Ready { .. }) {
            self.warn("the data set is not ready yet");
            return vec![];
        }
        if let Err(e) = self.config.validate() {
            self.warn(format!("cannot start: {e}"));
            return vec![];
        }
        let mut effects = Vec::new();
        if let Some(run_id) = self.active_run().map(|r| r.run_id.clone()) {
            if let Some(run) = self.runs.get_mut(&run_id) {
                run.status = Status::Stopping;
            }
            effects.push(Effect::Send {
                run_id,
                command: Command::Stop,
            });
        }
        let from = match self.fork.take() {
            Some(target) => From::Fork(target.dir),
            None => From::New,
        };
        effects.push(Effect::Start {
            preset: self.preset.clone(),
            config: Box::new(self.config.clone()),
            base: self.preset_config.clone().map(Box::new),
            from,
        });
        effects
    }

    fn edit_selected(&mut self) -> Vec<Effect> {
        let spec = self.selected_key();
        match spec.next_choice(&self.config) {
            Some(next) => self.set_value(spec, next),
            None => {
                let value = spec.get(&self.config);
                self.mode = Mode::Editing {
                    input: Input::new(value),
                    error: None,
                };
                vec![]
            }
        }
    }

    /// Sets a key in the edited settings; a live key also goes to the running run.
    pub(super) fn set_value(&mut self, spec: &'static KeySpec, text: &str) -> Vec<Effect> {
        let mut candidate = self.config.clone();
        if let Err(e) = spec.set(&mut candidate, text) {
            self.warn(e.to_string());
            return vec![];
        }
        self.config = candidate;
        let value = spec.get(&self.config);
        let name = spec.name;
        if let Err(e) = self.config.validate() {
            self.warn(format!("{name} = {value}; before restarting: {e}"));
            return vec![];
        }
        match self.active_run() {
            Some(run) if spec.live => {
                let mut live = run.config.clone();
                if let Err(e) = spec.set(&mut live, text).and_then(|_| live.validate()) {
                    self.warn(format!(
                        "{name} = {value} for the next run; the running run refuses it: {e}"
                    ));
                    return vec![];
                }
                let run_id = run.run_id.clone();
                self.notify(format!(
                    "{name} = {value}: the running run takes it from its next step"
                ));
                self.send(
                    run_id,
                    Command::Set {
                        key: name.to_string(),
                        value,
                    },
                )
            }
            Some(_) => {
                self.notify(format!(
                    "{name} = {value} (needs a restart: r restarts with it)"
                ));
                vec![]
            }
            None => {
                self.notify(format!("{name} = {value} (r starts a run with it)"));
                vec![]
            }
        }
    }

    pub(super) fn on_edit_key(
        &mut self,
        key: KeyEvent,
        mut input: Input,
        error: Option<String>,
    ) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => {
                self.notify("edit cancelled");
                vec![]
            }
            KeyCode::Enter => {
                let spec = self.selected_key();
                let mut candidate = self.config.clone();
                match spec.set(&mut candidate, input.value()) {
                    Ok(()) => self.set_value(spec, input.value()),
                    Err(e) => {
                        self.mode = Mode::Editing {
                            input,
                            error: Some(e.to_string()),
                        };
                        vec![]
                    }
                }
            }
            _ => {
                let changed = input.handle_event(&TermEvent::Key(key)).is_some();
                self.mode = Mode::Editing {
                    input,
                    error: if changed { None } else { error },
                };
                vec![]
            }
        }
    }

    fn open_presets(&mut self) {
        let mut items = Vec::new();
        let mut broken = 0;
        for p in self.presets.list() {
            match p {
                Ok(p) => items.push(PresetItem {
                    name: p.name,
                    description: p.description,
                    config: p.config,
                }),
                Err(_) => broken += 1,
            }
        }
        if items.is_empty() {
            self.warn("no presets found");
            return;
        }
        if broken > 0 {
            self.warn(format!("{broken} preset file(s) could not be read"));
        }
        let selected = items
            .iter()
            .position(|p| p.name == self.preset)
            .unwrap_or(0);
        self.mode = Mode::Presets { items, selected };
    }

    pub(super) fn on_save_key(
        &mut self,
        key: KeyEvent,
        mut input: Input,
        error: Option<String>,
    ) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => {}
            KeyCode::Enter => {
                let name = input.value().to_string();
                let description = format!("saved from the dashboard (based on {})", self.preset);
                match self.presets.save(&name, &description, &self.config) {
                    Ok(path) => {
                        self.preset_config = Some(self.config.clone());
                        self.preset = name;
                        self.notify(format!("saved preset {}", path.display()));
                    }
                    Err(e) => {
                        self.mode = Mode::SaveName {
                            input,
                            error: Some(e.to_string()),
                        }
                    }
                }
            }
            _ => {
                let changed = input.handle_event(&TermEvent::Key(key)).is_some();
                self.mode = Mode::SaveName {
                    input,
                    error: if changed { None } else { error },
                };
            }
        }
        vec![]
    }

    pub(super) fn on_preset_key(
        &mut self,
        key: KeyEvent,
        items: Vec<PresetItem>,
        selected: usize,
    ) -> Vec<Effect> {
        let n = items.len();
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => vec![],
            KeyCode::Up | KeyCode::Char('k') => {
                self.mode = Mode::Presets {
                    items,
                    selected: (selected + n - 1) % n,
                };
                vec![]
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.mode = Mode::Presets {
                    items,
                    selected: (selected + 1) % n,
                };
                vec![]
            }
            KeyCode::Enter => {
                let item = items[selected].clone();
                self.fork = None;
                self.preset_config = Some(item.config.clone());
                self.config = item.config;
                self.preset = item.name;
                self.restart()
            }
            _ => {
                self.mode = Mode::Presets { items, selected };
                vec![]
            }
        }
    }
}
