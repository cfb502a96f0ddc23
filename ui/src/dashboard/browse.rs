//! The runs and compare screens' actions: moving, sorting and filtering the runs table, marking
//! runs for comparison, opening, forking, resuming and exporting runs.

use super::app::{App, Effect, ForkTarget, Mode};
use super::keymap::{Action, Screen};
use super::library::Column;
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent};
use gradboard::events::RunStatus;
use gradboard::runner::From;
use gradboard::runs::ListedStatus;
use gradboard::train::checkpoint;
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;

/// Rows a page key moves.
const PAGE: isize = 15;

impl App {
    /// The runs and compare screens' actions.
    pub(super) fn on_browse_action(&mut self, action: Action, key: &KeyEvent) -> Vec<Effect> {
        match action {
            Action::Up => self.library.move_by(-1),
            Action::Down => self.library.move_by(1),
            Action::PageUp => self.library.move_by(-PAGE),
            Action::PageDown => self.library.move_by(PAGE),
            Action::Sort => {
                if let KeyCode::Char(c) = key.code {
                    let n = c.to_digit(10).unwrap_or(1) as usize;
                    if let Some(&column) = Column::ALL.get(n.saturating_sub(1)) {
                        self.library.sort_by(column);
                    }
                }
            }
            Action::Filter => {
                self.mode = Mode::Filtering {
                    input: Input::new(self.library.filter.clone()),
                }
            }
            Action::Mark => {
                if let Some(marked) = self.library.toggle_mark() {
                    let id = self
                        .library
                        .current()
                        .map(|r| r.run_id.clone())
                        .unwrap_or_default();
                    if marked {
                        return self.ensure_loaded(&id);
                    }
                }
            }
            Action::Compare => {
                if self.library.marked.is_empty() {
                    self.library.toggle_mark();
                }
                self.screen = Screen::Compare;
                return self.load_compared();
            }
            Action::Open => return self.open_current(),
            Action::Fork => self.arm_fork(),
            Action::Resume => return self.resume_current(),
            Action::Export => return self.export_marked(),
            Action::Diff => self.diff = !self.diff,
            _ => {}
        }
        vec![]
    }

    /// Loads every marked run that is not loaded yet.
    pub(super) fn load_compared(&mut self) -> Vec<Effect> {
        let ids = self.library.marked.clone();
        ids.iter().flat_map(|id| self.ensure_loaded(id)).collect()
    }

    fn open_current(&mut self) -> Vec<Effect> {
        let Some(id) = self.library.current().map(|r| r.run_id.clone()) else {
            self.warn("no run here");
            return vec![];
        };
        self.current = Some(id.clone());
        self.screen = Screen::Live;
        self.notify(format!("run {id}"));
        self.ensure_loaded(&id)
    }

    /// Puts the run under the cursor in the settings panel as the parent of the next `r`.
    fn arm_fork(&mut self) {
        let Some(record) = self.library.current().cloned() else {
            self.warn("no run here");
            return;
        };
        if !record.dir.join(checkpoint::LAST).is_file() {
            self.warn(format!(
                "run {} has no checkpoint yet (one is written at each evaluation)",
                record.run_id
            ));
            return;
        }
        let Some(config) = record.config.clone() else {
            self.warn(format!("run {} has no start event", record.run_id));
            return;
        };
        self.config = config;
        self.preset = record.preset.clone();
        self.preset_config = self.presets.find(&record.preset).ok().map(|p| p.config);
        self.fork = Some(ForkTarget {
            run_id: record.run_id.clone(),
            dir: record.dir.clone(),
        });
        self.selected = gradboard::config::KEYS
            .iter()
            .position(|k| k.name == "lr")
            .unwrap_or(0);
        self.screen = Screen::Live;
        self.notify(format!(
            "fork of {} at step {}: change the settings (the network stays), r starts it",
            record.run_id, record.step
        ));
    }

    fn resume_current(&mut self) -> Vec<Effect> {
        let Some(record) = self.library.current().cloned() else {
            self.warn("no run here");
            return vec![];
        };
        match record.status {
            ListedStatus::Crashed | ListedStatus::Ended(RunStatus::Stopped) => {}
            other => {
                self.warn(format!(
                    "run {} is {}: only stopped or crashed runs resume",
                    record.run_id,
                    other.as_str()
                ));
                return vec![];
            }
        }
        let Some(config) = record.config.clone() else {
            self.warn(format!("run {} has no start event", record.run_id));
            return vec![];
        };
        vec![Effect::Start {
            preset: record.preset.clone(),
            config: Box::new(config),
            base: None,
            from: From::Resume(record.dir.clone()),
        }]
    }

    fn export_marked(&mut self) -> Vec<Effect> {
        let mut ids = self.library.marked.clone();
        if ids.is_empty() {
            ids.extend(self.library.current().map(|r| r.run_id.clone()));
        }
        let dirs: Vec<_> = ids
            .iter()
            .filter_map(|id| self.library.get(id).map(|r| r.dir.clone()))
            .collect();
        if dirs.is_empty() {
            self.warn("nothing to export: mark runs with space");
            return vec![];
        }
        self.notify(format!("exporting {} run(s)...", dirs.len()));
        vec![Effect::Export(dirs)]
    }

    pub(super) fn on_filter_key(&mut self, key: KeyEvent, mut input: Input) -> Vec<Effect> {
        match key.code {
            KeyCode::Enter => {}
            KeyCode::Esc => self.library.set_filter(""),
            _ => {
                input.handle_event(&TermEvent::Key(key));
                self.library.set_filter(input.value());
                self.mode = Mode::Filtering { input };
            }
        }
        vec![]
    }
}
