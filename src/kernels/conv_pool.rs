//! A bf16 convolution and the max-pool after it as one op (the airbench groups' first two
//! layers). Apart, the convolution's output is a node of candle's graph, and candle files the
//! gradient of every node by filling a zero tensor of its size and adding the gradient into
//! it: for the unpooled maps, the largest of a group, that was two extra passes over them a
//! step. Together, only the pooled maps enter the graph; the backward scatters the pooled
//! gradient to the arg-maxes and runs the convolution's backward on it.

use super::amx;
use super::conv::{conv2d_chwn_bf16, ConvCm};
use super::pool::{max_pool_chwn, MaxPool, PoolGeometry};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Result, Shape, Tensor};

/// The fused op: the convolution's, then the pool's.
struct ConvPool {
    conv: ConvCm,
    pool: MaxPool,
}

impl CustomOp2 for ConvPool {
    fn name(&self) -> &'static str {
        "conv2d-max-pool-channel-major"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (y, shape) = self.conv.cpu_fwd(xs, xl, ws, wl)?;
        self.pool.cpu_fwd(&y, &Layout::contiguous(shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (_, h, w, b) = x.dims4()?;
        let dy = self
            .pool
            .input_grad((weight.dim(0)?, h, w, b), DType::F32, grad)?;
        // The convolution's backward reads only x, the kernels and the output's gradient.
        self.conv.bwd(x, weight, &dy, &dy)
    }
}

/// Max-pool with `pool` of the bf16 convolution of maps `x` (C, H, W, B) with `weight`
/// (C_out, C, k, k), k odd, as one op (`conv2d_chwn_bf16`'s arguments otherwise).
pub fn conv2d_pool_chwn_bf16(
    x: &Tensor,
    weight: &Tensor,
    (input, train): (bool, bool),
    pool: PoolGeometry,
) -> Result<Tensor> {
    let kernel = weight.dim(3)?;
    if kernel % 2 == 0 {
        candle_core::bail!("conv: the kernel must be odd, got {kernel}");
    }
    if amx::engine().is_none() {
        // Without bf16 tiles the convolution goes by the f32 kernels' methods (Winograd or
        // taps where f32 takes them), which this op does not fuse.
        return max_pool_chwn(&conv2d_chwn_bf16(x, weight, input, train)?, pool);
    }
    x.contiguous()?.apply_op2(
        &weight.contiguous()?,
        ConvPool {
            conv: ConvCm::bf16(kernel, input, train),
            pool: MaxPool::new(pool),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The fused op gives the pooled maps, the input gradient and the kernels' gradient of the
    /// two ops apart, to the bit (the same computations, one tensor fewer).
    #[test]
    fn the_fused_op_equals_the_convolution_then_the_pool() -> Result<()> {
        let dev = Device::Cpu;
        let pool = PoolGeometry {
            kernel: 2,
            stride: 2,
            padding: 0,
        };
        for (c, c_out, b) in [(24, 64, 32), (5, 7, 3)] {
            let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (c, 6, 6, b), &dev)?)?;
            let w = Var::from_tensor(&Tensor::randn(0f32, 0.2, (c_out, c, 3, 3), &dev)?)?;
            let target = Tensor::randn(0f32, 1.0, (c_out, 3, 3, b), &dev)?;
            let mut results = Vec::new();
            for fused in [false, true] {
                let y = match fused {
                    true => conv2d_pool_chwn_bf16(&x, &w, (false, true), pool)?,
                    false => max_pool_chwn(&conv2d_chwn_bf16(&x, &w, false, true)?, pool)?,
                };
                let grads = crate::kernels::grad_sink::backward(&(&y * &target)?.sum_all()?)?;
                let get = |t: &Tensor| -> Result<Vec<f32>> {
                    grads.get(t).expect("a gradient").flatten_all()?.to_vec1()
                };
                results.push((y.flatten_all()?.to_vec1::<f32>()?, get(&x)?, get(&w)?));
            }
            assert_eq!(results[0].0, results[1].0, "pooled maps");
            assert_eq!(results[0].1, results[1].1, "input gradient");
            assert_eq!(results[0].2, results[1].2, "kernels' gradient");
        }
        Ok(())
    }
}
