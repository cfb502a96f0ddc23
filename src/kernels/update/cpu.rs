//! The CPU op: one pass over parameter, gradient and state per parameter, in place, in f32,
//! split into chunks across the run's threads.

use super::{Buffer, Rule, Slots, BETA1, BETA2, EPS, RMSPROP_ALPHA};
use crate::config::OptimizerKind;
use crate::kernels::inplace::{contiguous, contiguous_mut};
use crate::kernels::simd::Level;
use crate::multiversion;
use crate::Result;
use candle_core::{CpuStorage, InplaceOp2, Layout, Tensor};
use rayon::prelude::*;
use std::sync::Mutex;

/// Elements per parallel chunk; smaller parameters are updated on the calling thread.
const CHUNK: usize = 16 * 1024;

/// The update of one parameter as an in-place op on it, with its gradient.
struct Update<'a> {
    rule: Rule,
    slots: Mutex<&'a mut Slots>,
}

/// A host buffer of `len` zeros in `slot` (created on first use), as a slice.
fn host(slot: &mut Option<Buffer>, len: usize) -> &mut [f32] {
    if !matches!(slot, Some(Buffer::Host(v)) if v.len() == len) {
        *slot = Some(Buffer::Host(vec![0.0; len]));
    }
    match slot {
        Some(Buffer::Host(v)) => v,
        _ => unreachable!("just made a host buffer"),
    }
}

fn for_chunks<F>(p: &mut [f32], g: &[f32], a: &mut [f32], b: &mut [f32], f: F)
where
    F: Fn(&mut [f32], &[f32], &mut [f32], &mut [f32]) + Sync,
{
    if p.len() < 4 * CHUNK {
        return f(p, g, a, b);
    }
    let count = p.len().div_ceil(CHUNK);
    let (chunks_a, chunks_b) = (split(a, count), split(b, count));
    p.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK))
        .zip(chunks_a.into_par_iter())
        .zip(chunks_b.into_par_iter())
        .for_each(|(((p, g), a), b)| f(p, g, a, b));
}

/// `buf` in parallel chunks, or `count` empty slices when it is empty.
fn split(buf: &mut [f32], count: usize) -> Vec<&mut [f32]> {
    if buf.is_empty() {
        (0..count).map(|_| <&mut [f32]>::default()).collect()
    } else {
        buf.chunks_mut(CHUNK).collect()
    }
}

multiversion! {
    /// p -= lr (g + wd p).
    fn sgd(p: &mut [f32], g: &[f32], lr: f32, wd: f32) {
        for (p, &g) in p.iter_mut().zip(g) {
            *p -= lr * (g + wd * *p);
        }
    }
}

multiversion! {
    /// d = g + wd p; b = d on first use, else mu b + d; p -= lr b, or with `nesterov`
    /// p -= lr (d + mu b).
    fn momentum(p: &mut [f32], g: &[f32], b: &mut [f32], rule: [f32; 3], flags: [bool; 2]) {
        let [lr, wd, mu] = rule;
        let [first_use, nesterov] = flags;
        for ((p, &g), b) in p.iter_mut().zip(g).zip(b.iter_mut()) {
            let d = g + wd * *p;
            *b = if first_use { d } else { mu * *b + d };
            *p -= lr * if nesterov { d + mu * *b } else { *b };
        }
    }
}

multiversion! {
    /// Adam (decoupled weight decay when `decoupled`): m, v updated, p -= step m / (sqrt(v) /
    /// sqrt(1 - beta2^t) + eps).
    fn adam(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], rule: [f32; 7], decoupled: bool) {
        let [lr, wd, b1, b2, step, inv_bias2, eps] = rule;
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            let g = if decoupled {
                *p *= 1.0 - lr * wd;
                g
            } else {
                g + wd * *p
            };
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p -= step * *m / (v.sqrt() * inv_bias2 + eps);
        }
    }
}

multiversion! {
    /// RMSprop: v = alpha v + (1 - alpha) g^2; with momentum b = mu b + g / (sqrt(v) + eps),
    /// p -= lr b; without, p -= lr g / (sqrt(v) + eps).
    fn rmsprop(p: &mut [f32], g: &[f32], v: &mut [f32], b: &mut [f32], rule: [f32; 5]) {
        let [lr, wd, mu, alpha, eps] = rule;
        if b.is_empty() {
            for ((p, &g), v) in p.iter_mut().zip(g).zip(v.iter_mut()) {
                let g = g + wd * *p;
                *v = alpha * *v + (1.0 - alpha) * g * g;
                *p -= lr * g / (v.sqrt() + eps);
            }
        } else {
            for (((p, &g), v), b) in p.iter_mut().zip(g).zip(v.iter_mut()).zip(b.iter_mut()) {
                let g = g + wd * *p;
                *v = alpha * *v + (1.0 - alpha) * g * g;
                *b = mu * *b + g / (v.sqrt() + eps);
                *p -= lr * *b;
            }
        }
    }
}

multiversion! {
    /// out = s g.
    fn scale_into(out: &mut [f32], g: &[f32], s: f32) {
        for (o, &g) in out.iter_mut().zip(g) {
            *o = s * g;
        }
    }
}

/// `g` times `s`, on all threads for large gradients.
fn scaled(level: Level, g: &[f32], s: f32) -> Vec<f32> {
    let mut out = vec![0.0; g.len()];
    out.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK))
        .for_each(|(o, g)| scale_into(level, o, g, s));
    out
}

impl Update<'_> {
    fn apply(&self, p: &mut [f32], g: &[f32]) {
        let r = self.rule;
        let level = Level::detected();
        let clipped;
        let g = if r.grad_scale == 1.0 {
            g
        } else {
            clipped = scaled(level, g, r.grad_scale as f32);
            &clipped
        };
        let mut guard = self.slots.lock().expect("optimizer state lock");
        let slots: &mut Slots = &mut guard;
        let n = p.len();
        let (lr, wd, mu) = (r.lr as f32, r.weight_decay as f32, r.momentum as f32);
        match r.kind {
            OptimizerKind::Sgd => for_chunks(p, g, &mut [], &mut [], |p, g, _, _| {
                sgd(level, p, g, lr, wd)
            }),
            OptimizerKind::Momentum | OptimizerKind::Nesterov => {
                let first_use = slots.first.is_none();
                let nesterov = r.kind == OptimizerKind::Nesterov;
                let buf = host(&mut slots.first, n);
                for_chunks(p, g, buf, &mut [], |p, g, b, _| {
                    momentum(level, p, g, b, [lr, wd, mu], [first_use, nesterov])
                })
            }
            OptimizerKind::Adam | OptimizerKind::Adamw => {
                let decoupled = r.kind == OptimizerKind::Adamw;
                let rule = [
                    lr,
                    wd,
                    BETA1 as f32,
                    BETA2 as f32,
                    (r.lr / r.bias1) as f32,
                    (1.0 / r.bias2_sqrt) as f32,
                    EPS as f32,
                ];
                let Slots { first, second } = slots;
                let (m, v) = (host(first, n), host(second, n));
                for_chunks(p, g, m, v, |p, g, m, v| {
                    adam(level, p, g, m, v, rule, decoupled)
                })
            }
            OptimizerKind::Rmsprop => {
                let rule = [lr, wd, mu, RMSPROP_ALPHA as f32, EPS as f32];
                let Slots { first, second } = slots;
                let v = host(second, n);
                if mu > 0.0 {
                    let b = host(first, n);
                    for_chunks(p, g, v, b, |p, g, v, b| rmsprop(level, p, g, v, b, rule))
                } else {
                    for_chunks(p, g, v, &mut [], |p, g, v, _| {
                        rmsprop(level, p, g, v, &mut [], rule)
                    })
                }
            }
        }
    }
}

impl InplaceOp2 for Update<'_> {
    fn name(&self) -> &'static str {
        "optimizer-update"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        match (s1, s2) {
            (CpuStorage::F32(p), CpuStorage::F32(g)) => {
                let p = contiguous_mut(p, l1, "optimizer")?;
                let g = contiguous(g, l2, "optimizer")?;
                if p.len() != g.len() {
                    candle_core::bail!("optimizer: gradient of {} values for {}", g.len(), p.len());
                }
                self.apply(p, g);
                Ok(())
            }
            _ => candle_core::bail!("optimizer: the fused update takes f32 parameters"),
        }
    }
}

/// Updates `param` in place with `grad` (contiguous, same shape) and its state.
pub(crate) fn update(param: &Tensor, grad: &Tensor, slots: &mut Slots, rule: Rule) -> Result<()> {
    let op = Update {
        rule,
        slots: Mutex::new(slots),
    };
    param.inplace_op2(grad, &op)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every instruction-set level this CPU has gives the baseline's bits for every rule.
    #[test]
    fn every_simd_level_matches_the_baseline() {
        let n = 1000;
        let init = |k: f32| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.01 * k)
                .collect()
        };
        let g = init(0.3);
        let run = |level: Level| {
            let (mut p, mut a, mut b) = (
                init(1.0),
                init(0.1).iter().map(|v| v.abs()).collect::<Vec<_>>(),
                init(0.2),
            );
            sgd(level, &mut p, &g, 0.1, 0.01);
            momentum(level, &mut p, &g, &mut b, [0.1, 0.01, 0.9], [false, false]);
            momentum(level, &mut p, &g, &mut b, [0.1, 0.01, 0.9], [false, true]);
            adam(
                level,
                &mut p,
                &g,
                &mut b,
                &mut a,
                [1e-3, 0.01, 0.9, 0.999, 1e-2, 3.0, 1e-8],
                true,
            );
            rmsprop(
                level,
                &mut p,
                &g,
                &mut a,
                &mut b,
                [1e-3, 0.0, 0.5, 0.99, 1e-8],
            );
            rmsprop(
                level,
                &mut p,
                &g,
                &mut a,
                &mut [],
                [1e-3, 0.0, 0.0, 0.99, 1e-8],
            );
            (p, a, b)
        };
        let base = run(Level::BASELINE);
        for level in Level::available() {
            assert_eq!(run(level), base, "{}", level.name());
        }
    }
}
