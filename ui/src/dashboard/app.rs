//! The dashboard's state and its update function: messages in, state changes and effects out.
//! No terminal here, so tests drive it with key events directly.

use super::keymap::{action_for, Action};
use super::series::Series;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gradboard::config::{Choice, KeyKind, PresetDirs, RunConfig, KEYS};
use gradboard::events::{Event, RunStatus};
use gradboard::session::Command;
use std::time::{Duration, Instant};

/// Points kept per chart series.
pub const SERIES_CAPACITY: usize = 1024;
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

/// A run's state as the dashboard shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Starting, before its first event.
    Starting,
    /// Training.
    Running,
    /// Paused by the user.
    Paused,
    /// Ended by a stop.
    Stopped,
    /// All steps done.
    Completed,
    /// The loss became NaN or infinite.
    Diverged(String),
    /// An error ended it.
    Failed(String),
}

impl Status {
    /// Whether the run can still send events.
    pub fn is_active(&self) -> bool {
        matches!(self, Status::Starting | Status::Running | Status::Paused)
    }

    /// A short label with the reason, if any.
    pub fn label(&self) -> String {
        match self {
            Status::Starting => "starting".into(),
            Status::Running => "running".into(),
            Status::Paused => "paused".into(),
            Status::Stopped => "stopped".into(),
            Status::Completed => "completed".into(),
            Status::Diverged(r) => format!("diverged: {r}"),
            Status::Failed(r) => format!("failed: {r}"),
        }
    }
}

/// What the screen knows of the current run.
#[derive(Debug, Clone)]
pub struct RunView {
    /// Its id; events of any other run are ignored.
    pub run_id: String,
    /// Its configuration.
    pub config: RunConfig,
    /// Its state.
    pub status: Status,
    /// Last step done.
    pub step: usize,
    /// Epochs done.
    pub epoch: f64,
    /// Training images per epoch.
    pub train_size: usize,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Throughput.
    pub samples_per_sec: f64,
    /// Train loss by step.
    pub loss: Series,
    /// Train batch accuracy by step.
    pub acc: Series,
    /// Test loss at each evaluation.
    pub test_loss: Vec<(f64, f64)>,
    /// Test accuracy at each evaluation.
    pub test_acc: Vec<(f64, f64)>,
    /// When it started.
    pub started: Instant,
    /// Time spent paused.
    pub paused_for: Duration,
    /// Since when it is paused.
    pub paused_since: Option<Instant>,
    /// Seconds reported by the `done` event.
    pub final_seconds: Option<f64>,
}

impl RunView {
    fn new(run_id: String, config: RunConfig) -> Self {
        RunView {
            run_id,
            lr: config.lr,
            config,
            status: Status::Starting,
            step: 0,
            epoch: 0.0,
            train_size: 0,
            samples_per_sec: 0.0,
            loss: Series::new(SERIES_CAPACITY),
            acc: Series::new(SERIES_CAPACITY),
            test_loss: Vec::new(),
            test_acc: Vec::new(),
            started: Instant::now(),
            paused_for: Duration::ZERO,
            paused_since: None,
            final_seconds: None,
        }
    }

    /// Training time so far, pauses excluded.
    pub fn elapsed(&self) -> Duration {
        if let Some(s) = self.final_seconds {
            return Duration::from_secs_f64(s);
        }
        let paused = self.paused_for + self.paused_since.map(|p| p.elapsed()).unwrap_or_default();
        self.started.elapsed().saturating_sub(paused)
    }

    /// Estimated time to the last step.
    pub fn eta(&self) -> Option<Duration> {
        if self.step == 0 || !self.status.is_active() {
            return None;
        }
        let per_step = self.elapsed().as_secs_f64() / self.step as f64;
        Some(Duration::from_secs_f64(
            per_step * (self.config.steps - self.step) as f64,
        ))
    }

    /// Best test accuracy so far.
    pub fn best_test_acc(&self) -> Option<f64> {
        self.test_acc
            .iter()
            .map(|p| p.1)
            .fold(None, |b, a| Some(b.map_or(a, |b: f64| b.max(a))))
    }

    fn set_paused(&mut self, paused: bool) {
        match (paused, self.paused_since) {
            (true, None) => self.paused_since = Some(Instant::now()),
            (false, Some(since)) => {
                self.paused_for += since.elapsed();
                self.paused_since = None;
            }
            _ => {}
        }
    }
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
    Editing {
        input: String,
        error: Option<String>,
    },
    /// Choosing a preset.
    Presets {
        items: Vec<PresetItem>,
        selected: usize,
    },
    /// Typing the name of a preset to save.
    SaveName {
        input: String,
        error: Option<String>,
    },
    /// The help screen.
    Help,
    /// Asking before quitting with a run active.
    ConfirmQuit,
}

/// What the runtime must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Stop the current run (if any) and start this one.
    StartRun { run_id: String, config: RunConfig },
    /// Send a command to the current run.
    Command(Command),
    /// Leave the dashboard.
    Quit,
}

/// A message for the update function.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key was pressed.
    Key(KeyEvent),
    /// An event from a run (maybe an old one).
    Run(Event),
    /// A run ended with an error.
    RunFailed { run_id: String, message: String },
    /// Data set progress.
    Data(DataState),
}

/// The whole state of the dashboard.
pub struct App {
    /// Settings being edited (the next restart uses them).
    pub config: RunConfig,
    /// Name of the preset they came from.
    pub preset: String,
    /// Selected row of the configuration panel.
    pub selected: usize,
    /// The current run, if one was started.
    pub run: Option<RunView>,
    /// Data set state.
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
        App {
            config,
            preset,
            selected: 0,
            run: None,
            data,
            chart: ChartOptions::default(),
            mode: Mode::Normal,
            notice: None,
            presets,
        }
    }

    /// The key of the selected configuration row.
    pub fn selected_key(&self) -> (&'static str, KeyKind) {
        let (key, kind, _) = KEYS[self.selected];
        (key, kind)
    }

    /// Whether a run is active.
    pub fn run_active(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.status.is_active())
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
                self.on_event(event);
                vec![]
            }
            Msg::RunFailed { run_id, message } => {
                if let Some(run) = self.run.as_mut().filter(|r| r.run_id == run_id) {
                    run.status = Status::Failed(message.clone());
                    self.warn(format!("run failed: {message}"));
                }
                vec![]
            }
            Msg::Data(state) => {
                if let DataState::Failed(reason) = &state {
                    self.warn(reason.clone());
                }
                self.data = state;
                vec![]
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        let Some(run) = self.run.as_mut() else { return };
        if event.run_id() != run.run_id {
            return;
        }
        match event {
            Event::Start { train_size, .. } => {
                run.train_size = train_size;
                if run.status == Status::Starting {
                    run.status = Status::Running;
                }
            }
            Event::Train {
                step,
                epoch,
                loss,
                acc,
                lr,
                samples_per_sec,
                ..
            } => {
                run.step = step;
                run.epoch = epoch;
                run.lr = lr;
                run.samples_per_sec = samples_per_sec;
                run.loss.push(step as f64, loss);
                run.acc.push(step as f64, acc);
                if run.status == Status::Starting {
                    run.status = Status::Running;
                }
            }
            Event::Eval {
                step,
                test_loss,
                test_acc,
                ..
            } => {
                run.test_loss.push((step as f64, test_loss));
                run.test_acc.push((step as f64, test_acc));
            }
            Event::Paused { paused, .. } => {
                run.set_paused(paused);
                run.status = if paused {
                    Status::Paused
                } else {
                    Status::Running
                };
            }
            Event::Done {
                status,
                seconds,
                reason,
                step,
                ..
            } => {
                run.step = step;
                run.set_paused(false);
                run.final_seconds = Some(seconds);
                run.status = match status {
                    RunStatus::Completed => Status::Completed,
                    RunStatus::Stopped => Status::Stopped,
                    RunStatus::Diverged => Status::Diverged(reason.unwrap_or_default()),
                    RunStatus::Failed => Status::Failed(reason.unwrap_or_default()),
                };
            }
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return vec![Effect::Quit];
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.on_normal_key(key),
            Mode::Help => vec![],
            Mode::ConfirmQuit => match key.code {
                KeyCode::Char('y') | KeyCode::Char('q') => vec![Effect::Quit],
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
                let Some(run) = self.run.as_mut().filter(|r| r.status.is_active()) else {
                    self.warn("no run to pause: press r to start one");
                    return vec![];
                };
                return if run.status == Status::Paused {
                    run.status = Status::Running;
                    vec![Effect::Command(Command::Resume)]
                } else {
                    run.status = Status::Paused;
                    vec![Effect::Command(Command::Pause)]
                };
            }
            Action::Stop => {
                if self.run_active() {
                    self.notify("stopping after the current step");
                    return vec![Effect::Command(Command::Stop)];
                }
                self.warn("no run to stop");
            }
            Action::Quit => {
                if self.run_active() {
                    self.mode = Mode::ConfirmQuit;
                } else {
                    return vec![Effect::Quit];
                }
            }
            Action::Help => self.mode = Mode::Help,
            Action::Up => self.selected = (self.selected + KEYS.len() - 1) % KEYS.len(),
            Action::Down => self.selected = (self.selected + 1) % KEYS.len(),
            Action::Edit => self.edit_selected(),
            Action::LrUp | Action::LrDown => {
                let factor = if action == Action::LrUp { 2.0 } else { 0.5 };
                let value = gradboard::config::format_float(self.config.lr * factor);
                match self.config.set("lr", &value) {
                    Ok(()) => self.notify(format!("lr = {value} (r restarts with it)")),
                    Err(e) => self.warn(e.to_string()),
                }
            }
            Action::Presets => {
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
                } else {
                    if broken > 0 {
                        self.warn(format!("{broken} preset file(s) could not be read"));
                    }
                    let selected = items
                        .iter()
                        .position(|p| p.name == self.preset)
                        .unwrap_or(0);
                    self.mode = Mode::Presets { items, selected };
                }
            }
            Action::SavePreset => {
                self.mode = Mode::SaveName {
                    input: String::new(),
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

    fn restart(&mut self) -> Vec<Effect> {
        if !matches!(self.data, DataState::Ready { .. }) {
            self.warn("the data set is not ready yet");
            return vec![];
        }
        if let Err(e) = self.config.validate() {
            self.warn(format!("cannot start: {e}"));
            return vec![];
        }
        let run_id = gradboard::runs::new_run_id(&self.preset);
        self.run = Some(RunView::new(run_id.clone(), self.config.clone()));
        self.notify(format!("started run {run_id}"));
        vec![Effect::StartRun {
            run_id,
            config: self.config.clone(),
        }]
    }

    fn edit_selected(&mut self) {
        let (key, kind) = self.selected_key();
        if let KeyKind::Choice(_) = kind {
            let next = match key {
                "engine" => self.config.engine.next().name(),
                "model" => self.config.model.next().name(),
                "norm" => self.config.norm.next().name(),
                _ => self.config.optimizer.next().name(),
            };
            match self.config.set(key, next) {
                Ok(()) => match self.config.validate() {
                    Ok(()) => self.notify(format!("{key} = {next}")),
                    Err(e) => self.warn(format!("{key} = {next}; before restarting: {e}")),
                },
                Err(e) => self.warn(e.to_string()),
            }
        } else {
            let input = self.config.get(key).unwrap_or_default();
            self.mode = Mode::Editing { input, error: None };
        }
    }

    fn on_edit_key(
        &mut self,
        key: KeyEvent,
        mut input: String,
        error: Option<String>,
    ) -> Vec<Effect> {
        match type_into(&mut input, &key) {
            Typed::Cancel => self.notify("edit cancelled"),
            Typed::Submit => {
                let (name, _) = self.selected_key();
                let mut candidate = self.config.clone();
                match candidate.set(name, &input) {
                    Ok(()) => {
                        self.config = candidate;
                        match self.config.validate() {
                            Ok(()) => self.notify(format!(
                                "{name} = {} (r restarts with it)",
                                self.config.get(name).unwrap_or_default()
                            )),
                            Err(e) => self.warn(format!("before restarting: {e}")),
                        }
                    }
                    Err(e) => {
                        self.mode = Mode::Editing {
                            input,
                            error: Some(e.to_string()),
                        }
                    }
                }
            }
            Typed::Edited => self.mode = Mode::Editing { input, error: None },
            Typed::Ignored => self.mode = Mode::Editing { input, error },
        }
        vec![]
    }

    fn on_save_key(
        &mut self,
        key: KeyEvent,
        mut input: String,
        error: Option<String>,
    ) -> Vec<Effect> {
        match type_into(&mut input, &key) {
            Typed::Cancel => {}
            Typed::Submit => {
                let description = format!("saved from the dashboard (based on {})", self.preset);
                match self.presets.save(&input, &description, &self.config) {
                    Ok(path) => {
                        self.preset = input;
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
            Typed::Edited => self.mode = Mode::SaveName { input, error: None },
            Typed::Ignored => self.mode = Mode::SaveName { input, error },
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

/// What a key did to a line being typed.
enum Typed {
    /// Enter.
    Submit,
    /// Esc.
    Cancel,
    /// A character was added or removed.
    Edited,
    /// Nothing.
    Ignored,
}

fn type_into(input: &mut String, key: &KeyEvent) -> Typed {
    match key.code {
        KeyCode::Enter => Typed::Submit,
        KeyCode::Esc => Typed::Cancel,
        KeyCode::Backspace => {
            input.pop();
            Typed::Edited
        }
        KeyCode::Char(c) => {
            input.push(c);
            Typed::Edited
        }
        _ => Typed::Ignored,
    }
}
