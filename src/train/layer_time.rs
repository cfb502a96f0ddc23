//! Each layer's products timed alone, forward and backward on random data at the run's batch,
//! through the same kernels a training step runs: where a step's time goes, layer by layer,
//! set against the layer's FLOP (`model::flops::layers`) by `gradboard bench --layers`.

use crate::config::RunConfig;
use crate::kernels::conv::conv2d;
use crate::kernels::grad_sink;
use crate::kernels::linear::linear_matmul;
use crate::kernels::Kernels;
use crate::model::flops::{layers, Layer};
use crate::Result;
use candle_core::{Device, Tensor, Var};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// One layer and the median seconds its forward and backward products took.
#[derive(Debug, Clone)]
pub struct LayerTime {
    /// The layer.
    pub layer: Layer,
    /// Median seconds of its forward and backward products.
    pub seconds: f64,
}

fn random(rng: &mut SmallRng, shape: &[usize], scale: f32) -> Result<Tensor> {
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

/// The median of `repeats` timings of `f` (after two untimed runs), in seconds.
fn median(repeats: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    f()?;
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Backward from `y` with the output gradient `dy`: sum(y dy) differentiated, the kernels'
/// gradients filed as a training step files them (`grad_sink`).
fn backward(y: &Tensor, dy: &Tensor) -> Result<()> {
    std::hint::black_box(grad_sink::backward(&(y * dy)?.sum_all()?)?);
    Ok(())
}

/// Times every layer of `config`'s network (CPU kernels, in its `precision`) at its batch size, `repeats`
/// times each. The backward is driven by sum(y dy), whose own cost (timed on a tensor of the
/// layer's output shape) is taken off.
pub fn time_layers(config: &RunConfig, repeats: usize) -> Result<Vec<LayerTime>> {
    if config.model == crate::config::ModelKind::Net {
        return Err(crate::Error::Config(
            "bench --layers times the hand-written kernels of the lab's networks; a net's layers run on candle's ops (time its steps without --layers)".into(),
        ));
    }
    let batch = config.batch_size;
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let mut out = Vec::new();
    for layer in layers(config, batch) {
        let (c_in, c_out, side) = layer.shape;
        let (x_shape, y_shape, w_shape) = if layer.conv {
            (
                vec![c_in, side, side, batch],
                vec![c_out, side, side, batch],
                vec![c_out, c_in, 3, 3],
            )
        } else {
            (vec![batch, c_in], vec![batch, c_out], vec![c_in, c_out])
        };
        let x = random(&mut rng, &x_shape, 1.0)?;
        let x = if layer.first {
            x
        } else {
            Var::from_tensor(&x)?.as_tensor().clone()
        };
        let w = Var::from_tensor(&random(&mut rng, &w_shape, 0.05)?)?;
        let dy = random(&mut rng, &y_shape, 1e-3)?;
        let total = median(repeats, || {
            let products = (Kernels::Cpu, config.precision);
            let y = if layer.conv {
                conv2d(products, &x, w.as_tensor(), layer.first, true)?
            } else {
                linear_matmul(products, &x, w.as_tensor(), layer.first)?
            };
            backward(&y, &dy)
        })?;
        let leaf = Var::from_tensor(&dy)?;
        let harness = median(repeats, || backward(leaf.as_tensor(), &dy))?;
        out.push(LayerTime {
            layer,
            seconds: (total - harness).max(0.0),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layer_is_timed_once_in_order() {
        let config = RunConfig {
            hidden: vec![16, 8],
            batch_size: 4,
            ..RunConfig::default()
        };
        let timed = time_layers(&config, 3).unwrap();
        let names: Vec<&str> = timed.iter().map(|t| t.layer.name.as_str()).collect();
        assert_eq!(names, ["fc1", "fc2", "out"]);
        assert!(timed
            .iter()
            .all(|t| t.seconds.is_finite() && t.seconds >= 0.0));
    }
}
