//! Section 1's matrix products as candle ops on `kernels::gemm`: `a b` without a backward
//! (the manual engine computes its own), and C += alpha A B in place, which adds the SGD step
//! -lr x^T dy straight into W (no dW tensor, no separate update pass). f32 on the CPU; other
//! dtypes and devices take candle's matmul, which is also the reference the tests check these
//! against.

use super::gemm::{matmul, product, View};
use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, InplaceOp3, Layout, Result, Shape, Tensor};

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

/// `a.matmul(b)` for 2-d tensors: `kernels::gemm` for f32 on the CPU, candle's otherwise.
/// The result has no backward: the manual engine computes its own.
pub fn matmul_tensors(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let fast = a.dtype() == candle_core::DType::F32
        && b.dtype() == candle_core::DType::F32
        && a.device().is_cpu()
        && b.device().is_cpu()
        && a.rank() == 2
        && b.rank() == 2;
    if fast {
        a.apply_op2_no_bwd(b, &Matmul)
    } else {
        a.matmul(b)
    }
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
/// section 1's SGD step, W -= lr x^T dy, without a gradient tensor or a second pass. f32 on
/// the CPU accumulates into C's storage; other dtypes add candle's product.
pub fn add_product(c: &Tensor, alpha: f64, a: &Tensor, b: &Tensor) -> Result<()> {
    if c.dtype() == candle_core::DType::F32 && c.device().is_cpu() && c.rank() == 2 {
        c.inplace_op3(a, b, &AddProduct { alpha })
    } else {
        super::inplace::axpy(super::Kernels::Reference, c, &a.matmul(b)?, alpha)
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
        matmul(c, a, b, self.alpha as f32, true);
        Ok(())
    }
}
