//! The layers screen's state and actions: which run, which statistic the heat map shows, the
//! selected layer and the step under the cursor.

use super::Ctx;
use crate::dashboard::keymap::Action;
use crate::dashboard::msg::Effect;

/// What the heat map colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayerStat {
    /// The norm of a step's change over the weights' norm (log scale; 1e-3 is healthy).
    #[default]
    UpdateRatio,
    /// The gradient's norm (log scale).
    GradNorm,
    /// The weights' norm (log scale).
    WeightNorm,
    /// The standard deviation of a hidden layer's output on the probe batch (log scale).
    ActStd,
    /// The fraction of a hidden layer's units that never fire on the probe batch.
    Dead,
}

impl LayerStat {
    /// Every statistic, in `v` order.
    pub const ALL: [LayerStat; 5] = [
        LayerStat::UpdateRatio,
        LayerStat::GradNorm,
        LayerStat::WeightNorm,
        LayerStat::ActStd,
        LayerStat::Dead,
    ];

    /// Its name in titles.
    pub fn name(self) -> &'static str {
        match self {
            LayerStat::UpdateRatio => "update ratio (log; 1e-3 healthy)",
            LayerStat::GradNorm => "gradient norm (log)",
            LayerStat::WeightNorm => "weight norm (log)",
            LayerStat::ActStd => "activation std (log)",
            LayerStat::Dead => "dead fraction",
        }
    }

    /// Its fixed scale and healthy band.
    pub fn scale(self) -> gradboard::diag::scales::Scale {
        use gradboard::diag::scales;
        match self {
            LayerStat::UpdateRatio => scales::UPDATE_RATIO,
            LayerStat::GradNorm => scales::GRAD_NORM,
            LayerStat::WeightNorm => scales::WEIGHT_NORM,
            LayerStat::ActStd => scales::ACT_STD,
            LayerStat::Dead => scales::DEAD,
        }
    }

    /// Whether its rows are parameter tensors (else hidden layers' outputs).
    pub fn of_params(self) -> bool {
        !matches!(self, LayerStat::ActStd | LayerStat::Dead)
    }

    /// Whether it is drawn on a log scale.
    pub fn log(self) -> bool {
        self != LayerStat::Dead
    }

    /// The next one.
    pub fn next(self) -> LayerStat {
        let i = LayerStat::ALL.iter().position(|s| *s == self).unwrap_or(0);
        LayerStat::ALL[(i + 1) % LayerStat::ALL.len()]
    }
}

/// The layers screen's state.
#[derive(Debug, Clone, Default)]
pub struct LayersScreen {
    /// The run shown (`None`: the live screen's).
    pub run: Option<String>,
    /// What the heat map colours.
    pub stat: LayerStat,
    /// The selected row (layer).
    pub layer: usize,
    /// The `layers` event under the cursor, counted back from the newest (0: the newest, so
    /// a run still training keeps showing its latest).
    pub back: usize,
}

impl LayersScreen {
    /// Shows run `run_id` (loading it when needed).
    pub fn open(&mut self, run_id: Option<String>, cx: &mut Ctx) -> Vec<Effect> {
        if self.run != run_id {
            self.layer = 0;
            self.back = 0;
        }
        self.run = run_id.clone();
        match run_id {
            Some(id) => cx.shared.ensure_loaded(&id),
            None => vec![],
        }
    }

    /// The screen's actions.
    pub fn update(&mut self, action: Action, _cx: &mut Ctx) -> Vec<Effect> {
        match action {
            Action::NextSweptKey => {
                self.stat = self.stat.next();
                self.layer = 0;
            }
            Action::Up => self.layer = self.layer.saturating_sub(1),
            Action::Down => self.layer += 1,
            Action::Left => self.back += 1,
            Action::Right => self.back = self.back.saturating_sub(1),
            _ => {}
        }
        vec![]
    }
}
