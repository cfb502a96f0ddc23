//! The dashboard's state and its update function: messages in, state changes and effects out.
//! The app routes: keys go to the open popup or the screen on show through the keymap table,
//! messages to the screen they concern, and screens' requests (show a run, go to a screen,
//! analyse a run) to the screen that owns them. It touches no file and reads no clock: the
//! runtime does, and says what it found in messages.

use super::keymap::{action_for, Action, Context};
use super::msg::{DataState, Effect, Job, Mode, Msg, Screen};
use super::screens::analysis::{AnalysisScreen, AnalysisView};
use super::screens::compare::CompareScreen;
use super::screens::live::LiveScreen;
use super::screens::lr_finder::{LrFinderView, FRESH};
use super::screens::runs::RunsScreen;
use super::screens::sweep::SweepScreen;
use super::screens::{Ctx, Request};
use super::shared::Shared;
use super::store::Status;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gradboard::config::{format_float, PresetDirs, RunConfig};
use gradboard::events::{EventKind, RunStatus};

/// Runs `$body` with one screen of `$app` bound to `$s` and the context it may touch bound to
/// `$cx`, then carries out the screen's requests.
macro_rules! delegate {
    ($app:expr, $screen:ident, |$s:ident, $cx:ident| $body:expr) => {{
        let mut requests = Vec::new();
        let effects = {
            let App {
                $screen: $s,
                shared,
                mode,
                ..
            } = &mut *$app;
            let $cx = &mut Ctx {
                shared,
                mode,
                requests: &mut requests,
            };
            $body
        };
        $app.finish(effects, requests)
    }};
}

/// The whole dashboard state.
pub struct App {
    /// The screen shown.
    pub screen: Screen,
    /// Where keys go.
    pub mode: Mode,
    /// What the screens share.
    pub shared: Shared,
    /// The live screen.
    pub live: LiveScreen,
    /// The runs screen.
    pub runs: RunsScreen,
    /// The compare screen.
    pub compare: CompareScreen,
    /// The sweep screen.
    pub sweep: SweepScreen,
    /// The analysis screen.
    pub analysis: AnalysisScreen,
    /// The layers screen.
    pub layers: crate::dashboard::screens::layers::LayersScreen,
    /// The logs screen (`--logdir`).
    pub logs: crate::dashboard::screens::logs::LogsScreen,
    /// The learning-rate finder, while its popup is open.
    pub lr_finder: Option<LrFinderView>,
}

impl App {
    /// A dashboard with `config` loaded from preset `preset` (whose own settings are
    /// `preset_config`).
    pub fn new(
        config: RunConfig,
        preset: String,
        preset_config: Option<RunConfig>,
        presets: PresetDirs,
        data: DataState,
    ) -> Self {
        App {
            screen: Screen::Live,
            mode: Mode::Normal,
            shared: Shared::new(presets, data),
            live: LiveScreen::new(config, preset, preset_config),
            runs: RunsScreen::default(),
            compare: CompareScreen::default(),
            sweep: SweepScreen::default(),
            analysis: AnalysisScreen::default(),
            layers: Default::default(),
            logs: Default::default(),
            lr_finder: None,
        }
    }

    /// The run on the live screen.
    pub fn run(&self) -> Option<&super::store::RunView> {
        self.live.run(&self.shared)
    }

    /// Where keys go now.
    pub fn context(&self) -> Option<Context> {
        Context::of(self.mode, self.screen)
    }

    /// Carries out the requests a screen made along with its effects.
    fn finish(&mut self, mut effects: Vec<Effect>, requests: Vec<Request>) -> Vec<Effect> {
        for request in requests {
            effects.extend(self.request(request));
        }
        effects
    }

    /// Carries out what a screen asked for.
    fn request(&mut self, request: Request) -> Vec<Effect> {
        match request {
            Request::Show(screen) => {
                self.screen = screen;
                if screen == Screen::Compare {
                    return self.load_marked();
                }
                vec![]
            }
            Request::Open(id) => {
                self.live.current = Some(id.clone());
                self.screen = Screen::Live;
                self.shared.notify(format!("run {id}"));
                self.shared.ensure_loaded(&id)
            }
            Request::Analyze(id) => self.analyze(id),
            Request::LoadMarked => self.load_marked(),
        }
    }

    fn load_marked(&mut self) -> Vec<Effect> {
        let ids = self.shared.marked.clone();
        ids.iter()
            .flat_map(|id| self.shared.ensure_loaded(id))
            .collect()
    }

    /// Applies one message; returns what the runtime must do.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(key) => self.on_key(key),
            Msg::Resize(w, h) => {
                self.shared.size = (w, h);
                vec![]
            }
            Msg::Tick(now) => {
                self.shared.now = now;
                // A sweep from its folder is followed while its screen shows it.
                match self.screen == Screen::Sweep {
                    true => self.sweep.follow(now),
                    false => vec![],
                }
            }
            Msg::Run(event) => {
                let id = event.run_id.clone();
                self.on_events(&id, std::slice::from_ref(&event))
            }
            Msg::Loaded { run_id, events } => {
                self.shared.loading.retain(|id| *id != run_id);
                self.shared.runs.ensure(&run_id);
                let effects = self.on_events(&run_id, &events);
                if let Some(status) = self.shared.listing.get(&run_id).map(|r| r.status) {
                    self.shared.runs.set_alive(&run_id, status);
                }
                effects
            }
            Msg::Started {
                run_id,
                config,
                preset,
            } => {
                self.shared.runs.insert_local(&run_id, config);
                self.shared
                    .notify(format!("started run {run_id} ({preset})"));
                self.live.current = Some(run_id);
                self.screen = Screen::Live;
                vec![]
            }
            Msg::StartFailed(reason) => {
                self.shared.warn(format!("cannot start: {reason}"));
                vec![]
            }
            Msg::Library(records) => {
                for r in &records {
                    self.shared.runs.set_alive(&r.run_id, r.status);
                }
                self.shared.listing.records = records;
                self.shared.listing.scanned = true;
                self.shared.listing.error = None;
                self.runs.refresh(&self.shared.listing);
                vec![]
            }
            Msg::LibraryFailed(reason) => {
                self.shared.listing.scanned = true;
                self.shared.listing.error = Some(reason.clone());
                self.shared.listing.records.clear();
                self.runs.refresh(&self.shared.listing);
                self.shared.warn(reason);
                vec![]
            }
            Msg::Exported(Ok(files)) => {
                let dir = files
                    .first()
                    .and_then(|f| f.parent())
                    .map(|d| d.display().to_string())
                    .unwrap_or_default();
                self.shared
                    .notify(format!("exported {} files to {dir}", files.len()));
                vec![]
            }
            Msg::Exported(Err(e)) => {
                self.shared.warn(format!("export failed: {e}"));
                vec![]
            }
            Msg::Data(state) => {
                if let DataState::Failed(reason) = &state {
                    self.shared.warn(reason.clone());
                }
                self.shared.data = state;
                vec![]
            }
            Msg::Terminate => self.stop_all_and_quit(),
            Msg::Sweep(state) => {
                if state.finished && self.sweep.running() {
                    self.shared.notify(format!("sweep {} finished", state.id));
                }
                self.sweep.state = Some(state);
                self.sweep.local = true;
                vec![]
            }
            Msg::SweepRead(read) => {
                self.sweep.on_read(*read);
                vec![]
            }
            Msg::SweepChecked(result) => {
                delegate!(self, sweep, |screen, cx| screen.on_checked(result, cx))
            }
            Msg::SweepCancelled(Ok(done)) => {
                self.shared.notify(done);
                vec![Effect::ReadSweep(
                    self.sweep.folder.as_ref().map(|f| f.0.clone()),
                )]
            }
            Msg::Labelled(Ok(done)) => {
                self.shared.notify(done);
                vec![]
            }
            Msg::Labelled(Err(e)) => {
                self.shared.warn(e);
                vec![]
            }
            Msg::SweepCancelled(Err(e)) => {
                self.shared.warn(format!("sweep not cancelled: {e}"));
                vec![]
            }
            Msg::Logs(read) => {
                self.logs.read(read);
                vec![]
            }
            Msg::Reran(Ok(done)) => {
                self.shared.notify(done);
                vec![]
            }
            Msg::Reran(Err(e)) => {
                self.shared.warn(format!("not run again: {e}"));
                vec![]
            }
            Msg::SweepFailed(reason) => {
                self.shared.warn(format!("sweep not started: {reason}"));
                vec![]
            }
            Msg::Analyzed(Ok(analysed)) => {
                self.shared.notify(format!(
                    "run {}: test accuracy {:.4} on {} images (weights of step {})",
                    analysed.run_id,
                    analysed.analysis.accuracy(),
                    analysed.analysis.count(),
                    analysed.step
                ));
                self.analysis = AnalysisScreen::Ready(Box::new(AnalysisView::new(*analysed)));
                vec![]
            }
            Msg::Analyzed(Err(reason)) => {
                self.shared.warn(format!("analysis failed: {reason}"));
                self.analysis = AnalysisScreen::Failed(reason);
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
            Msg::Presets(result) => delegate!(self, live, |screen, cx| {
                screen.on_presets(result, cx);
                vec![]
            }),
            Msg::Nets(result) => delegate!(self, live, |screen, cx| {
                screen.on_nets(result, cx);
                vec![]
            }),
            Msg::DataSources(sources) => {
                if let Some(picker) = self.live.data.as_mut() {
                    picker.on_sources(sources);
                }
                vec![]
            }
            Msg::DataOpened(result) => {
                if let Some(picker) = self.live.data.as_mut() {
                    picker.on_opened(result);
                }
                vec![]
            }
            Msg::PresetSaved(result) => delegate!(self, live, |screen, cx| {
                screen.on_preset_saved(result, cx);
                vec![]
            }),
            Msg::ForkReady(Ok(target)) => {
                self.screen = Screen::Live;
                delegate!(self, live, |screen, cx| screen.on_fork_ready(*target, cx))
            }
            Msg::ForkReady(Err(reason)) => {
                self.shared.warn(reason);
                vec![]
            }
            Msg::WorkerFailed(job, reason) => self.on_worker_failed(job, reason),
        }
    }

    /// A helper thread failed: whatever waited on it ends, and the notice says why.
    fn on_worker_failed(&mut self, job: Job, reason: String) -> Vec<Effect> {
        match &job {
            Job::Analysis => self.analysis = AnalysisScreen::Failed(reason.clone()),
            Job::LrFinder => {
                if let Some(v) = self.lr_finder.as_mut().filter(|v| v.running()) {
                    v.result = Some(Err(reason.clone()));
                }
            }
            Job::Load(id) => self.shared.loading.retain(|l| l != id),
            Job::Data => self.shared.data = DataState::Failed(reason.clone()),
            Job::Sweep => {
                if let Some(form) = self.sweep.form.as_mut() {
                    form.checking = false;
                    form.error = Some(reason.clone());
                }
            }
            Job::Files => {
                self.live.picker = None;
                self.live.nets = None;
            }
            Job::Scanner => self.shared.listing.error = Some(reason.clone()),
            Job::Logs => self.logs.error = Some(format!("no longer followed: {reason}")),
            Job::Start | Job::Export => {}
        }
        if (self.mode == Mode::Presets && self.live.picker.is_none())
            || (self.mode == Mode::Nets && self.live.nets.is_none())
        {
            self.mode = Mode::Normal;
        }
        self.shared.warn(reason);
        vec![]
    }

    fn on_events(&mut self, run_id: &str, events: &[gradboard::events::Event]) -> Vec<Effect> {
        let mut effects = Vec::new();
        for event in events {
            self.shared.runs.apply(run_id, event);
            // A fork's parent is loaded too: compare draws its curve leading into the child's.
            if let EventKind::Start(info) = &event.kind {
                if let Some(parent) = &info.parent {
                    effects.extend(self.shared.ensure_loaded(&parent.run_id));
                }
            }
            let on_show = self.live.current.as_deref() == Some(run_id);
            if let (true, EventKind::Done { .. }) = (on_show, &event.kind) {
                self.report_end(run_id);
            }
        }
        effects
    }

    /// The live screen's run ended: the notice says how.
    fn report_end(&mut self, run_id: &str) {
        let Some(Status::Ended(status, reason)) = self.shared.runs.get(run_id).map(|r| r.status())
        else {
            return;
        };
        let text = format!(
            "run {run_id} {}{}",
            status.as_str(),
            reason.map(|r| format!(": {r}")).unwrap_or_default()
        );
        match status {
            RunStatus::Diverged | RunStatus::Failed => self.shared.warn(text),
            _ => self.shared.notify(text),
        }
    }

    /// Whether quitting would stop something: a run started here, a sweep, the finder.
    fn has_active_work(&self) -> bool {
        self.shared.runs.active_here().next().is_some()
            || self.sweep.running()
            || self.lr_finder.as_ref().is_some_and(|v| v.running())
    }

    /// Stops every run of this dashboard and quits once they have written their `done`.
    fn stop_all_and_quit(&mut self) -> Vec<Effect> {
        if !self.has_active_work() {
            return vec![Effect::Quit];
        }
        let ids: Vec<String> = self
            .shared
            .runs
            .active_here()
            .map(|r| r.run_id.clone())
            .collect();
        for id in &ids {
            if let Some(run) = self.shared.runs.get_mut(id) {
                run.stopping = true;
            }
        }
        self.mode = Mode::Stopping;
        vec![Effect::StopAllAndQuit]
    }

    /// A key pressed; a notice from before it that is still up when the key changes the screen
    /// belongs to the screen left ("no key 'G' on the runs screen"), and goes with it.
    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let (screen, notice) = (self.screen, self.shared.notice.clone());
        let effects = self.on_key_here(key);
        if self.screen != screen && self.shared.notice == notice {
            self.shared.notice = None;
        }
        effects
    }

    fn on_key_here(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return self.stop_all_and_quit();
        }
        let Some(context) = self.context() else {
            return vec![];
        };
        let action = action_for(context, &key);
        let mode = std::mem::replace(&mut self.mode, Mode::Normal);
        match mode {
            Mode::Normal => match action {
                Some(action) => self.on_action(action, key),
                None => {
                    if let KeyCode::Char(c) = key.code {
                        self.shared.warn(format!(
                            "no key '{c}' on the {} screen: press ? for help",
                            self.screen.name()
                        ));
                    }
                    vec![]
                }
            },
            Mode::Help | Mode::Stopping => vec![],
            Mode::ConfirmQuit => match action {
                Some(Action::Confirm) => self.stop_all_and_quit(),
                _ => vec![],
            },
            Mode::Editing => delegate!(self, live, |screen, cx| screen
                .on_editor_key(action, key, cx)),
            Mode::SaveName => {
                delegate!(self, live, |screen, cx| screen.on_save_key(action, key, cx))
            }
            Mode::Presets => delegate!(self, live, |screen, cx| screen.on_picker_key(action, cx)),
            Mode::Choices => {
                delegate!(self, live, |screen, cx| screen.on_choices_key(action, cx))
            }
            Mode::Nets => delegate!(self, live, |screen, cx| screen.on_nets_key(action, cx)),
            Mode::Data => {
                let options = self.live.config.data_options();
                delegate!(self, live, |screen, cx| match screen.data.as_mut() {
                    Some(picker) => picker.on_key(action, key, options, cx),
                    None => {
                        *cx.mode = Mode::Normal;
                        vec![]
                    }
                })
            }
            Mode::Filtering => delegate!(self, runs, |screen, cx| screen
                .on_filter_key(action, key, cx)),
            Mode::SweepForm => delegate!(self, sweep, |screen, cx| screen
                .on_form_key(action, key, cx)),
            Mode::LrFinder => self.on_lr_finder_key(action),
        }
    }

    /// A key of the screen on show: actions of every screen here, the rest to the screen.
    fn on_action(&mut self, action: Action, key: KeyEvent) -> Vec<Effect> {
        self.runs.forget_delete(Some(action));
        match action {
            Action::NextScreen => {
                let next = self.screen.next();
                self.request(Request::Show(next))
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
            | Action::ToggleOutliers
            | Action::CycleXAxis
            | Action::ToggleWindow => {
                self.shared.chart.apply(action);
                vec![]
            }
            Action::Analyze if self.screen != Screen::Sweep => {
                let target = match self.screen {
                    Screen::Runs => self
                        .runs
                        .current(&self.shared.listing)
                        .map(|r| r.run_id.clone()),
                    _ => self.live.current.clone(),
                };
                match target {
                    Some(id) => self.analyze(id),
                    None => {
                        self.shared
                            .warn("no run to analyse: pick one on the runs screen");
                        vec![]
                    }
                }
            }
            Action::NewSweep => {
                let preset = self.live.preset.clone();
                delegate!(self, sweep, |screen, cx| {
                    screen.open_form(&preset, cx);
                    vec![]
                })
            }
            Action::LrFind => self.start_lr_finder(),
            Action::Layers => {
                let target = match self.screen {
                    Screen::Runs => self
                        .runs
                        .current(&self.shared.listing)
                        .map(|r| r.run_id.clone()),
                    Screen::Sweep => self.sweep.selected_run(),
                    _ => None,
                };
                self.screen = Screen::Layers;
                delegate!(self, layers, |screen, cx| screen.open(target, cx))
            }
            _ => match self.screen {
                Screen::Live => delegate!(self, live, |screen, cx| screen.update(action, cx)),
                Screen::Runs => delegate!(self, runs, |screen, cx| screen.update(action, &key, cx)),
                Screen::Compare => delegate!(self, compare, |screen, cx| screen.update(action, cx)),
                Screen::Sweep => delegate!(self, sweep, |screen, cx| screen.update(action, cx)),
                Screen::Analysis => {
                    delegate!(self, analysis, |screen, cx| screen.update(action, cx))
                }
                Screen::Layers => delegate!(self, layers, |screen, cx| screen.update(action, cx)),
                Screen::Logs => delegate!(self, logs, |screen, cx| screen.update(action, cx)),
            },
        }
    }

    /// Starts analysing `run_id`'s model and shows the analysis screen.
    fn analyze(&mut self, run_id: String) -> Vec<Effect> {
        let Some(dir) = self.shared.listing.get(&run_id).map(|r| r.dir.clone()) else {
            self.shared
                .warn(format!("run {run_id} is not in the runs folder yet"));
            return vec![];
        };
        if !self.shared.data_ready() {
            self.shared.warn("the data set is not ready yet");
            return vec![];
        }
        self.screen = Screen::Analysis;
        self.analysis = AnalysisScreen::Running(run_id.clone());
        vec![Effect::Analyze { run_id, dir }]
    }

    /// Starts the finder on the settings panel's configuration: on a copy of the live
    /// screen's run when the settings keep its network, else on a fresh model.
    fn start_lr_finder(&mut self) -> Vec<Effect> {
        if let Err(e) = self.live.config.validate() {
            self.shared.warn(format!("lr-find: {e}"));
            return vec![];
        }
        if !self.shared.data_ready() {
            self.shared.warn("the data set is not ready yet");
            return vec![];
        }
        let from = self
            .run()
            .filter(|run| self.live.config.network_difference(&run.config).is_none())
            .and_then(|run| {
                Some((
                    run.run_id.clone(),
                    self.shared.listing.get(&run.run_id)?.dir.clone(),
                ))
            });
        let source = match &from {
            Some((id, _)) => format!("a copy of run {id}"),
            None => FRESH.to_string(),
        };
        self.lr_finder = Some(LrFinderView {
            source,
            ..LrFinderView::default()
        });
        self.mode = Mode::LrFinder;
        vec![Effect::LrFind {
            config: Box::new(self.live.config.clone()),
            from,
        }]
    }

    /// A key while the finder's popup is open: apply its suggestion, or close (stopping a
    /// finder still running).
    fn on_lr_finder_key(&mut self, action: Option<Action>) -> Vec<Effect> {
        let running = self.lr_finder.as_ref().is_some_and(|v| v.running());
        match action {
            Some(Action::Cancel) => {
                self.lr_finder = None;
                return if running {
                    vec![Effect::StopLrFind]
                } else {
                    vec![]
                };
            }
            Some(Action::Apply) => match self.lr_finder.as_ref().and_then(|v| v.suggestion()) {
                Some(lr) => {
                    let text = format_float(lr);
                    let spec = gradboard::config::key("lr").expect("lr is a key");
                    let effects =
                        delegate!(self, live, |screen, cx| screen.set_value(spec, &text, cx));
                    self.lr_finder = None;
                    self.shared
                        .notify(format!("lr = {text}, the finder's suggestion"));
                    return effects;
                }
                None if running => self.shared.warn("the finder is still running"),
                None => self.shared.warn("no suggestion to apply"),
            },
            _ => {}
        }
        self.mode = Mode::LrFinder;
        vec![]
    }
}
