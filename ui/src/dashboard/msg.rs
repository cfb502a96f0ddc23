//! The dashboard's vocabulary, a leaf every other part imports: the messages the app reacts
//! to (`Msg`), what it asks the runtime to do (`Effect`), the keyboard's mode (`Mode`), and the
//! plain data that travels in them.

use crossterm::event::KeyEvent;
use gradboard::analysis::Analysis;
use gradboard::config::sweep::{SweepRequest, SweepSpec};
use gradboard::config::RunConfig;
use gradboard::data::Dataset;
use gradboard::events::Event;
use gradboard::runner::sweep::{SweepCommand, SweepState};
use gradboard::runner::From;
use gradboard::runs::RunRecord;
use gradboard::train::lr_find::LrFinding;
use gradboard::train::Command;
use std::path::PathBuf;
use std::sync::Arc;

/// The screens, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The run being trained or opened: charts, progress, settings.
    Live,
    /// Every run in the runs folder.
    Runs,
    /// The marked runs overlaid, and their settings side by side.
    Compare,
    /// A sweep's queue, results and scatter plots.
    Sweep,
    /// A run's model on the test set: confusion, per-class figures, misclassified images.
    Analysis,
    /// Inside a run's network: per-layer statistics over its steps.
    Layers,
    /// Other programs' runs under `--logdir`: their scalars by tag, compared.
    Logs,
}

impl Screen {
    /// Every screen, in Tab order.
    pub const ALL: [Screen; 7] = [
        Screen::Live,
        Screen::Runs,
        Screen::Compare,
        Screen::Sweep,
        Screen::Analysis,
        Screen::Layers,
        Screen::Logs,
    ];

    /// Its name in the title line.
    pub fn name(self) -> &'static str {
        match self {
            Screen::Live => "live",
            Screen::Runs => "runs",
            Screen::Compare => "compare",
            Screen::Sweep => "sweep",
            Screen::Analysis => "analysis",
            Screen::Layers => "layers",
            Screen::Logs => "logs",
        }
    }

    /// The next screen in Tab order.
    pub fn next(self) -> Screen {
        let i = Screen::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Screen::ALL[(i + 1) % Screen::ALL.len()]
    }
}

/// What the keyboard is talking to. The state of each popup lives with its owner (the live
/// screen's editor and preset picker, the runs screen's filter, the sweep screen's form, the
/// learning-rate finder); the mode only routes keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The screen's own keys.
    Normal,
    /// Typing a new value for the selected setting.
    Editing,
    /// Choosing a preset.
    Presets,
    /// Choosing a choice setting's value from its list.
    Choices,
    /// Typing the name of a preset to save.
    SaveName,
    /// Typing the runs screen's filter.
    Filtering,
    /// The help screen.
    Help,
    /// Asking before quitting with a run active.
    ConfirmQuit,
    /// Quitting: every run was told to stop; waiting for their `done`.
    Stopping,
    /// Filling in a new sweep.
    SweepForm,
    /// The learning-rate finder's popup.
    LrFinder,
    /// The architecture panel: picking a net and its variables.
    Nets,
    /// The data picker: a source, its summary and samples.
    Data,
}

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
        /// Its images' shape and class count.
        shape: gradboard::data::DataShape,
        /// Its format's name.
        format: &'static str,
    },
    /// Could not be had: the reason and how to fix it.
    Failed(String),
}

/// A preset as the picker lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetItem {
    /// Name.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Settings.
    pub config: RunConfig,
}

/// A net as the architecture panel lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct NetItem {
    /// Its name (presets/nets/ or the user's nets folder).
    pub name: String,
    /// One-line description.
    pub description: String,
    /// The description itself, its variables at their defaults.
    pub net: gradboard::config::net::NetConfig,
}

/// The run the next `r` forks from, as its newest checkpoint left it.
#[derive(Debug, Clone, PartialEq)]
pub struct ForkTarget {
    /// The parent's id.
    pub run_id: String,
    /// The parent's folder.
    pub dir: PathBuf,
    /// The checkpoint's step, where the fork starts.
    pub step: usize,
    /// The parent's settings at that step (its live changes applied).
    pub config: RunConfig,
    /// The parent's preset.
    pub preset: String,
    /// That preset's own settings, when it can still be found.
    pub preset_config: Option<RunConfig>,
}

/// A finished analysis of a run's model.
#[derive(Clone)]
pub struct Analysed {
    /// The run analysed.
    pub run_id: String,
    /// The step of the weights analysed (the saved model's, or the newest checkpoint's).
    pub step: usize,
    /// What was found.
    pub analysis: Arc<Analysis>,
    /// The data set, for the test images.
    pub data: Arc<Dataset>,
}

impl std::fmt::Debug for Analysed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysed")
            .field("run_id", &self.run_id)
            .field("step", &self.step)
            .finish()
    }
}

/// Which helper thread a failure came from, so the state waiting on it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Listing the runs folder and following runs' files.
    Scanner,
    /// Finding, downloading or reading the data set.
    Data,
    /// Reading a run folder's events.
    Load(String),
    /// Starting a run.
    Start,
    /// Checking or starting a sweep, or commanding it.
    Sweep,
    /// Analysing a run.
    Analysis,
    /// The learning-rate finder.
    LrFinder,
    /// Writing an export.
    Export,
    /// Reading or saving presets, reading a fork's checkpoint.
    Files,
    /// Following a log folder's runs.
    Logs,
}

/// A sweep read from its folder, and the sweeps of the runs folder (oldest first).
#[derive(Debug, Clone)]
pub struct SweepRead {
    /// Its state.
    pub state: SweepState,
    /// Its folder.
    pub dir: std::path::PathBuf,
    /// Every sweep folder of the runs folder, oldest first.
    pub sweeps: Vec<std::path::PathBuf>,
}

/// Messages the dashboard reacts to. Every one is plain data: the app's `update` never reads
/// a file or the clock; the runtime and its workers do, and report here.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key press.
    Key(KeyEvent),
    /// The terminal's size.
    Resize(u16, u16),
    /// The clock: Unix seconds now.
    Tick(f64),
    /// An event of a run this dashboard started (or one of its sweep's).
    Run(Event),
    /// Events read from a run folder, for the run the listing calls `run_id`.
    Loaded { run_id: String, events: Vec<Event> },
    /// The runtime started a run from this dashboard.
    Started {
        run_id: String,
        config: RunConfig,
        preset: String,
    },
    /// A run could not be started.
    StartFailed(String),
    /// A scan of the runs folder that found something new.
    Library(Vec<RunRecord>),
    /// The runs folder could not be listed.
    LibraryFailed(String),
    /// An export finished: its files, or why it failed.
    Exported(Result<Vec<PathBuf>, String>),
    /// The data set's state changed.
    Data(DataState),
    /// SIGTERM, SIGHUP or the terminal gone: stop every run and quit.
    Terminate,
    /// The state of the sweep this dashboard runs.
    Sweep(SweepState),
    /// A sweep of the runs folder as its files say (run by another process, or earlier),
    /// shown while this dashboard runs none: its state, its folder, and every sweep folder.
    SweepRead(Box<SweepRead>),
    /// A sweep's spec, assembled and checked from the form, or why it was refused.
    SweepChecked(Result<Box<SweepSpec>, String>),
    /// A sweep could not be started.
    SweepFailed(String),
    /// A sweep from its folder was cancelled (what was done), or why not.
    SweepCancelled(Result<String, String>),
    /// A run's labels were changed or it was deleted: what was done, or why not.
    Labelled(Result<String, String>),
    /// A read of the log folder's runs (`--logdir`), or why it failed.
    Logs(Result<Vec<gradboard::logs::LogRun>, String>),
    /// A command sweep's trial started again (`F`), in words, or why not.
    Reran(Result<String, String>),
    /// An analysis finished (boxed: it holds the data set's handle), or why it failed.
    Analyzed(Result<Box<Analysed>, String>),
    /// What the learning-rate finder's model is a copy of.
    LrSource(String),
    /// The learning-rate finder's step: lr and smoothed loss.
    LrStep(f64, f64),
    /// The learning-rate finder ended.
    LrFound(Result<LrFinding, String>),
    /// The presets the picker lists, or why they could not be read.
    Presets(Result<Vec<PresetItem>, String>),
    /// A preset was saved under this name to this file, or why not.
    PresetSaved(Result<(String, PathBuf), String>),
    /// The nets the architecture panel lists, or why they could not be read.
    Nets(Result<Vec<NetItem>, String>),
    /// The data sources the picker lists: the default CIFAR-10 and the recent ones.
    DataSources(Vec<PathBuf>),
    /// A data set the picker read, with its summary, or why it could not be read.
    DataOpened(Result<Box<OpenedData>, String>),
    /// A fork's parent read from its checkpoint, or why it cannot be forked.
    ForkReady(Result<Box<ForkTarget>, String>),
    /// A helper thread failed (a panic): which, and why.
    WorkerFailed(Job, String),
}

/// A data set read for the picker: where from, the data and its summary.
#[derive(Clone)]
pub struct OpenedData {
    /// Its path.
    pub path: PathBuf,
    /// The data.
    pub data: std::sync::Arc<gradboard::data::Dataset>,
    /// What `data inspect` says of it.
    pub report: gradboard::data::inspect::Inspection,
    /// A few training images a class as thumbnails (`inspect::thumbnails`), made once here
    /// rather than at every frame.
    pub thumbnails: Vec<Vec<image::RgbImage>>,
}

impl std::fmt::Debug for OpenedData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedData")
            .field("path", &self.path)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl PartialEq for OpenedData {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.report == other.report
    }
}

/// What the app asks of the runtime after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Change a run's name, tags, note or archived mark (`labels.json`).
    Label {
        /// Its folder.
        dir: std::path::PathBuf,
        /// The change.
        edit: gradboard::runs::LabelEdit,
    },
    /// Delete a run: its folder moves to the runs folder's `.trash`.
    Trash(std::path::PathBuf),
    /// Read a sweep from its folder (`None`: the newest of the runs folder).
    ReadSweep(Option<std::path::PathBuf>),
    /// Cancel the sweep in this folder wherever it runs (`sweep cancel`).
    CancelSweep(std::path::PathBuf),
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
    /// Read a run folder's events (as the run `run_id`) and follow what it appends.
    Load { run_id: String, dir: PathBuf },
    /// Export these run folders.
    Export(Vec<PathBuf>),
    /// Assemble the sweep the form describes and check it (reads presets and sweep files).
    CheckSweep(Box<SweepRequest>),
    /// Start a sweep.
    StartSweep(Box<SweepSpec>),
    /// Tell the sweep something.
    Sweep(SweepCommand),
    /// Run a command sweep's trial `index` again, with its values, outside the sweep.
    Rerun {
        /// The sweep's folder.
        sweep: PathBuf,
        /// The trial.
        index: usize,
    },
    /// Analyse a run's model.
    Analyze { run_id: String, dir: PathBuf },
    /// Run the learning-rate finder on these settings, from a copy of the run in `from`
    /// (its newest weights) or on a fresh model.
    LrFind {
        config: Box<RunConfig>,
        from: Option<(String, PathBuf)>,
    },
    /// Stop the learning-rate finder.
    StopLrFind,
    /// Read the presets for the picker.
    ListPresets,
    /// Read the nets for the architecture panel.
    ListNets,
    /// List the data sources for the picker.
    ListData,
    /// Read a data set for the picker (with the settings' data keys).
    OpenData {
        path: PathBuf,
        options: gradboard::data::DataOptions,
    },
    /// Train on this data set from now on (its runner replaces the one in use).
    UseData(Box<OpenedData>),
    /// Save settings as a user preset.
    SavePreset {
        name: String,
        description: String,
        config: Box<RunConfig>,
    },
    /// Read a run's newest checkpoint to fork it.
    ReadFork {
        run_id: String,
        dir: PathBuf,
        preset: String,
    },
    /// Tell every run to stop and quit once all have written their `done`.
    StopAllAndQuit,
    /// Quit now (no run is active).
    Quit,
}
