//! The analysis screen's state and actions: a run's confusion matrix with a cursor on one
//! cell (true class, predicted class) and that cell's test images, a page at a time.

use super::app::{App, Effect};
use super::keymap::{Action, Screen};
use gradboard::analysis::{Analysis, K};
use gradboard::data::Cifar10;
use gradboard::train::Prediction;
use std::sync::Arc;

/// A finished analysis and where the cursor is.
#[derive(Clone)]
pub struct AnalysisView {
    /// The run analysed.
    pub run_id: String,
    /// What was found.
    pub analysis: Arc<Analysis>,
    /// The data set, for the test images.
    pub data: Arc<Cifar10>,
    /// True class of the selected cell.
    pub row: usize,
    /// Predicted class of the selected cell.
    pub column: usize,
    /// Page of the cell's images.
    pub page: usize,
}

impl AnalysisView {
    /// A view of `analysis` with the cursor on its most confused pair of classes.
    pub fn new(run_id: String, analysis: Arc<Analysis>, data: Arc<Cifar10>) -> Self {
        let (mut row, mut column, mut most) = (0, 1, 0);
        for r in 0..K {
            for c in (0..K).filter(|&c| c != r) {
                if analysis.confusion[r][c] > most {
                    (row, column, most) = (r, c, analysis.confusion[r][c]);
                }
            }
        }
        AnalysisView {
            run_id,
            analysis,
            data,
            row,
            column,
            page: 0,
        }
    }

    /// The selected cell's images, most confident first.
    pub fn cell(&self) -> Vec<Prediction> {
        self.analysis.cell(self.row, self.column)
    }

    fn step(&mut self, rows: isize, columns: isize) {
        let wrap = |v: usize, d: isize| (v as isize + d).rem_euclid(K as isize) as usize;
        self.row = wrap(self.row, rows);
        self.column = wrap(self.column, columns);
        self.page = 0;
    }
}

impl std::fmt::Debug for AnalysisView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalysisView")
            .field("run_id", &self.run_id)
            .field("cell", &(self.row, self.column))
            .field("page", &self.page)
            .finish()
    }
}

/// Where an analysis stands.
#[derive(Clone, Default)]
pub enum AnalysisState {
    /// None asked for.
    #[default]
    None,
    /// Running for this run.
    Running(String),
    /// Done.
    Ready(Box<AnalysisView>),
    /// Failed: why.
    Failed(String),
}

impl App {
    /// Starts analysing `run_id`'s saved model and shows the analysis screen.
    pub(super) fn analyze(&mut self, run_id: String) -> Vec<Effect> {
        let dir = match self.library.get(&run_id) {
            Some(r) => r.dir.clone(),
            None => {
                self.warn(format!("run {run_id} is not in the runs folder yet"));
                return vec![];
            }
        };
        self.screen = Screen::Analysis;
        self.analysis = AnalysisState::Running(run_id.clone());
        vec![Effect::Analyze { run_id, dir }]
    }

    /// The analysis screen's actions.
    pub(super) fn on_analysis_action(&mut self, action: Action, page: usize) -> Vec<Effect> {
        let AnalysisState::Ready(view) = &mut self.analysis else {
            return vec![];
        };
        match action {
            Action::Up => view.step(-1, 0),
            Action::Down => view.step(1, 0),
            Action::Left => view.step(0, -1),
            Action::Right => view.step(0, 1),
            Action::PageDown => {
                let pages = view.cell().len().div_ceil(page.max(1));
                if view.page + 1 < pages {
                    view.page += 1;
                }
            }
            Action::PageUp => view.page = view.page.saturating_sub(1),
            _ => {}
        }
        vec![]
    }
}
