//! A run's per-layer statistics (`layers` events, every `diag_every` steps): each trainable
//! tensor's weights before and after the step and the step's gradient, each hidden layer's
//! output on a fixed probe batch, and the warnings they call for (`diag::Watch`).

use crate::data::{Cifar10, IMAGE_BYTES};
use crate::diag::{act_stats, param_stats, Watch};
use crate::events::EventKind;
use crate::model::{Compute, Trainer};
use crate::Result;
use candle_core::{DType, Tensor};
use std::collections::HashMap;

/// Training images in the probe batch (the first ones the run trains on, never augmented).
pub const PROBE_IMAGES: usize = 256;

/// Every trainable tensor's values before a step.
pub struct Before(HashMap<String, Vec<f32>>);

/// A tensor's values, flat, in f32.
fn values(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?)
}

/// What a run's statistics keep between checks.
pub struct Diag {
    /// The probe batch's images (the first ones the run trains on), and the batch once built.
    pub probe_images: Vec<u32>,
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
            probe_images: Vec::new(),
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

    /// The `layers` event after the step (and the warnings it calls for); the probe batch is
    /// read from `data` the first time. A trainer that keeps no gradient (section 1's
    /// fused SGD) has its gradient read off its update: (before - after) / lr.
    pub fn after(
        &mut self,
        trainer: &mut dyn Trainer,
        before: Before,
        step: usize,
        lr: f64,
        data: &Cifar10,
        compute: &Compute,
    ) -> Result<Vec<EventKind>> {
        let kept: HashMap<String, Tensor> = trainer.take_gradients().into_iter().collect();
        let mut params = Vec::new();
        for p in trainer.network_ref().params().trainable() {
            let after = values(&p.tensor)?;
            let was = before.0.get(&p.name).cloned().unwrap_or_default();
            let grad = match kept.get(&p.name) {
                Some(g) => values(g)?,
                None if kept.is_empty() && lr > 0.0 && was.len() == after.len() => was
                    .iter()
                    .zip(&after)
                    .map(|(&b, &a)| ((b - a) as f64 / lr) as f32)
                    .collect(),
                None => Vec::new(),
            };
            params.push(param_stats(&p.name, &was, &after, &grad));
        }
        if self.probe.is_none() && !self.probe_images.is_empty() {
            let rows = data.preprocess(&data.train, &self.probe_images);
            self.probe = Some(Tensor::from_vec(
                rows,
                (self.probe_images.len(), IMAGE_BYTES),
                compute.device(),
            )?);
        }
        let mut acts = Vec::new();
        if let Some(x) = &self.probe {
            for (name, a) in trainer.network().probe(x)? {
                acts.push(act_stats(&name, &values(&a)?, a.dims()));
            }
        }
        let warnings = self.watch.check(&params, &acts);
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
