//! The one keymap table: it dispatches keys and generates the help screen.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key does in the main screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Restart with the edited settings.
    Restart,
    /// Pause or resume the run.
    TogglePause,
    /// Stop the run.
    Stop,
    /// Quit (asks first while a run is active).
    Quit,
    /// Show or hide help.
    Help,
    /// Move up in the configuration panel.
    Up,
    /// Move down in the configuration panel.
    Down,
    /// Edit the selected value (choices cycle).
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
    /// x axis in steps or epochs.
    ToggleXAxis,
    /// Whole history or the recent window.
    ToggleWindow,
}

/// Each binding: the keys, the action, and the help text.
pub const KEYMAP: &[(&[KeyCode], Action, &str)] = &[
    (
        &[KeyCode::Char('r')],
        Action::Restart,
        "restart with the edited settings",
    ),
    (
        &[KeyCode::Char(' '), KeyCode::Char('p')],
        Action::TogglePause,
        "pause / resume",
    ),
    (&[KeyCode::Char('s')], Action::Stop, "stop the run"),
    (&[KeyCode::Char('q')], Action::Quit, "quit"),
    (&[KeyCode::Char('?')], Action::Help, "help"),
    (
        &[KeyCode::Up, KeyCode::Char('k')],
        Action::Up,
        "previous setting",
    ),
    (
        &[KeyCode::Down, KeyCode::Char('j')],
        Action::Down,
        "next setting",
    ),
    (
        &[KeyCode::Enter],
        Action::Edit,
        "edit setting (choices cycle)",
    ),
    (
        &[KeyCode::Char('+'), KeyCode::Char('=')],
        Action::LrUp,
        "learning rate x2",
    ),
    (&[KeyCode::Char('-')], Action::LrDown, "learning rate /2"),
    (&[KeyCode::Char('l')], Action::Presets, "load a preset"),
    (
        &[KeyCode::Char('w')],
        Action::SavePreset,
        "save settings as a preset",
    ),
    (
        &[KeyCode::Char('e')],
        Action::ToggleSmoothing,
        "smoothing on/off",
    ),
    (&[KeyCode::Char('[')], Action::SmoothLess, "less smoothing"),
    (&[KeyCode::Char(']')], Action::SmoothMore, "more smoothing"),
    (
        &[KeyCode::Char('g')],
        Action::ToggleLogScale,
        "loss log scale",
    ),
    (
        &[KeyCode::Char('x')],
        Action::ToggleXAxis,
        "x axis: steps / epochs",
    ),
    (
        &[KeyCode::Char('f')],
        Action::ToggleWindow,
        "full history / recent window",
    ),
];

/// The action bound to a key, if any.
pub fn action_for(key: &KeyEvent) -> Option<Action> {
    if key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    {
        return None;
    }
    KEYMAP
        .iter()
        .find(|(keys, _, _)| keys.contains(&key.code))
        .map(|(_, action, _)| *action)
}

/// A key's name for help and hints.
pub fn key_name(code: &KeyCode) -> String {
    match code {
        KeyCode::Char(' ') => "space".into(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Enter => "Enter".into(),
        other => format!("{other:?}"),
    }
}

/// Help lines, generated from the table.
pub fn help_lines() -> Vec<(String, &'static str)> {
    KEYMAP
        .iter()
        .map(|(keys, _, text)| {
            (
                keys.iter().map(key_name).collect::<Vec<_>>().join(" / "),
                *text,
            )
        })
        .collect()
}
