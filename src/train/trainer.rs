//! The autograd engine's trainer: loss, backward, the checks that keep a diverging run from
//! applying its step, and the optimizer update. The manual engine keeps its fused step as a
//! trainer of its own (`manual::ManualTrainer`).

use crate::config::RunConfig;
use crate::kernels::grad_sink;
use crate::kernels::inplace::assign;
use crate::kernels::loss::cross_entropy;
use crate::kernels::reduce::sum_squares;
use crate::kernels::Kernels;
use crate::model::{Compute, Hyper, Network, StepReport, Trainer};
use crate::optim::Optimizer;
use crate::Result;
use candle_core::Tensor;

/// Autograd: cross-entropy (label-smoothed when asked) on the network's logits, backward,
/// global gradient norm, the update with the gradient scaled down to `clip_norm` when above.
pub struct AutogradTrainer {
    net: Box<dyn Network>,
    optimizer: Optimizer,
    kernels: Kernels,
    /// Whether the next step keeps its gradients, and those it kept.
    keep: bool,
    kept: Vec<(String, Tensor)>,
    /// The lookahead's moving average of every parameter and buffer (empty until the first
    /// pull, which starts it at the weights of that step).
    average: Vec<Tensor>,
}

/// Prefix of the lookahead average's tensors in the optimizer state of checkpoints.
const AVERAGE_PREFIX: &str = "lookahead.";

impl AutogradTrainer {
    /// A trainer for `net` with the optimizer `config` names.
    pub fn new(net: Box<dyn Network>, config: &RunConfig, compute: &Compute) -> Result<Self> {
        let optimizer = Optimizer::new(config.optimizer, net.params(), compute.kernels())?;
        Ok(AutogradTrainer {
            net,
            optimizer,
            kernels: compute.kernels(),
            keep: false,
            kept: Vec::new(),
            average: Vec::new(),
        })
    }

    /// The lookahead pull: average = decay average + (1 - decay) weights; weights = average.
    fn pull(&mut self, decay: f64) -> Result<()> {
        let params: Vec<Tensor> = self.net.params().iter().map(|p| p.tensor.clone()).collect();
        if self.average.len() != params.len() {
            self.average = params
                .iter()
                .map(|p| Ok(p.copy()?.detach()))
                .collect::<candle_core::Result<_>>()?;
        }
        for (avg, p) in self.average.iter_mut().zip(&params) {
            // Detached: the blend of a variable carries an autograd graph, and each average
            // holding the last one's kept every earlier average alive (about 320 KB a step of
            // the speedrun, 7 GB in 30 epochs).
            let blended = ((&*avg * decay)? + (p * (1.0 - decay))?)?.detach();
            assign(p, &blended)?;
            *avg = blended;
        }
        Ok(())
    }
}

impl Trainer for AutogradTrainer {
    fn step(&mut self, x: &Tensor, labels: &[u8], hyper: &Hyper) -> Result<StepReport> {
        let logits = self.net.forward(x, true)?;
        let loss = cross_entropy(self.kernels, &logits, labels, hyper.label_smoothing)?;
        let mut report = StepReport {
            loss: loss.value,
            correct: loss.correct,
            grad_norm: None,
            applied: false,
        };
        if !report.loss.is_finite() {
            return Ok(report);
        }
        let grads = grad_sink::backward(&loss.tensor)?;
        let mut squares = 0.0;
        for p in self.net.params().trainable() {
            if let Some(g) = grads.get(&p.tensor) {
                squares += sum_squares(self.kernels, g)?;
                if self.keep {
                    self.kept.push((p.name.clone(), g.clone()));
                }
            }
        }
        self.keep = false;
        let norm = squares.sqrt();
        report.grad_norm = Some(norm);
        if !norm.is_finite() {
            return Ok(report);
        }
        self.optimizer
            .step_scaled(&grads, hyper, hyper.clip_scale(norm))?;
        if let Some(decay) = hyper.lookahead {
            self.pull(decay)?;
        }
        report.applied = true;
        Ok(report)
    }

    fn network(&mut self) -> &mut dyn Network {
        self.net.as_mut()
    }

    fn network_ref(&self) -> &dyn Network {
        self.net.as_ref()
    }

    fn optimizer_state(&self) -> Result<(u64, Vec<(String, Tensor)>)> {
        let (steps, mut state) = self.optimizer.state()?;
        for (p, avg) in self.net.params().iter().zip(&self.average) {
            state.push((format!("{AVERAGE_PREFIX}{}", p.name), avg.clone()));
        }
        Ok((steps, state))
    }

    fn load_optimizer_state(&mut self, steps: u64, state: &[(String, Tensor)]) -> Result<()> {
        self.optimizer.load_state(steps, state)?;
        let saved: std::collections::HashMap<&str, &Tensor> =
            state.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let average: Option<Vec<Tensor>> = self
            .net
            .params()
            .iter()
            .map(|p| {
                let t = saved.get(format!("{AVERAGE_PREFIX}{}", p.name).as_str())?;
                (t.shape() == p.tensor.shape()).then(|| t.to_device(p.tensor.device()).ok())?
            })
            .collect();
        self.average = average.unwrap_or_default();
        Ok(())
    }

    fn keep_gradients(&mut self) {
        self.keep = true;
        self.kept.clear();
    }

    fn take_gradients(&mut self) -> Vec<(String, Tensor)> {
        self.keep = false;
        std::mem::take(&mut self.kept)
    }
}
