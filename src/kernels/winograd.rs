//! Winograd F(2x2, 3x3) for 3x3 convolutions with padding 1 on channel-major activations
//! (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", arXiv:1509.09308).
//!
//! Each 2x2 output tile comes from a 4x4 input patch: with U = G g G^T (the kernel), V =
//! B^T d B (the patch) and M = U ⊙ V summed over input channels, the tile is A^T M A. The sum
//! over channels is 16 matrix products, one per position of the 4x4 transform, with 2.25 times
//! fewer multiplications than the direct convolution. The backward passes are the adjoints of
//! the same linear maps: dM = A dY A^T, dV = U^T dM (16 products), the patch gradient B dV B^T
//! added back into the input's gradient; dU = dM V^T (16 products), the kernel gradient
//! G^T dU G. Transform-domain arrays are laid out [position][rows][columns] so that each of the
//! 16 products reads and writes contiguous row-major matrices.

use super::conv::Dims;
use super::gemm::{batched, View};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Positions of the 4x4 transform.
pub const POSITIONS: usize = 16;

/// Whether F(2x2, 3x3) applies: a 3x3 kernel on maps of even height and width.
pub fn applies(kernel: usize, (_, _, h, w): Dims) -> bool {
    kernel == 3 && h % 2 == 0 && w % 2 == 0 && h >= 2 && w >= 2
}

/// Tiles of one image and in all: (tiles down, tiles across, tiles in all).
fn tiles((_, b, h, w): Dims) -> (usize, usize, usize) {
    (h / 2, w / 2, b * (h / 2) * (w / 2))
}

/// U = G g G^T for every (k, c): [16][k][c] from g (k, c, 3, 3).
pub fn kernel_transform(g: &[f32], k: usize, c: usize) -> Vec<f32> {
    let mut u = vec![0f32; POSITIONS * k * c];
    let plane = k * c;
    for (kc, g) in g.chunks_exact(9).enumerate() {
        // t = G g (4x3), then U = t G^T (4x4).
        let mut t = [[0f32; 3]; 4];
        for j in 0..3 {
            let (g0, g1, g2) = (g[j], g[3 + j], g[6 + j]);
            t[0][j] = g0;
            t[1][j] = 0.5 * (g0 + g1 + g2);
            t[2][j] = 0.5 * (g0 - g1 + g2);
            t[3][j] = g2;
        }
        for (i, r) in t.iter().enumerate() {
            let row = [r[0], 0.5 * (r[0] + r[1] + r[2]), 0.5 * (r[0] - r[1] + r[2]), r[2]];
            for (j, v) in row.into_iter().enumerate() {
                u[(i * 4 + j) * plane + kc] = v;
            }
        }
    }
    u
}

/// The adjoint of `kernel_transform`: dg = G^T dU G for every (k, c), as (k, c, 3, 3).
pub fn kernel_gradient(du: &[f32], k: usize, c: usize) -> Vec<f32> {
    let plane = k * c;
    let mut dg = vec![0f32; 9 * plane];
    for (kc, out) in dg.chunks_exact_mut(9).enumerate() {
        let at = |i: usize, j: usize| du[(i * 4 + j) * plane + kc];
        // t = G^T dU (3x4), then dg = t G (3x3).
        for j in 0..4 {
            let (u0, u1, u2, u3) = (at(0, j), at(1, j), at(2, j), at(3, j));
            let t0 = u0 + 0.5 * (u1 + u2);
            let t1 = 0.5 * (u1 - u2);
            let t2 = 0.5 * (u1 + u2) + u3;
            for (i, t) in [t0, t1, t2].into_iter().enumerate() {
                // dg[i][0] += t * G[j][0], dg[i][1] += t * G[j][1], dg[i][2] += t * G[j][2]
                let (a, b, c2) = match j {
                    0 => (1.0, 0.0, 0.0),
                    1 => (0.5, 0.5, 0.5),
                    2 => (0.5, -0.5, 0.5),
                    _ => (0.0, 0.0, 1.0),
                };
                out[i * 3] += t * a;
                out[i * 3 + 1] += t * b;
                out[i * 3 + 2] += t * c2;
            }
        }
    }
    dg
}

/// V = B^T d B for every channel and tile: [16][c][tiles] from x (c, b, h, w).
pub fn input_transform(x: &[f32], dims @ (c, b, h, w): Dims) -> Vec<f32> {
    let (th, tw, p) = tiles(dims);
    let len = POSITIONS * c * p;
    let mut v: Vec<f32> = Vec::with_capacity(len);
    let out = v.spare_capacity_mut();
    // Each channel writes its own row of each of the 16 planes.
    let rows: Vec<Vec<&mut [MaybeUninit<f32>]>> = {
        let mut planes: Vec<std::slice::ChunksExactMut<MaybeUninit<f32>>> = out[..len]
            .chunks_exact_mut(c * p)
            .map(|plane| plane.chunks_exact_mut(p))
            .collect();
        (0..c)
            .map(|_| planes.iter_mut().map(|it| it.next().expect("a row a channel")).collect())
            .collect()
    };
    rows.into_par_iter().enumerate().for_each(|(ch, mut dst)| {
        let plane = &x[ch * b * h * w..(ch + 1) * b * h * w];
        let at = |bi: usize, y: isize, xx: isize| -> f32 {
            if y < 0 || y >= h as isize || xx < 0 || xx >= w as isize {
                0.0
            } else {
                plane[(bi * h + y as usize) * w + xx as usize]
            }
        };
        for bi in 0..b {
            for ty in 0..th {
                for tx in 0..tw {
                    let (y0, x0) = (2 * ty as isize - 1, 2 * tx as isize - 1);
                    let mut d = [[0f32; 4]; 4];
                    for (i, row) in d.iter_mut().enumerate() {
                        for (j, v) in row.iter_mut().enumerate() {
                            *v = at(bi, y0 + i as isize, x0 + j as isize);
                        }
                    }
                    // t = B^T d (rows), then V = t B (columns).
                    let mut t = [[0f32; 4]; 4];
                    for j in 0..4 {
                        t[0][j] = d[0][j] - d[2][j];
                        t[1][j] = d[1][j] + d[2][j];
                        t[2][j] = d[2][j] - d[1][j];
                        t[3][j] = d[1][j] - d[3][j];
                    }
                    let p_index = (bi * th + ty) * tw + tx;
                    for (i, r) in t.iter().enumerate() {
                        let vals = [r[0] - r[2], r[1] + r[2], r[2] - r[1], r[1] - r[3]];
                        for (j, val) in vals.into_iter().enumerate() {
                            dst[i * 4 + j][p_index].write(val);
                        }
                    }
                }
            }
        }
    });
    // SAFETY: each channel wrote every tile of its row in all 16 planes.
    unsafe { v.set_len(len) };
    v
}

/// The adjoint of `input_transform`: each tile's patch gradient B dV B^T added into
/// (c, b, h, w), overlapping patches adding up, padding dropped.
pub fn input_gradient(dv: &[f32], dims @ (c, b, h, w): Dims) -> Vec<f32> {
    let (th, tw, p) = tiles(dims);
    let mut dx = vec![0f32; c * b * h * w];
    dx.par_chunks_mut(b * h * w).enumerate().for_each(|(ch, plane)| {
        let at = |pos: usize, p_index: usize| dv[(pos * c + ch) * p + p_index];
        for bi in 0..b {
            for ty in 0..th {
                for tx in 0..tw {
                    let p_index = (bi * th + ty) * tw + tx;
                    // t = B dV (rows), then dd = t B^T (columns).
                    let mut t = [[0f32; 4]; 4];
                    for j in 0..4 {
                        let (v0, v1, v2, v3) =
                            (at(j, p_index), at(4 + j, p_index), at(8 + j, p_index), at(12 + j, p_index));
                        t[0][j] = v0;
                        t[1][j] = v1 - v2 + v3;
                        t[2][j] = -v0 + v1 + v2;
                        t[3][j] = -v3;
                    }
                    let (y0, x0) = (2 * ty as isize - 1, 2 * tx as isize - 1);
                    for (i, r) in t.iter().enumerate() {
                        let y = y0 + i as isize;
                        if y < 0 || y >= h as isize {
                            continue;
                        }
                        let dd = [r[0], r[1] - r[2] + r[3], -r[0] + r[1] + r[2], -r[3]];
                        let row = &mut plane[(bi * h + y as usize) * w..][..w];
                        for (j, val) in dd.into_iter().enumerate() {
                            let xx = x0 + j as isize;
                            if xx >= 0 && xx < w as isize {
                                row[xx as usize] += val;
                            }
                        }
                    }
                }
            }
        }
    });
    dx
}

/// Y = A^T M A for every output channel and tile: (k, b, h, w) from M [16][k][tiles].
pub fn output_transform(m: &[f32], (k, b, h, w): Dims) -> Vec<f32> {
    let (th, tw, p) = tiles((k, b, h, w));
    let mut y = vec![0f32; k * b * h * w];
    y.par_chunks_mut(b * h * w).enumerate().for_each(|(ko, plane)| {
        let at = |pos: usize, p_index: usize| m[(pos * k + ko) * p + p_index];
        for bi in 0..b {
            for ty in 0..th {
                for tx in 0..tw {
                    let p_index = (bi * th + ty) * tw + tx;
                    // s = A^T M (2x4), then Y = s A (2x2).
                    let mut s = [[0f32; 4]; 2];
                    for j in 0..4 {
                        let (m0, m1, m2, m3) =
                            (at(j, p_index), at(4 + j, p_index), at(8 + j, p_index), at(12 + j, p_index));
                        s[0][j] = m0 + m1 + m2;
                        s[1][j] = m1 - m2 - m3;
                    }
                    for (i, r) in s.iter().enumerate() {
                        let row = &mut plane[(bi * h + 2 * ty + i) * w + 2 * tx..][..2];
                        row[0] = r[0] + r[1] + r[2];
                        row[1] = r[1] - r[2] - r[3];
                    }
                }
            }
        }
    });
    y
}

/// The adjoint of `output_transform`: dM = A dY A^T, [16][k][tiles] from dY (k, b, h, w).
pub fn output_gradient(dy: &[f32], dims @ (k, b, h, w): Dims) -> Vec<f32> {
    let (th, tw, p) = tiles(dims);
    let mut dm = vec![0f32; POSITIONS * k * p];
    // Rows of each position plane are output channels: split the planes by channel.
    let per_channel: Vec<(usize, Vec<f32>)> = (0..k)
        .into_par_iter()
        .map(|ko| {
            let plane = &dy[ko * b * h * w..(ko + 1) * b * h * w];
            let mut local = vec![0f32; POSITIONS * p];
            for bi in 0..b {
                for ty in 0..th {
                    for tx in 0..tw {
                        let p_index = (bi * th + ty) * tw + tx;
                        let r0 = &plane[(bi * h + 2 * ty) * w + 2 * tx..][..2];
                        let r1 = &plane[(bi * h + 2 * ty + 1) * w + 2 * tx..][..2];
                        // t = A dY (4x2), then dM = t A^T (4x4).
                        let t = [
                            [r0[0], r0[1]],
                            [r0[0] + r1[0], r0[1] + r1[1]],
                            [r0[0] - r1[0], r0[1] - r1[1]],
                            [-r1[0], -r1[1]],
                        ];
                        for (i, r) in t.iter().enumerate() {
                            let vals = [r[0], r[0] + r[1], r[0] - r[1], -r[1]];
                            for (j, val) in vals.into_iter().enumerate() {
                                local[(i * 4 + j) * p + p_index] = val;
                            }
                        }
                    }
                }
            }
            (ko, local)
        })
        .collect();
    for (ko, local) in per_channel {
        for pos in 0..POSITIONS {
            dm[(pos * k + ko) * p..(pos * k + ko + 1) * p].copy_from_slice(&local[pos * p..(pos + 1) * p]);
        }
    }
    dm
}

/// Direct (k, b, h, w) convolution of x by g with the transforms above: forward only, for
/// tests and benchmarks.
pub fn convolve(x: &[f32], dims @ (c, b, h, w): Dims, g: &[f32], k: usize) -> Vec<f32> {
    let (_, _, p) = tiles(dims);
    let u = kernel_transform(g, k, c);
    let v = input_transform(x, dims);
    let m = batched(POSITIONS, k, p, |pos| {
        (
            View::rows(&u[pos * k * c..(pos + 1) * k * c], k, c),
            View::rows(&v[pos * c * p..(pos + 1) * c * p], c, p),
        )
    });
    output_transform(&m, (k, b, h, w))
}
