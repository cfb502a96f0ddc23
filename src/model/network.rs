//! What every network gives: logits for a batch, its named parameters, and the few knobs a
//! running run may turn. The trainer, evaluation, saving and analysis all use this.

use super::Params;
use crate::Result;
use candle_core::Tensor;
use std::collections::HashMap;
use std::path::Path;

/// Pixels per image, the networks' input width.
pub const INPUTS: usize = crate::data::IMAGE_BYTES;
/// CIFAR-10 classes.
pub const CLASSES: usize = 10;

/// A network of any engine.
pub trait Network: Send {
    /// Logits (batch, classes) for flat images (batch, 3072); `train` turns on dropout and
    /// batch statistics.
    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor>;
    /// Every named parameter and buffer.
    fn params(&self) -> &Params;
    /// Each hidden layer's output (after its activation) on `x` as training computes it
    /// (batch statistics in batch norms; dropout is the caller's to turn off, and the running
    /// statistics it updates the caller's to put back), input to output, named by its layer;
    /// none where a network does not say.
    fn probe(&mut self, _x: &Tensor) -> Result<Vec<(String, Tensor)>> {
        Ok(Vec::new())
    }
    /// Images per evaluation chunk: bounds the memory an evaluation needs.
    fn eval_chunk(&self) -> usize {
        1000
    }
    /// Changes the dropout probability from the next forward pass (networks without dropout
    /// ignore it).
    fn set_dropout(&mut self, _p: f64) {}
    /// Reseeds the network's own random source (dropout masks); the session does it every
    /// step from the run's seed and the step, so a resumed run draws the same masks.
    fn reseed(&mut self, _seed: u64) {}
    /// Tells the network how many epochs of training precede the next step (a `whiten`
    /// layer's bias stops training after its first epochs); networks without such a layer
    /// ignore it.
    fn set_epoch(&mut self, _epoch: f64) {}
    /// Sets what the network takes from its training images (flat rows, as a batch gives
    /// them) before its first step: the whitening filters of a `whiten` layer; nothing for
    /// most networks. A resumed or forked run loads them from its checkpoint instead.
    fn fit(&mut self, _images: &Tensor) -> Result<()> {
        Ok(())
    }
    /// Brings tensors saved by an earlier version of this network to its current names.
    fn adapt(&self, _tensors: &mut HashMap<String, Tensor>) -> Result<()> {
        Ok(())
    }
}

/// Loads saved tensors into `net` in place (adapting older files), checking names and shapes.
pub fn load_weights(
    net: &dyn Network,
    mut tensors: HashMap<String, Tensor>,
    origin: &Path,
) -> Result<()> {
    net.adapt(&mut tensors)?;
    net.params().restore(&tensors, origin)
}

/// Layer widths of an MLP on `data`: its image's values, the hidden widths, its classes.
pub fn mlp_widths(hidden: &[usize], data: crate::data::DataShape) -> Vec<usize> {
    std::iter::once(data.image_bytes())
        .chain(hidden.iter().copied())
        .chain(std::iter::once(data.classes))
        .collect()
}
