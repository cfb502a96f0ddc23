//! The figures of one tensor: its norm, its mean absolute value, seven quantiles, and for a
//! layer's output its mean, standard deviation and the fraction of its units that never fire.

use crate::events::{ActStats, ParamStats, Quantiles};

/// Values up to which quantiles are exact; larger tensors are sampled at an even stride (the
/// minimum and maximum stay exact), so a figure costs the same for every layer.
pub const EXACT_UP_TO: usize = 1 << 14;

/// Where the seven quantiles sit: min, 5, 25, 50, 75, 95 %, max.
const AT: [f64; 7] = [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0];

/// The seven quantiles of `values` (nearest rank); zeros for none.
pub fn quantiles(values: &[f32]) -> Quantiles {
    if values.is_empty() {
        return [0.0; 7];
    }
    let (lo, hi) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let stride = values.len().div_ceil(EXACT_UP_TO);
    let mut sample: Vec<f32> = values.iter().step_by(stride).copied().collect();
    sample.sort_unstable_by(f32::total_cmp);
    let n = sample.len();
    let mut out = [0.0; 7];
    for (i, &at) in AT.iter().enumerate() {
        out[i] = match i {
            0 => lo as f64,
            6 => hi as f64,
            _ => sample[((n - 1) as f64 * at).round() as usize] as f64,
        };
    }
    out
}

/// L2 norm (summed in f64).
pub fn norm(values: &[f32]) -> f64 {
    values
        .iter()
        .map(|&v| (v as f64) * (v as f64))
        .sum::<f64>()
        .sqrt()
}

/// A parameter's figures: `after` its weights after the step, `before` them before it, `grad`
/// the step's gradient.
pub fn param_stats(name: &str, before: &[f32], after: &[f32], grad: &[f32]) -> ParamStats {
    let weights = norm(after);
    let change = before
        .iter()
        .zip(after)
        .map(|(&b, &a)| ((a - b) as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    let mean_abs = if grad.is_empty() {
        0.0
    } else {
        grad.iter().map(|&g| (g as f64).abs()).sum::<f64>() / grad.len() as f64
    };
    ParamStats {
        name: name.to_string(),
        norm: weights,
        grad_norm: norm(grad),
        grad_mean_abs: mean_abs,
        update_ratio: if weights > 0.0 { change / weights } else { 0.0 },
        q: quantiles(after),
        grad_q: quantiles(grad),
    }
}

/// A hidden layer's output on the probe batch, `values` of shape `shape` (batch first, units
/// second, anything after it a unit's positions): mean, standard deviation, the fraction of
/// units (features, or a convolution's channels) never above zero, quantiles.
pub fn act_stats(name: &str, values: &[f32], shape: &[usize]) -> ActStats {
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    let units = shape.get(1).copied().unwrap_or(1).max(1);
    let per_unit: usize = shape.iter().skip(2).product::<usize>().max(1);
    let mut alive = vec![false; units];
    for (i, &v) in values.iter().enumerate() {
        if v > 0.0 {
            alive[(i / per_unit) % units] = true;
        }
    }
    let dead = alive.iter().filter(|a| !**a).count() as f64 / units as f64;
    ActStats {
        name: name.to_string(),
        mean,
        std: var.sqrt(),
        dead,
        q: quantiles(values),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_of_a_small_tensor_worked_out_by_hand() {
        // Weights 3, 4 (norm 5) after a step from 3, 0 (change 4): ratio 4/5.
        let p = param_stats("w", &[3.0, 0.0], &[3.0, 4.0], &[-1.0, 2.0, -2.0]);
        assert_eq!(p.norm, 5.0);
        assert_eq!(p.grad_norm, 3.0);
        assert!((p.grad_mean_abs - 5.0 / 3.0).abs() < 1e-12);
        assert!((p.update_ratio - 0.8).abs() < 1e-12);
        assert_eq!(p.grad_q, [-2.0, -2.0, -1.0, -1.0, 2.0, 2.0, 2.0]);
        // Quantiles of 0..=100: nearest rank.
        let v: Vec<f32> = (0..=100).map(|i| i as f32).collect();
        assert_eq!(quantiles(&v), [0.0, 5.0, 25.0, 50.0, 75.0, 95.0, 100.0]);
        // A large tensor is sampled, its ends exact.
        let big: Vec<f32> = (0..1_000_001).map(|i| i as f32).collect();
        let q = quantiles(&big);
        assert_eq!((q[0], q[6]), (0.0, 1_000_000.0));
        // Sampled at a stride of 62: within a stride of the exact figure.
        assert!((q[3] - 500_000.0).abs() < 62.0, "{q:?}");
    }

    #[test]
    fn dead_units_never_fire_over_the_batch() {
        // Two images of three units: unit 1 never above zero, unit 2 once.
        let a = act_stats("h", &[1.0, -0.5, 0.0, 2.0, 0.0, 3.0], &[2, 3]);
        assert!((a.dead - 1.0 / 3.0).abs() < 1e-12);
        assert!((a.mean - 5.5 / 6.0).abs() < 1e-12);
        // A convolution's unit is its channel, over every position: two channels of 2x1.
        let c = act_stats("c", &[0.0, -1.0, 0.5, 0.0], &[1, 2, 2, 1]);
        assert_eq!(c.dead, 0.5);
        let var: f64 = [0.0, -1.0, 0.5, 0.0]
            .iter()
            .map(|v: &f64| (v - c.mean).powi(2))
            .sum::<f64>()
            / 4.0;
        assert!((c.std - var.sqrt()).abs() < 1e-12);
    }
}
