//! A network on a whole split in inference mode, chunk by chunk (checking for a stop between
//! chunks), with optional test-time augmentation: the loss and accuracy of evaluations,
//! and each image's prediction for analysis.

use crate::config::{RunConfig, Tta};
use crate::data::augment::{tta_views, view_in_place, viewed};
use crate::data::{DataShape, Dataset, Split};
use crate::kernels::loss::cross_entropy;
use crate::model::{load_weights, read_safetensors, Compute, Network};
use crate::{Error, Result};
use candle_core::{Tensor, D};
use rand::SeedableRng;
use std::path::Path;

/// Loss and accuracy counts over a split.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EvalStats {
    /// Sum of the per-image losses.
    pub loss_sum: f64,
    /// Correct predictions.
    pub correct: usize,
    /// Images seen.
    pub count: usize,
}

impl EvalStats {
    /// Mean loss per image.
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.count.max(1) as f64
    }

    /// Fraction correct.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.count.max(1) as f64
    }
}

/// One image's prediction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The image's index in its split.
    pub index: u32,
    /// Its true class.
    pub label: u8,
    /// The predicted class.
    pub predicted: u8,
    /// The softmax probability of the predicted class.
    pub confidence: f32,
}

/// Runs `net` over `split` chunk by chunk; `each` gets the chunk's first index, its labels
/// and its logits. `None` when `stop` asked to stop between chunks.
fn for_each_chunk(
    net: &mut dyn Network,
    data: &Dataset,
    split: &Split,
    compute: &Compute,
    tta: Tta,
    stop: &dyn Fn() -> bool,
    mut each: impl FnMut(u32, &[u8], &Tensor) -> Result<()>,
) -> Result<Option<()>> {
    if split.is_empty() {
        return Err(Error::Other("evaluation on an empty split".into()));
    }
    let indices: Vec<u32> = (0..split.len() as u32).collect();
    for chunk in indices.chunks(net.eval_chunk().max(1)) {
        if stop() {
            return Ok(None);
        }
        let mut rows = Some(data.preprocess(split, chunk));
        let labels = &split.labels()[chunk[0] as usize..chunk[0] as usize + chunk.len()];
        let shape = (chunk.len(), data.image_bytes());
        let mut logits: Option<Tensor> = None;
        let views = tta_views(tta);
        for (i, &(draw, weight)) in views.iter().enumerate() {
            // The last view takes the rows themselves: no copy of the chunk without TTA.
            let values = if i + 1 == views.len() {
                let mut own = rows.take().expect("rows until the last view");
                view_in_place(&mut own, draw, data.shape);
                own
            } else {
                viewed(
                    rows.as_ref().expect("rows until the last view"),
                    draw,
                    data.shape,
                )
            };
            let x = Tensor::from_vec(values, shape, compute.device())?;
            // Detached, the view's logits no longer hold its forward pass's activations.
            let out = net.forward(&x, false)?.detach();
            let view = if weight == 1.0 { out } else { (out * weight)? };
            logits = Some(match logits {
                None => view,
                Some(sum) => (sum + view)?,
            });
        }
        let logits = logits.expect("every test-time augmentation has a view");
        each(chunk[0], labels, &logits)?;
    }
    Ok(Some(()))
}

/// Loss and accuracy over a whole split. With a test-time augmentation the logits are the
/// weighted mean of each image's views' (`tta_views`). `None` when `stop` asked to stop.
pub fn evaluate(
    net: &mut dyn Network,
    data: &Dataset,
    split: &Split,
    compute: &Compute,
    tta: Tta,
    stop: &dyn Fn() -> bool,
) -> Result<Option<EvalStats>> {
    let mut total = EvalStats::default();
    let done = for_each_chunk(net, data, split, compute, tta, stop, |_, labels, logits| {
        let loss = cross_entropy(compute.kernels(), logits, labels, 0.0)?;
        total.loss_sum += loss.value * labels.len() as f64;
        total.correct += loss.correct;
        total.count += labels.len();
        Ok(())
    })?;
    Ok(done.map(|_| total))
}

/// Every image's prediction over a whole split, in order. `None` when `stop` asked to stop.
pub fn predict(
    net: &mut dyn Network,
    data: &Dataset,
    split: &Split,
    compute: &Compute,
    tta: Tta,
    stop: &dyn Fn() -> bool,
) -> Result<Option<Vec<Prediction>>> {
    let mut out = Vec::with_capacity(split.len());
    let done = for_each_chunk(
        net,
        data,
        split,
        compute,
        tta,
        stop,
        |first, labels, logits| {
            let probs =
                candle_nn::ops::softmax(&logits.to_dtype(candle_core::DType::F32)?, D::Minus1)?
                    .to_vec2::<f32>()?;
            for (i, (p, &label)) in probs.iter().zip(labels).enumerate() {
                let (predicted, confidence) =
                    p.iter()
                        .enumerate()
                        .fold((0, f32::NEG_INFINITY), |best, (c, &v)| {
                            if v > best.1 {
                                (c, v)
                            } else {
                                best
                            }
                        });
                out.push(Prediction {
                    index: first + i as u32,
                    label,
                    predicted: predicted as u8,
                    confidence,
                });
            }
            Ok(())
        },
    )?;
    Ok(done.map(|_| out))
}

/// The network `config` describes on `data` with the weights in `weights` (a run's
/// model.safetensors).
pub fn load_network(
    config: &RunConfig,
    data: DataShape,
    weights: &Path,
    compute: &Compute,
) -> Result<Box<dyn Network>> {
    network_with(config, data, read_safetensors(weights)?, weights, compute)
}

/// The network `config` describes holding `tensors` (read from `origin`); an error when they
/// are not all finite (a diverged run's), which would otherwise evaluate to chance.
pub fn network_with(
    config: &RunConfig,
    data: DataShape,
    tensors: std::collections::HashMap<String, Tensor>,
    origin: &Path,
    compute: &Compute,
) -> Result<Box<dyn Network>> {
    super::check(config, data, None, compute)?;
    let mut rng = rand::rngs::SmallRng::seed_from_u64(0);
    let net = super::build_network(config, data, &mut rng, compute)?;
    load_weights(net.as_ref(), tensors, origin)?;
    if !net.params().all_finite()? {
        return Err(Error::data(
            origin,
            "the weights are not finite (NaN or infinite): the run diverged before they were saved; evaluate an earlier checkpoint or fork it with a smaller lr",
        ));
    }
    Ok(net)
}
