//! f32 matrix products on the `gemm` crate (runtime-dispatched AVX2 / AVX-512 kernels), for
//! the custom ops that hold raw slices: strided views in, a row-major destination out,
//! written or accumulated into without a zero-filled temporary.

use gemm::Parallelism;

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
}

/// Products smaller than this many multiply-adds run on the calling thread.
const PARALLEL_WORK: usize = 1 << 18;

/// dst = scale * a b, or dst += scale * a b when `accumulate`; dst is row-major
/// (a.height() x b.width()).
pub fn matmul(dst: &mut [f32], a: View, b: View, scale: f32, accumulate: bool) {
    assert_eq!(
        dst.len(),
        a.rows * b.cols,
        "destination of {} values",
        dst.len()
    );
    // SAFETY: dst is a live, initialised slice of the right length.
    unsafe { gemm_raw(dst.as_mut_ptr(), a, b, scale, accumulate) }
}

/// scale * a b in a new row-major vector, written once (no zero-filled temporary).
pub fn product(a: View, b: View, scale: f32) -> Vec<f32> {
    let len = a.rows * b.cols;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    // SAFETY: with `accumulate = false` the product writes every one of the `len` values
    // and reads none of them; only then is the length set.
    unsafe {
        gemm_raw(out.as_mut_ptr(), a, b, scale, false);
        out.set_len(len);
    }
    out
}

/// dst = scale a b (+ dst when `accumulate`) through raw pointers.
///
/// # Safety
/// `dst` must be valid for writes of a.height() x b.width() values (and initialised when
/// `accumulate`), and not alias `a` or `b`.
unsafe fn gemm_raw(dst: *mut f32, a: View, b: View, scale: f32, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "inner sizes differ: {k} and {}", b.rows);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            std::ptr::write_bytes(dst, 0, m * n);
        }
        return;
    }
    let extent = |v: &View| (v.rows - 1) * v.row_stride + (v.cols - 1) * v.col_stride;
    assert!(extent(&a) < a.data.len() && extent(&b) < b.data.len());
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 && m * n * k >= PARALLEL_WORK {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        n as isize,
        accumulate,
        a.data.as_ptr(),
        a.col_stride as isize,
        a.row_stride as isize,
        b.data.as_ptr(),
        b.col_stride as isize,
        b.row_stride as isize,
        1.0,
        scale,
        false,
        false,
        false,
        parallelism,
    );
}
