//! Patch extraction for k x k convolutions (stride 1, padding k / 2) on batch-innermost
//! activations (channels, height, width, batch): a convolution becomes one matrix product whose
//! result is already in that layout, and every spatial loop runs over whole batch rows.

use super::simd::Level;
use super::uninit::written;
use crate::multiversion;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// (channels, height, width, batch).
pub type Dims = (usize, usize, usize, usize);

/// `out[i] = src[i + shift]` where that lies inside `src`, else 0.
#[inline]
fn shifted(out: &mut [MaybeUninit<f32>], src: &[f32], shift: isize) {
    let w = out.len() as isize;
    let lo = (-shift).clamp(0, w) as usize;
    let hi = (src.len() as isize - shift).clamp(0, w) as usize;
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

/// The patches of `x` (c, h, w, b) for a k x k kernel: (c k k, h w b), row `(ch k + ky) k + kx`
/// holding channel `ch` shifted by (ky - k/2, kx - k/2), zeros outside.
pub fn im2col(x: &[f32], (c, h, w, b): Dims, k: usize) -> Vec<f32> {
    let n = h * w * b;
    let pad = (k / 2) as isize;
    let len = c * k * k * n;
    assert_eq!(
        x.len(),
        c * n,
        "im2col: {} values for {c}x{h}x{w}x{b}",
        x.len()
    );
    let fill = |cols: &mut [MaybeUninit<f32>]| {
        cols.par_chunks_mut(n.max(1))
            .enumerate()
            .for_each(|(row, out)| {
                let (ch, ky, kx) = (row / (k * k), (row / k % k) as isize, (row % k) as isize);
                let plane = &x[ch * n..(ch + 1) * n];
                let span = w * b;
                for y in 0..h {
                    let out_row = &mut out[y * span..(y + 1) * span];
                    let sy = y as isize + ky - pad;
                    if sy < 0 || sy >= h as isize {
                        out_row.iter_mut().for_each(|o| {
                            o.write(0.0);
                        });
                        continue;
                    }
                    let src = &plane[sy as usize * span..][..span];
                    shifted(out_row, src, (kx - pad) * b as isize);
                }
            })
    };
    // SAFETY: every row of every chunk is written (a copy or zeros).
    unsafe { written(len, fill) }
}

/// The patches of `x` (c, h, w, b) for a k x k kernel laid out as `im2col` lays them out,
/// never stored: a product's operand that writes the part of a row it is asked for
/// (`segment`), so a convolution's products read the maps (9 times smaller for 3x3) instead of
/// a patch matrix written and read back.
#[derive(Clone, Copy)]
pub struct Patches<'a> {
    /// The maps, (c, h, w, b).
    pub x: &'a [f32],
    /// (c, h, w, b).
    pub dims: Dims,
    /// The kernel's side (odd).
    pub k: usize,
}

impl<'a> Patches<'a> {
    /// Rows: c k k.
    pub fn height(&self) -> usize {
        self.dims.0 * self.k * self.k
    }

    /// Columns: h w b.
    pub fn width(&self) -> usize {
        let (_, h, w, b) = self.dims;
        h * w * b
    }

    /// Where each row's values come from, row by row (c k k of them).
    pub fn rows(&self) -> Vec<PatchRow<'a>> {
        let (c, h, w, b) = self.dims;
        let (k, n, pad) = (self.k, h * w * b, (self.k / 2) as isize);
        (0..c)
            .flat_map(|ch| (0..k * k).map(move |tap| (ch, tap)))
            .map(|(ch, tap)| PatchRow {
                plane: &self.x[ch * n..(ch + 1) * n],
                dy: (tap / k) as isize - pad,
                dx: ((tap % k) as isize - pad) * b as isize,
                h,
                span: w * b,
            })
            .collect()
    }
}

/// Where one row of patches reads the maps: its channel's plane (h, w b), `dy` image rows and
/// `dx` values (the kernel column's offset times the batch) away from the patch column, zeros
/// outside the plane's rows.
#[derive(Clone, Copy)]
pub struct PatchRow<'a> {
    plane: &'a [f32],
    dy: isize,
    dx: isize,
    h: usize,
    /// Values in an image row: w b.
    pub span: usize,
}

impl PatchRow<'_> {
    /// Which of the `n` (at most 16) values from offset `x` of image row `y` lie in the maps,
    /// as a lane mask, and where the first would lie (read only the mask's lanes from it);
    /// None where they run past the image row.
    #[inline(always)]
    pub fn window(&self, y: usize, x: usize, n: usize) -> Option<(u16, *const f32)> {
        if x + n > self.span {
            return None;
        }
        let (span, n) = (self.span as isize, n as isize);
        let sy = y as isize + self.dy;
        if sy < 0 || sy >= self.h as isize {
            return Some((0, self.plane.as_ptr()));
        }
        let sx = x as isize + self.dx;
        let (lo, hi) = ((-sx).clamp(0, n), (span - sx).clamp(0, n));
        let mask = ((1u32 << hi) - (1u32 << lo.min(hi))) as u16;
        Some((mask, self.plane.as_ptr().wrapping_offset(sy * span + sx)))
    }

    /// The value at patch column `at`.
    pub fn at(&self, at: usize) -> f32 {
        match self.window(at / self.span, at % self.span, 1) {
            // SAFETY: a set lane of the window lies in the plane.
            Some((1, first)) => unsafe { *first },
            _ => 0.0,
        }
    }
}

multiversion! {
    /// dst[from + i] += src[i].
    fn add_into(dst: &mut [f32], src: &[f32]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d += s;
        }
    }
}

/// The adjoint of `im2col`: patch gradients (c k k, h w b) folded back into (c, h, w, b),
/// overlapping patches adding up.
pub fn col2im(level: Level, cols: &[f32], (c, h, w, b): Dims, k: usize) -> Vec<f32> {
    let n = h * w * b;
    let pad = (k / 2) as isize;
    assert_eq!(cols.len(), c * k * k * n, "col2im: {} values", cols.len());
    let span = (w * b) as isize;
    let mut out = vec![0f32; c * n];
    out.par_chunks_mut(n.max(1))
        .enumerate()
        .for_each(|(ch, dst)| {
            for ky in 0..k as isize {
                for kx in 0..k as isize {
                    let r = ((ch as isize * k as isize + ky) * k as isize + kx) as usize;
                    let row = &cols[r * n..(r + 1) * n];
                    let shift = (kx - pad) * b as isize;
                    let (lo, hi) = ((-shift).clamp(0, span), (span - shift).clamp(0, span));
                    if lo >= hi {
                        continue;
                    }
                    for y in 0..h as isize {
                        let sy = y + ky - pad;
                        if sy < 0 || sy >= h as isize {
                            continue;
                        }
                        let src = &row[(y * span + lo) as usize..(y * span + hi) as usize];
                        let at = (sy * span + lo + shift) as usize;
                        add_into(level, &mut dst[at..at + src.len()], src);
                    }
                }
            }
        });
    out
}
