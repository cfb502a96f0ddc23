//! The learning-rate finder's popup over the live screen: its curve as the ramp goes, its
//! result, and what its model is a copy of.

use gradboard::train::lr_find::{round_lr, LrFinding};

/// The source of a finder on a fresh model.
pub const FRESH: &str = "a fresh model of these settings";

/// The finder's curve as it grows, and its result once done.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LrFinderView {
    /// (learning rate, smoothed loss) so far.
    pub curve: Vec<(f64, f64)>,
    /// The finished finding, or why it failed.
    pub result: Option<Result<LrFinding, String>>,
    /// What the finder's model is a copy of.
    pub source: String,
}

impl LrFinderView {
    /// The suggestion, rounded to two significant digits.
    pub fn suggestion(&self) -> Option<f64> {
        match &self.result {
            Some(Ok(f)) => f.suggestion.map(round_lr),
            _ => None,
        }
    }

    /// Whether the finder is still ramping.
    pub fn running(&self) -> bool {
        self.result.is_none()
    }
}
