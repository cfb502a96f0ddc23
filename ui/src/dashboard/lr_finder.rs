//! The learning-rate finder from the live screen: it runs with the settings panel's
//! configuration on a copy of the live screen's run (its newest checkpoint) when the settings
//! keep that run's network, else on a fresh model; its curve fills a popup as it goes, and one
//! key puts the suggested learning rate in the settings.

use super::app::{App, Effect, Mode};
use crossterm::event::{KeyCode, KeyEvent};
use gradboard::config::format_float;
use gradboard::train::lr_find::{round_lr, LrFinding};

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

/// The source of a finder on a fresh model.
pub const FRESH: &str = "a fresh model of these settings";

impl LrFinderView {
    /// The suggestion, rounded to two significant digits.
    pub fn suggestion(&self) -> Option<f64> {
        match &self.result {
            Some(Ok(f)) => f.suggestion.map(round_lr),
            _ => None,
        }
    }
}

impl App {
    /// Starts the finder on the settings panel's configuration.
    pub(super) fn start_lr_finder(&mut self) -> Vec<Effect> {
        if let Err(e) = self.config.validate() {
            self.warn(format!("lr-find: {e}"));
            return vec![];
        }
        let from = self
            .run()
            .filter(|run| self.config.network_difference(&run.config).is_none())
            .and_then(|run| {
                Some((
                    run.run_id.clone(),
                    self.library.get(&run.run_id)?.dir.clone(),
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
            config: Box::new(self.config.clone()),
            from,
        }]
    }

    /// A key while the finder's popup is open: `a` or Enter applies the suggestion, Esc
    /// closes (stopping a finder still running).
    pub(super) fn on_lr_finder_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let running = self.lr_finder.as_ref().is_some_and(|v| v.result.is_none());
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => {
                self.lr_finder = None;
                return if running {
                    vec![Effect::StopLrFind]
                } else {
                    vec![]
                };
            }
            KeyCode::Char('a') | KeyCode::Enter => {
                match self.lr_finder.as_ref().and_then(|v| v.suggestion()) {
                    Some(lr) => {
                        let text = format_float(lr);
                        let spec = gradboard::config::key("lr").expect("lr is a key");
                        let effects = self.set_value(spec, &text);
                        self.lr_finder = None;
                        self.notify(format!("lr = {text}, the finder's suggestion"));
                        return effects;
                    }
                    None if running => self.warn("the finder is still running"),
                    None => self.warn("no suggestion to apply"),
                }
            }
            _ => {}
        }
        self.mode = Mode::LrFinder;
        vec![]
    }
}
