//! The compare screen: the marked runs' curves overlaid (their marks are the shared
//! selection the runs screen makes), and with `d` their settings side by side.

use super::{Ctx, Request};
use crate::dashboard::keymap::Action;
use crate::dashboard::msg::Effect;

/// The compare screen's state.
#[derive(Debug, Clone, Default)]
pub struct CompareScreen {
    /// Whether the settings are shown side by side.
    pub diff: bool,
}

impl CompareScreen {
    /// The screen's actions.
    pub fn update(&mut self, action: Action, cx: &mut Ctx) -> Vec<Effect> {
        match action {
            Action::Diff => self.diff = !self.diff,
            Action::Export => return super::runs::export_marked(None, cx),
            _ => cx.requests.push(Request::LoadMarked),
        }
        vec![]
    }
}
