//! One module a screen, each owning its state and its `update(action) -> effects`; the app
//! routes keys and messages to them. What a screen asks of another (show a run, go to a
//! screen, analyse a run) goes back to the app as a `Request`.

pub mod analysis;
pub mod compare;
pub mod data;
pub mod layers;
pub mod live;
pub mod logs;
pub mod lr_finder;
pub mod runs;
pub mod sweep;

use super::msg::{Mode, Screen};
use super::shared::Shared;
use crossterm::event::{Event as TermEvent, KeyEvent};
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;

/// What a screen's update may touch besides its own state: the shared state, the keyboard's
/// mode (to open or keep a popup), and requests for the app.
pub struct Ctx<'a> {
    /// What the screens share.
    pub shared: &'a mut Shared,
    /// The keyboard's mode.
    pub mode: &'a mut Mode,
    /// What the screen asks of the app.
    pub requests: &'a mut Vec<Request>,
}

/// What a screen asks of the app, which owns the other screens.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Show this screen.
    Show(Screen),
    /// Show this run on the live screen (loading it when needed).
    Open(String),
    /// Analyse this run's model on the analysis screen.
    Analyze(String),
    /// Load the marked runs for the compare screen.
    LoadMarked,
}

/// A one-line text field and the reason its last value was refused.
#[derive(Debug, Clone)]
pub struct Field {
    /// The text and cursor.
    pub input: Input,
    /// Why the last value was refused.
    pub error: Option<String>,
}

impl Field {
    /// A field holding `text`.
    pub fn new(text: &str) -> Self {
        Field {
            input: Input::new(text.to_string()),
            error: None,
        }
    }

    /// Types a key into the field (arrows, Home/End, Backspace/Delete, characters); a change
    /// clears the error.
    pub fn type_key(&mut self, key: KeyEvent) {
        if self.input.handle_event(&TermEvent::Key(key)).is_some() {
            self.error = None;
        }
    }
}
