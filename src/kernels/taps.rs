//! Direct convolution by kernel taps, for the smallest maps. A k x k kernel is k² matrices
//! W_t (C_out x C_in), one a tap; tap t links each output pixel o to the input pixel o + d_t
//! when that pixel lies inside the map. The convolution is one product a tap over the pixel
//! pairs it links, y[o] += W_t x[o + d_t]: the multiplications of the direct convolution and
//! none of im2col's on the zero padding (on a 2x2 map a 3x3 kernel links 16 pairs, where
//! im2col multiplies 36). Each tap's matrix is a strided view of the kernels, read in place,
//! and its weight gradient is written in place too, where Winograd F(2x2, 3x3) writes and then
//! streams 16/9 as many transformed kernels for the same 16 products, and transforms their
//! gradients back. Maps are batch-innermost (C, H, W, B); the linked pixels' columns are
//! gathered into small contiguous blocks (a few images' worth) around each product.

use super::gemm::{product, product_strided, View};
use super::uninit::written;
use rayon::prelude::*;

/// (channels, height, width, batch).
pub type Dims = (usize, usize, usize, usize);

/// The pixel pairs (output, input), as flat pixel indices, of every tap of a `k` x `k`
/// kernel (taps in the kernel's row-major order) on an h x w map with "same" padding.
pub fn pairs(k: usize, h: usize, w: usize) -> Vec<Vec<(usize, usize)>> {
    let r = (k / 2) as isize;
    let mut taps = Vec::with_capacity(k * k);
    for ky in 0..k as isize {
        for kx in 0..k as isize {
            let (dy, dx) = (ky - r, kx - r);
            let mut links = Vec::new();
            for oy in 0..h as isize {
                for ox in 0..w as isize {
                    let (iy, ix) = (oy + dy, ox + dx);
                    if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                        links.push((
                            (oy * w as isize + ox) as usize,
                            (iy * w as isize + ix) as usize,
                        ));
                    }
                }
            }
            taps.push(links);
        }
    }
    taps
}

/// How many times fewer multiplications than a convolution that multiplies the padding too
/// (k² per output pixel): k² h w over the pairs linked.
pub fn saving(k: usize, h: usize, w: usize) -> f64 {
    let linked: usize = pairs(k, h, w).iter().map(Vec::len).sum();
    (k * k * h * w) as f64 / linked.max(1) as f64
}

/// The columns of the pixels `pixels` of channel-major maps `m` (channels, pixels, batch),
/// side by side: (channels, pixels.len() x batch).
fn gather(m: &[f32], (channels, area, b): (usize, usize, usize), pixels: &[usize]) -> Vec<f32> {
    let n = pixels.len() * b;
    // SAFETY: every row writes one full column block a pixel, n values in all.
    unsafe {
        written(channels * n, |out| {
            out.par_chunks_mut(n.max(1))
                .enumerate()
                .for_each(|(ch, row)| {
                    for (dst, &p) in row.chunks_mut(b).zip(pixels) {
                        for (d, &v) in dst.iter_mut().zip(&m[(ch * area + p) * b..][..b]) {
                            d.write(v);
                        }
                    }
                })
        })
    }
}

/// Adds the columns of `block` (channels, pixels.len() x batch) into the maps `m` at
/// `pixels`.
fn scatter_add(m: &mut [f32], (area, b): (usize, usize), block: &[f32], pixels: &[usize]) {
    let n = pixels.len() * b;
    m.par_chunks_mut((area * b).max(1))
        .zip(block.par_chunks(n.max(1)))
        .for_each(|(maps, row)| {
            for (src, &p) in row.chunks(b).zip(pixels) {
                maps[p * b..][..b]
                    .iter_mut()
                    .zip(src)
                    .for_each(|(d, s)| *d += s);
            }
        });
}

/// One side of each pair of a tap's links.
fn side(links: &[(usize, usize)], output: bool) -> Vec<usize> {
    links
        .iter()
        .map(|&(o, i)| if output { o } else { i })
        .collect()
}

/// The tap that links every pixel to itself, where the products write instead of adding.
fn centre(k: usize) -> usize {
    k * k / 2
}

/// Tap `t`'s matrix (C_out x C_in) inside the kernels `g` (C_out, C_in, k, k), read in place.
fn tap(g: &[f32], t: usize, c_out: usize, c_in: usize, taps: usize) -> View<'_> {
    View::strided(&g[t..], c_out, c_in, c_in * taps, taps)
}

/// y (C_out, H, W, B) of `x` (C_in, H, W, B) with the kernels `g` (C_out, C_in, k, k).
pub fn forward(
    x: &[f32],
    g: &[f32],
    dims @ (c, h, w, b): Dims,
    c_out: usize,
    k: usize,
) -> Vec<f32> {
    let area = h * w;
    let taps = pairs(k, h, w);
    let tap = |t: usize| tap(g, t, c_out, c, k * k);
    let mut y = product(tap(centre(k)), View::rows(x, c, area * b), 1.0);
    for (t, links) in taps.iter().enumerate() {
        if t == centre(k) || links.is_empty() {
            continue;
        }
        let xt = gather(x, (c, area, b), &side(links, false));
        let yt = product(tap(t), View::rows(&xt, c, links.len() * b), 1.0);
        scatter_add(&mut y, (area, b), &yt, &side(links, true));
    }
    debug_assert_eq!(y.len(), c_out * area * b, "{dims:?}");
    y
}

/// The gradients of the kernels `g` (C_out, C_in, k, k) and, when `need_dx`, of the input (C_in,
/// H, W, B), from the output gradient `dy` (C_out, H, W, B).
pub fn backward(
    x: &[f32],
    g: &[f32],
    dy: &[f32],
    (c, h, w, b): Dims,
    c_out: usize,
    k: usize,
    need_dx: bool,
) -> (Vec<f32>, Option<Vec<f32>>) {
    let area = h * w;
    let taps = pairs(k, h, w);
    let tap = |t: usize| tap(g, t, c_out, c, k * k);
    let mut dx = need_dx.then(|| product(tap(centre(k)).t(), View::rows(dy, c_out, area * b), 1.0));
    let strides = (c * k * k, k * k);
    // SAFETY: each tap writes its c_out x c entries of the kernel gradient: by its product,
    // or zeros where it links no pixels.
    let dg = unsafe {
        written(g.len(), |dg| {
            for (t, links) in taps.iter().enumerate() {
                if links.is_empty() {
                    for cell in dg[t..].iter_mut().step_by(k * k) {
                        cell.write(0.0);
                    }
                    continue;
                }
                let n = links.len() * b;
                let (dyt, xt);
                let (dyv, xv) = if t == centre(k) {
                    (View::rows(dy, c_out, n), View::rows(x, c, n))
                } else {
                    dyt = gather(dy, (c_out, area, b), &side(links, true));
                    xt = gather(x, (c, area, b), &side(links, false));
                    (View::rows(&dyt, c_out, n), View::rows(&xt, c, n))
                };
                product_strided(&mut dg[t..], strides, dyv, xv.t());
                if let (Some(dx), false) = (dx.as_mut(), t == centre(k)) {
                    let dxt = product(tap(t).t(), dyv, 1.0);
                    scatter_add(dx, (area, b), &dxt, &side(links, false));
                }
            }
        })
    };
    (dg, dx)
}
