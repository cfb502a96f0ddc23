//! The update rules as plain tensor ops: the path for non-CPU devices, and the reference the
//! fused CPU path is tested against.

use super::{Buffer, Rule, Slots, BETA1, BETA2, EPS, RMSPROP_ALPHA};
use crate::config::OptimizerKind;
use crate::kernels::inplace::assign;
use crate::Result;
use candle_core::Tensor;

fn state(slot: &Option<Buffer>, like: &Tensor) -> Result<Option<Tensor>> {
    Ok(match slot {
        None => None,
        Some(Buffer::Device(t)) => Some(t.clone()),
        Some(Buffer::Host(v)) => Some(Tensor::from_slice(v, like.shape(), like.device())?),
    })
}

fn zeros_or(slot: &Option<Buffer>, like: &Tensor) -> Result<Tensor> {
    Ok(match state(slot, like)? {
        Some(t) => t,
        None => like.zeros_like()?,
    })
}

/// Updates `param` in place with `grad` and its state, as tensor ops.
pub(crate) fn update(param: &Tensor, grad: &Tensor, slots: &mut Slots, r: Rule) -> Result<()> {
    let (lr, wd, mu) = (r.lr, r.weight_decay, r.momentum);
    let p = param.detach();
    let g = grad.to_dtype(p.dtype())?;
    let g = if r.grad_scale == 1.0 {
        g
    } else {
        (g * r.grad_scale)?
    };
    let with_decay = |g: &Tensor| -> Result<Tensor> { Ok((g + (&p * wd)?)?) };
    let new = match r.kind {
        OptimizerKind::Sgd => (&p - (with_decay(&g)? * lr)?)?,
        OptimizerKind::Momentum | OptimizerKind::Nesterov => {
            let d = with_decay(&g)?;
            let b = match state(&slots.first, &p)? {
                None => d.clone(),
                Some(b) => ((b * mu)? + &d)?,
            };
            let step = match r.kind {
                OptimizerKind::Nesterov => (d + (&b * mu)?)?,
                _ => b.clone(),
            };
            let new = (&p - (step * lr)?)?;
            slots.first = Some(Buffer::Device(b));
            new
        }
        OptimizerKind::Adam | OptimizerKind::Adamw => {
            let (b1, b2) = (BETA1, BETA2);
            let (p0, g) = if r.kind == OptimizerKind::Adamw {
                ((&p * (1.0 - lr * wd))?, g)
            } else {
                (p.clone(), with_decay(&g)?)
            };
            let m = ((zeros_or(&slots.first, &p)? * b1)? + (&g * (1.0 - b1))?)?;
            let v = ((zeros_or(&slots.second, &p)? * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let denom = ((v.sqrt()? / r.bias2_sqrt)? + EPS)?;
            let new = (p0 - ((&m / denom)? * (lr / r.bias1))?)?;
            slots.first = Some(Buffer::Device(m));
            slots.second = Some(Buffer::Device(v));
            new
        }
        OptimizerKind::Rmsprop => {
            let alpha = RMSPROP_ALPHA;
            let g = with_decay(&g)?;
            let v = ((zeros_or(&slots.second, &p)? * alpha)? + (g.sqr()? * (1.0 - alpha))?)?;
            let d = (&g / (v.sqrt()? + EPS)?)?;
            let step = if mu > 0.0 {
                let b = ((zeros_or(&slots.first, &p)? * mu)? + d)?;
                slots.first = Some(Buffer::Device(b.clone()));
                b
            } else {
                d
            };
            slots.second = Some(Buffer::Device(v));
            (&p - (step * lr)?)?
        }
    };
    assign(param, &new)?;
    Ok(())
}
