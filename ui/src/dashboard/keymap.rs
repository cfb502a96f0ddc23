//! The one keymap table: each binding's screens, keys, action, help line and status-line word.
//! It dispatches keys, writes each screen's status line and generates each screen's help.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

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
}

impl Screen {
    /// Every screen, in Tab order.
    pub const ALL: [Screen; 5] = [
        Screen::Live,
        Screen::Runs,
        Screen::Compare,
        Screen::Sweep,
        Screen::Analysis,
    ];

    /// Its name in the title line.
    pub fn name(self) -> &'static str {
        match self {
            Screen::Live => "live",
            Screen::Runs => "runs",
            Screen::Compare => "compare",
            Screen::Sweep => "sweep",
            Screen::Analysis => "analysis",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Screen::Live => LIVE,
            Screen::Runs => RUNS,
            Screen::Compare => COMPARE,
            Screen::Sweep => SWEEP,
            Screen::Analysis => ANALYSIS,
        }
    }

    /// The next screen in Tab order.
    pub fn next(self) -> Screen {
        let i = Screen::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Screen::ALL[(i + 1) % Screen::ALL.len()]
    }
}

const LIVE: u8 = 1;
const RUNS: u8 = 2;
const COMPARE: u8 = 4;
const SWEEP: u8 = 8;
const ANALYSIS: u8 = 16;
const CHARTS: u8 = LIVE | COMPARE;
const ALL: u8 = LIVE | RUNS | COMPARE | SWEEP | ANALYSIS;

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
    /// Save the settings as a user preset.
    SavePreset,
    /// Smoothing on or off.
    ToggleSmoothing,
    /// Less smoothing.
    SmoothLess,
    /// More smoothing.
    SmoothMore,
    /// Loss on a log scale or not.
    ToggleLogScale,
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
}

/// One binding.
pub struct Binding {
    screens: u8,
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
    screens: u8,
    keys: &'static [KeyCode],
    action: Action,
    help: &'static str,
    short: Option<&'static str>,
) -> Binding {
    Binding {
        screens,
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
        ALL,
        &[KeyCode::Tab],
        Action::NextScreen,
        "next screen (live, runs, compare, sweep, analysis)",
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
        ALL,
        &[KeyCode::Up, Char('k')],
        Action::Up,
        "previous setting / run",
        None,
    ),
    bind(
        ALL,
        &[KeyCode::Down, Char('j')],
        Action::Down,
        "next setting / run",
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
        "edit setting (choices cycle; lr, momentum, weight_decay, dropout change the running run)",
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
        RUNS,
        &[Char(' ')],
        Action::Mark,
        "mark / unmark for comparison",
        Some("mark"),
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
        ],
        Action::Sort,
        "sort by column 1-8 (again: reverse)",
        Some("sort"),
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
        SWEEP,
        &[Char('v')],
        Action::NextSweptKey,
        "scatter: the next swept key",
        Some("key"),
    ),
    bind(
        ANALYSIS,
        &[KeyCode::Left, Char('h')],
        Action::Left,
        "previous predicted class",
        None,
    ),
    bind(
        ANALYSIS,
        &[KeyCode::Right, Char('l')],
        Action::Right,
        "next predicted class",
        None,
    ),
    bind(ALL, &[Char('?')], Action::Help, "help", Some("help")),
    bind(ALL, &[Char('q')], Action::Quit, "quit", Some("quit")),
];

/// The action of a key on `screen`, if any.
pub fn action_for(screen: Screen, key: &KeyEvent) -> Option<Action> {
    if key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    {
        return None;
    }
    KEYMAP
        .iter()
        .find(|b| b.screens & screen.bit() != 0 && b.keys.contains(&key.code))
        .map(|b| b.action)
}

/// A key's name for help and hints.
pub fn key_name(code: &KeyCode) -> String {
    match code {
        KeyCode::Char(' ') => "space".into(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Tab => "Tab".into(),
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

/// Help lines of `screen`, generated from the table.
pub fn help_lines(screen: Screen) -> Vec<(String, &'static str)> {
    KEYMAP
        .iter()
        .filter(|b| b.screens & screen.bit() != 0)
        .map(|b| (keys_text(b.keys), b.help))
        .collect()
}

/// The status line's key hints of `screen`, generated from the table.
pub fn status_hints(screen: Screen) -> String {
    KEYMAP
        .iter()
        .filter(|b| b.screens & screen.bit() != 0)
        .filter_map(|b| b.short.map(|s| format!("{} {s}", key_name(&b.keys[0]))))
        .collect::<Vec<_>>()
        .join("  ")
}
