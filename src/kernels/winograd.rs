//! Winograd F(2x2, 3x3) for 3x3 convolutions with padding 1 on batch-innermost activations
//! (channels, height, width, batch) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
//! Networks", arXiv:1509.09308).
//!
//! Each 2x2 output tile comes from a 4x4 input patch: with U = G g G^T (the kernel), V =
//! B^T d B (the patch) and M = U ⊙ V summed over input channels, the tile is A^T M A. The sum
//! over channels is 16 matrix products, one per position of the 4x4 transform, with 2.25 times
//! fewer multiplications than the direct convolution. The backward passes are the adjoints of
//! the same linear maps: dM = A dY A^T, dV = U^T dM (16 products), the patch gradient B dV B^T
//! added back into the input's gradient; dU = dM V^T (16 products), the kernel gradient
//! G^T dU G. Transform-domain arrays are [position][channel][tile, batch], so each of the 16
//! products reads and writes contiguous row-major matrices, and every transform works on
//! whole batch rows, `LANES` images at a time.

use super::im2col::Dims;
use super::simd::{Level, LANES};
use super::uninit::written;
use crate::multiversion;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Positions of the 4x4 transform.
pub const POSITIONS: usize = 16;

type Block = [[f32; LANES]; POSITIONS];

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

/// Whether F(2x2, 3x3) applies: a 3x3 kernel on maps of even height and width.
pub fn applies(kernel: usize, (_, h, w, _): Dims) -> bool {
    kernel == 3 && h % 2 == 0 && w % 2 == 0 && h >= 2 && w >= 2
}

/// Columns of the transform-domain matrices: tiles times images.
pub fn columns((_, h, w, b): Dims) -> usize {
    (h / 2) * (w / 2) * b
}

/// The combination B^T v applied along one axis of four values.
#[inline(always)]
fn bt(v: [f32; 4]) -> [f32; 4] {
    [v[0] - v[2], v[1] + v[2], v[2] - v[1], v[1] - v[3]]
}

/// B v (the adjoint of `bt`).
#[inline(always)]
fn b(v: [f32; 4]) -> [f32; 4] {
    [v[0], v[1] - v[2] + v[3], v[1] + v[2] - v[0], -v[3]]
}

/// G v for three values: four.
#[inline(always)]
fn g(v: [f32; 3]) -> [f32; 4] {
    [
        v[0],
        0.5 * (v[0] + v[1] + v[2]),
        0.5 * (v[0] - v[1] + v[2]),
        v[2],
    ]
}

/// G^T v (the adjoint of `g`): three values.
#[inline(always)]
fn gt(v: [f32; 4]) -> [f32; 3] {
    [
        v[0] + 0.5 * (v[1] + v[2]),
        0.5 * (v[1] - v[2]),
        0.5 * (v[1] + v[2]) + v[3],
    ]
}

/// A^T v: two values of four.
#[inline(always)]
fn at(v: [f32; 4]) -> [f32; 2] {
    [v[0] + v[1] + v[2], v[1] - v[2] - v[3]]
}

/// A v (the adjoint of `at`): four values of two.
#[inline(always)]
fn a(v: [f32; 2]) -> [f32; 4] {
    [v[0], v[0] + v[1], v[0] - v[1], -v[1]]
}

/// Applies `f` to the rows (along the first axis) and then the columns of a 4x4 block of
/// lanes: `out = F x F^T` for the 4-to-4 map `f`.
#[inline(always)]
fn both_axes(x: &Block, f: impl Fn([f32; 4]) -> [f32; 4]) -> Block {
    let mut t = [[0f32; LANES]; POSITIONS];
    for j in 0..4 {
        for l in 0..LANES {
            let r = f([x[j][l], x[4 + j][l], x[8 + j][l], x[12 + j][l]]);
            for (i, v) in r.into_iter().enumerate() {
                t[i * 4 + j][l] = v;
            }
        }
    }
    let mut out = [[0f32; LANES]; POSITIONS];
    for i in 0..4 {
        for l in 0..LANES {
            let r = f([
                t[i * 4][l],
                t[i * 4 + 1][l],
                t[i * 4 + 2][l],
                t[i * 4 + 3][l],
            ]);
            for (j, v) in r.into_iter().enumerate() {
                out[i * 4 + j][l] = v;
            }
        }
    }
    out
}

multiversion! {
    /// Output channel `ko`'s U = G g G^T for every input channel: `g` is its (c, 3, 3)
    /// kernels, `dst` its 16 rows of U (c values each).
    fn kernel_row(g3: &[f32], dst: &mut [&mut [MaybeUninit<f32>]]) {
        let c = g3.len() / 9;
        for start in (0..c).step_by(LANES) {
            let len = LANES.min(c - start);
            let mut w = [[0f32; LANES]; 9];
            for (l, kernel) in g3[start * 9..(start + len) * 9].chunks_exact(9).enumerate() {
                for (j, &v) in kernel.iter().enumerate() {
                    w[j][l] = v;
                }
            }
            // t = G w (4x3), then U = t G^T (4x4), lane by lane.
            let mut u = [[0f32; LANES]; POSITIONS];
            for l in 0..LANES {
                let mut t = [[0f32; 3]; 4];
                for j in 0..3 {
                    for (i, v) in g([w[j][l], w[3 + j][l], w[6 + j][l]]).into_iter().enumerate() {
                        t[i][j] = v;
                    }
                }
                for (i, r) in t.iter().enumerate() {
                    for (j, v) in g(*r).into_iter().enumerate() {
                        u[i * 4 + j][l] = v;
                    }
                }
            }
            for (row, lanes) in dst.iter_mut().zip(&u) {
                store(&mut row[start..], lanes, len);
            }
        }
    }
}

/// U = G g G^T for every (k, c): [16][k][c] from g (k, c, 3, 3).
pub(crate) fn kernel_transform(level: Level, g3: &[f32], k: usize, c: usize) -> Vec<f32> {
    assert_eq!(
        g3.len(),
        9 * k * c,
        "winograd: {} kernel values for {k}x{c}x3x3",
        g3.len()
    );
    // SAFETY: each output channel writes every input channel of its 16 rows (the assert above
    // makes the kernels cover every output channel).
    unsafe {
        written(POSITIONS * k * c, |u| {
            rows_by_channel(u, k, c)
                .into_par_iter()
                .zip(g3.par_chunks_exact((9 * c).max(1)))
                .for_each(|(mut dst, kernels)| kernel_row(level, kernels, &mut dst))
        })
    }
}

multiversion! {
    /// Output channel `ko`'s dg = G^T dU G for every input channel: `rows` are its 16 rows of
    /// dU, `out` its (c, 3, 3) kernel gradients.
    fn kernel_gradient_row(rows: &[&[f32]], out: &mut [f32]) {
        let c = out.len() / 9;
        for start in (0..c).step_by(LANES) {
            let len = LANES.min(c - start);
            let mut u = [[0f32; LANES]; POSITIONS];
            for (lanes, row) in u.iter_mut().zip(rows) {
                load(lanes, &row[start..], len);
            }
            let mut dg = [[0f32; LANES]; 9];
            for l in 0..LANES {
                // t = G^T dU (3x4), then dg = t G (3x3).
                let mut t = [[0f32; 4]; 3];
                for j in 0..4 {
                    let col = gt([u[j][l], u[4 + j][l], u[8 + j][l], u[12 + j][l]]);
                    for (i, v) in col.into_iter().enumerate() {
                        t[i][j] = v;
                    }
                }
                for (i, r) in t.iter().enumerate() {
                    for (j, v) in gt(*r).into_iter().enumerate() {
                        dg[i * 3 + j][l] = v;
                    }
                }
            }
            for (l, kernel) in out[start * 9..(start + len) * 9].chunks_exact_mut(9).enumerate() {
                for (j, v) in kernel.iter_mut().enumerate() {
                    *v = dg[j][l];
                }
            }
        }
    }
}

/// The adjoint of `kernel_transform`: dg = G^T dU G for every (k, c), as (k, c, 3, 3).
pub(crate) fn kernel_gradient(level: Level, du: &[f32], k: usize, c: usize) -> Vec<f32> {
    assert_eq!(
        du.len(),
        POSITIONS * k * c,
        "winograd: dU of {} values for {k}x{c}",
        du.len()
    );
    let mut dg = vec![0f32; 9 * k * c];
    dg.par_chunks_mut((9 * c).max(1))
        .enumerate()
        .for_each(|(ko, out)| {
            let rows: Vec<&[f32]> = (0..POSITIONS)
                .map(|pos| &du[(pos * k + ko) * c..(pos * k + ko + 1) * c])
                .collect();
            kernel_gradient_row(level, &rows, out);
        });
    dg
}

/// Splits a [16][channels][cols] buffer into each channel's 16 rows.
fn rows_by_channel(
    buf: &mut [MaybeUninit<f32>],
    channels: usize,
    cols: usize,
) -> Vec<Vec<&mut [MaybeUninit<f32>]>> {
    let mut planes: Vec<_> = buf
        .chunks_exact_mut(channels * cols)
        .map(|plane| plane.chunks_exact_mut(cols))
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

multiversion! {
    /// One channel's V = B^T d B for every tile: `plane` is (h, w, b); `dst` its 16 rows.
    fn input_channel(plane: &[f32], shape: (usize, usize, usize), dst: &mut [&mut [MaybeUninit<f32>]]) {
        let (h, w, nb) = shape;
        let tw = w / 2;
        for ty in 0..h / 2 {
            for tx in 0..tw {
                let tile = (ty * tw + tx) * nb;
                for start in (0..nb).step_by(LANES) {
                    let len = LANES.min(nb - start);
                    let mut d = [[0f32; LANES]; POSITIONS];
                    for (pos, lanes) in d.iter_mut().enumerate() {
                        let (y, x) = ((2 * ty + pos / 4) as isize - 1, (2 * tx + pos % 4) as isize - 1);
                        if y >= 0 && y < h as isize && x >= 0 && x < w as isize {
                            let from = (y as usize * w + x as usize) * nb + start;
                            load(lanes, &plane[from..], len);
                        }
                    }
                    let v = both_axes(&d, bt);
                    for (row, lanes) in dst.iter_mut().zip(&v) {
                        store(&mut row[tile + start..], lanes, len);
                    }
                }
            }
        }
    }
}

/// V = B^T d B for every channel and tile: [16][c][tiles x b] from x (c, h, w, b).
pub(crate) fn input_transform(level: Level, x: &[f32], dims @ (c, h, w, nb): Dims) -> Vec<f32> {
    check_maps(x, dims);
    let p = columns(dims);
    // SAFETY: each channel writes every column of its row in all 16 planes: its tiles cover
    // the map, which `check_maps` found even.
    unsafe {
        written(POSITIONS * c * p, |v| {
            rows_by_channel(v, c, p)
                .into_par_iter()
                .enumerate()
                .for_each(|(ch, mut dst)| {
                    let plane = &x[ch * h * w * nb..(ch + 1) * h * w * nb];
                    input_channel(level, plane, (h, w, nb), &mut dst);
                })
        })
    }
}

/// Panics unless `x` holds (c, h, w, b) values on an even map: the transforms' tiles then
/// cover every value they write.
fn check_maps(x: &[f32], dims @ (c, h, w, b): Dims) {
    assert!(
        applies(3, dims),
        "winograd: needs even maps of at least 2x2, got {h}x{w}"
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
    /// gradient; `rows` are its 16 rows of dV.
    fn input_gradient_channel(rows: &[&[f32]], shape: (usize, usize, usize), plane: &mut [f32]) {
        let (h, w, nb) = shape;
        let tw = w / 2;
        for ty in 0..h / 2 {
            for tx in 0..tw {
                let tile = (ty * tw + tx) * nb;
                for start in (0..nb).step_by(LANES) {
                    let len = LANES.min(nb - start);
                    let mut v = [[0f32; LANES]; POSITIONS];
                    for (lanes, row) in v.iter_mut().zip(rows) {
                        load(lanes, &row[tile + start..], len);
                    }
                    let dd = both_axes(&v, b);
                    for (pos, lanes) in dd.iter().enumerate() {
                        let (y, x) = ((2 * ty + pos / 4) as isize - 1, (2 * tx + pos % 4) as isize - 1);
                        if y >= 0 && y < h as isize && x >= 0 && x < w as isize {
                            let at = (y as usize * w + x as usize) * nb + start;
                            add(&mut plane[at..], lanes, len);
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of `input_transform`: each tile's patch gradient B dV B^T added into
/// (c, h, w, b), overlapping patches adding up, padding dropped.
pub(crate) fn input_gradient(level: Level, dv: &[f32], dims @ (c, h, w, nb): Dims) -> Vec<f32> {
    assert!(applies(3, dims), "winograd: needs even maps, got {h}x{w}");
    let p = columns(dims);
    assert_eq!(
        dv.len(),
        POSITIONS * c * p,
        "winograd: dV of {} values for {dims:?}",
        dv.len()
    );
    let mut dx = vec![0f32; c * h * w * nb];
    dx.par_chunks_mut((h * w * nb).max(1))
        .enumerate()
        .for_each(|(ch, plane)| {
            let rows: Vec<&[f32]> = (0..POSITIONS)
                .map(|pos| &dv[(pos * c + ch) * p..(pos * c + ch + 1) * p])
                .collect();
            input_gradient_channel(level, &rows, (h, w, nb), plane);
        });
    dx
}

multiversion! {
    /// One output channel's tiles A^T M A written into its plane (h, w, b); `rows` are its 16
    /// rows of M.
    fn output_channel(rows: &[&[f32]], shape: (usize, usize, usize), plane: &mut [MaybeUninit<f32>]) {
        let (h, w, nb) = shape;
        let tw = w / 2;
        for ty in 0..h / 2 {
            for tx in 0..tw {
                let tile = (ty * tw + tx) * nb;
                for start in (0..nb).step_by(LANES) {
                    let len = LANES.min(nb - start);
                    let mut m = [[0f32; LANES]; POSITIONS];
                    for (lanes, row) in m.iter_mut().zip(rows) {
                        load(lanes, &row[tile + start..], len);
                    }
                    // s = A^T M (2x4), then Y = s A (2x2).
                    let mut s = [[[0f32; LANES]; 4]; 2];
                    for j in 0..4 {
                        for l in 0..LANES {
                            let r = at([m[j][l], m[4 + j][l], m[8 + j][l], m[12 + j][l]]);
                            s[0][j][l] = r[0];
                            s[1][j][l] = r[1];
                        }
                    }
                    for (i, si) in s.iter().enumerate() {
                        let mut y = [[0f32; LANES]; 2];
                        for l in 0..LANES {
                            let r = at([si[0][l], si[1][l], si[2][l], si[3][l]]);
                            y[0][l] = r[0];
                            y[1][l] = r[1];
                        }
                        for (j, lanes) in y.iter().enumerate() {
                            let at_ = ((2 * ty + i) * w + 2 * tx + j) * nb + start;
                            store(&mut plane[at_..], lanes, len);
                        }
                    }
                }
            }
        }
    }
}

/// Y = A^T M A for every output channel and tile: (k, h, w, b) from M [16][k][tiles x b].
pub(crate) fn output_transform(level: Level, m: &[f32], dims @ (k, h, w, nb): Dims) -> Vec<f32> {
    assert!(applies(3, dims), "winograd: needs even maps, got {h}x{w}");
    let p = columns(dims);
    assert_eq!(
        m.len(),
        POSITIONS * k * p,
        "winograd: M of {} values for {dims:?}",
        m.len()
    );
    // SAFETY: on an even map (asserted) the 2x2 tiles cover every position of every plane.
    unsafe {
        written(k * h * w * nb, |y| {
            y.par_chunks_mut((h * w * nb).max(1))
                .enumerate()
                .for_each(|(ko, plane)| {
                    let rows: Vec<&[f32]> = (0..POSITIONS)
                        .map(|pos| &m[(pos * k + ko) * p..(pos * k + ko + 1) * p])
                        .collect();
                    output_channel(level, &rows, (h, w, nb), plane);
                })
        })
    }
}

multiversion! {
    /// One output channel's dM = A dY A^T for every tile: `plane` is its (h, w, b) gradient,
    /// `dst` its 16 rows of dM.
    fn output_gradient_channel(plane: &[f32], shape: (usize, usize, usize), dst: &mut [&mut [MaybeUninit<f32>]]) {
        let (h, w, nb) = shape;
        let tw = w / 2;
        for ty in 0..h / 2 {
            for tx in 0..tw {
                let tile = (ty * tw + tx) * nb;
                for start in (0..nb).step_by(LANES) {
                    let len = LANES.min(nb - start);
                    let mut d = [[[0f32; LANES]; 2]; 2];
                    for (i, row) in d.iter_mut().enumerate() {
                        for (j, lanes) in row.iter_mut().enumerate() {
                            let from = ((2 * ty + i) * w + 2 * tx + j) * nb + start;
                            load(lanes, &plane[from..], len);
                        }
                    }
                    // t = A dY (4x2), then dM = t A^T (4x4).
                    let mut t = [[[0f32; LANES]; 2]; 4];
                    for j in 0..2 {
                        for l in 0..LANES {
                            let r = a([d[0][j][l], d[1][j][l]]);
                            for (i, v) in r.into_iter().enumerate() {
                                t[i][j][l] = v;
                            }
                        }
                    }
                    let mut dm = [[0f32; LANES]; POSITIONS];
                    for (i, ti) in t.iter().enumerate() {
                        for l in 0..LANES {
                            let r = a([ti[0][l], ti[1][l]]);
                            for (j, v) in r.into_iter().enumerate() {
                                dm[i * 4 + j][l] = v;
                            }
                        }
                    }
                    for (row, lanes) in dst.iter_mut().zip(&dm) {
                        store(&mut row[tile + start..], lanes, len);
                    }
                }
            }
        }
    }
}

/// The adjoint of `output_transform`: dM = A dY A^T, [16][k][tiles x b] from dY (k, h, w, b).
pub(crate) fn output_gradient(level: Level, dy: &[f32], dims @ (k, h, w, nb): Dims) -> Vec<f32> {
    check_maps(dy, dims);
    let p = columns(dims);
    // SAFETY: each channel writes every column of its row in all 16 planes: its tiles cover
    // the map, which `check_maps` found even.
    unsafe {
        written(POSITIONS * k * p, |dm| {
            rows_by_channel(dm, k, p)
                .into_par_iter()
                .enumerate()
                .for_each(|(ko, mut dst)| {
                    let plane = &dy[ko * h * w * nb..(ko + 1) * h * w * nb];
                    output_gradient_channel(level, plane, (h, w, nb), &mut dst);
                })
        })
    }
}
