//! Convolutions (stride 1, padding k / 2, channel-major maps (c, h, w, b)) as AMX products
//! whose B tiles are read in place from the maps, no patches packed: the maps are rounded to
//! bf16 once into a zero-padded layout in which every tile of the patch product is 16 rows of
//! 64 adjacent bytes. The depth runs (tap, channel) with the channels padded to 32, so that a
//! depth block is one tap's 32 channels; the kernels (small) are reordered to match.
//!
//! Two layouts: channel pairs (blocks of 16 padded positions, in each a run of the 16
//! positions for each pair of channels, each value the two channels' bf16) for W x patches and
//! turned W x patches, and position pairs (a row of channels for each pair of padded
//! positions) for dY x patches^T.

use super::pack::{interleave, pack_rows, transpose16, Aligned};
use super::tiles::TileLayout;
use super::{multiply, Left, TILE_K, TILE_M, TILE_N};
use crate::kernels::gemm::View;
use crate::kernels::im2col::Dims;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// `c` rounded up to a depth block.
fn padded(c: usize) -> usize {
    c.div_ceil(TILE_K) * TILE_K
}

/// Whether these products take a convolution from `c` to `c_out` channels on maps of h x w
/// at batch `b`: a column pair (and a depth block of positions) stays within a batch row (b a
/// multiple of 32), padding the channels to 32 adds at most a third, and the maps have 7 x 7
/// positions or more (on smaller ones the padded maps and the kernels reordered for every
/// product cost more than packing the patches: `examples/amx_shapes -- 2 convnet`).
pub fn fits(c: usize, c_out: usize, (h, w, b): (usize, usize, usize)) -> bool {
    let cheap = |c: usize| c > 0 && 3 * padded(c) <= 4 * c;
    super::engine().is_some()
        && b > 0
        && b.is_multiple_of(2 * TILE_N)
        && h * w >= MIN_POSITIONS
        && cheap(c)
        && cheap(c_out)
}

/// The fewest positions a map needs for the products read in place.
const MIN_POSITIONS: usize = 49;

/// The padded maps' shape: positions (h + 2 pad, w + 2 pad, b), counted up to whole depth
/// blocks (`len`).
struct Geometry {
    h: usize,
    w: usize,
    b: usize,
    k: usize,
    pad: usize,
    len: usize,
}

impl Geometry {
    fn new((_, h, w, b): Dims, k: usize) -> Self {
        let pad = k / 2;
        let len = (h + 2 * pad) * (w + 2 * pad) * b;
        Geometry {
            h,
            w,
            b,
            k,
            pad,
            len: len.div_ceil(TILE_K) * TILE_K,
        }
    }

    /// Output positions: h w b.
    fn positions(&self) -> usize {
        self.h * self.w * self.b
    }

    /// The padded position that output position `p`'s tap (0, 0) reads.
    fn corner(&self, p: usize) -> usize {
        let (y, x, bb) = (p / (self.w * self.b), p / self.b % self.w, p % self.b);
        (y * (self.w + 2 * self.pad) + x) * self.b + bb
    }

    /// How far tap `t` (ky k + kx) reads from tap (0, 0), in padded positions.
    fn shift(&self, t: usize) -> usize {
        (t / self.k * (self.w + 2 * self.pad) + t % self.k) * self.b
    }

    /// Where padded image row `yy`, column `xx` lies in the maps' plane, if not in the padding.
    fn source(&self, yy: usize, xx: usize) -> Option<usize> {
        let (y, x) = (yy.checked_sub(self.pad)?, xx.checked_sub(self.pad)?);
        (y < self.h && x < self.w).then_some((y * self.w + x) * self.b)
    }
}

/// Maps (c, h, w, b) as blocks of 16 padded positions, each block padded(c) / 2 runs of 16
/// u32, run i the bf16 of channels 2i (low half) and 2i + 1 at the block's positions; zeros
/// in the padding and past c. A B tile (16 channel pairs of 16 positions) is 1 KiB in a row.
fn channel_pairs(x: &[f32], c: usize, g: &Geometry) -> Aligned<u32> {
    let block = padded(c) / 2 * TILE_N;
    by_position(g, g.b / TILE_N * block, |from, blocks| {
        // SAFETY: AMX (asserted by `fits`) comes with AVX-512F, BW and BF16; `blocks` holds
        // the b / 16 blocks of one padded image position, the maps c planes of h w b from
        // `from` on.
        unsafe { channel_block_avx512(x, c, g, from, blocks) }
    })
}

/// `len` u32 for each padded image position (and zeros to the geometry's `len` positions):
/// `write` fills a position's inside the image, told where its batch starts in the maps'
/// planes; those in the padding are zeros.
fn by_position(
    g: &Geometry,
    len: usize,
    write: impl Fn(usize, &mut [MaybeUninit<u32>]) + Sync,
) -> Aligned<u32> {
    let w2 = g.w + 2 * g.pad;
    let mut values = Aligned::unwritten(g.len / g.b * len);
    values
        .slots()
        .par_chunks_mut(len)
        .enumerate()
        .for_each(|(at, chunk)| {
            let from = (at < (g.h + 2 * g.pad) * w2)
                .then(|| g.source(at / w2, at % w2))
                .flatten();
            match from {
                Some(from) => write(from, chunk),
                None => chunk.fill(MaybeUninit::new(0)),
            }
        });
    values
}

/// The b / 16 blocks of `channel_pairs` for one padded image position inside the image, whose
/// batch starts at `from` in each channel's plane.
///
/// # Safety
/// The CPU must have AVX-512F, BW and BF16; b is a multiple of 16; `blocks` holds b / 16
/// blocks of padded(c) / 2 runs of 16 u32; `x` holds c planes of h w b.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn channel_block_avx512(
    x: &[f32],
    c: usize,
    g: &Geometry,
    from: usize,
    blocks: &mut [MaybeUninit<u32>],
) {
    use std::arch::x86_64::*;
    let (n, pairs) = (g.positions(), padded(c) / 2);
    for (j, block) in blocks.chunks_exact_mut(pairs * TILE_N).enumerate() {
        let at = from + j * TILE_N;
        for (i, run) in block.chunks_exact_mut(TILE_N).enumerate() {
            let (lo, hi) = (2 * i, 2 * i + 1);
            let lo = match lo < c {
                true => _mm512_loadu_ps(x.as_ptr().add(lo * n + at)),
                false => _mm512_setzero_ps(),
            };
            let hi = match hi < c {
                true => _mm512_loadu_ps(x.as_ptr().add(hi * n + at)),
                false => _mm512_setzero_ps(),
            };
            _mm512_storeu_si512(run.as_mut_ptr() as *mut __m512i, interleave(lo, hi));
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn channel_block_avx512(
    _: &[f32],
    _: usize,
    _: &Geometry,
    _: usize,
    _: &mut [MaybeUninit<u32>],
) {
    unreachable!("AMX is x86-64 only")
}

/// Maps (c, h, w, b) as padded position pairs: (len / 2, padded(c)) u32, each the bf16 of a
/// channel at padded positions 2j (low half) and 2j + 1; zeros in the padding and past c.
fn position_pairs(x: &[f32], c: usize, g: &Geometry) -> Aligned<u32> {
    by_position(g, g.b / 2 * padded(c), |from, rows| {
        // SAFETY: AMX (asserted by `fits`) comes with AVX-512F, BW and BF16; `rows` holds
        // b / 2 rows of padded(c), the maps c planes of h w b from `from` on.
        unsafe { position_block_avx512(x, c, g, from, rows) }
    })
}

/// The b / 2 rows of `position_pairs` for one padded image position inside the image, whose
/// batch starts at `from` in each channel's plane: 16 channels x 32 positions at a time,
/// rounded as 16 rows of u32 pairs and transposed.
///
/// # Safety
/// The CPU must have AVX-512F, BW and BF16; b is a multiple of 32; `rows` holds b / 2 rows of
/// padded(c) u32; `x` holds c planes of h w b.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn position_block_avx512(
    x: &[f32],
    c: usize,
    g: &Geometry,
    from: usize,
    rows: &mut [MaybeUninit<u32>],
) {
    use std::arch::x86_64::*;
    let (n, cp) = (g.positions(), padded(c));
    for c0 in (0..cp).step_by(TILE_N) {
        for b0 in (0..g.b).step_by(2 * TILE_N) {
            let mut pairs = [_mm512_setzero_si512(); 16];
            for (i, pair) in pairs.iter_mut().enumerate().take(c.saturating_sub(c0)) {
                let src = x.as_ptr().add((c0 + i) * n + from + b0);
                let (lo, hi) = (_mm512_loadu_ps(src), _mm512_loadu_ps(src.add(TILE_N)));
                // u16 lane j holds position b0 + j: u32 lane r the pair (2r, 2r + 1).
                *pair = std::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(hi, lo));
            }
            transpose16(&mut pairs);
            for (r, row) in pairs.iter().enumerate() {
                let to = rows.as_mut_ptr().add((b0 / 2 + r) * cp + c0);
                _mm512_storeu_si512(to as *mut __m512i, *row);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn position_block_avx512(
    _: &[f32],
    _: usize,
    _: &Geometry,
    _: usize,
    _: &mut [MaybeUninit<u32>],
) {
    unreachable!("AMX is x86-64 only")
}

/// `a` (m x depth, row-major) times the patches whose B tiles lie in `planes` (channel pairs of
/// `cp` channels): a column pair is 32 output positions, a depth block one tap's 32 channels.
fn times_patches(a: &[f32], m: usize, planes: &Aligned<u32>, cp: usize, g: &Geometry) -> Vec<f32> {
    let (depth, n) = (g.k * g.k * cp, g.positions());
    let rows = pack_rows(
        Left::Matrix(View::rows(a, m, depth)),
        m.div_ceil(32) * 32,
        depth,
    );
    // SAFETY: the packers write every value.
    let (rows, values) = unsafe { (rows.values(), planes.values()) };
    // A block of 16 positions: cp / 2 runs of 16.
    let (per_tap, block) = (cp / TILE_K, cp / 2 * TILE_N);
    let tiles = TileLayout {
        values,
        pair_base: (0..n / (2 * TILE_N))
            .map(|p| g.corner(p * 2 * TILE_N) / TILE_N * block)
            .collect(),
        kb_offset: (0..depth / TILE_K)
            .map(|kb| g.shift(kb / per_tap) / TILE_N * block + kb % per_tap * TILE_M * TILE_N)
            .collect(),
        second: block,
        stride: 4 * TILE_N,
    };
    multiply(rows, (m, n), depth, &tiles)
}

/// Kernels as the (rows, k k padded(channels)) left side of a product over depth (tap,
/// channel): entry (r, (t, j)) is `weight[at(r, j, t)]`, zero past the channels.
fn by_tap(
    weight: &[f32],
    (rows, channels, kk): (usize, usize, usize),
    at: impl Fn(usize, usize, usize) -> usize,
) -> Vec<f32> {
    let cp = padded(channels);
    let mut a = vec![0f32; rows * kk * cp];
    for (r, row) in a.chunks_mut(kk * cp).enumerate() {
        for (t, taps) in row.chunks_mut(cp).enumerate() {
            for (j, v) in taps[..channels].iter_mut().enumerate() {
                *v = weight[at(r, j, t)];
            }
        }
    }
    a
}

/// The convolution of maps `x` (c, h, w, b) with kernels `weight` (c_out, c, k, k): (c_out, h,
/// w, b). Call only where `fits`.
pub fn forward(weight: &[f32], x: &[f32], dims: Dims, c_out: usize, k: usize) -> Vec<f32> {
    let (c, kk, g) = (dims.0, k * k, Geometry::new(dims, k));
    let a = by_tap(weight, (c_out, c, kk), |o, i, t| (o * c + i) * kk + t);
    times_patches(&a, c_out, &channel_pairs(x, c, &g), padded(c), &g)
}

/// The input gradient (c_in, h, w, b) of that convolution from its output gradient `dy` (dims
/// (c_out, h, w, b)): the kernels turned half a turn times the patches of `dy`. Call only
/// where `fits`.
pub fn input_grad(weight: &[f32], dy: &[f32], dims: Dims, c_in: usize, k: usize) -> Vec<f32> {
    let (c_out, kk, g) = (dims.0, k * k, Geometry::new(dims, k));
    // Kernel (o, i) at the tap opposite t.
    let a = by_tap(weight, (c_in, c_out, kk), |i, o, t| {
        (o * c_in + i) * kk + kk - 1 - t
    });
    times_patches(&a, c_in, &channel_pairs(dy, c_out, &g), padded(c_out), &g)
}

/// The kernels' gradient (c_out, c, k, k) of that convolution: `dy` (c_out, h w b) times the
/// patches of `x` (dims (c, h, w, b)) transposed. Call only where `fits`.
pub fn weight_grad(dy: &[f32], x: &[f32], dims: Dims, c_out: usize, k: usize) -> Vec<f32> {
    let (c, kk, g) = (dims.0, k * k, Geometry::new(dims, k));
    let (cp, n) = (padded(c), g.positions());
    let rows_of_x = position_pairs(x, c, &g);
    let rows = pack_rows(
        Left::Matrix(View::rows(dy, c_out, n)),
        c_out.div_ceil(32) * 32,
        n,
    );
    // SAFETY: the packers write every value.
    let (rows, values) = unsafe { (rows.values(), rows_of_x.values()) };
    let per_tap = cp / (2 * TILE_N);
    let tiles = TileLayout {
        values,
        pair_base: (0..kk * per_tap)
            .map(|p| g.shift(p / per_tap) / 2 * cp + p % per_tap * 2 * TILE_N)
            .collect(),
        kb_offset: (0..n / TILE_K)
            .map(|kb| g.corner(kb * TILE_K) / 2 * cp)
            .collect(),
        second: TILE_N,
        stride: 4 * cp,
    };
    let sums = multiply(rows, (c_out, kk * cp), n, &tiles);
    // Column (t, i) of row o: kernel (o, i) at tap t.
    let mut dw = vec![0f32; c_out * c * kk];
    for (o, row) in sums.chunks(kk * cp).enumerate() {
        for i in 0..c {
            for t in 0..kk {
                dw[(o * c + i) * kk + t] = row[t * cp + i];
            }
        }
    }
    dw
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::amx::product_tests::values;
    use crate::kernels::amx::{product_of, Operand, Turned};
    use crate::kernels::im2col::Patches;

    fn close(what: &str, got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "{what} {i}: {g} vs {w}"
            );
        }
    }

    /// The three products read in place equal the products of the packed patches (the same
    /// bf16 roundings, summed in another order), for 3x3, 1x1 and 5x5 kernels, channels that
    /// pad to 32 and ones that do not need to, batches of 32 and 64.
    #[test]
    fn products_read_in_place_equal_the_packed_patch_products() {
        crate::kernels::amx::tests::on_each_engine(|_| {
            for (dims @ (c, h, w, b), k, c_out) in [
                ((24, 5, 4, 32), 3, 64),
                ((64, 3, 3, 64), 3, 32),
                ((48, 4, 5, 32), 1, 48),
                ((32, 6, 3, 32), 5, 24),
            ] {
                let n = h * w * b;
                let (x, weight, dy) = (
                    values(c * n, 1),
                    values(c_out * c * k * k, 2),
                    values(c_out * n, 3),
                );
                let patches = Patches { x: &x, dims, k };
                let want = product_of(
                    Left::Matrix(View::rows(&weight, c_out, c * k * k)),
                    Operand::Patches(patches),
                );
                close("forward", &forward(&weight, &x, dims, c_out, k), &want);
                let want = product_of(
                    Left::Matrix(View::rows(&dy, c_out, n)),
                    Operand::PatchesT(patches),
                );
                close("weight_grad", &weight_grad(&dy, &x, dims, c_out, k), &want);
                let turned = Turned {
                    weight: &weight,
                    dims: (c_out, c, k),
                };
                let of_dy = Patches {
                    x: &dy,
                    dims: (c_out, h, w, b),
                    k,
                };
                let want = product_of(Left::Turned(turned), Operand::Patches(of_dy));
                close(
                    "input_grad",
                    &input_grad(&weight, &dy, (c_out, h, w, b), c, k),
                    &want,
                );
            }
        });
    }

    #[test]
    fn only_batches_of_whole_pairs_cheaply_padded_channels_and_large_maps_fit() {
        if super::super::engine().is_none() {
            return;
        }
        assert!(fits(64, 256, (15, 15, 64)) && fits(24, 64, (31, 31, 32)));
        assert!(
            !fits(64, 64, (8, 8, 48)),
            "a column pair would cross a batch row"
        );
        assert!(!fits(3, 64, (32, 32, 64)), "3 channels padded to 32");
        assert!(!fits(64, 10, (8, 8, 64)), "10 output channels padded to 32");
        assert!(!fits(256, 256, (4, 4, 32)), "16 positions");
    }
}
