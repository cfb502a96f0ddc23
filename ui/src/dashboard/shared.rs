//! What every screen reads and some write: the runs (each a fold of its events), the runs
//! folder's listing, the data set's state, the notice line, the chart options, the clock and
//! the terminal's size as the last messages said.

use super::msg::{DataState, Effect};
use super::store::Runs;
use gradboard::config::PresetDirs;
use gradboard::runs::RunRecord;

/// The EMA strengths `[` and `]` step through.
pub const SMOOTHING_LEVELS: [f64; 7] = [0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99];
/// Steps shown by the recent window.
pub const RECENT_STEPS: f64 = 300.0;

/// The charts' x axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Training steps.
    Steps,
    /// Epochs.
    Epochs,
    /// Seconds since the run started.
    WallTime,
}

/// How the charts are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartOptions {
    /// Smooth the train curves (debiased EMA, the raw curve faint beneath).
    pub smoothing: bool,
    /// EMA weight of the past, 0 to 0.99.
    pub alpha: f64,
    /// Loss on a log10 scale.
    pub log_loss: bool,
    /// Ignore outliers in the loss chart's y range (TensorBoard's "ignore outliers in chart
    /// scaling"): topped at 1.5 times where the lowest-starting run started, the clipped
    /// curves marked.
    pub ignore_outliers: bool,
    /// The x axis.
    pub x_axis: XAxis,
    /// Only the last `RECENT_STEPS` steps.
    pub recent: bool,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions {
            smoothing: true,
            alpha: 0.6,
            log_loss: false,
            ignore_outliers: true,
            x_axis: XAxis::Steps,
            recent: false,
        }
    }
}

impl ChartOptions {
    /// Applies a chart key: smoothing on/off, less or more of it, log loss, the x axis, the
    /// recent window.
    pub fn apply(&mut self, action: super::keymap::Action) {
        use super::keymap::Action;
        match action {
            Action::ToggleSmoothing => self.smoothing = !self.smoothing,
            Action::SmoothLess | Action::SmoothMore => {
                let i = SMOOTHING_LEVELS
                    .iter()
                    .position(|&a| a >= self.alpha)
                    .unwrap_or(0);
                let i = if action == Action::SmoothMore {
                    (i + 1).min(SMOOTHING_LEVELS.len() - 1)
                } else {
                    i.saturating_sub(1)
                };
                self.alpha = SMOOTHING_LEVELS[i];
                self.smoothing = true;
            }
            Action::ToggleLogScale => self.log_loss = !self.log_loss,
            Action::ToggleOutliers => self.ignore_outliers = !self.ignore_outliers,
            Action::CycleXAxis => {
                self.x_axis = match self.x_axis {
                    XAxis::Steps => XAxis::Epochs,
                    XAxis::Epochs => XAxis::WallTime,
                    XAxis::WallTime => XAxis::Steps,
                }
            }
            Action::ToggleWindow => self.recent = !self.recent,
            _ => {}
        }
    }
}

/// The runs folder as the last scan listed it.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Every run folder's record, newest first.
    pub records: Vec<RunRecord>,
    /// Whether a scan has come in yet.
    pub scanned: bool,
    /// Why the runs folder could not be listed, when it could not.
    pub error: Option<String>,
}

impl Listing {
    /// A run by id.
    pub fn get(&self, run_id: &str) -> Option<&RunRecord> {
        self.records.iter().find(|r| r.run_id == run_id)
    }
}

/// The notice line: a message for the user, and whether it reports a problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The text.
    pub text: String,
    /// Whether it is shown as an error.
    pub error: bool,
}

/// How images reach the terminal, from what it answered (`None`: nothing, half-blocks). For
/// half-blocks the picker works at one pixel a column and two a row, so each cell shows two of
/// the image's own pixels, unblended.
pub fn image_picker(
    answered: Option<ratatui_image::picker::Picker>,
) -> ratatui_image::picker::Picker {
    use ratatui_image::picker::{Picker, ProtocolType};
    match answered {
        Some(p) if p.protocol_type() != ProtocolType::Halfblocks => p,
        _ => {
            #[allow(deprecated)]
            let mut p = Picker::from_fontsize((1, 2).into());
            p.set_protocol_type(ProtocolType::Halfblocks);
            p
        }
    }
}

/// What the screens share.
pub struct Shared {
    /// Every run loaded, by id.
    pub runs: Runs,
    /// The runs folder's listing.
    pub listing: Listing,
    /// Runs marked for comparison (on the runs screen), in marking order.
    pub marked: Vec<String>,
    /// Run folders asked for and not arrived yet.
    pub loading: Vec<String>,
    /// The data set.
    pub data: DataState,
    /// The notice line.
    pub notice: Option<Notice>,
    /// Where presets are read and saved (the workers read them; the app only passes this on).
    pub presets: PresetDirs,
    /// Chart options of the live and compare screens.
    pub chart: ChartOptions,
    /// Unix seconds at the last tick.
    pub now: f64,
    /// The terminal's size at the last resize.
    pub size: (u16, u16),
    /// How images reach the terminal (what it answered at start; half-blocks by default).
    pub graphics: ratatui_image::picker::Picker,
}

impl Shared {
    /// Nothing loaded yet, the data set in `data`.
    pub fn new(presets: PresetDirs, data: DataState) -> Self {
        Shared {
            runs: Runs::default(),
            listing: Listing::default(),
            marked: Vec::new(),
            loading: Vec::new(),
            data,
            notice: None,
            presets,
            chart: ChartOptions::default(),
            now: 0.0,
            size: (0, 0),
            graphics: image_picker(None),
        }
    }

    /// Shows `text` on the notice line.
    pub fn notify(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            error: false,
        });
    }

    /// Shows `text` on the notice line as a problem.
    pub fn warn(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            error: true,
        });
    }

    /// Whether the data set is ready to train on.
    pub fn data_ready(&self) -> bool {
        matches!(self.data, DataState::Ready { .. })
    }

    /// Where the data set in use was read from (empty before it is).
    pub fn data_source(&self) -> String {
        match &self.data {
            DataState::Ready { source, .. } | DataState::Loading(source) => source.clone(),
            _ => String::new(),
        }
    }

    /// The loaded data set's shape, CIFAR-10's before it is loaded.
    pub fn data_shape(&self) -> gradboard::data::DataShape {
        match self.data {
            DataState::Ready { shape, .. } => shape,
            _ => gradboard::data::DataShape::CIFAR10,
        }
    }

    /// Asks for a run's events when they are not loaded or on their way.
    pub fn ensure_loaded(&mut self, run_id: &str) -> Vec<Effect> {
        if self.runs.get(run_id).is_some() || self.loading.iter().any(|l| l == run_id) {
            return vec![];
        }
        match self.listing.get(run_id) {
            Some(r) => {
                self.loading.push(run_id.to_string());
                vec![Effect::Load {
                    run_id: run_id.to_string(),
                    dir: r.dir.clone(),
                }]
            }
            None => vec![],
        }
    }
}
