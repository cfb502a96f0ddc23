//! Winograd F(m x m, 3x3) for 3x3 convolutions with padding 1 on batch-innermost activations
//! (channels, height, width, batch), with output tiles of m = 2 or m = 4 (Lavin and Gray, "Fast
//! Algorithms for Convolutional Neural Networks", arXiv:1509.09308).
//!
//! Each m x m output tile comes from an n x n input patch (n = m + 2): with U = G g G^T (the
//! kernel), V = B^T d B (the patch) and M = U ⊙ V summed over input channels, the tile is
//! A^T M A. The sum over channels is n² matrix products, one per position of the n x n
//! transform, with 9m²/n² times fewer multiplications than the direct convolution (2.25 for
//! F(2x2, 3x3), 4 for F(4x4, 3x3)). The backward passes are the adjoints of the same linear
//! maps: dM = A dY A^T, dV = U^T dM (n² products), the patch gradient B dV B^T added back into
//! the input's gradient; dU = dM V^T (n² products), the kernel gradient G^T dU G. The kernel
//! transform and its adjoint are one matrix product each (an n² x 9 matrix against every
//! kernel), the data transforms lane-parallel loops. Transform-domain arrays are [position][channel][tile, batch], so each product reads and
//! writes contiguous row-major matrices, and every transform works on whole batch rows,
//! `LANES` images at a time.

use super::gemm::{product, View};
use super::im2col::Dims;
use super::simd::{Level, LANES};
use super::uninit::written;
use crate::multiversion;
use rayon::prelude::*;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

/// A Winograd tile size: F(m x m, 3x3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tile {
    /// F(2x2, 3x3): 2x2 outputs from a 4x4 patch, 16 positions.
    F2,
    /// F(4x4, 3x3): 4x4 outputs from a 6x6 patch, 36 positions.
    F4,
}

/// Input channels from which Winograd's transforms cost less than the multiplications they
/// save (a first layer on 3 colour channels stays on im2col).
pub const MIN_CHANNELS: usize = 16;

/// The smallest map side F(4x4, 3x3) is chosen for; smaller maps take F(2x2, 3x3).
pub const F4_MIN_SIDE: usize = 8;

impl Tile {
    /// The output tile's side m.
    pub fn m(self) -> usize {
        match self {
            Tile::F2 => 2,
            Tile::F4 => 4,
        }
    }

    /// Positions of the transform: (m + 2)².
    pub fn positions(self) -> usize {
        (self.m() + 2) * (self.m() + 2)
    }

    /// How many times fewer multiplications than the direct convolution: 9m² / (m + 2)².
    pub fn saving(self) -> f64 {
        (9 * self.m() * self.m()) as f64 / self.positions() as f64
    }

    /// Whether it applies: a 3x3 kernel on maps of sides m or more (where a side is not a
    /// multiple of m, the last tiles hang over the edge: their patches read zeros there and
    /// their outputs there are dropped).
    pub fn fits(self, kernel: usize, (_, h, w, _): Dims) -> bool {
        let m = self.m();
        kernel == 3 && h >= m && w >= m
    }

    /// Whether its tiles cover the maps exactly (sides multiples of m).
    pub fn exact(self, (_, h, w, _): Dims) -> bool {
        h % self.m() == 0 && w % self.m() == 0
    }

    /// Columns of the transform-domain matrices: tiles times images.
    pub fn columns(self, (_, h, w, b): Dims) -> usize {
        h.div_ceil(self.m()) * w.div_ceil(self.m()) * b
    }

    /// Its name, as papers write it.
    pub fn name(self) -> &'static str {
        match self {
            Tile::F2 => "F(2x2, 3x3)",
            Tile::F4 => "F(4x4, 3x3)",
        }
    }
}

/// The tile the convolutions take for a `kernel` x `kernel` convolution on `dims`
/// (channels, height, width, batch), or `None` for im2col, from `MIN_CHANNELS` input
/// channels: F(4x4, 3x3) on maps of sides multiple of 4 from `F4_MIN_SIDE`, F(2x2, 3x3) on
/// other even maps; on maps with an odd side (the airbench nets' 31, 15, 7, 3) the tiles
/// overhang the edge, F(4x4, 3x3) from one less than `F4_MIN_SIDE`, F(2x2, 3x3) from 3.
pub fn choose(kernel: usize, dims @ (c, h, w, _): Dims) -> Option<Tile> {
    if c < MIN_CHANNELS || kernel != 3 {
        return None;
    }
    let side = h.min(w);
    if Tile::F4.exact(dims) && side >= F4_MIN_SIDE {
        return Some(Tile::F4);
    }
    if Tile::F2.exact(dims) {
        return Tile::F2.fits(kernel, dims).then_some(Tile::F2);
    }
    if side + 1 >= F4_MIN_SIDE {
        return Some(Tile::F4);
    }
    (side >= 3).then_some(Tile::F2)
}

/// The linear maps of one tile size along one axis. Vectors are padded to the largest size
/// (6 patch values, 4 output values); only the first n (or m) are read and written.
trait Transform {
    /// Output tile side.
    const M: usize;
    /// Patch side (M + 2).
    const N: usize;
    /// Transform positions (N²).
    const P: usize;
    /// B^T v.
    fn bt(v: [f32; 6]) -> [f32; 6];
    /// B v (the adjoint of `bt`).
    fn b(v: [f32; 6]) -> [f32; 6];
    /// G v: n values of a kernel row's three.
    fn g(v: [f32; 3]) -> [f32; 6];
    /// A^T v: m values of n.
    fn at(v: [f32; 6]) -> [f32; 4];
    /// A v (the adjoint of `at`): n values of m.
    fn a(v: [f32; 4]) -> [f32; 6];
}

/// F(2x2, 3x3) at the points 0, 1, -1 and infinity.
struct F2;

impl Transform for F2 {
    const M: usize = 2;
    const N: usize = 4;
    const P: usize = 16;

    #[inline(always)]
    fn bt(v: [f32; 6]) -> [f32; 6] {
        [v[0] - v[2], v[1] + v[2], v[2] - v[1], v[1] - v[3], 0.0, 0.0]
    }

    #[inline(always)]
    fn b(v: [f32; 6]) -> [f32; 6] {
        [
            v[0],
            v[1] - v[2] + v[3],
            v[1] + v[2] - v[0],
            -v[3],
            0.0,
            0.0,
        ]
    }

    #[inline(always)]
    fn g(v: [f32; 3]) -> [f32; 6] {
        [
            v[0],
            0.5 * (v[0] + v[1] + v[2]),
            0.5 * (v[0] - v[1] + v[2]),
            v[2],
            0.0,
            0.0,
        ]
    }

    #[inline(always)]
    fn at(v: [f32; 6]) -> [f32; 4] {
        [v[0] + v[1] + v[2], v[1] - v[2] - v[3], 0.0, 0.0]
    }

    #[inline(always)]
    fn a(v: [f32; 4]) -> [f32; 6] {
        [v[0], v[0] + v[1], v[0] - v[1], -v[1], 0.0, 0.0]
    }
}

/// F(4x4, 3x3) at the points 0, 1, -1, 2, -2 and infinity (Lavin and Gray's matrices).
struct F4;

const SIXTH: f32 = 1.0 / 6.0;
const TWENTY_FOURTH: f32 = 1.0 / 24.0;

impl Transform for F4 {
    const M: usize = 4;
    const N: usize = 6;
    const P: usize = 36;

    #[inline(always)]
    fn bt(d: [f32; 6]) -> [f32; 6] {
        [
            4.0 * d[0] - 5.0 * d[2] + d[4],
            -4.0 * (d[1] + d[2]) + (d[3] + d[4]),
            4.0 * (d[1] - d[2]) + (d[4] - d[3]),
            2.0 * (d[3] - d[1]) + (d[4] - d[2]),
            2.0 * (d[1] - d[3]) + (d[4] - d[2]),
            4.0 * d[1] - 5.0 * d[3] + d[5],
        ]
    }

    #[inline(always)]
    fn b(v: [f32; 6]) -> [f32; 6] {
        [
            4.0 * v[0],
            4.0 * (v[2] - v[1] + v[5]) + 2.0 * (v[4] - v[3]),
            -5.0 * v[0] - 4.0 * (v[1] + v[2]) - (v[3] + v[4]),
            (v[1] - v[2]) + 2.0 * (v[3] - v[4]) - 5.0 * v[5],
            v[0] + (v[1] + v[2]) + (v[3] + v[4]),
            v[5],
        ]
    }

    #[inline(always)]
    fn g(v: [f32; 3]) -> [f32; 6] {
        [
            0.25 * v[0],
            -SIXTH * (v[0] + v[1] + v[2]),
            -SIXTH * (v[0] - v[1] + v[2]),
            TWENTY_FOURTH * (v[0] + 2.0 * v[1] + 4.0 * v[2]),
            TWENTY_FOURTH * (v[0] - 2.0 * v[1] + 4.0 * v[2]),
            v[2],
        ]
    }

    #[inline(always)]
    fn at(v: [f32; 6]) -> [f32; 4] {
        let (s1, d1) = (v[1] + v[2], v[1] - v[2]);
        let (s2, d2) = (v[3] + v[4], v[3] - v[4]);
        [
            v[0] + s1 + s2,
            d1 + 2.0 * d2,
            s1 + 4.0 * s2,
            d1 + 8.0 * d2 + v[5],
        ]
    }

    #[inline(always)]
    fn a(v: [f32; 4]) -> [f32; 6] {
        let (even, odd) = (v[0] + v[2], v[1] + v[3]);
        let (even2, odd2) = (v[0] + 4.0 * v[2], 2.0 * v[1] + 8.0 * v[3]);
        [
            v[0],
            even + odd,
            even - odd,
            even2 + odd2,
            even2 - odd2,
            v[3],
        ]
    }
}

/// Runs the generic `f::<F2>` or `f::<F4>` for `tile`.
macro_rules! by_tile {
    ($tile:expr, $f:ident($($arg:expr),* $(,)?)) => {
        match $tile {
            Tile::F2 => $f::<F2>($($arg),*),
            Tile::F4 => $f::<F4>($($arg),*),
        }
    };
}

/// Copies `src[..len]` into the lanes: a fixed-size copy for a full block (no call to memcpy).
#[inline(always)]
fn load(lanes: &mut [f32; LANES], src: &[f32], len: usize) {
    if len == LANES {
        *lanes = src[..LANES].try_into().expect("a full block");
    } else {
        lanes[..len].copy_from_slice(&src[..len]);
    }
}

/// Writes the first `len` lanes into `dst`.
#[inline(always)]
fn store(dst: &mut [MaybeUninit<f32>], lanes: &[f32; LANES], len: usize) {
    if len == LANES {
        let dst: &mut [MaybeUninit<f32>; LANES] =
            (&mut dst[..LANES]).try_into().expect("a full block");
        for (o, &v) in dst.iter_mut().zip(lanes) {
            o.write(v);
        }
    } else {
        for (o, &v) in dst[..len].iter_mut().zip(lanes) {
            o.write(v);
        }
    }
}

/// Adds the first `len` lanes into `dst`.
#[inline(always)]
fn add(dst: &mut [f32], lanes: &[f32; LANES], len: usize) {
    if len == LANES {
        let dst: &mut [f32; LANES] = (&mut dst[..LANES]).try_into().expect("a full block");
        for (o, &v) in dst.iter_mut().zip(lanes) {
            *o += v;
        }
    } else {
        for (o, &v) in dst[..len].iter_mut().zip(lanes) {
            *o += v;
        }
    }
}

/// A vector of `LANES` images' values at one place of a tile.
type Lanes = [f32; LANES];

/// Entry `i` of each of the vectors `v` (the `i`th row of a block kept column by column).
#[inline(always)]
fn row_of<const A: usize, const B: usize>(v: &[[Lanes; B]; A], i: usize) -> [Lanes; A] {
    let mut row = [[0f32; LANES]; A];
    for (r, v) in row.iter_mut().zip(v) {
        *r = v[i];
    }
    row
}

/// Applies the map `f` lane by lane: `out[i][l] = f(v[..][l])[i]` (the loop over lanes is what
/// the compiler turns into vector instructions).
#[inline(always)]
fn map_lanes<const A: usize, const B: usize>(
    v: &[Lanes; A],
    f: impl Fn([f32; A]) -> [f32; B],
) -> [Lanes; B] {
    let mut out = [[0f32; LANES]; B];
    for l in 0..LANES {
        let mut x = [0f32; A];
        for (x, v) in x.iter_mut().zip(v) {
            *x = v[l];
        }
        let r = f(x);
        for (o, r) in out.iter_mut().zip(r) {
            o[l] = r;
        }
    }
    out
}

/// U = G g G^T for every (k, c): [n²][k][c] from g (k, c, 3, 3), as the product of the
/// transform's matrix and the kernels.
pub(crate) fn kernel_transform(tile: Tile, g3: &[f32], k: usize, c: usize) -> Vec<f32> {
    assert_eq!(
        g3.len(),
        9 * k * c,
        "winograd: {} kernel values for {k}x{c}x3x3",
        g3.len()
    );
    let mat = kernel_matrix(tile);
    let p = tile.positions();
    product(
        View::rows(mat, p, 9),
        View::strided(g3, 9, k * c, 1, 9),
        1.0,
    )
}

/// The kernel transform of `tile` as an n² x 9 matrix, worked out once.
fn kernel_matrix(tile: Tile) -> &'static [f32] {
    static F2_MATRIX: OnceLock<Vec<f32>> = OnceLock::new();
    static F4_MATRIX: OnceLock<Vec<f32>> = OnceLock::new();
    match tile {
        Tile::F2 => F2_MATRIX.get_or_init(transform_matrix::<F2>),
        Tile::F4 => F4_MATRIX.get_or_init(transform_matrix::<F4>),
    }
}

/// The kernel transform as an n² x 9 matrix: column `tap` is G e G^T for the kernel e that is
/// 1 at `tap` and 0 elsewhere, so U = this times the kernels (9 x (k c)).
fn transform_matrix<T: Transform>() -> Vec<f32> {
    let n = T::N;
    let mut mat = vec![0f32; T::P * 9];
    for tap in 0..9 {
        let mut w = [0f32; 9];
        w[tap] = 1.0;
        let mut t = [[0f32; 3]; 6];
        for j in 0..3 {
            let r = T::g([w[j], w[3 + j], w[6 + j]]);
            for i in 0..n {
                t[i][j] = r[i];
            }
        }
        for (i, ti) in t.iter().enumerate().take(n) {
            let r = T::g(*ti);
            for j in 0..n {
                mat[(i * n + j) * 9 + tap] = r[j];
            }
        }
    }
    mat
}

/// The adjoint of `kernel_transform`: dg = G^T dU G for every (k, c), as (k, c, 3, 3): dU's
/// columns against the transform's matrix.
pub(crate) fn kernel_gradient(tile: Tile, du: &[f32], k: usize, c: usize) -> Vec<f32> {
    let p = tile.positions();
    assert_eq!(
        du.len(),
        p * k * c,
        "winograd: dU of {} values for {k}x{c}",
        du.len()
    );
    let mat = kernel_matrix(tile);
    product(
        View::strided(du, k * c, p, 1, k * c),
        View::rows(mat, p, 9),
        1.0,
    )
}

/// Channel `ch`'s row in each of the `positions` planes of a [positions][channels][cols]
/// buffer.
fn channel_rows(
    buf: &[f32],
    positions: usize,
    channels: usize,
    cols: usize,
    ch: usize,
) -> Vec<&[f32]> {
    (0..positions)
        .map(|pos| &buf[(pos * channels + ch) * cols..(pos * channels + ch + 1) * cols])
        .collect()
}

/// Splits a [positions][channels][cols] buffer into each channel's rows.
fn rows_by_channel(
    buf: &mut [MaybeUninit<f32>],
    positions: usize,
    channels: usize,
    cols: usize,
) -> Vec<Vec<&mut [MaybeUninit<f32>]>> {
    debug_assert_eq!(buf.len(), positions * channels * cols);
    let mut planes: Vec<_> = buf
        .chunks_exact_mut((channels * cols).max(1))
        .map(|plane| plane.chunks_exact_mut(cols.max(1)))
        .collect();
    (0..channels)
        .map(|_| {
            planes
                .iter_mut()
                .map(|it| it.next().expect("a row a channel"))
                .collect()
        })
        .collect()
}

/// Where patch position `pos` of tile (ty, tx) falls in an h x w map, if inside (padding 1).
#[inline(always)]
fn patch_at<T: Transform>(ty: usize, tx: usize, pos: usize, h: usize, w: usize) -> Option<usize> {
    let y = (T::M * ty + pos / T::N).checked_sub(1)?;
    let x = (T::M * tx + pos % T::N).checked_sub(1)?;
    (y < h && x < w).then_some(y * w + x)
}

multiversion! {
    /// One channel's V = B^T d B for every tile: `plane` is (h, w, b); `dst` its n² rows.
    fn input_channel<T: Transform>(plane: &[f32], shape: (usize, usize, usize), dst: &mut [&mut [MaybeUninit<f32>]]) {
        let (h, w, nb) = shape;
        let tw = w.div_ceil(T::M);
        // Each tile writes the columns it reads (`T::N` of them), the rest stay zero.
        let mut cols = [[[0f32; LANES]; 6]; 6];
        for ty in 0..h.div_ceil(T::M) {
            for tx in 0..tw {
                let tile = (ty * tw + tx) * nb;
                for start in (0..nb).step_by(LANES) {
                    let len = LANES.min(nb - start);
                    // B^T along each column of the patch, then along each row.
                    for (j, col) in cols.iter_mut().enumerate().take(T::N) {
                        let mut d = [[0f32; LANES]; 6];
                        for (i, lanes) in d.iter_mut().enumerate().take(T::N) {
                            if let Some(at) = patch_at::<T>(ty, tx, i * T::N + j, h, w) {
                                load(lanes, &plane[at * nb + start..], len);
                            }
                        }
                        *col = map_lanes(&d, T::bt);
                    }
                    for i in 0..T::N {
                        let v = map_lanes(&row_of(&cols, i), T::bt);
                        for (j, lanes) in v.iter().enumerate().take(T::N) {
                            store(&mut dst[i * T::N + j][tile + start..], lanes, len);
                        }
                    }
                }
            }
        }
    }
}

/// V = B^T d B for every channel and tile: [n²][c][tiles x b] from x (c, h, w, b).
pub(crate) fn input_transform(level: Level, tile: Tile, x: &[f32], dims: Dims) -> Vec<f32> {
    check_maps(tile, x, dims);
    by_tile!(tile, input_transform_as(level, tile, x, dims))
}

fn input_transform_as<T: Transform>(
    level: Level,
    tile: Tile,
    x: &[f32],
    dims @ (c, h, w, nb): Dims,
) -> Vec<f32> {
    let p = tile.columns(dims);
    // SAFETY: each channel writes every column of its row in all n² planes: its tiles cover
    // the map, which `check_maps` found a multiple of the tile.
    unsafe {
        written(T::P * c * p, |v| {
            rows_by_channel(v, T::P, c, p)
                .into_par_iter()
                .enumerate()
                .for_each(|(ch, mut dst)| {
                    let plane = &x[ch * h * w * nb..(ch + 1) * h * w * nb];
                    input_channel::<T>(level, plane, (h, w, nb), &mut dst);
                })
        })
    }
}

/// The columns of a transform-domain array `what` of `channels` rows a position on maps
/// `dims`; panics unless the tile fits the maps and `buf` has that many values.
fn transformed_columns(tile: Tile, what: &str, buf: &[f32], channels: usize, dims: Dims) -> usize {
    let (_, h, w, _) = dims;
    assert!(
        tile.fits(3, dims),
        "winograd {}: does not fit {h}x{w}",
        tile.name()
    );
    let p = tile.columns(dims);
    assert_eq!(
        buf.len(),
        tile.positions() * channels * p,
        "winograd: {what} of {} values for {dims:?}",
        buf.len()
    );
    p
}

/// Panics unless `x` holds (c, h, w, b) values on maps whose sides are multiples of the tile:
/// the transforms' tiles then cover every value they write.
fn check_maps(tile: Tile, x: &[f32], dims @ (c, h, w, b): Dims) {
    assert!(
        tile.fits(3, dims),
        "winograd {}: needs maps of {} or more, got {h}x{w}",
        tile.name(),
        tile.m()
    );
    assert_eq!(
        x.len(),
        c * h * w * b,
        "winograd: {} values for {c}x{h}x{w}x{b}",
        x.len()
    );
}

multiversion! {
    /// One channel's patch gradients B dV B^T added into its plane (h, w, b) of the input
    /// gradient; `rows` are its n² rows of dV.
    fn input_gradient_channel<T: Transform>(rows: &[&[f32]], shape: (usize, usize, usize), plane: &mut [f32]) {
        let (h, w, nb) = shape;
        let tw = w.div_ceil(T::M);
        // Each tile writes the columns it reads (`T::N` of them), the rest stay zero.
        let mut cols = [[[0f32; LANES]; 6]; 6];
        for ty in 0..h.div_ceil(T::M) {
            for tx in 0..tw {
                let tile = (ty * tw + tx) * nb;
                for start in (0..nb).step_by(LANES) {
                    let len = LANES.min(nb - start);
                    // B along each column of dV, then along each row.
                    for (j, col) in cols.iter_mut().enumerate().take(T::N) {
                        let mut v = [[0f32; LANES]; 6];
                        for (i, lanes) in v.iter_mut().enumerate().take(T::N) {
                            load(lanes, &rows[i * T::N + j][tile + start..], len);
                        }
                        *col = map_lanes(&v, T::b);
                    }
                    for i in 0..T::N {
                        let dd = map_lanes(&row_of(&cols, i), T::b);
                        for (j, lanes) in dd.iter().enumerate().take(T::N) {
                            if let Some(at) = patch_at::<T>(ty, tx, i * T::N + j, h, w) {
                                add(&mut plane[at * nb + start..], lanes, len);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of `input_transform`: each tile's patch gradient B dV B^T added into
/// (c, h, w, b), overlapping patches adding up, padding dropped.
pub(crate) fn input_gradient(level: Level, tile: Tile, dv: &[f32], dims: Dims) -> Vec<f32> {
    by_tile!(tile, input_gradient_as(level, tile, dv, dims))
}

fn input_gradient_as<T: Transform>(
    level: Level,
    tile: Tile,
    dv: &[f32],
    dims @ (c, h, w, nb): Dims,
) -> Vec<f32> {
    let p = transformed_columns(tile, "dV", dv, c, dims);
    let mut dx = vec![0f32; c * h * w * nb];
    dx.par_chunks_mut((h * w * nb).max(1))
        .enumerate()
        .for_each(|(ch, plane)| {
            let rows = channel_rows(dv, T::P, c, p, ch);
            input_gradient_channel::<T>(level, &rows, (h, w, nb), plane);
        });
    dx
}

multiversion! {
    /// One output channel's tiles A^T M A written into its plane (h, w, b); `rows` are its n²
    /// rows of M. With an `epilogue` (scale, shift) each value is written as
    /// max(0, value scale + shift): an inference batch norm and ReLU in the same pass.
    fn output_channel<T: Transform>(rows: &[&[f32]], shape: (usize, usize, usize), plane: &mut [MaybeUninit<f32>], epilogue: Option<(f32, f32)>) {
        let (h, w, nb) = shape;
        let (m_, n) = (T::M, T::N);
        let tw = w.div_ceil(m_);
        // Each tile writes the columns it reads (n of them), the rest stay zero.
        let mut s = [[[0f32; LANES]; 4]; 6];
        for ty in 0..h.div_ceil(m_) {
            for tx in 0..tw {
                let tile = (ty * tw + tx) * nb;
                for start in (0..nb).step_by(LANES) {
                    let len = LANES.min(nb - start);
                    // s = A^T M (m x n) column by column, then Y = s A row by row.
                    for (j, sj) in s.iter_mut().enumerate().take(n) {
                        let mut col = [[0f32; LANES]; 6];
                        for (i, lanes) in col.iter_mut().enumerate().take(n) {
                            load(lanes, &rows[i * n + j][tile + start..], len);
                        }
                        *sj = map_lanes(&col, T::at);
                    }
                    for i in 0..m_ {
                        let mut y = map_lanes(&row_of(&s, i), T::at);
                        if let Some((scale, shift)) = epilogue {
                            for lanes in y.iter_mut().take(m_) {
                                for v in lanes.iter_mut() {
                                    *v = (*v * scale + shift).max(0.0);
                                }
                            }
                        }
                        // A ragged edge tile's outputs past the map are dropped.
                        if m_ * ty + i >= h {
                            continue;
                        }
                        for (j, lanes) in y.iter().enumerate().take(m_.min(w - m_ * tx)) {
                            let at_ = ((m_ * ty + i) * w + m_ * tx + j) * nb + start;
                            store(&mut plane[at_..], lanes, len);
                        }
                    }
                }
            }
        }
    }
}

/// Y = A^T M A for every output channel and tile: (k, h, w, b) from M [n²][k][tiles x b];
/// with an `epilogue` (a scale and a shift per output channel), max(0, Y scale + shift).
pub(crate) fn output_transform(
    level: Level,
    tile: Tile,
    m: &[f32],
    dims: Dims,
    epilogue: Option<(&[f32], &[f32])>,
) -> Vec<f32> {
    by_tile!(tile, output_transform_as(level, tile, m, dims, epilogue))
}

fn output_transform_as<T: Transform>(
    level: Level,
    tile: Tile,
    m: &[f32],
    dims @ (k, h, w, nb): Dims,
    epilogue: Option<(&[f32], &[f32])>,
) -> Vec<f32> {
    let p = transformed_columns(tile, "M", m, k, dims);
    if let Some((scale, shift)) = epilogue {
        assert!(
            scale.len() == k && shift.len() == k,
            "winograd: an epilogue of {} scales and {} shifts for {k} channels",
            scale.len(),
            shift.len()
        );
    }
    // SAFETY: on maps a multiple of the tile (asserted) the tiles cover every position of
    // every plane.
    unsafe {
        written(k * h * w * nb, |y| {
            y.par_chunks_mut((h * w * nb).max(1))
                .enumerate()
                .for_each(|(ko, plane)| {
                    let rows = channel_rows(m, T::P, k, p, ko);
                    let channel = epilogue.map(|(scale, shift)| (scale[ko], shift[ko]));
                    output_channel::<T>(level, &rows, (h, w, nb), plane, channel);
                })
        })
    }
}

multiversion! {
    /// One output channel's dM = A dY A^T for every tile: `plane` is its (h, w, b) gradient,
    /// `dst` its n² rows of dM.
    fn output_gradient_channel<T: Transform>(plane: &[f32], shape: (usize, usize, usize), dst: &mut [&mut [MaybeUninit<f32>]]) {
        let (h, w, nb) = shape;
        let (m_, n) = (T::M, T::N);
        let tw = w.div_ceil(m_);
        // Each tile writes the m columns it reads, the rest stay zero.
        let mut t = [[[0f32; LANES]; 6]; 4];
        for ty in 0..h.div_ceil(m_) {
            for tx in 0..tw {
                let tile = (ty * tw + tx) * nb;
                for start in (0..nb).step_by(LANES) {
                    let len = LANES.min(nb - start);
                    // t = A dY (n x m) column by column, then dM = t A^T row by row; a
                    // ragged edge tile's gradient past the map is zero.
                    for (j, tj) in t.iter_mut().enumerate().take(m_) {
                        let mut col = [[0f32; LANES]; 4];
                        if m_ * tx + j < w {
                            for (i, lanes) in col.iter_mut().enumerate().take(m_.min(h - m_ * ty)) {
                                let from = ((m_ * ty + i) * w + m_ * tx + j) * nb + start;
                                load(lanes, &plane[from..], len);
                            }
                        }
                        *tj = map_lanes(&col, T::a);
                    }
                    for i in 0..n {
                        let dm = map_lanes(&row_of(&t, i), T::a);
                        for (j, lanes) in dm.iter().enumerate().take(n) {
                            store(&mut dst[i * n + j][tile + start..], lanes, len);
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of `output_transform`: dM = A dY A^T, [n²][k][tiles x b] from dY (k, h, w, b).
pub(crate) fn output_gradient(level: Level, tile: Tile, dy: &[f32], dims: Dims) -> Vec<f32> {
    check_maps(tile, dy, dims);
    by_tile!(tile, output_gradient_as(level, tile, dy, dims))
}

fn output_gradient_as<T: Transform>(
    level: Level,
    tile: Tile,
    dy: &[f32],
    dims @ (k, h, w, nb): Dims,
) -> Vec<f32> {
    let p = tile.columns(dims);
    // SAFETY: each channel writes every column of its row in all n² planes: its tiles cover
    // the map, which `check_maps` found a multiple of the tile.
    unsafe {
        written(T::P * k * p, |dm| {
            rows_by_channel(dm, T::P, k, p)
                .into_par_iter()
                .enumerate()
                .for_each(|(ko, mut dst)| {
                    let plane = &dy[ko * h * w * nb..(ko + 1) * h * w * nb];
                    output_gradient_channel::<T>(level, plane, (h, w, nb), &mut dst);
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 2001) as f32 / 1000.0
                    - 1.0
            })
            .collect()
    }

    /// Every data transform and its adjoint gives the baseline's bits at every
    /// instruction-set level the CPU has, for both tiles, on a batch that leaves a partial
    /// block of lanes.
    #[test]
    fn every_simd_level_matches_the_baseline() {
        let (c, h, w, b, k) = (5, 8, 8, 19, 6);
        let x = values(c * h * w * b, 3);
        let dy = values(k * h * w * b, 19);
        for tile in [Tile::F2, Tile::F4] {
            let p = tile.columns((c, h, w, b));
            let m = values(tile.positions() * k * p, 13);
            let dv = values(tile.positions() * c * p, 23);
            let run = |level: Level| {
                (
                    input_transform(level, tile, &x, (c, h, w, b)),
                    input_gradient(level, tile, &dv, (c, h, w, b)),
                    output_transform(level, tile, &m, (k, h, w, b), None),
                    output_gradient(level, tile, &dy, (k, h, w, b)),
                )
            };
            let base = run(Level::BASELINE);
            for level in Level::available() {
                assert!(run(level) == base, "{tile:?} at {}", level.name());
            }
        }
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// Times each data transform on the ConvNet's and the speedrun's shapes (a benchmark, not a
    /// check): `cargo test --release -p gradboard --lib winograd::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn time_the_transforms() {
        // Freed buffers stay in the heap, as in training (else each call faults its pages in).
        crate::keep_freed_memory();
        let level = Level::detected();
        let shapes = [
            (64, 31, 64),
            (256, 15, 64),
            (256, 7, 64),
            (128, 16, 32),
            (256, 8, 32),
            (512, 4, 32),
        ];
        for (c, side, b) in shapes {
            let dims = (c, side, side, b);
            let tile = choose(3, dims).expect("a Winograd shape");
            let x = vec![0.5f32; c * side * side * b];
            let m = vec![0.25f32; tile.positions() * c * tile.columns(dims)];
            let time = |f: &dyn Fn() -> Vec<f32>| {
                std::hint::black_box(f());
                let start = std::time::Instant::now();
                for _ in 0..10 {
                    std::hint::black_box(f());
                }
                start.elapsed().as_secs_f64() * 100.0
            };
            eprintln!(
                "{c}x{side}x{side}x{b} {}: input {:.2} ms, input gradient {:.2}, output {:.2}, output gradient {:.2}",
                tile.name(),
                time(&|| input_transform(level, tile, &x, dims)),
                time(&|| input_gradient(level, tile, &m, dims)),
                time(&|| output_transform(level, tile, &m, dims, None)),
                time(&|| output_gradient(level, tile, &x, dims)),
            );
        }
    }
}
