//! The learning-rate finder (Smith, "Cyclical Learning Rates", 2017; fastai's `lr_find`): a
//! copy of the model trains for about a hundred steps while the learning rate grows
//! exponentially; the loss against the learning rate shows where training is fastest, and the
//! suggestion is the learning rate where the smoothed loss falls most steeply.

use super::build_trainer;
use super::checkpoint::Weights;
use crate::config::RunConfig;
use crate::data::augment::Seeds;
use crate::data::{derive_seed, BatchSampler, Dataset, Holdout};
use crate::model::{load_weights, Compute, Hyper};
use crate::Result;
use candle_core::Tensor;
use rand::rngs::SmallRng;
use rand::SeedableRng;

/// The ramp: from `start` to `end` over `steps` steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    /// First learning rate.
    pub start: f64,
    /// Last learning rate.
    pub end: f64,
    /// Steps.
    pub steps: usize,
}

impl Default for Ramp {
    fn default() -> Self {
        Ramp {
            start: 1e-7,
            end: 10.0,
            steps: 100,
        }
    }
}

impl Ramp {
    /// The learning rate of step `i` (from 0).
    pub fn lr(&self, i: usize) -> f64 {
        let t = i as f64 / (self.steps.max(2) - 1) as f64;
        self.start * (self.end / self.start).powf(t)
    }
}

/// Smoothing of the loss curve (fastai's 0.98).
pub const BETA: f64 = 0.98;
/// The ramp ends early once the smoothed loss is this many times its lowest.
pub const DIVERGED: f64 = 4.0;

/// What the finder measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LrFinding {
    /// (learning rate, loss) of each step done.
    pub points: Vec<(f64, f64)>,
    /// The debiased moving average of the losses.
    pub smoothed: Vec<f64>,
    /// The suggested learning rate.
    pub suggestion: Option<f64>,
    /// Whether the ramp ended early because the loss blew up.
    pub diverged: bool,
}

/// The debiased exponential moving average of `values` with factor `beta`.
pub fn smooth(values: &[f64], beta: f64) -> Vec<f64> {
    let mut avg = 0.0;
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            avg = beta * avg + (1.0 - beta) * v;
            avg / (1.0 - beta.powi(i as i32 + 1))
        })
        .collect()
}

/// The learning rate where `smoothed` falls fastest against log10(lr), looked for before the
/// loss's lowest point; `None` with too few points or no descent. Each point's slope is taken
/// across `n / 15` points either side, so that batch-to-batch noise (which dominates a trained
/// model's flat curve) does not make a steep stretch of its own.
pub fn suggest(lrs: &[f64], smoothed: &[f64]) -> Option<f64> {
    let n = lrs.len().min(smoothed.len());
    let lowest = (0..n).min_by(|&a, &b| smoothed[a].total_cmp(&smoothed[b]))?;
    // The first steps' average is dominated by its start: skip a fifth of the ramp.
    let from = (n / 5).max(1);
    let half = (n / 15).max(1);
    let mut best: Option<(usize, f64)> = None;
    for i in from..lowest.min(n - 1) {
        let (a, b) = (i.saturating_sub(half), (i + half).min(n - 1));
        let slope = (smoothed[b] - smoothed[a]) / (lrs[b].log10() - lrs[a].log10());
        if slope < best.map_or(0.0, |b| b.1) {
            best = Some((i, slope));
        }
    }
    best.map(|(i, _)| lrs[i])
}

/// `lr` to two significant digits, as a suggestion is shown.
pub fn round_lr(lr: f64) -> f64 {
    if !(lr > 0.0 && lr.is_finite()) {
        return lr;
    }
    let scale = 10f64.powi(1 - lr.log10().floor() as i32);
    (lr * scale).round() / scale
}

/// Runs the finder on a copy of a model: `start`'s weights, or a fresh model of `config`
/// (its seed's weights) without them; on training batches of its batch size. The copy is the
/// finder's own: nothing it trains is written back. `stop` ends it between steps.
pub fn find_lr(
    config: &RunConfig,
    data: &Dataset,
    compute: &Compute,
    ramp: Ramp,
    start: Option<&Weights>,
    stop: &dyn Fn() -> bool,
    mut progress: impl FnMut(usize, f64, f64),
) -> Result<LrFinding> {
    super::check(config, data.shape, Some(data.train.len()), compute)?;
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let mut trainer = build_trainer(config, data.shape, &mut rng, compute)?;
    if let Some(start) = start {
        load_weights(trainer.network(), start.tensors.clone(), &start.origin)?;
    }
    trainer.network().set_dropout(config.dropout);
    // Held-out images stay out of the finder's batches too.
    let holdout = Holdout::new(data.train.len(), config.val_split, config.seed);
    let mut sampler = BatchSampler::over(holdout.train().to_vec(), derive_seed(config.seed, 1));
    let mut points = Vec::new();
    let mut losses = Vec::new();
    let mut diverged = false;
    for i in 0..ramp.steps {
        if stop() {
            break;
        }
        let lr = ramp.lr(i);
        let indices = sampler.next_indices(config.batch_size).to_vec();
        let seeds = Seeds {
            run: 3,
            step: i as u64,
            epoch: sampler.epoch(),
        };
        let (rows, labels) = data.training_batch(&indices, config.augment, seeds);
        let x = Tensor::from_vec(rows, (indices.len(), data.image_bytes()), compute.device())?;
        trainer.network().reseed(derive_seed(config.seed, i as u64));
        let hyper = Hyper {
            lr,
            ..Hyper::of(config)
        };
        let report = trainer.step(&x, &labels, &hyper)?;
        if !report.loss.is_finite() {
            diverged = true;
            break;
        }
        points.push((lr, report.loss));
        losses.push(report.loss);
        let smoothed = smooth(&losses, BETA);
        let last = *smoothed.last().expect("one loss at least");
        progress(i + 1, lr, last);
        let lowest = smoothed.iter().copied().fold(f64::INFINITY, f64::min);
        if i > ramp.steps / 10 && last > DIVERGED * lowest {
            diverged = true;
            break;
        }
        if !report.applied {
            diverged = true;
            break;
        }
    }
    let smoothed = smooth(&losses, BETA);
    let lrs: Vec<f64> = points.iter().map(|p| p.0).collect();
    Ok(LrFinding {
        suggestion: suggest(&lrs, &smoothed),
        points,
        smoothed,
        diverged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ramp_is_exponential_from_start_to_end() {
        let r = Ramp::default();
        assert!((r.lr(0) - 1e-7).abs() < 1e-20);
        assert!((r.lr(99) - 10.0).abs() < 1e-9);
        let ratio = r.lr(1) / r.lr(0);
        assert!((r.lr(51) / r.lr(50) - ratio).abs() < 1e-9);
    }

    /// A loss that sits at 2.3 for small rates, falls fastest around lr = 1e-3 (a logistic
    /// step in log10(lr)) to 0.5 by 1e-2, then blows up: the suggestion is near 1e-3.
    #[test]
    fn the_suggestion_is_where_the_loss_falls_fastest() {
        let ramp = Ramp::default();
        let lrs: Vec<f64> = (0..100).map(|i| ramp.lr(i)).collect();
        let loss = |lr: f64| {
            let x = lr.log10();
            let fall = 0.5 + 1.8 / (1.0 + ((x + 3.0) * 4.0).exp());
            let blow = if x > -1.5 {
                (x + 1.5).powi(2) * 3.0
            } else {
                0.0
            };
            fall + blow
        };
        let raw: Vec<f64> = lrs.iter().map(|&l| loss(l)).collect();
        let s = suggest(&lrs, &raw).unwrap();
        assert!((s.log10() + 3.0).abs() < 0.2, "suggested {s}");
        // Smoothing delays the curve a little; the suggestion stays within a factor of 3.
        let smoothed = smooth(&raw, 0.9);
        let s = suggest(&lrs, &smoothed).unwrap();
        assert!(
            (s.log10() + 3.0).abs() < 0.5,
            "suggested {s} from the smoothed curve"
        );
        // A trained model's curve: a fall of only 0.3 around 1e-3, and batch noise early on
        // (a dip of 0.2 near 5e-6 that comes back) that is not a descent.
        let noisy: Vec<f64> = lrs
            .iter()
            .enumerate()
            .map(|(i, &lr)| {
                let dip = if (20..23).contains(&i) { -0.2 } else { 0.0 };
                loss(lr) - 1.5 / (1.0 + ((lr.log10() + 3.0) * 4.0).exp()) + dip
            })
            .collect();
        let s = suggest(&lrs, &smooth(&noisy, 0.9)).unwrap();
        assert!(
            (s.log10() + 3.0).abs() < 0.5,
            "suggested {s} despite the dip"
        );
        // A loss that only rises has nothing to suggest.
        let rising: Vec<f64> = (0..100).map(|i| i as f64).collect();
        assert_eq!(suggest(&lrs, &rising), None);
    }

    #[test]
    fn smoothing_is_debiased() {
        let s = smooth(&[2.0, 2.0, 2.0], BETA);
        assert!(s.iter().all(|v| (v - 2.0).abs() < 1e-12), "{s:?}");
    }
}
