//! Patch extraction for k x k convolutions (stride 1, padding k / 2) on channel-major
//! activations (channels, batch, height, width): a convolution becomes one matrix product
//! whose result is already channel-major, so no layer transposes anything.

use rayon::prelude::*;
use std::mem::MaybeUninit;

/// (channels, batch, height, width).
pub type Dims = (usize, usize, usize, usize);

/// `out[x] = src[x + shift]` where that lies inside `src`, else 0 (a row of a shifted patch).
#[inline]
fn shifted_row(out: &mut [MaybeUninit<f32>], src: &[f32], shift: isize) {
    let w = out.len() as isize;
    let lo = (-shift).clamp(0, w) as usize;
    let hi = (w - shift).clamp(0, w) as usize;
    for o in &mut out[..lo] {
        o.write(0.0);
    }
    if lo < hi {
        let from = (lo as isize + shift) as usize;
        for (o, &v) in out[lo..hi].iter_mut().zip(&src[from..from + hi - lo]) {
            o.write(v);
        }
    }
    for o in &mut out[hi.max(lo)..] {
        o.write(0.0);
    }
}

/// The patches of `x` (c, b, h, w) for a k x k kernel: (c k k, b h w), row `(ch k + ky) k + kx`
/// holding input channel `ch` shifted by (ky - k/2, kx - k/2), zeros outside.
pub fn im2col(x: &[f32], (c, b, h, w): Dims, k: usize) -> Vec<f32> {
    let n = b * h * w;
    let pad = (k / 2) as isize;
    let len = c * k * k * n;
    assert_eq!(
        x.len(),
        c * n,
        "im2col: {} values for {c}x{b}x{h}x{w}",
        x.len()
    );
    let mut cols: Vec<f32> = Vec::with_capacity(len);
    cols.spare_capacity_mut()[..len]
        .par_chunks_mut(n)
        .enumerate()
        .for_each(|(row, out)| {
            let (ch, ky, kx) = (row / (k * k), (row / k % k) as isize, (row % k) as isize);
            let plane = &x[ch * n..(ch + 1) * n];
            for bi in 0..b {
                for y in 0..h {
                    let out_row = &mut out[(bi * h + y) * w..(bi * h + y + 1) * w];
                    let sy = y as isize + ky - pad;
                    if sy < 0 || sy >= h as isize {
                        out_row.iter_mut().for_each(|o| {
                            o.write(0.0);
                        });
                        continue;
                    }
                    let src = &plane[(bi * h + sy as usize) * w..][..w];
                    shifted_row(out_row, src, kx - pad);
                }
            }
        });
    // SAFETY: every row of every chunk was written above (a copy or zeros).
    unsafe { cols.set_len(len) };
    cols
}

/// The adjoint of `im2col`: patch gradients (c k k, b h w) folded back into (c, b, h, w),
/// overlapping patches adding up.
pub fn col2im(cols: &[f32], (c, b, h, w): Dims, k: usize) -> Vec<f32> {
    let n = b * h * w;
    let pad = (k / 2) as isize;
    assert_eq!(cols.len(), c * k * k * n, "col2im: {} values", cols.len());
    let mut out = vec![0f32; c * n];
    out.par_chunks_mut(n).enumerate().for_each(|(ch, dst)| {
        for ky in 0..k as isize {
            for kx in 0..k as isize {
                let r = ((ch as isize * k as isize + ky) * k as isize + kx) as usize;
                let row = &cols[r * n..(r + 1) * n];
                let shift = kx - pad;
                let (lo, hi) = (
                    (-shift).clamp(0, w as isize) as usize,
                    (w as isize - shift).clamp(0, w as isize) as usize,
                );
                if lo >= hi {
                    continue;
                }
                for bi in 0..b {
                    for y in 0..h {
                        let sy = y as isize + ky - pad;
                        if sy < 0 || sy >= h as isize {
                            continue;
                        }
                        let src = &row[(bi * h + y) * w..(bi * h + y + 1) * w];
                        let d = &mut dst[(bi * h + sy as usize) * w..][..w];
                        let from = (lo as isize + shift) as usize;
                        for (d, &g) in d[from..from + hi - lo].iter_mut().zip(&src[lo..hi]) {
                            *d += g;
                        }
                    }
                }
            }
        }
    });
    out
}
