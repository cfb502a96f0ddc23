//! The analysis screen's state and actions: a run's confusion matrix with a cursor on one
//! cell (true class, predicted class) and that cell's test images, a page at a time. How many
//! images a page holds follows from the terminal's size (`gallery_grid`), which the view uses
//! too, so the view writes nothing back.

use super::Ctx;
use crate::dashboard::keymap::Action;
use crate::dashboard::msg::{Analysed, Effect};
use gradboard::train::Prediction;

/// Cells an image takes with its frame and caption: 32 + 2 wide, 16 + 2 high.
pub const IMAGE_CELLS: (u16, u16) = (34, 18);
/// Rows of the matrix panel shown at most (a data set of more classes shows the first).
pub const MATRIX_ROWS: usize = 40;

/// Rows above the gallery for `k` classes: the title line and the matrix panel (its rows,
/// header, border).
fn above_gallery(k: usize) -> u16 {
    1 + k.min(MATRIX_ROWS) as u16 + 4
}
/// Rows below it: the notice and status lines.
const BELOW_GALLERY: u16 = 2;

/// Images a row and rows a page of the gallery hold in a terminal of `size`, for `k` classes.
pub fn gallery_grid((width, height): (u16, u16), k: usize) -> (usize, usize) {
    let inner_w = width.saturating_sub(2);
    let inner_h = height.saturating_sub(above_gallery(k) + BELOW_GALLERY + 2);
    (
        (inner_w / IMAGE_CELLS.0) as usize,
        (inner_h / IMAGE_CELLS.1) as usize,
    )
}

/// A finished analysis and where the cursor is.
#[derive(Debug, Clone)]
pub struct AnalysisView {
    /// What was analysed and found.
    pub analysed: Analysed,
    /// True class of the selected cell.
    pub row: usize,
    /// Predicted class of the selected cell.
    pub column: usize,
    /// Page of the cell's images.
    pub page: usize,
}

impl AnalysisView {
    /// A view of `analysed` with the cursor on its most confused pair of classes.
    pub fn new(analysed: Analysed) -> Self {
        let (mut row, mut column, mut most) = (0, 1, 0);
        let k = analysed.analysis.k();
        for r in 0..k {
            for c in (0..k).filter(|&c| c != r) {
                if analysed.analysis.confusion[r][c] > most {
                    (row, column, most) = (r, c, analysed.analysis.confusion[r][c]);
                }
            }
        }
        AnalysisView {
            analysed,
            row,
            column,
            page: 0,
        }
    }

    /// The selected cell's images, most confident first.
    pub fn cell(&self) -> Vec<Prediction> {
        self.analysed.analysis.cell(self.row, self.column)
    }

    fn step(&mut self, rows: isize, columns: isize) {
        let k = self.analysed.analysis.k().max(1) as isize;
        let wrap = |v: usize, d: isize| (v as isize + d).rem_euclid(k) as usize;
        self.row = wrap(self.row, rows);
        self.column = wrap(self.column, columns);
        self.page = 0;
    }
}

/// Where an analysis stands.
#[derive(Debug, Clone, Default)]
pub enum AnalysisScreen {
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

impl AnalysisScreen {
    /// The screen's actions.
    pub fn update(&mut self, action: Action, cx: &mut Ctx) -> Vec<Effect> {
        let AnalysisScreen::Ready(view) = self else {
            return vec![];
        };
        match action {
            Action::Up => view.step(-1, 0),
            Action::Down => view.step(1, 0),
            Action::Left => view.step(0, -1),
            Action::Right => view.step(0, 1),
            Action::PageDown => {
                let (per_row, rows) = gallery_grid(cx.shared.size, view.analysed.analysis.k());
                let pages = view.cell().len().div_ceil((per_row * rows).max(1));
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
