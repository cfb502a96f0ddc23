//! Section 1's matrix products as candle ops on `kernels::gemm`: `a b` without a backward
//! (the manual engine computes its own), and C += alpha A B in place, which adds the SGD step
//! -lr x^T dy straight into W (no dW tensor, no separate update pass). The CPU path takes f32
//! on the CPU and refuses the rest; the reference path is candle's matmul, which the tests
//! check the CPU path against.

use super::gemm::{self, product, View};
use super::Kernels;
use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, DType, InplaceOp3, Layout, Result, Shape, Tensor};

/// The 2-d f32 matrix a storage and layout describe.
fn view<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<View<'a>> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("sgemm: f32 only, got {:?}", storage.dtype())
    };
    let (&[rows, cols], &[row_stride, col_stride]) = (layout.dims(), layout.stride()) else {
        candle_core::bail!("sgemm: 2-d matrices only, got {:?}", layout.dims())
    };
    Ok(View::strided(
        &data[layout.start_offset()..],
        rows,
        cols,
        row_stride,
        col_stride,
    ))
}

fn fits(a: &View, b: &View) -> Result<()> {
    if a.width() != b.height() {
        candle_core::bail!(
            "sgemm: shapes {}x{} and {}x{} do not chain",
            a.height(),
            a.width(),
            b.height(),
            b.width()
        );
    }
    Ok(())
}

/// `a.matmul(b)` for 2-d tensors on the path `kernels` names: `kernels::gemm` (f32 on the
/// CPU; anything else is refused) or candle's matmul. The result has no backward: the manual
/// engine computes its own.
pub fn matmul(kernels: Kernels, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    match kernels {
        Kernels::Cpu => {
            cpu_f32_2d(&[a, b], "product")?;
            a.apply_op2_no_bwd(b, &Matmul)
        }
        Kernels::Reference => a.matmul(b),
    }
}

/// Refuses tensors the CPU products cannot take (they need 2-d f32 on the CPU).
fn cpu_f32_2d(tensors: &[&Tensor], what: &str) -> Result<()> {
    for t in tensors {
        if t.dtype() != DType::F32 || !t.device().is_cpu() || t.rank() != 2 {
            candle_core::bail!(
                "sgemm {what}: the CPU kernel takes 2-d f32 on the CPU, not {:?} {:?} on {:?} (the reference path takes the rest)",
                t.dtype(),
                t.dims(),
                t.device().location()
            );
        }
    }
    Ok(())
}

/// The product as a candle op without backward.
struct Matmul;

impl CustomOp2 for Matmul {
    fn name(&self) -> &'static str {
        "sgemm"
    }

    fn cpu_fwd(
        &self,
        a: &CpuStorage,
        al: &Layout,
        b: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (a, b) = (view(a, al)?, view(b, bl)?);
        fits(&a, &b)?;
        let shape = Shape::from((a.height(), b.width()));
        Ok((CpuStorage::F32(product(a, b, 1.0)), shape))
    }
}

/// C += alpha A B in place, for 2-d tensors (every clone of C, a `Var` included, sees it):
/// section 1's SGD step, W -= lr x^T dy, without a gradient tensor or a second pass. The CPU
/// path accumulates into C's storage (f32 on the CPU); the reference adds candle's product.
pub fn add_product(kernels: Kernels, c: &Tensor, alpha: f64, a: &Tensor, b: &Tensor) -> Result<()> {
    match kernels {
        Kernels::Cpu => {
            cpu_f32_2d(&[c, a, b], "update")?;
            c.inplace_op3(a, b, &AddProduct { alpha })
        }
        Kernels::Reference => super::inplace::axpy(Kernels::Reference, c, &a.matmul(b)?, alpha),
    }
}

/// C += alpha A B as an in-place candle op.
struct AddProduct {
    alpha: f64,
}

impl InplaceOp3 for AddProduct {
    fn name(&self) -> &'static str {
        "sgemm-add-product"
    }

    fn cpu_fwd(
        &self,
        c: &mut CpuStorage,
        cl: &Layout,
        a: &CpuStorage,
        al: &Layout,
        b: &CpuStorage,
        bl: &Layout,
    ) -> Result<()> {
        let (a, b) = (view(a, al)?, view(b, bl)?);
        fits(&a, &b)?;
        if cl.dims() != [a.height(), b.width()] {
            candle_core::bail!(
                "sgemm: {:?} += {}x{} times {}x{} does not fit",
                cl.dims(),
                a.height(),
                a.width(),
                b.height(),
                b.width()
            );
        }
        let CpuStorage::F32(data) = c else {
            candle_core::bail!("sgemm: f32 only, got {:?}", c.dtype())
        };
        let c = crate::kernels::inplace::contiguous_mut(data, cl, "sgemm")?;
        gemm::matmul(c, a, b, self.alpha as f32, true);
        Ok(())
    }
}
