//! The dashboard's state and its update function: messages in, state changes and effects out.
//! No terminal here, so tests drive it with key events directly. The live screen's actions are
//! in `live.rs`, the runs and compare screens' in `browse.rs`.

use super::analysis::{AnalysisState, AnalysisView};
use super::keymap::{action_for, Action, Screen};
use super::library::Library;
use super::lr_finder::LrFinderView;
use super::state::{RunView, Runs, Status};
use super::sweeps::{SweepForm, SweepScreen};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gradboard::config::sweep::SweepSpec;
use gradboard::config::{KeySpec, PresetDirs, RunConfig, KEYS};
use gradboard::events::{unix_now, Event, EventKind};
use gradboard::runner::sweep::{SweepCommand, SweepState};
use gradboard::runner::From;
use gradboard::runs::RunRecord;
use gradboard::train::lr_find::LrFinding;
use gradboard::train::Command;
use std::path::PathBuf;
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

/// The charts' x axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Training steps.
    Steps,
    /// Epochs.
    Epochs,
    /// Seconds since the run started.
    WallTime,
}

/// How the charts are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartOptions {
    /// Smooth the train curves (debiased EMA, the raw curve faint beneath).
    pub smoothing: bool,
    /// EMA weight of the past, 0 to 0.99.
    pub alpha: f64,
    /// Loss on a log10 scale.
    pub log_loss: bool,
    /// The x axis.
    pub x_axis: XAxis,
    /// Only the last `RECENT_STEPS` steps.
    pub recent: bool,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions {
            smoothing: true,
            alpha: 0.6,
            log_loss: false,
            x_axis: XAxis::Steps,
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

/// The run the next `r` forks from.
#[derive(Debug, Clone, PartialEq)]
pub struct ForkTarget {
    /// The parent's id.
    pub run_id: String,
    /// The parent's folder.
    pub dir: PathBuf,
}

/// What the keyboard is talking to.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The screen's own keys.
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
    /// Typing the runs screen's filter.
    Filtering { input: Input },
    /// The help screen.
    Help,
    /// Asking before quitting with a run active.
    ConfirmQuit,
    /// Quitting: every run was told to stop; waiting for their `done`.
    Stopping,
    /// Filling in a new sweep.
    SweepForm(SweepForm),
    /// The learning-rate finder's popup.
    LrFinder,
}

/// Messages the dashboard reacts to.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key press.
    Key(KeyEvent),
    /// An event of a run (started here, or read from its folder).
    Run(Event),
    /// The runtime started a run from this dashboard.
    Started {
        run_id: String,
        config: RunConfig,
        preset: String,
    },
    /// A run could not be started.
    StartFailed(String),
    /// A scan of the runs folder.
    Library(Vec<RunRecord>),
    /// An export finished: its files, or why it failed.
    Exported(Result<Vec<PathBuf>, String>),
    /// The data set's state changed.
    Data(DataState),
    /// SIGTERM or SIGHUP: stop every run and quit.
    Terminate,
    /// The running sweep's state.
    Sweep(SweepState),
    /// A sweep could not be started.
    SweepFailed(String),
    /// An analysis finished (boxed: it holds the data set's handle), or why it failed.
    Analyzed(Result<Box<AnalysisView>, String>),
    /// What the learning-rate finder's model is a copy of.
    LrSource(String),
    /// The learning-rate finder's step: lr and smoothed loss.
    LrStep(f64, f64),
    /// The learning-rate finder ended.
    LrFound(Result<LrFinding, String>),
}

/// What the runtime must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start a run: fresh, forked or resumed (`from`), with these settings from this preset
    /// (whose own settings are `base`).
    Start {
        preset: String,
        config: Box<RunConfig>,
        base: Option<Box<RunConfig>>,
        from: From,
    },
    /// Send a command to a run.
    Send { run_id: String, command: Command },
    /// Read a run folder's events and follow what it appends.
    Load(PathBuf),
    /// Export these run folders.
    Export(Vec<PathBuf>),
    /// Start a sweep.
    StartSweep(Box<SweepSpec>),
    /// Tell the sweep something.
    Sweep(SweepCommand),
    /// Analyse a run's saved model.
    Analyze { run_id: String, dir: PathBuf },
    /// Run the learning-rate finder on these settings, from a copy of the run in `from`
    /// (its newest weights) or on a fresh model.
    LrFind {
        config: Box<RunConfig>,
        from: Option<(String, PathBuf)>,
    },
    /// Stop the learning-rate finder.
    StopLrFind,
    /// Tell every run to stop and quit once all have written their `done`.
    StopAllAndQuit,
    /// Quit now (no run is active).
    Quit,
}

/// The whole dashboard state.
pub struct App {
    /// The screen shown.
    pub screen: Screen,
    /// The settings being edited (the next run's).
    pub config: RunConfig,
    /// The preset they came from.
    pub preset: String,
    /// The preset's own settings.
    pub preset_config: Option<RunConfig>,
    /// Selected row of the settings panel.
    pub selected: usize,
    /// Every run loaded in full, by id.
    pub runs: Runs,
    /// Every run of the runs folder, as the last scan listed it.
    pub library: Library,
    /// Run folders asked for and not arrived yet.
    pub loading: Vec<String>,
    /// The run the live screen shows.
    pub current: Option<String>,
    /// The run the next `r` forks from.
    pub fork: Option<ForkTarget>,
    /// Whether the compare screen shows the settings side by side.
    pub diff: bool,
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
    /// The sweep screen.
    pub sweep: SweepScreen,
    /// The analysis screen.
    pub analysis: AnalysisState,
    /// Images a page of the analysis screen holds, as last drawn.
    pub gallery_size: std::cell::Cell<usize>,
    /// The learning-rate finder, while its popup is open.
    pub lr_finder: Option<LrFinderView>,
}

impl App {
    /// A dashboard with `config` loaded from preset `preset`.
    pub fn new(config: RunConfig, preset: String, presets: PresetDirs, data: DataState) -> Self {
        let preset_config = presets.find(&preset).ok().map(|p| p.config);
        App {
            screen: Screen::Live,
            config,
            preset,
            preset_config,
            selected: 0,
            runs: Runs::default(),
            library: Library::default(),
            loading: Vec::new(),
            current: None,
            fork: None,
            diff: false,
            data,
            chart: ChartOptions::default(),
            mode: Mode::Normal,
            notice: None,
            presets,
            sweep: SweepScreen::default(),
            analysis: AnalysisState::None,
            gallery_size: std::cell::Cell::new(1),
            lr_finder: None,
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

    /// The live screen's run, while it can still take commands (started here, not ended).
    pub(super) fn active_run(&self) -> Option<&RunView> {
        self.run().filter(|r| r.local && r.status.is_active())
    }

    pub(super) fn notify(&mut self, text: impl Into<String>) {
        self.notice = Some((text.into(), false));
    }

    pub(super) fn warn(&mut self, text: impl Into<String>) {
        self.notice = Some((text.into(), true));
    }

    /// Applies one message; returns what the runtime must do.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(key) => self.on_key(key),
            Msg::Run(event) => self.on_event(&event),
            Msg::Started {
                run_id,
                config,
                preset,
            } => {
                self.runs
                    .insert(RunView::new(&run_id, config, &preset, unix_now()));
                self.notify(format!("started run {run_id}"));
                self.current = Some(run_id);
                self.screen = Screen::Live;
                vec![]
            }
            Msg::StartFailed(reason) => {
                self.warn(format!("cannot start: {reason}"));
                vec![]
            }
            Msg::Library(records) => {
                self.library.replace(records);
                vec![]
            }
            Msg::Exported(Ok(files)) => {
                let dir = files
                    .first()
                    .and_then(|f| f.parent())
                    .map(|d| d.display().to_string())
                    .unwrap_or_default();
                self.notify(format!("exported {} files to {dir}", files.len()));
                vec![]
            }
            Msg::Exported(Err(e)) => {
                self.warn(format!("export failed: {e}"));
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
            Msg::Sweep(state) => {
                if state.finished && self.sweep.state.as_ref().is_some_and(|s| !s.finished) {
                    self.notify(format!("sweep {} finished", state.id));
                }
                self.sweep.state = Some(state);
                vec![]
            }
            Msg::SweepFailed(reason) => {
                self.warn(format!("sweep not started: {reason}"));
                vec![]
            }
            Msg::Analyzed(Ok(view)) => {
                self.notify(format!(
                    "run {}: test accuracy {:.4} on {} images",
                    view.run_id,
                    view.analysis.accuracy(),
                    view.analysis.count()
                ));
                self.analysis = AnalysisState::Ready(view);
                vec![]
            }
            Msg::Analyzed(Err(reason)) => {
                self.warn(format!("analysis failed: {reason}"));
                self.analysis = AnalysisState::Failed(reason);
                vec![]
            }
            Msg::LrSource(source) => {
                if let Some(v) = self.lr_finder.as_mut() {
                    v.source = source;
                }
                vec![]
            }
            Msg::LrStep(lr, loss) => {
                if let Some(v) = self.lr_finder.as_mut() {
                    v.curve.push((lr, loss));
                }
                vec![]
            }
            Msg::LrFound(result) => {
                if let Some(v) = self.lr_finder.as_mut() {
                    v.result = Some(result);
                }
                vec![]
            }
        }
    }

    fn on_event(&mut self, event: &Event) -> Vec<Effect> {
        self.runs.apply(event);
        self.loading.retain(|id| *id != event.run_id);
        let mut effects = Vec::new();
        // A fork's parent is loaded too: compare draws its curve leading into the child's.
        if let EventKind::Start(info) = &event.kind {
            if let Some(parent) = &info.parent {
                effects.extend(self.ensure_loaded(&parent.run_id));
            }
        }
        if self.current.as_deref() == Some(event.run_id.as_str()) {
            if let (EventKind::Done { .. }, Some(run)) = (&event.kind, self.runs.get(&event.run_id))
            {
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
        effects
    }

    /// Asks for a run's events when they are not loaded or on their way.
    pub(super) fn ensure_loaded(&mut self, run_id: &str) -> Vec<Effect> {
        if self.runs.get(run_id).is_some() || self.loading.iter().any(|l| l == run_id) {
            return vec![];
        }
        match self.library.get(run_id) {
            Some(r) => {
                self.loading.push(run_id.to_string());
                vec![Effect::Load(r.dir.clone())]
            }
            None => vec![],
        }
    }

    /// Whether quitting would stop something: a run started here or a sweep.
    pub(super) fn has_active_work(&self) -> bool {
        self.runs.active_here().next().is_some()
            || self.sweep.state.as_ref().is_some_and(|s| !s.finished)
    }

    pub(super) fn stop_all_and_quit(&mut self) -> Vec<Effect> {
        if !self.has_active_work() {
            return vec![Effect::Quit];
        }
        let ids: Vec<String> = self.runs.active_here().map(|r| r.run_id.clone()).collect();
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
            Mode::Filtering { input } => self.on_filter_key(key, input),
            Mode::SweepForm(form) => self.on_sweep_form_key(key, form),
            Mode::LrFinder => self.on_lr_finder_key(key),
        }
    }

    fn on_normal_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(action) = action_for(self.screen, &key) else {
            if let KeyCode::Char(c) = key.code {
                self.warn(format!(
                    "no key '{c}' on the {} screen: press ? for help",
                    self.screen.name()
                ));
            }
            return vec![];
        };
        match action {
            Action::NextScreen => {
                self.screen = self.screen.next();
                if self.screen == Screen::Compare {
                    return self.load_compared();
                }
                vec![]
            }
            Action::Quit => {
                if self.has_active_work() {
                    self.mode = Mode::ConfirmQuit;
                    vec![]
                } else {
                    vec![Effect::Quit]
                }
            }
            Action::Help => {
                self.mode = Mode::Help;
                vec![]
            }
            Action::ToggleSmoothing
            | Action::SmoothLess
            | Action::SmoothMore
            | Action::ToggleLogScale
            | Action::CycleXAxis
            | Action::ToggleWindow => {
                self.on_chart_action(action);
                vec![]
            }
            Action::Analyze if self.screen != Screen::Sweep => match self.analysis_target() {
                Some(id) => self.analyze(id),
                None => {
                    self.warn("no run to analyse: pick one on the runs screen");
                    vec![]
                }
            },
            Action::NewSweep if self.screen == Screen::Runs => {
                self.on_sweep_action(Action::NewSweep)
            }
            Action::LrFind => self.start_lr_finder(),
            _ => match self.screen {
                Screen::Live => self.on_live_action(action),
                Screen::Runs | Screen::Compare => self.on_browse_action(action, &key),
                Screen::Sweep => self.on_sweep_action(action),
                Screen::Analysis => {
                    let page = self.gallery_size.get();
                    self.on_analysis_action(action, page)
                }
            },
        }
    }

    fn on_chart_action(&mut self, action: Action) {
        match action {
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
            Action::CycleXAxis => {
                self.chart.x_axis = match self.chart.x_axis {
                    XAxis::Steps => XAxis::Epochs,
                    XAxis::Epochs => XAxis::WallTime,
                    XAxis::WallTime => XAxis::Steps,
                }
            }
            Action::ToggleWindow => self.chart.recent = !self.chart.recent,
            _ => {}
        }
    }

    /// The run `a` analyses: the runs screen's cursor, else the live screen's run.
    fn analysis_target(&self) -> Option<String> {
        match self.screen {
            Screen::Runs => self.library.current().map(|r| r.run_id.clone()),
            _ => self.current.clone(),
        }
    }

    /// A command to the live screen's run.
    pub(super) fn send(&mut self, run_id: String, command: Command) -> Vec<Effect> {
        vec![Effect::Send { run_id, command }]
    }
}
