//! A run's per-layer statistics (`layers` events, every `diag_every` steps): each trainable
//! tensor's weights before and after the step and the step's gradient, each hidden layer's
//! output on a fixed probe batch, and the warnings they call for (`diag::Watch`).

use crate::config::RunConfig;
use crate::data::Dataset;
use crate::diag::{act_stats, param_stats, Watch};
use crate::events::EventKind;
use crate::model::{Compute, Trainer};

/// The probe batch: training images `indices` of `data`, preprocessed, never augmented.
pub fn probe_batch(data: &Dataset, indices: &[u32], compute: &Compute) -> Result<Tensor> {
    let rows = data.preprocess(&data.train, indices);
    Ok(Tensor::from_vec(
        rows,
        (indices.len(), data.image_bytes()),
        compute.device(),
    )?)
}
use crate::Result;
use candle_core::{DType, Tensor};
use std::collections::HashMap;

/// Training images in the probe batch (the first ones the run trains on, never augmented): at
/// most this many, and at most two batches' worth (the ConvNet's forward pass is dear).
pub const PROBE_IMAGES: usize = 256;

/// Every trainable tensor's values before a step.
pub struct Before(HashMap<String, Vec<f32>>);

/// A tensor's values, flat, in f32.
fn values(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?)
}

/// `f` on a tensor's values, flat, in f32: read in place when the tensor is f32 on the CPU,
/// else from a copy.
fn with_values<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    if t.dtype() == DType::F32 && t.device().is_cpu() && t.is_contiguous() {
        return crate::kernels::cpu::with_f32(t, f)?;
    }
    f(&values(t)?)
}

/// What a run's statistics keep between checks.
pub struct Diag {
    /// The probe batch, once built.
    probe: Option<Tensor>,
    watch: Watch,
    /// Every (kind, layer) warned so far, for the checkpoint.
    pub warned: Vec<(String, String)>,
}

impl Diag {
    /// Statistics of a run that has already warned about `warned` (a resumed run).
    pub fn new(warned: Vec<(String, String)>) -> Self {
        Diag {
            watch: Watch::with_warned(warned.iter().map(|(k, l)| (k.as_str(), l.as_str()))),
            warned,
            probe: None,
        }
    }

    /// The weights before a step whose statistics will be taken; the trainer keeps its
    /// gradients.
    pub fn before(trainer: &mut dyn Trainer) -> Result<Before> {
        trainer.keep_gradients();
        let mut map = HashMap::new();
        for p in trainer.network_ref().params().trainable() {
            map.insert(p.name.clone(), values(&p.tensor)?);
        }
        Ok(Before(map))
    }

    /// The `layers` event after the step (and the warnings it calls for); `probe` gives the
    /// probe batch the first time. A trainer that keeps no gradient (section 1's
    /// fused SGD) has its gradient read off its update: (before - after) / lr.
    pub fn after(
        &mut self,
        trainer: &mut dyn Trainer,
        before: Before,
        (step, lr, config): (usize, f64, &RunConfig),
        probe: &dyn Fn() -> Result<Tensor>,
    ) -> Result<Vec<EventKind>> {
        let dropout = config.dropout;
        let mut kept: HashMap<String, Tensor> = trainer.take_gradients().into_iter().collect();
        let none_kept = kept.is_empty();
        let mut before = before.0;
        let mut params = Vec::new();
        // Each parameter's snapshot and gradient are dropped once read, and the weights are
        // read in place: the statistics hold one layer's copies at a time, not the network's.
        for p in trainer.network_ref().params().trainable() {
            let was = before.remove(&p.name).unwrap_or_default();
            let stats = with_values(&p.tensor, |after| {
                let grad = match kept.remove(&p.name) {
                    Some(g) => values(&g)?,
                    None if none_kept && lr > 0.0 && was.len() == after.len() => was
                        .iter()
                        .zip(after)
                        .map(|(&b, &a)| ((b - a) as f64 / lr) as f32)
                        .collect(),
                    None => Vec::new(),
                };
                Ok(param_stats(&p.name, &was, after, &grad))
            })?;
            params.push(stats);
        }
        if self.probe.is_none() {
            self.probe = Some(probe()?);
        }
        let mut acts = Vec::new();
        if let Some(x) = &self.probe {
            // The probe sees what training sees (batch statistics in the batch norms) without
            // dropout, and leaves the network as it found it: the running statistics it
            // updates are put back.
            let net = trainer.network();
            let buffers: Vec<(candle_core::Var, Tensor)> = net
                .params()
                .iter()
                .filter(|p| !p.trainable && p.tensor.is_variable())
                .map(|p| Ok((candle_core::Var::from_tensor(&p.tensor)?, p.tensor.copy()?)))
                .collect::<Result<_>>()?;
            net.set_dropout(0.0);
            let probed = net.probe(x);
            net.set_dropout(dropout);
            for (var, saved) in &buffers {
                var.set(saved)?;
            }
            for (name, a) in probed? {
                acts.push(with_values(&a, |v| Ok(act_stats(&name, v, a.dims())))?);
            }
        }
        let warnings = self.watch.check(&params, &acts, config);
        let mut events = vec![EventKind::Layers { step, params, acts }];
        for w in warnings {
            self.warned.push((w.kind.clone(), w.layer.clone()));
            events.push(EventKind::Warning {
                step,
                kind: w.kind,
                layer: w.layer,
                message: w.message,
            });
        }
        Ok(events)
    }
}
