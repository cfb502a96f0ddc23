//! The dashboard's state and its update function: messages in, state changes and effects out.
//! No terminal here, so tests drive it with key events directly.

use super::keymap::{action_for, Action};
use super::state::{RunView, Runs, Status};
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use gradboard::config::{key, KeySpec, PresetDirs, RunConfig, KEYS};
use gradboard::events::{unix_now, Event};
use gradboard::train::Command;
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;

/// The EMA strengths `[` and `]` step through.
pub const SMOOTHING_LEVELS: [f64; 7] = [0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99];
/// Steps shown by the recent window.
pub const RECENT_STEPS: f64 = 300.0;

/// Where the data set stands.
#[derive(Debug, Clone, PartialEq)]
pub enum DataState {
    /// Being read from disk.
    Loading(String),
    /// Being downloaded: bytes done and total.
    Downloading { done: u64, total: Option<u64> },
    /// Ready to train on.
    Ready {
        source: String,
        train: usize,
        test: usize,
    },
    /// Could not be had: the reason and how to fix it.
    Failed(String),
}

/// How the charts are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartOptions {
    /// Smooth the train curves.
    pub smoothing: bool,
    /// EMA weight of the past, 0 to 0.99.
    pub alpha: f64,
    /// Loss on a log10 scale.
    pub log_loss: bool,
    /// x axis in epochs instead of steps.
    pub epochs: bool,
    /// Only the last `RECENT_STEPS` steps.
    pub recent: bool,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions {
            smoothing: true,
            alpha: 0.6,
            log_loss: false,
            epochs: false,
            recent: false,
        }
    }
}

/// A preset as the picker lists it.
#[derive(Debug, Clone)]
pub struct PresetItem {
    /// Name.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Settings.
    pub config: RunConfig,
}

/// What the keyboard is talking to.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The main screen.
    Normal,
    /// Typing a new value for the selected key.
    Editing { input: Input, error: Option<String> },
    /// Choosing a preset.
    Presets {
        items: Vec<PresetItem>,
        selected: usize,
    },
    /// Typing the name of a preset to save.
    SaveName { input: Input, error: Option<String> },
    /// The help screen.
    Help,
    /// Asking before quitting with a run active.
    ConfirmQuit,
    /// Quitting: every run was told to stop; waiting for their `done`.
    Stopping,
}

/// Messages the dashboard reacts to.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key press.
    Key(KeyEvent),
    /// An event of a run.
    Run(Event),
    /// The runtime started a run from this dashboard.
    Started {
        run_id: String,
        config: RunConfig,
        preset: String,
    },
    /// A run could not be started.
    StartFailed(String),
    /// The data set's state changed.
    Data(DataState),
    /// SIGTERM or SIGHUP: stop every run and quit.
    Terminate,
}

/// What the runtime must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start a run with these settings from this preset (whose own settings are `base`).
    Start {
        preset: String,
        config: RunConfig,
        base: Option<RunConfig>,
    },
    /// Send a command to a run.
    Send { run_id: String, command: Command },
    /// Tell every run to stop and quit once all have written their `done`.
    StopAllAndQuit,
    /// Quit now (no run is active).
    Quit,
}

/// The whole dashboard state.
pub struct App {
    /// The settings being edited (the next run's).
    pub config: RunConfig,
    /// The preset they came from.
    pub preset: String,
    /// The preset's own settings.
    pub preset_config: Option<RunConfig>,
    /// Selected row of the settings panel.
    pub selected: usize,
    /// Every run the dashboard knows.
    pub runs: Runs,
    /// The run the live screen shows.
    pub current: Option<String>,
    /// The data set.
    pub data: DataState,
    /// Chart options.
    pub chart: ChartOptions,
    /// Keyboard mode.
    pub mode: Mode,
    /// The last message for the user, and whether it is an error.
    pub notice: Option<(String, bool)>,
    /// Where presets are read and saved.
    pub presets: PresetDirs,
}

impl App {
    /// A dashboard with `config` loaded from preset `preset`.
    pub fn new(config: RunConfig, preset: String, presets: PresetDirs, data: DataState) -> Self {
        let preset_config = presets.find(&preset).ok().map(|p| p.config);
        App {
            config,
            preset,
            preset_config,
            selected: 0,
            runs: Runs::default(),
            current: None,
            data,
            chart: ChartOptions::default(),
            mode: Mode::Normal,
            notice: None,
            presets,
        }
    }

    /// The table entry of the selected settings row.
    pub fn selected_key(&self) -> &'static KeySpec {
        &KEYS[self.selected]
    }

    /// The run on the live screen.
    pub fn run(&self) -> Option<&RunView> {
        self.current.as_deref().and_then(|id| self.runs.get(id))
    }

    /// The live screen's run, while it can still take commands.
    fn active_run(&self) -> Option<&RunView> {
        self.run().filter(|r| r.status.is_active())
    }

    fn notify(&mut self, text: impl Into<String>) {
        self.notice = Some((text.into(), false));
    }

    fn warn(&mut self, text: impl Into<String>) {
        self.notice = Some((text.into(), true));
    }

    /// Applies one message; returns what the runtime must do.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(key) => self.on_key(key),
            Msg::Run(event) => {
                self.on_event(&event);
                vec![]
            }
            Msg::Started {
                run_id,
                config,
                preset,
            } => {
                self.runs
                    .insert(RunView::new(&run_id, config, &preset, unix_now()));
                self.notify(format!("started run {run_id}"));
                self.current = Some(run_id);
                vec![]
            }
            Msg::StartFailed(reason) => {
                self.warn(format!("cannot start: {reason}"));
                vec![]
            }
            Msg::Data(state) => {
                if let DataState::Failed(reason) = &state {
                    self.warn(reason.clone());
                }
                self.data = state;
                vec![]
            }
            Msg::Terminate => self.stop_all_and_quit(),
        }
    }

    fn on_event(&mut self, event: &Event) {
        self.runs.apply(event);
        if self.current.as_deref() != Some(event.run_id.as_str()) {
            return;
        }
        if let Some(run) = self.runs.get(&event.run_id) {
            if let Status::Ended(status, reason) = &run.status {
                let text = format!(
                    "run {} {}{}",
                    run.run_id,
                    status.as_str(),
                    reason
                        .as_ref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                );
                match status {
                    gradboard::events::RunStatus::Diverged
                    | gradboard::events::RunStatus::Failed => self.warn(text),
                    _ => self.notify(text),
                }
            }
        }
    }

    fn stop_all_and_quit(&mut self) -> Vec<Effect> {
        if self.runs.active().next().is_none() {
            return vec![Effect::Quit];
        }
        let ids: Vec<String> = self.runs.active().map(|r| r.run_id.clone()).collect();
        for id in &ids {
            if let Some(run) = self.runs.get_mut(id) {
                run.status = Status::Stopping;
            }
        }
        self.mode = Mode::Stopping;
        vec![Effect::StopAllAndQuit]
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return self.stop_all_and_quit();
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.on_normal_key(key),
            Mode::Help => vec![],
            Mode::Stopping => {
                self.mode = Mode::Stopping;
                vec![]
            }
            Mode::ConfirmQuit => match key.code {
                KeyCode::Char('y') | KeyCode::Char('q') => self.stop_all_and_quit(),
                _ => vec![],
            },
            Mode::Editing { input, error } => self.on_edit_key(key, input, error),
            Mode::SaveName { input, error } => self.on_save_key(key, input, error),
            Mode::Presets { items, selected } => self.on_preset_key(key, items, selected),
        }
    }

    fn on_normal_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(action) = action_for(&key) else {
            if let KeyCode::Char(c) = key.code {
                self.warn(format!("no key '{c}': press ? for help"));
            }
            return vec![];
        };
        match action {
            Action::Restart => return self.restart(),
            Action::TogglePause => {
                let Some(run) = self.active_run() else {
                    self.warn("no run to pause: press r to start one");
                    return vec![];
                };
                let command = if run.status == Status::Paused {
                    Command::Resume
                } else {
                    Command::Pause
                };
                let run_id = run.run_id.clone();
                return vec![Effect::Send { run_id, command }];
            }
            Action::Stop => {
                if let Some(run_id) = self.active_run().map(|r| r.run_id.clone()) {
                    if let Some(run) = self.runs.get_mut(&run_id) {
                        run.status = Status::Stopping;
                    }
                    self.notify("stopping after the current step");
                    return vec![Effect::Send {
                        run_id,
                        command: Command::Stop,
                    }];
                }
                self.warn("no run to stop");
            }
            Action::Quit => {
                if self.runs.active().next().is_some() {
                    self.mode = Mode::ConfirmQuit;
                } else {
                    return vec![Effect::Quit];
                }
            }
            Action::Help => self.mode = Mode::Help,
            Action::Up => self.selected = (self.selected + KEYS.len() - 1) % KEYS.len(),
            Action::Down => self.selected = (self.selected + 1) % KEYS.len(),
            Action::Edit => return self.edit_selected(),
            Action::LrUp | Action::LrDown => {
                let factor = if action == Action::LrUp { 2.0 } else { 0.5 };
                let value = gradboard::config::format_float(self.config.lr * factor);
                return self.set_value(key_spec("lr"), &value);
            }
            Action::Presets => self.open_presets(),
            Action::SavePreset => {
                self.mode = Mode::SaveName {
                    input: Input::default(),
                    error: None,
                }
            }
            Action::ToggleSmoothing => self.chart.smoothing = !self.chart.smoothing,
            Action::SmoothLess | Action::SmoothMore => {
                let i = SMOOTHING_LEVELS
                    .iter()
                    .position(|&a| a >= self.chart.alpha)
                    .unwrap_or(0);
                let i = if action == Action::SmoothMore {
                    (i + 1).min(SMOOTHING_LEVELS.len() - 1)
                } else {
                    i.saturating_sub(1)
                };
                self.chart.alpha = SMOOTHING_LEVELS[i];
                self.chart.smoothing = true;
            }
            Action::ToggleLogScale => self.chart.log_loss = !self.chart.log_loss,
            Action::ToggleXAxis => self.chart.epochs = !self.chart.epochs,
            Action::ToggleWindow => self.chart.recent = !self.chart.recent,
        }
        vec![]
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

    /// Starts a run with the edited settings, stopping the live screen's run first.
    fn restart(&mut self) -> Vec<Effect> {
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
        effects.push(Effect::Start {
            preset: self.preset.clone(),
            config: self.config.clone(),
            base: self.preset_config.clone(),
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
    fn set_value(&mut self, spec: &'static KeySpec, text: &str) -> Vec<Effect> {
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
                vec![Effect::Send {
                    run_id,
                    command: Command::Set {
                        key: name.to_string(),
                        value,
                    },
                }]
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

    fn on_edit_key(
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

    fn on_save_key(
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

    fn on_preset_key(
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

fn key_spec(name: &str) -> &'static KeySpec {
    key(name).expect("a key of the table")
}
