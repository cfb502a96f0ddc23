//! The one keymap table: each binding's contexts (screens and popups), keys, action, help line
//! and status-line word. It dispatches keys, writes the status line and generates the help of
//! every screen and popup. Keys a text field does not bind here are typed into it.

use super::msg::{Mode, Screen};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where keys go: a screen's own keys or a popup's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A screen, no popup open.
    Screen(Screen),
    /// The preset picker.
    Presets,
    /// A choice setting's list of values.
    Choices,
    /// The architecture panel.
    Nets,
    /// The data picker.
    Data,
    /// The quit question.
    ConfirmQuit,
    /// The learning-rate finder's popup.
    LrFinder,
    /// A one-line text field: a setting's value, a preset's name, the runs filter.
    Field,
    /// The new-sweep form.
    Form,
    /// The help popup.
    Help,
}

impl Context {
    /// The context of `mode` on `screen`; `None` while stopping (no key does anything).
    pub fn of(mode: Mode, screen: Screen) -> Option<Context> {
        Some(match mode {
            Mode::Normal => Context::Screen(screen),
            Mode::Editing | Mode::SaveName | Mode::Filtering => Context::Field,
            Mode::Presets => Context::Presets,
            Mode::Choices => Context::Choices,
            Mode::Nets => Context::Nets,
            Mode::Data => Context::Data,
            Mode::ConfirmQuit => Context::ConfirmQuit,
            Mode::LrFinder => Context::LrFinder,
            Mode::SweepForm => Context::Form,
            Mode::Help => Context::Help,
            Mode::Stopping => return None,
        })
    }

    fn bit(self) -> u16 {
        match self {
            Context::Screen(Screen::Live) => LIVE,
            Context::Screen(Screen::Runs) => RUNS,
            Context::Screen(Screen::Compare) => COMPARE,
            Context::Screen(Screen::Sweep) => SWEEP,
            Context::Screen(Screen::Analysis) => ANALYSIS,
            Context::Screen(Screen::Layers) => LAYERS,
            Context::Screen(Screen::Logs) => LOGS,
            Context::Presets => PRESETS,
            Context::Choices => CHOICES,
            Context::Nets => NETS,
            Context::Data => DATA,
            Context::ConfirmQuit => CONFIRM,
            Context::LrFinder => LR_FINDER,
            Context::Field => FIELD,
            Context::Form => FORM,
            Context::Help => HELP,
        }
    }
}

const LIVE: u16 = 1;
const RUNS: u16 = 2;
const COMPARE: u16 = 4;
const SWEEP: u16 = 8;
const ANALYSIS: u16 = 16;
const PRESETS: u16 = 32;
const CONFIRM: u16 = 64;
const LR_FINDER: u16 = 128;
const FIELD: u16 = 256;
const FORM: u16 = 512;
const HELP: u16 = 1024;
const LAYERS: u16 = 2048;
const NETS: u16 = 4096;
const DATA: u16 = 8192;
const LOGS: u16 = 16384;
const CHOICES: u16 = 32768;
const CHARTS: u16 = LIVE | COMPARE;
const SCREENS: u16 = LIVE | RUNS | COMPARE | SWEEP | ANALYSIS | LAYERS | LOGS;

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Next screen.
    NextScreen,
    /// Quit (asks first while a run is active).
    Quit,
    /// Show the help of this screen.
    Help,
    /// Start a run with the edited settings (a fork when one is armed).
    Restart,
    /// Pause or resume the run.
    TogglePause,
    /// Stop the run.
    Stop,
    /// Cursor up.
    Up,
    /// Cursor down.
    Down,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// Edit the selected setting (choices cycle).
    Edit,
    /// Double the learning rate.
    LrUp,
    /// Halve the learning rate.
    LrDown,
    /// Open the preset picker.
    Presets,
    /// Open the architecture panel.
    Nets,
    /// Open the data picker.
    Data,
    /// The architecture panel's selected variable times two.
    VarUp,
    /// The architecture panel's selected variable halved.
    VarDown,
    /// Save the settings as a user preset.
    SavePreset,
    /// Load the picked preset into the settings without starting a run.
    LoadPreset,
    /// Smoothing on or off.
    ToggleSmoothing,
    /// Less smoothing.
    SmoothLess,
    /// More smoothing.
    SmoothMore,
    /// Loss on a log scale or not.
    ToggleLogScale,
    /// Ignore outliers in the charts' y range, or show every point.
    ToggleOutliers,
    /// x axis: steps, epochs, wall time.
    CycleXAxis,
    /// Whole history or the recent window.
    ToggleWindow,
    /// Open the run under the cursor on the live screen.
    Open,
    /// Mark or unmark the run under the cursor for comparison.
    Mark,
    /// Compare the marked runs.
    Compare,
    /// Type a filter.
    Filter,
    /// Sort by the column of the digit pressed (again: reverse).
    Sort,
    /// The next plot beside the parallel coordinates.
    NextPlot,
    /// The contour's next y key.
    NextContourKey,
    /// Sort by any figure or setting (asked for).
    SortByField,
    /// Name the run under the cursor.
    NameRun,
    /// Tag it.
    TagRun,
    /// Note something about it.
    NoteRun,
    /// Archive it, or bring it back.
    ArchiveRun,
    /// Delete it (pressed twice).
    DeleteRun,
    /// Fork the run under the cursor: its settings go to the settings panel.
    Fork,
    /// Continue the stopped or crashed run under the cursor.
    Resume,
    /// Export the marked runs (or the one under the cursor).
    Export,
    /// Settings side by side, only the keys that differ.
    Diff,
    /// Cursor left.
    Left,
    /// Cursor right.
    Right,
    /// Run the learning-rate finder on the settings.
    LrFind,
    /// Analyse the run under the cursor (or the live one).
    Analyze,
    /// Open the form of a new sweep.
    NewSweep,
    /// Take the queued run under the cursor off the sweep.
    CancelQueued,
    /// Stop the sweep: its running run and every queued one.
    StopSweep,
    /// The scatter plot's next swept key.
    NextSweptKey,
    /// Brush a range of the selected axis of the parallel coordinates (again: remove it).
    Brush,
    /// Move the brush down the axis.
    BrushLower,
    /// Move the brush up the axis.
    BrushHigher,
    /// Narrow the brush.
    BrushNarrow,
    /// Widen the brush.
    BrushWiden,
    /// Fork the sweep's best run (the best group's best run).
    ForkBest,
    /// Fold runs that differ only by seed into groups, or list them one by one.
    ToggleGroups,
    /// The layers screen of the run (the live one, or the one under the cursor).
    Layers,
    /// The sweep screen: the older sweep of the runs folder.
    OlderSweep,
    /// The sweep screen: the newer sweep of the runs folder.
    NewerSweep,
    /// A popup: take what it holds (a value, a preset, a name, a form).
    Accept,
    /// A popup: close it without taking anything.
    Cancel,
    /// The quit question: yes.
    Confirm,
    /// The learning-rate finder: put the suggestion in the settings.
    Apply,
    /// The form: the next field.
    NextField,
    /// The form: the previous field.
    PrevField,
}

/// One binding.
pub struct Binding {
    contexts: u16,
    /// The keys.
    pub keys: &'static [KeyCode],
    /// What they do.
    pub action: Action,
    /// Help line.
    pub help: &'static str,
    /// Word in the status line, if the binding is shown there.
    pub short: Option<&'static str>,
}

const fn bind(
    contexts: u16,
    keys: &'static [KeyCode],
    action: Action,
    help: &'static str,
    short: Option<&'static str>,
) -> Binding {
    Binding {
        contexts,
        keys,
        action,
        help,
        short,
    }
}

use KeyCode::Char;

/// Every binding, in help order.
pub const KEYMAP: &[Binding] = &[
    bind(
        SCREENS,
        &[KeyCode::Tab],
        Action::NextScreen,
        "next screen (live, runs, compare, sweep, analysis, layers, logs)",
        Some("screens"),
    ),
    bind(
        LIVE,
        &[Char('r')],
        Action::Restart,
        "start a run with the edited settings (a fork when one is armed)",
        Some("restart"),
    ),
    bind(
        LIVE | SWEEP,
        &[Char(' '), Char('p')],
        Action::TogglePause,
        "pause / resume (the sweep screen: the whole sweep)",
        Some("pause"),
    ),
    bind(
        LIVE | SWEEP,
        &[Char('s')],
        Action::Stop,
        "stop the run (the sweep screen: the selected running run)",
        Some("stop"),
    ),
    bind(
        SCREENS | PRESETS | NETS | CHOICES,
        &[KeyCode::Up, Char('k')],
        Action::Up,
        "previous setting / run / preset / net / value",
        None,
    ),
    bind(
        SCREENS | PRESETS | NETS | CHOICES,
        &[KeyCode::Down, Char('j')],
        Action::Down,
        "next setting / run / preset / net / value",
        None,
    ),
    bind(
        RUNS | ANALYSIS,
        &[KeyCode::PageUp],
        Action::PageUp,
        "a page up (analysis: the previous images)",
        None,
    ),
    bind(
        RUNS | ANALYSIS,
        &[KeyCode::PageDown],
        Action::PageDown,
        "a page down (analysis: the next images)",
        None,
    ),
    bind(
        LIVE,
        &[KeyCode::Enter],
        Action::Edit,
        "edit setting (a choice opens its list; live keys change the running run)",
        Some("edit"),
    ),
    bind(
        LIVE,
        &[Char('+'), Char('=')],
        Action::LrUp,
        "learning rate x2 (the running run too)",
        None,
    ),
    bind(
        LIVE,
        &[Char('-')],
        Action::LrDown,
        "learning rate /2 (the running run too)",
        None,
    ),
    bind(
        LIVE,
        &[Char('l')],
        Action::Presets,
        "load a preset",
        Some("presets"),
    ),
    bind(
        LIVE,
        &[Char('N')],
        Action::Nets,
        "architecture: pick a net, change its variables, see its layers, parameters, FLOP and memory",
        Some("nets"),
    ),
    bind(
        LIVE,
        &[Char('D')],
        Action::Data,
        "data: CIFAR-10, a recent source or a typed path; its format, classes and samples before training",
        Some("data"),
    ),
    bind(
        DATA,
        &[KeyCode::Up],
        Action::Up,
        "the previous source",
        None,
    ),
    bind(DATA, &[KeyCode::Down], Action::Down, "the next source", None),
    bind(
        NETS,
        &[KeyCode::Left, KeyCode::BackTab],
        Action::Left,
        "the previous variable of the net",
        None,
    ),
    bind(
        NETS,
        &[KeyCode::Right, KeyCode::Tab],
        Action::Right,
        "the next variable of the net",
        None,
    ),
    bind(
        NETS,
        &[Char('+'), Char('=')],
        Action::VarUp,
        "the variable x2",
        Some("x2"),
    ),
    bind(
        NETS,
        &[Char('-')],
        Action::VarDown,
        "the variable /2",
        Some("/2"),
    ),
    bind(
        LIVE,
        &[Char('w')],
        Action::SavePreset,
        "save settings as a preset",
        None,
    ),
    bind(
        RUNS | SWEEP,
        &[KeyCode::Enter],
        Action::Open,
        "open the run's charts on the live screen",
        Some("open"),
    ),
    bind(
        RUNS | LOGS,
        &[Char(' ')],
        Action::Mark,
        "mark / unmark for comparison",
        Some("mark"),
    ),
    bind(
        LOGS,
        &[KeyCode::Left, Char('h')],
        Action::Left,
        "the previous tag (tags grouped by their prefix)",
        Some("tag"),
    ),
    bind(
        LOGS,
        &[KeyCode::Right, Char('l')],
        Action::Right,
        "the next tag",
        None,
    ),
    bind(LOGS, &[Char('g')], Action::ToggleLogScale, "log y axis", None),
    bind(
        LOGS,
        &[Char('G')],
        Action::ToggleGroups,
        "fold the runs shown that differ only by seed into groups (mean, min-max band)",
        Some("groups"),
    ),
    bind(
        RUNS,
        &[Char('c')],
        Action::Compare,
        "compare the marked runs",
        Some("compare"),
    ),
    bind(
        RUNS,
        &[Char('/')],
        Action::Filter,
        "filter (any column; Esc clears)",
        Some("filter"),
    ),
    bind(
        RUNS,
        &[
            Char('1'),
            Char('2'),
            Char('3'),
            Char('4'),
            Char('5'),
            Char('6'),
            Char('7'),
            Char('8'),
            Char('9'),
        ],
        Action::Sort,
        "sort by column 1-9 (again: reverse)",
        Some("sort"),
    ),
    bind(
        RUNS,
        &[Char('o')],
        Action::SortByField,
        "sort by any figure or setting (lr, seconds, -best), shown as a column",
        Some("order"),
    ),
    bind(RUNS, &[Char('N')], Action::NameRun, "name the run", Some("name")),
    bind(
        RUNS,
        &[Char('t')],
        Action::TagRun,
        "tag the run (a word adds, -word removes; filter tag:word)",
        Some("tag"),
    ),
    bind(RUNS, &[Char('A')], Action::NoteRun, "annotate the run: a note", None),
    bind(
        RUNS,
        &[Char('z')],
        Action::ArchiveRun,
        "archive the run (hidden unless the filter says is:archived) or bring it back",
        None,
    ),
    bind(
        RUNS,
        &[Char('D')],
        Action::DeleteRun,
        "delete the run (press twice; its folder moves to the runs folder's .trash)",
        None,
    ),
    bind(
        RUNS,
        &[Char('f')],
        Action::Fork,
        "fork: its settings to the settings panel, r starts it",
        Some("fork"),
    ),
    bind(
        RUNS,
        &[Char('R')],
        Action::Resume,
        "resume a stopped or crashed run in its folder",
        None,
    ),
    bind(
        RUNS | COMPARE,
        &[Char('E')],
        Action::Export,
        "export marked runs: png, svg, csv, report",
        Some("export"),
    ),
    bind(
        COMPARE,
        &[Char('d')],
        Action::Diff,
        "settings side by side (only what differs)",
        Some("diff"),
    ),
    bind(
        CHARTS,
        &[Char('e')],
        Action::ToggleSmoothing,
        "smoothing on/off",
        None,
    ),
    bind(
        CHARTS,
        &[Char('[')],
        Action::SmoothLess,
        "less smoothing",
        None,
    ),
    bind(
        CHARTS,
        &[Char(']')],
        Action::SmoothMore,
        "more smoothing",
        None,
    ),
    bind(
        CHARTS,
        &[Char('g')],
        Action::ToggleLogScale,
        "loss log scale",
        None,
    ),
    bind(
        CHARTS,
        &[Char('o')],
        Action::ToggleOutliers,
        "ignore outliers in the y range / show every point",
        None,
    ),
    bind(
        CHARTS,
        &[Char('x')],
        Action::CycleXAxis,
        "x axis: steps / epochs / wall time",
        None,
    ),
    bind(
        LIVE,
        &[Char('f')],
        Action::ToggleWindow,
        "full history / recent window",
        None,
    ),
    bind(
        LIVE,
        &[Char('L')],
        Action::LrFind,
        "learning-rate finder on these settings (a suggestion for lr)",
        Some("lr-find"),
    ),
    bind(
        LIVE | RUNS | SWEEP,
        &[Char('a')],
        Action::Analyze,
        "analyse the run's model on the test set (confusion, classes, images)",
        Some("analyse"),
    ),
    bind(
        RUNS | SWEEP,
        &[Char('n')],
        Action::NewSweep,
        "new sweep: preset, grid, ranges, count, pruner (or a sweep file)",
        Some("sweep"),
    ),
    bind(
        SWEEP,
        &[Char('x')],
        Action::CancelQueued,
        "take the queued run off the sweep",
        Some("cancel"),
    ),
    bind(
        SWEEP,
        &[Char('S')],
        Action::StopSweep,
        "stop the sweep: the running run and the queue",
        None,
    ),
    bind(
        SWEEP | LAYERS,
        &[Char('v')],
        Action::NextSweptKey,
        "scatter: the next swept key (layers: the next statistic)",
        Some("next"),
    ),
    bind(
        LIVE | RUNS | SWEEP,
        &[Char('y')],
        Action::Layers,
        "the layers screen of the run: per-layer statistics over its steps",
        Some("layers"),
    ),
    bind(
        ANALYSIS | SWEEP | LAYERS,
        &[KeyCode::Left, Char('h')],
        Action::Left,
        "previous predicted class (sweep: the previous axis; layers: an earlier step)",
        None,
    ),
    bind(
        ANALYSIS | SWEEP | LAYERS,
        &[KeyCode::Right, Char('l')],
        Action::Right,
        "next predicted class (sweep: the next axis; layers: a later step)",
        None,
    ),
    bind(
        SWEEP,
        &[Char('m')],
        Action::NextPlot,
        "next plot: scatter, optimisation history, intermediate values, contour, timeline",
        Some("plots"),
    ),
    bind(
        SWEEP,
        &[Char('V')],
        Action::NextContourKey,
        "the contour's other key",
        None,
    ),
    bind(
        SWEEP,
        &[Char('b')],
        Action::Brush,
        "parallel coordinates: brush a range of the selected axis (again: remove it)",
        Some("brush"),
    ),
    bind(
        SWEEP,
        &[Char('[')],
        Action::BrushLower,
        "move the brush down",
        None,
    ),
    bind(
        SWEEP,
        &[Char(']')],
        Action::BrushHigher,
        "move the brush up",
        None,
    ),
    bind(
        SWEEP,
        &[Char('-')],
        Action::BrushNarrow,
        "narrow the brush",
        None,
    ),
    bind(
        SWEEP,
        &[Char('+'), Char('=')],
        Action::BrushWiden,
        "widen the brush",
        None,
    ),
    bind(
        SWEEP,
        &[Char('f')],
        Action::Fork,
        "fork the selected run: its settings to the settings panel",
        None,
    ),
    bind(
        SWEEP,
        &[Char('F')],
        Action::ForkBest,
        "fork the best run (with seeds: the best group's best run)",
        Some("fork best"),
    ),
    bind(
        SWEEP,
        &[Char(',')],
        Action::OlderSweep,
        "the older sweep of the runs folder",
        Some("older"),
    ),
    bind(
        SWEEP,
        &[Char('.')],
        Action::NewerSweep,
        "the newer sweep of the runs folder",
        Some("newer"),
    ),
    bind(
        RUNS,
        &[Char('g')],
        Action::ToggleGroups,
        "fold runs that differ only by seed into groups (n, mean, std)",
        Some("groups"),
    ),
    bind(SCREENS, &[Char('?')], Action::Help, "help", Some("help")),
    bind(SCREENS, &[Char('q')], Action::Quit, "quit", Some("quit")),
    bind(
        FORM,
        &[KeyCode::Tab, KeyCode::Down],
        Action::NextField,
        "next field",
        Some("next"),
    ),
    bind(
        FORM,
        &[KeyCode::BackTab, KeyCode::Up],
        Action::PrevField,
        "previous field",
        None,
    ),
    bind(
        PRESETS | NETS | DATA | FIELD | FORM | CHOICES,
        &[KeyCode::Enter],
        Action::Accept,
        "take it (the preset starts; the net goes to the settings, r starts it; the data: read it, again: train on it; the value, name or filter is kept; the sweep starts)",
        Some("take"),
    ),
    bind(
        PRESETS,
        &[Char('l')],
        Action::LoadPreset,
        "load the preset into the settings without starting (r starts it)",
        Some("load"),
    ),
    bind(
        CONFIRM,
        &[Char('y'), Char('q')],
        Action::Confirm,
        "quit: every run is stopped and kept",
        Some("quit"),
    ),
    bind(
        LR_FINDER,
        &[Char('a'), KeyCode::Enter],
        Action::Apply,
        "put the suggested lr in the settings",
        Some("use it"),
    ),
    bind(
        PRESETS | NETS | DATA | FIELD | FORM | LR_FINDER | CHOICES,
        &[KeyCode::Esc],
        Action::Cancel,
        "close (the finder: stop it; the filter: clear it)",
        Some("close"),
    ),
    bind(
        PRESETS | NETS | LR_FINDER | CHOICES,
        &[Char('q')],
        Action::Cancel,
        "close",
        None,
    ),
];

/// The action of a key in `context`, if the table has one.
pub fn action_for(context: Context, key: &KeyEvent) -> Option<Action> {
    if key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    {
        return None;
    }
    KEYMAP
        .iter()
        .find(|b| b.contexts & context.bit() != 0 && b.keys.contains(&key.code))
        .map(|b| b.action)
}

/// A key's name for help and hints.
pub fn key_name(code: &KeyCode) -> String {
    match code {
        KeyCode::Char(' ') => "space".into(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Tab => "Tab".into(),
        KeyCode::BackTab => "S-Tab".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        other => format!("{other:?}"),
    }
}

fn keys_text(keys: &[KeyCode]) -> String {
    if keys.len() > 3 {
        return format!("{}-{}", key_name(&keys[0]), key_name(&keys[keys.len() - 1]));
    }
    keys.iter().map(key_name).collect::<Vec<_>>().join(" / ")
}

/// Help lines of `context`, generated from the table.
pub fn help_lines(context: Context) -> Vec<(String, &'static str)> {
    KEYMAP
        .iter()
        .filter(|b| b.contexts & context.bit() != 0)
        .map(|b| (keys_text(b.keys), b.help))
        .collect()
}

/// The status line's key hints of `context`, generated from the table.
pub fn status_hints(context: Context) -> String {
    KEYMAP
        .iter()
        .filter(|b| b.contexts & context.bit() != 0)
        .filter_map(|b| b.short.map(|s| format!("{} {s}", key_name(&b.keys[0]))))
        .collect::<Vec<_>>()
        .join("  ")
}
