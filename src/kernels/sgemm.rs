//! f32 matrix products for section 1's MLP: a 6x16 AVX2/FMA micro-kernel, rows split over
//! rayon's threads, and C += alpha A B for a fused SGD step.
//!
//! Section 1's step is about 80% matrix products on two thin shapes, x W (200x3072 by
//! 3072x100) and x^T dy (3072x200 by 200x100). A row-major A is read in place, a transposed A
//! and B are packed block by block; on its own this only matches candle's gemm. The gain is
//! `add_product`, which adds -lr x^T dy straight into W (no dW tensor, no separate update
//! pass). Other dtypes go to candle's matmul, which is also the reference the tests check this
//! against. On the autograd MLP's wider layers (3072x800, batch 512) candle's gemm measured
//! faster, so those keep it. A portable kernel with the same driver serves CPUs without
//! AVX2/FMA.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, InplaceOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Rows of A (and C) per micro-kernel call.
const MR: usize = 6;
/// Columns of B (and C) per micro-kernel call: two 8-wide AVX registers.
const NR: usize = 16;
/// Depth of one packed block: a 256x16 sliver of B is 16 KiB and stays in L1.
const KC: usize = 256;
/// Most rows of A packed at once: 120x256 values, 120 KiB, stay in L2.
const MC: usize = 120;

/// Multiply-adds below which a product runs on one thread.
const PARALLEL_MIN_WORK: usize = 1 << 20;

/// A read-only view of an f32 matrix with any strides (a transpose is a view).
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// Element (i, j) is `data[i * row_stride + j * col_stride]`; panics if that can leave
    /// `data`.
    pub fn new(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        if rows > 0 && cols > 0 {
            assert!(
                (rows - 1) * row_stride + (cols - 1) * col_stride < data.len(),
                "matrix view {rows}x{cols} with strides ({row_stride}, {col_stride}) leaves its {} values",
                data.len()
            );
        }
        MatRef {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// A row-major `rows` x `cols` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The transpose, as a view.
    pub fn t(self) -> Self {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> f32 {
        debug_assert!(i < self.rows && j < self.cols);
        // SAFETY: `new` checked that every (i < rows, j < cols) lies inside `data`.
        unsafe {
            *self
                .data
                .get_unchecked(i * self.row_stride + j * self.col_stride)
        }
    }
}

/// C = A B as a row-major (A rows) x (B cols) vector.
pub fn matmul(a: MatRef, b: MatRef) -> Vec<f32> {
    let mut c = vec![0f32; a.rows * b.cols];
    matmul_acc(1.0, a, b, &mut c);
    c
}

/// C += alpha A B, C row-major (A rows) x (B cols).
pub fn matmul_acc(alpha: f32, a: MatRef, b: MatRef, c: &mut [f32]) {
    assert_eq!(a.cols, b.rows, "matmul: inner sizes differ");
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(c.len(), m * n, "matmul: C has the wrong size");
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let kernel = select_kernel();
    let n_slivers = n.div_ceil(NR);
    // A row-major A is read in place (the micro-kernel takes strides), so only its short
    // edge sliver is copied; other layouts are packed (a transposed A in place measured
    // 2.2 ms against 1.3 ms packed for x^T dy). Each thread packs B block by block.
    let a_in_place = a.col_stride == 1;
    // Small products (section 1's second layer) stay on the calling thread: waking another
    // worker costs more than it saves.
    let threads = if m * n * k < PARALLEL_MIN_WORK {
        1
    } else {
        rayon::current_num_threads().max(1)
    };
    let chunk_rows = m.div_ceil(threads).next_multiple_of(MR);
    c.par_chunks_mut(chunk_rows * n)
        .enumerate()
        .for_each(|(t, c_chunk)| {
            let first_row = t * chunk_rows;
            let rows = c_chunk.len() / n;
            let blocks = rows.div_ceil(MC);
            let block_rows = rows.div_ceil(blocks).next_multiple_of(MR);
            let packed_rows = if a_in_place { MR } else { block_rows };
            let mut packed_a = vec![0f32; packed_rows * KC.min(k)];
            let mut packed_b = vec![0f32; KC.min(k) * n_slivers * NR];
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                pack_b_block(b, pc, kc, &mut packed_b);
                for ic in (0..rows).step_by(block_rows) {
                    let mc = block_rows.min(rows - ic);
                    let full_rows = mc / MR * MR;
                    if !a_in_place {
                        pack_a(a, first_row + ic, mc, pc, kc, &mut packed_a);
                    } else if full_rows < mc {
                        let edge_row = first_row + ic + full_rows;
                        pack_a(a, edge_row, mc - full_rows, pc, kc, &mut packed_a);
                    }
                    for js in 0..n_slivers {
                        let j0 = js * NR;
                        let b_sliver = BSliver {
                            data: &packed_b[js * kc * NR..(js + 1) * kc * NR],
                            row_stride: NR,
                        };
                        for is in 0..mc.div_ceil(MR) {
                            let r0 = is * MR;
                            let rows_here = MR.min(mc - r0);
                            let a_sliver = if a_in_place && rows_here == MR {
                                let row = first_row + ic + r0;
                                ASliver {
                                    data: &a.data[row * a.row_stride + pc * a.col_stride..],
                                    row_stride: a.row_stride,
                                    col_stride: a.col_stride,
                                }
                            } else {
                                let s = if a_in_place { 0 } else { is };
                                ASliver {
                                    data: &packed_a[s * kc * MR..(s + 1) * kc * MR],
                                    row_stride: 1,
                                    col_stride: MR,
                                }
                            };
                            let tile = Tile {
                                c: &mut c_chunk[(ic + r0) * n + j0..],
                                ldc: n,
                                rows: rows_here,
                                cols: NR.min(n - j0),
                                alpha,
                            };
                            kernel(kc, a_sliver, b_sliver, tile);
                        }
                    }
                }
            }
        });
}

/// `MR` rows of A for one micro-kernel call: row r, step p at `data[r * row_stride + p *
/// col_stride]` (packed: strides 1 and `MR`; in place: A's own strides).
#[derive(Clone, Copy)]
struct ASliver<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

/// `NR` columns of B for one micro-kernel call: step p's `NR` values start at
/// `data[p * row_stride]` (packed: `NR`; in place: B's row stride).
#[derive(Clone, Copy)]
struct BSliver<'a> {
    data: &'a [f32],
    row_stride: usize,
}

impl BSliver<'_> {
    /// Whether `kc` steps of `NR` values stay inside `data`.
    fn holds(&self, kc: usize) -> bool {
        kc == 0 || (kc - 1) * self.row_stride + NR <= self.data.len()
    }
}

impl ASliver<'_> {
    /// Whether `kc` steps stay inside `data`.
    fn holds(&self, kc: usize) -> bool {
        kc == 0 || (MR - 1) * self.row_stride + (kc - 1) * self.col_stride < self.data.len()
    }
}

/// Rows `i0..i0+mc`, columns `p0..p0+kc` of A as `MR`-row slivers, each `kc` columns of `MR`
/// values; rows past the end are zero.
fn pack_a(a: MatRef, i0: usize, mc: usize, p0: usize, kc: usize, out: &mut [f32]) {
    let out = &mut out[..mc.div_ceil(MR) * MR * kc];
    if a.row_stride == 1 && mc.is_multiple_of(MR) {
        // Columns of A are contiguous (A is a transposed row-major matrix): read each column
        // once, in order. Sliver by sliver would touch kc rows of the source per sliver, all
        // in the same L1 set when the source's rows are a multiple of 4 KiB apart.
        for p in 0..kc {
            let start = i0 + (p0 + p) * a.col_stride;
            let column = &a.data[start..start + mc];
            for (sliver, values) in out.chunks_exact_mut(MR * kc).zip(column.chunks_exact(MR)) {
                let dst: &mut [f32; MR] = (&mut sliver[p * MR..p * MR + MR])
                    .try_into()
                    .expect("MR values");
                *dst = values.try_into().expect("MR values");
            }
        }
        return;
    }
    for (s, sliver) in out.chunks_exact_mut(MR * kc).enumerate() {
        let r0 = i0 + s * MR;
        let rows = MR.min(mc - s * MR);
        if a.col_stride == 1 {
            // Rows of A are contiguous: gather one value from each of the sliver's rows.
            for r in 0..MR {
                if r < rows {
                    let start = (r0 + r) * a.row_stride + p0;
                    let row = &a.data[start..start + kc];
                    for (column, &v) in sliver.chunks_exact_mut(MR).zip(row) {
                        column[r] = v;
                    }
                } else {
                    for column in sliver.chunks_exact_mut(MR) {
                        column[r] = 0.0;
                    }
                }
            }
        } else {
            for (p, column) in sliver.chunks_exact_mut(MR).enumerate() {
                for (r, value) in column.iter_mut().enumerate() {
                    *value = if r < rows { a.at(r0 + r, p0 + p) } else { 0.0 };
                }
            }
        }
    }
}

/// Rows `p0..p0+kc` of B as `NR`-column slivers, each `kc` rows of `NR` values; columns
/// past the end are zero. Contiguous slivers keep the micro-kernel's reads of B in L1 (read
/// in place, the rows of a 100-column B are 400 bytes apart and most 16-value reads straddle
/// two cache lines).
fn pack_b_block(b: MatRef, p0: usize, kc: usize, out: &mut [f32]) {
    let n = b.cols;
    for (js, sliver) in out[..n.div_ceil(NR) * kc * NR]
        .chunks_exact_mut(kc * NR)
        .enumerate()
    {
        let j0 = js * NR;
        let cols = NR.min(n - j0);
        for (p, row) in sliver.chunks_exact_mut(NR).enumerate() {
            let start = (p0 + p) * b.row_stride + j0 * b.col_stride;
            if b.col_stride == 1 && cols == NR {
                let src: &[f32; NR] = b.data[start..start + NR].try_into().expect("NR values");
                *<&mut [f32; NR]>::try_from(row).expect("NR values") = *src;
            } else {
                for (j, value) in row.iter_mut().enumerate() {
                    *value = if j < cols { b.at(p0 + p, j0 + j) } else { 0.0 };
                }
            }
        }
    }
}

/// The part of C one micro-kernel call adds to: `rows` x `cols` values from `c[0]` with
/// row stride `ldc`, each product scaled by `alpha`.
struct Tile<'c> {
    c: &'c mut [f32],
    ldc: usize,
    rows: usize,
    cols: usize,
    alpha: f32,
}

impl Tile<'_> {
    /// Adds alpha times the first `rows` x `cols` values of an `MR` x `NR` row-major block.
    fn add(&mut self, block: &[f32; MR * NR]) {
        for r in 0..self.rows {
            let row = &mut self.c[r * self.ldc..r * self.ldc + self.cols];
            for (c, &v) in row.iter_mut().zip(&block[r * NR..]) {
                *c += self.alpha * v;
            }
        }
    }
}

/// C_tile += A_sliver B_sliver over `kc` steps.
type Kernel = fn(usize, ASliver, BSliver, Tile);

fn select_kernel() -> Kernel {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        return kernel_avx2;
    }
    kernel_portable
}

/// The micro-kernel in plain Rust (the compiler vectorises it for the baseline target).
fn kernel_portable(kc: usize, a: ASliver, b: BSliver, mut tile: Tile) {
    assert!(a.holds(kc) && b.holds(kc));
    let mut acc = [0f32; MR * NR];
    for p in 0..kc {
        let b_row = &b.data[p * b.row_stride..p * b.row_stride + NR];
        for r in 0..MR {
            let av = a.data[r * a.row_stride + p * a.col_stride];
            for (c, &bv) in b_row.iter().enumerate() {
                acc[r * NR + c] += av * bv;
            }
        }
    }
    tile.add(&acc);
}

#[cfg(target_arch = "x86_64")]
fn kernel_avx2(kc: usize, a: ASliver, b: BSliver, tile: Tile) {
    assert!(a.holds(kc) && b.holds(kc) && tile.rows <= MR && tile.cols <= NR);
    assert!(tile.rows == 0 || (tile.rows - 1) * tile.ldc + tile.cols <= tile.c.len());
    // SAFETY: `select_kernel` returns this kernel only when the CPU has AVX2 and FMA; the
    // asserts above bound every read of `a` and `b` and every write through `tile`.
    unsafe {
        if tile.cols > NR / 2 {
            kernel_avx2_impl::<2>(kc, a, b, tile)
        } else {
            // The last columns of B fit one register: half the multiplies.
            kernel_avx2_impl::<1>(kc, a, b, tile)
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
/// The kernel over the first `8 * REGS` columns of the B sliver (`REGS` is 1 or 2).
unsafe fn kernel_avx2_impl<const REGS: usize>(kc: usize, a: ASliver, b: BSliver, mut tile: Tile) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm256_setzero_ps(); REGS]; MR];
    let rows: [*const f32; MR] = std::array::from_fn(|r| a.data.as_ptr().add(r * a.row_stride));
    for p in 0..kc {
        let b_row = b.data.as_ptr().add(p * b.row_stride);
        let bv: [__m256; REGS] = std::array::from_fn(|i| _mm256_loadu_ps(b_row.add(8 * i)));
        let offset = p * a.col_stride;
        for (row, a_row) in acc.iter_mut().zip(rows) {
            let av = _mm256_broadcast_ss(&*a_row.add(offset));
            for (sum, &bi) in row.iter_mut().zip(&bv) {
                *sum = _mm256_fmadd_ps(av, bi, *sum);
            }
        }
    }
    if tile.rows == MR && tile.cols == 8 * REGS {
        let c = tile.c.as_mut_ptr();
        let alpha = _mm256_set1_ps(tile.alpha);
        for (r, row) in acc.iter().enumerate() {
            for (i, &sum) in row.iter().enumerate() {
                let p = c.add(r * tile.ldc + 8 * i);
                _mm256_storeu_ps(p, _mm256_fmadd_ps(sum, alpha, _mm256_loadu_ps(p)));
            }
        }
    } else {
        let mut block = [0f32; MR * NR];
        for (r, row) in acc.iter().enumerate() {
            for (i, &sum) in row.iter().enumerate() {
                _mm256_storeu_ps(block.as_mut_ptr().add(r * NR + 8 * i), sum);
            }
        }
        tile.add(&block);
    }
}

/// `a.matmul(b)` for 2-d tensors: this module's product for f32 on the CPU, candle's otherwise.
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
        if a.cols != b.rows {
            candle_core::bail!(
                "sgemm: shapes {}x{} and {}x{} do not chain",
                a.rows,
                a.cols,
                b.rows,
                b.cols
            );
        }
        let shape = Shape::from((a.rows, b.cols));
        Ok((CpuStorage::F32(matmul(a, b)), shape))
    }
}

/// C += alpha A B in place, for 2-d tensors (every clone of C, a `Var` included, sees it):
/// section 1's SGD step, W -= lr x^T dy, without a gradient tensor or a second pass. f32 on
/// the CPU runs this module's product into C's storage; other dtypes add candle's product.
pub fn add_product(c: &Tensor, alpha: f64, a: &Tensor, b: &Tensor) -> Result<()> {
    if c.dtype() == candle_core::DType::F32 && c.device().is_cpu() && c.rank() == 2 {
        c.inplace_op3(a, b, &AddProduct { alpha })
    } else {
        crate::kernels::inplace::axpy(c, &a.matmul(b)?, alpha, true)
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
        if cl.dims() != [a.rows, b.cols] || a.cols != b.rows {
            candle_core::bail!(
                "sgemm: {:?} += {}x{} times {}x{} does not fit",
                cl.dims(),
                a.rows,
                a.cols,
                b.rows,
                b.cols
            );
        }
        let CpuStorage::F32(data) = c else {
            candle_core::bail!("sgemm: f32 only, got {:?}", c.dtype())
        };
        let c = crate::kernels::inplace::contiguous_mut(data, cl, "sgemm")?;
        matmul_acc(self.alpha as f32, a, b, c);
        Ok(())
    }
}

/// The 2-d f32 matrix a storage and layout describe.
pub(crate) fn view<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<MatRef<'a>> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("sgemm: f32 only, got {:?}", storage.dtype())
    };
    let (&[rows, cols], &[row_stride, col_stride]) = (layout.dims(), layout.stride()) else {
        candle_core::bail!("sgemm: 2-d matrices only, got {:?}", layout.dims())
    };
    Ok(MatRef::new(
        &data[layout.start_offset()..],
        rows,
        cols,
        row_stride,
        col_stride,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(a: MatRef, b: MatRef) -> Vec<f32> {
        let mut c = vec![0f32; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                let mut s = 0f64;
                for p in 0..a.cols {
                    s += a.at(i, p) as f64 * b.at(p, j) as f64;
                }
                c[i * b.cols + j] = s as f32;
            }
        }
        c
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 2001) as f32 / 1000.0
                    - 1.0
            })
            .collect()
    }

    #[test]
    fn matches_a_plain_triple_loop_on_edge_shapes_and_transposes() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (7, 300, 17),
            (13, 513, 33),
            (200, 40, 100),
            (5, 2, 3),
        ] {
            let a = values(m * k, 1);
            let b = values(k * n, 2);
            let (av, bv) = (MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n));
            let expected = reference(av, bv);
            let got = matmul(av, bv);
            for (g, e) in got.iter().zip(&expected) {
                assert!(
                    (g - e).abs() <= 1e-4 * (1.0 + e.abs()),
                    "{m}x{k}x{n}: {g} vs {e}"
                );
            }
            let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
            let at_view = MatRef::row_major(&at, k, m).t();
            assert_eq!(
                matmul(at_view, bv),
                got,
                "{m}x{k}x{n} through a transposed view"
            );
        }
    }

    #[test]
    fn portable_kernel_agrees_with_the_selected_one() {
        let (kc, a, b) = (37, values(37 * MR, 3), values(37 * NR, 4));
        let mut fast = vec![0f32; MR * NR];
        let mut slow = vec![0f32; MR * NR];
        let sliver = ASliver {
            data: &a,
            row_stride: 1,
            col_stride: MR,
        };
        let b_sliver = BSliver {
            data: &b,
            row_stride: NR,
        };
        select_kernel()(
            kc,
            sliver,
            b_sliver,
            Tile {
                c: &mut fast,
                ldc: NR,
                rows: MR,
                cols: NR,
                alpha: 1.0,
            },
        );
        kernel_portable(
            kc,
            sliver,
            b_sliver,
            Tile {
                c: &mut slow,
                ldc: NR,
                rows: MR,
                cols: NR,
                alpha: 1.0,
            },
        );
        for (f, s) in fast.iter().zip(&slow) {
            assert!((f - s).abs() < 1e-4);
        }
    }
}
