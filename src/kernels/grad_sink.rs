//! Parameter gradients handed straight to the trainer. candle's `Tensor::backward` files every
//! gradient by filling a zero tensor of the parameter's size and adding the gradient into it
//! (a fresh allocation, a fill and an add, for a sum that almost always has one term); for
//! the ConvNet's weights that is three passes over 37 MB a step. A custom op whose backward
//! produces a variable's gradient `offer`s it here instead; `backward` collects what was
//! offered during candle's pass and files it in the gradient store as it is, adding only
//! where a variable got more than one gradient.

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, TensorId};
use std::cell::RefCell;

thread_local! {
    /// The gradients offered on this thread since `backward` began; `None` outside it.
    static OFFERED: RefCell<Option<Vec<(TensorId, Tensor)>>> = const { RefCell::new(None) };
}

/// Ends a collection when `backward` returns or unwinds, restoring the one it interrupted.
struct Collecting(Option<Vec<(TensorId, Tensor)>>);

impl Collecting {
    fn begin() -> Self {
        Collecting(OFFERED.with(|o| o.borrow_mut().replace(Vec::new())))
    }

    fn finish(mut self) -> Vec<(TensorId, Tensor)> {
        let outer = self.0.take();
        let offered = OFFERED.with(|o| std::mem::replace(&mut *o.borrow_mut(), outer));
        // Restored above; the guard's drop would put back an empty `outer` a second time.
        std::mem::forget(self);
        offered.unwrap_or_default()
    }
}

impl Drop for Collecting {
    fn drop(&mut self) {
        let outer = self.0.take();
        OFFERED.with(|o| *o.borrow_mut() = outer);
    }
}

/// `loss.backward()`, with the gradients custom ops offered filed directly.
pub fn backward(loss: &Tensor) -> Result<GradStore> {
    let collecting = Collecting::begin();
    let result = loss.backward();
    let offered = collecting.finish();
    let mut grads = result?;
    for (id, grad) in offered {
        let sum = match grads.get_id(id) {
            Some(earlier) => earlier.add(&grad)?,
            None => grad,
        };
        grads.insert_id(id, sum);
    }
    Ok(grads)
}

/// Takes `grad`, the gradient of `param`, for the `backward` running on this thread: `None`
/// when taken, `Some(grad)` back when the op must return it to candle (no collection is
/// running, or `param` is not a variable, so its gradient must flow on through the graph).
pub fn offer(param: &Tensor, grad: Tensor) -> Option<Tensor> {
    if !param.is_variable() {
        return Some(grad);
    }
    OFFERED.with(|o| match o.borrow_mut().as_mut() {
        Some(offered) => {
            offered.push((param.id(), grad));
            None
        }
        None => Some(grad),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{CpuStorage, CustomOp1, Device, Layout, Shape, Var};

    /// y = 3 w, whose backward offers dw to the sink.
    struct Triple;

    impl CustomOp1 for Triple {
        fn name(&self) -> &'static str {
            "triple"
        }

        fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
            let CpuStorage::F32(v) = s else {
                candle_core::bail!("f32")
            };
            let v: Vec<f32> = v[l.start_offset()..][..l.shape().elem_count()]
                .iter()
                .map(|x| 3.0 * x)
                .collect();
            Ok((CpuStorage::F32(v), l.shape().clone()))
        }

        fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
            Ok(offer(arg, (grad * 3.0)?))
        }
    }

    fn var() -> Var {
        Var::new(&[1f32, 2.0], &Device::Cpu).unwrap()
    }

    #[test]
    fn an_offered_gradient_lands_in_the_store_as_candle_would_file_it() {
        let w = var();
        let loss = w.as_tensor().apply_op1(Triple).unwrap().sum_all().unwrap();
        let direct = backward(&loss).unwrap();
        let candle = loss.backward().unwrap();
        let got = direct.get(w.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(got, vec![3.0, 3.0]);
        assert_eq!(
            got,
            candle.get(w.as_tensor()).unwrap().to_vec1::<f32>().unwrap()
        );
    }

    #[test]
    fn a_variable_used_twice_gets_the_sum_of_its_gradients() {
        let w = var();
        let t = w.as_tensor();
        // Once through the op (offered), once through candle's own mul (filed by candle).
        let loss = (t.apply_op1(Triple).unwrap() + (t * 5.0).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let g = backward(&loss).unwrap();
        assert_eq!(g.get(t).unwrap().to_vec1::<f32>().unwrap(), vec![8.0, 8.0]);
    }

    #[test]
    fn a_computed_tensor_passes_its_gradient_on_to_the_variable_behind_it() {
        let w = var();
        let doubled = (w.as_tensor() * 2.0).unwrap();
        let loss = doubled.apply_op1(Triple).unwrap().sum_all().unwrap();
        let g = backward(&loss).unwrap();
        assert_eq!(
            g.get(w.as_tensor()).unwrap().to_vec1::<f32>().unwrap(),
            vec![6.0, 6.0]
        );
    }

    /// y = w, whose backward panics.
    struct Broken;

    impl CustomOp1 for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }

        fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
            Ok((s.clone(), l.shape().clone()))
        }

        fn bwd(&self, _arg: &Tensor, _res: &Tensor, _grad: &Tensor) -> Result<Option<Tensor>> {
            panic!("a kernel bug")
        }
    }

    #[test]
    fn a_backward_that_panics_leaves_no_collection_behind() {
        let w = var();
        let t = w.as_tensor();
        let loss = (t.apply_op1(Triple).unwrap() + t.apply_op1(Broken).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let run = std::panic::AssertUnwindSafe(|| backward(&loss));
        assert!(std::panic::catch_unwind(run).is_err());
        assert!(OFFERED.with(|o| o.borrow().is_none()));
        // The thread's next backward outside a collection gets its gradients from candle.
        let loss = t.apply_op1(Triple).unwrap().sum_all().unwrap();
        let g = loss.backward().unwrap();
        assert_eq!(g.get(t).unwrap().to_vec1::<f32>().unwrap(), vec![3.0, 3.0]);
    }

    #[test]
    fn outside_a_collection_the_op_returns_its_gradient_to_candle() {
        let w = var();
        let loss = w.as_tensor().apply_op1(Triple).unwrap().sum_all().unwrap();
        let g = loss.backward().unwrap();
        assert_eq!(
            g.get(w.as_tensor()).unwrap().to_vec1::<f32>().unwrap(),
            vec![3.0, 3.0]
        );
        assert!(OFFERED.with(|o| o.borrow().is_none()));
    }
}
