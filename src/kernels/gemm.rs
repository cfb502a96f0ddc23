//! f32 matrix products on the `gemm` crate (runtime-dispatched AVX2 / AVX-512 kernels; when
//! `GRADBOARD_SIMD` caps the level below the CPU's, on gemm's previous release, whose stable
//! build stops at AVX2), for
//! the custom ops that hold raw slices: strided views in, a row-major destination out,
//! written or accumulated into without a zero-filled temporary.

use super::simd::Level;
use gemm::Parallelism;
use std::mem::MaybeUninit;

/// A strided read-only view of an f32 matrix.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    /// `data` as a row-major `rows` x `cols` matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "a {rows}x{cols} view of {} values",
            data.len()
        );
        View {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// Element (i, j) at `data[i * row_stride + j * col_stride]`; panics if that can leave
    /// `data`.
    pub fn strided(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        if rows > 0 && cols > 0 {
            assert!(
                (rows - 1) * row_stride + (cols - 1) * col_stride < data.len(),
                "a {rows}x{cols} view with strides ({row_stride}, {col_stride}) leaves its {} values",
                data.len()
            );
        }
        View {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        View {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Rows.
    pub fn height(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn width(&self) -> usize {
        self.cols
    }

    /// Element (i, j).
    pub fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.row_stride + j * self.col_stride]
    }

    /// Row i as a slice, where its elements are adjacent.
    pub fn row(&self, i: usize) -> Option<&'a [f32]> {
        (self.col_stride == 1 || self.cols <= 1)
            .then(|| &self.data[i * self.row_stride..][..self.cols])
    }

    /// Column j as a slice, where its elements are adjacent.
    pub fn column(&self, j: usize) -> Option<&'a [f32]> {
        (self.row_stride == 1 || self.rows <= 1)
            .then(|| &self.data[j * self.col_stride..][..self.rows])
    }
}

/// Products smaller than this many multiply-adds run on the calling thread.
const PARALLEL_WORK: usize = 1 << 18;
/// A product with at most this many outputs and a depth of at least `SPLIT_DEPTH` is split
/// along its depth across the threads (gemm's own split of a 200x100 output over two threads
/// gained 1.3x where this gains 2x: 0.63 against 0.93 ms for section 1's x W).
const SPLIT_OUTPUTS: usize = 1 << 16;
const SPLIT_DEPTH: usize = 1024;

impl View<'_> {
    /// Columns `from..to` (no copy).
    fn columns(&self, from: usize, to: usize) -> Self {
        View {
            data: &self.data[from * self.col_stride..],
            cols: to - from,
            ..*self
        }
    }

    /// Rows `from..to` (no copy).
    fn rows_range(&self, from: usize, to: usize) -> Self {
        View {
            data: &self.data[from * self.row_stride..],
            rows: to - from,
            ..*self
        }
    }
}

/// scale a b as partial products over slices of the depth, one a thread, summed; `None`
/// where the shape does not call for it.
fn split_depth(a: View, b: View, scale: f32) -> Option<Vec<f32>> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let threads = rayon::current_num_threads();
    if threads < 2 || m * n > SPLIT_OUTPUTS || k < SPLIT_DEPTH {
        return None;
    }
    let parts = threads.min(k / (SPLIT_DEPTH / 2));
    let bounds: Vec<(usize, usize)> = (0..parts)
        .map(|i| (i * k / parts, (i + 1) * k / parts))
        .collect();
    use rayon::prelude::*;
    bounds
        .par_iter()
        .map(|&(from, to)| {
            let (pa, pb) = (a.columns(from, to), b.rows_range(from, to));
            let mut out: Vec<f32> = Vec::with_capacity(m * n);
            // SAFETY: a fresh buffer of m x n values, fully written by the product.
            unsafe {
                gemm_raw(out.as_mut_ptr(), pa, pb, scale, false, Parallelism::None);
                out.set_len(m * n);
            }
            out
        })
        .reduce_with(|mut x, y| {
            x.iter_mut().zip(&y).for_each(|(p, q)| *p += q);
            x
        })
}

/// dst = scale * a b, or dst += scale * a b when `accumulate`; dst is row-major
/// (a.height() x b.width()).
pub fn matmul(dst: &mut [f32], a: View, b: View, scale: f32, accumulate: bool) {
    assert_eq!(
        dst.len(),
        a.rows * b.cols,
        "destination of {} values",
        dst.len()
    );
    if let Some(p) = split_depth(a, b, scale) {
        if accumulate {
            dst.iter_mut().zip(&p).for_each(|(d, v)| *d += v);
        } else {
            dst.copy_from_slice(&p);
        }
        return;
    }
    // SAFETY: dst is a live, initialised slice of the right length.
    unsafe {
        gemm_raw(
            dst.as_mut_ptr(),
            a,
            b,
            scale,
            accumulate,
            threads_for(&a, &b),
        )
    }
}

/// dst = a b, element (i, j) written to `dst[i * row_stride + j * col_stride]` (rows and
/// columns of a larger layout, which may be uninitialised: nothing is read from it); one
/// thread per product when the product is small, gemm's own threads otherwise.
pub fn product_strided(
    dst: &mut [MaybeUninit<f32>],
    (row_stride, col_stride): (usize, usize),
    a: View,
    b: View,
) {
    let (m, n) = (a.rows, b.cols);
    if m == 0 || n == 0 {
        return;
    }
    let last = (m - 1)
        .checked_mul(row_stride)
        .and_then(|r| (n - 1).checked_mul(col_stride)?.checked_add(r));
    assert!(
        last.is_some_and(|last| last < dst.len()),
        "a {m}x{n} destination with strides ({row_stride}, {col_stride}) leaves its {} values",
        dst.len()
    );
    assert!(
        strides_disjoint(m, n, row_stride, col_stride),
        "a {m}x{n} destination with strides ({row_stride}, {col_stride}) writes some element twice"
    );
    // SAFETY: every element written lies inside `dst` and no two share a place (checked
    // above), so the threads write apart; without `accumulate` none is read.
    unsafe {
        gemm_raw_strided(
            dst.as_mut_ptr().cast(),
            (row_stride, col_stride),
            a,
            b,
            1.0,
            false,
            threads_for(&a, &b),
        )
    }
}

/// Whether an m x n layout with these strides gives every element a place of its own: the
/// rows lie apart (each row's span below the row stride) or the columns do.
fn strides_disjoint(m: usize, n: usize, row_stride: usize, col_stride: usize) -> bool {
    let apart = |count: usize, stride: usize, inner: usize, inner_stride: usize| {
        let span = if inner == 1 {
            Some(1)
        } else if inner_stride == 0 {
            None
        } else {
            (inner - 1).checked_mul(inner_stride).map(|s| s + 1)
        };
        span.is_some_and(|span| count == 1 || stride >= span)
    };
    apart(m, row_stride, n, col_stride) || apart(n, col_stride, m, row_stride)
}

/// scale * a b in a new row-major vector, written once (no zero-filled temporary).
pub fn product(a: View, b: View, scale: f32) -> Vec<f32> {
    if let Some(p) = split_depth(a, b, scale) {
        return p;
    }
    let len = a.rows * b.cols;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    // SAFETY: with `accumulate = false` the product writes every one of the `len` values
    // and reads none of them; only then is the length set.
    unsafe {
        gemm_raw(out.as_mut_ptr(), a, b, scale, false, threads_for(&a, &b));
        out.set_len(len);
    }
    out
}

/// `count` products, in parallel, each on one thread: product `i` is `views(i)` and lands in
/// rows `i * rows ..` of the result, which is `count` row-major `rows` x `cols` matrices.
pub fn batched<'a>(
    count: usize,
    rows: usize,
    cols: usize,
    views: impl Fn(usize) -> (View<'a>, View<'a>) + Sync,
) -> Vec<f32> {
    use rayon::prelude::*;
    let len = count * rows * cols;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut((rows * cols).max(1))
        .enumerate()
        .for_each(|(i, chunk)| {
            let (a, b) = views(i);
            assert!(
                a.rows == rows && b.cols == cols,
                "product {i} is not {rows}x{cols}"
            );
            // SAFETY: the chunk holds rows x cols values, all written by the product.
            unsafe {
                gemm_raw(
                    chunk.as_mut_ptr().cast(),
                    a,
                    b,
                    1.0,
                    false,
                    Parallelism::None,
                );
            }
        });
    // SAFETY: every chunk was written in full above.
    unsafe { out.set_len(len) };
    out
}

/// gemm's own threads for a product of this size.
fn threads_for(a: &View, b: &View) -> Parallelism {
    let threads = rayon::current_num_threads();
    if threads > 1 && a.rows * a.cols * b.cols >= PARALLEL_WORK {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    }
}

/// dst = scale a b (+ dst when `accumulate`) through raw pointers.
///
/// # Safety
/// `dst` must be valid for writes of a.height() x b.width() values (and initialised when
/// `accumulate`), and not alias `a` or `b`.
unsafe fn gemm_raw(
    dst: *mut f32,
    a: View,
    b: View,
    scale: f32,
    accumulate: bool,
    parallelism: Parallelism,
) {
    gemm_raw_strided(dst, (b.cols, 1), a, b, scale, accumulate, parallelism)
}

/// `gemm_raw` into a destination with element (i, j) at `dst + i * row_stride + j *
/// col_stride`.
///
/// # Safety
/// Every such element must be valid for writes (and initialised when `accumulate`), and the
/// destination must not alias `a` or `b`.
unsafe fn gemm_raw_strided(
    dst: *mut f32,
    (row_stride, col_stride): (usize, usize),
    a: View,
    b: View,
    scale: f32,
    accumulate: bool,
    parallelism: Parallelism,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "inner sizes differ: {k} and {}", b.rows);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    *dst.add(i * row_stride + j * col_stride) = 0.0;
                }
            }
        }
        return;
    }
    let extent = |v: &View| (v.rows - 1) * v.row_stride + (v.cols - 1) * v.col_stride;
    assert!(extent(&a) < a.data.len() && extent(&b) < b.data.len());
    let (dst_cs, dst_rs) = (col_stride as isize, row_stride as isize);
    let (a_cs, a_rs) = (a.col_stride as isize, a.row_stride as isize);
    let (b_cs, b_rs) = (b.col_stride as isize, b.row_stride as isize);
    let (a, b) = (a.data.as_ptr(), b.data.as_ptr());
    // The two releases take the same arguments but their own `Parallelism`.
    macro_rules! run {
        ($gemm:expr, $parallelism:expr) => {
            $gemm(
                m,
                n,
                k,
                dst,
                dst_cs,
                dst_rs,
                accumulate,
                a,
                a_cs,
                a_rs,
                b,
                b_cs,
                b_rs,
                1.0,
                scale,
                false,
                false,
                false,
                $parallelism,
            )
        };
    }
    if Level::capped() {
        let parallelism = match parallelism {
            Parallelism::Rayon(threads) => gemm_common_avx2::Parallelism::Rayon(threads),
            _ => gemm_common_avx2::Parallelism::None,
        };
        run!(gemm_f32_avx2::gemm::f32::get_gemm_fn(), parallelism);
    } else {
        run!(gemm::gemm, parallelism);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_destinations_that_write_an_element_twice_are_refused() {
        // Row-major, column-major and a padded layout give each element its own place.
        assert!(strides_disjoint(3, 4, 4, 1));
        assert!(strides_disjoint(3, 4, 1, 3));
        assert!(strides_disjoint(3, 4, 9, 2));
        assert!(strides_disjoint(1, 4, 0, 1));
        assert!(strides_disjoint(3, 1, 1, 0));
        // Rows that overlap, a zero stride, columns on top of each other.
        assert!(!strides_disjoint(3, 4, 3, 1));
        assert!(!strides_disjoint(3, 4, 4, 0));
        assert!(!strides_disjoint(2, 2, 1, 1));
        let (a, b) = (vec![1.0; 6], vec![1.0; 6]);
        let mut dst = vec![MaybeUninit::<f32>::uninit(); 64];
        let overlap = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            product_strided(&mut dst, (1, 1), View::rows(&a, 2, 3), View::rows(&b, 3, 2))
        }));
        assert!(overlap.is_err(), "overlapping rows must be refused");
        let huge = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            product_strided(
                &mut dst,
                (usize::MAX / 2, 1),
                View::rows(&a, 2, 3),
                View::rows(&b, 3, 2),
            )
        }));
        assert!(huge.is_err(), "a stride past the buffer must be refused");
        product_strided(&mut dst, (4, 1), View::rows(&a, 2, 3), View::rows(&b, 3, 2));
        // SAFETY: the 2x2 product wrote elements 0, 1, 4 and 5.
        let written: Vec<f32> = [0, 1, 4, 5]
            .iter()
            .map(|&i| unsafe { dst[i].assume_init() })
            .collect();
        assert_eq!(written, [3.0; 4]);
    }
}
