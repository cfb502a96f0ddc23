//! The tile loop: 32 x 32 blocks of C accumulated from packed A tiles and B tiles wherever a
//! `TileLayout` says they lie, in four AMX tiles or, where AMX is absent, in AVX-512 registers
//! by AVX512_BF16's VDPBF16PS (a B tile row is 16 lanes of bf16 pairs, which is what the
//! instruction multiplies a broadcast pair of an A row by).

use super::{Engine, CHUNK_K, TILE_K, TILE_M, TILE_N};
use std::ops::Range;

/// Where the tile loop finds B's tiles: a column pair's two tiles for depth block `kb` start
/// `pair_base[pair] + kb_offset[kb]` u32 into `values`, the second `second` u32 after the
/// first, each tile's 16 rows (16 u32 pairs) `stride` bytes apart. Packed tiles (`packed`) or
/// maps laid out so that a patch product's tiles lie in them (`super::conv`).
pub(super) struct TileLayout<'a> {
    pub values: &'a [u32],
    pub pair_base: Vec<usize>,
    pub kb_offset: Vec<usize>,
    pub second: usize,
    pub stride: usize,
}

impl<'a> TileLayout<'a> {
    /// Tiles as `pack_tiles` packs them: pair by pair, depth block by depth block, 1 KiB each.
    pub fn packed(values: &'a [u32], pairs: usize, blocks_k: usize) -> Self {
        let block = 2 * TILE_M * TILE_N;
        TileLayout {
            values,
            pair_base: (0..pairs).map(|p| p * blocks_k * block).collect(),
            kb_offset: (0..blocks_k).map(|kb| kb * block).collect(),
            second: TILE_M * TILE_N,
            stride: 4 * TILE_N,
        }
    }

    /// Whether every tile the loop reads lies in `values`.
    pub fn within(&self) -> bool {
        let last_row = (TILE_M - 1) * self.stride / 4 + TILE_N;
        let (Some(p), Some(k)) = (self.pair_base.iter().max(), self.kb_offset.iter().max()) else {
            return true;
        };
        self.stride.is_multiple_of(4) && p + k + self.second + last_row <= self.values.len()
    }
}

/// The 32 x 32 blocks of C for `bands` and `pairs` into `sums` (a row-major 32 x 32 block a
/// band of a pair, pair by pair, on 64-byte lines) on `engine`.
///
/// # Safety
/// `engine` must be usable here (`super::engine`); `rows`, `tiles` and `sums` as
/// `amx_block_products` asks.
pub(super) unsafe fn block_products(
    engine: Engine,
    rows: &[u16],
    tiles: &TileLayout,
    sums: &mut [f32],
    kp: usize,
    bands: Range<usize>,
    pairs: Range<usize>,
) {
    assert!(sums.len() >= pairs.len() * bands.len() * 4 * TILE_M * TILE_N);
    match engine {
        Engine::Amx => amx_block_products(rows, tiles, sums, kp, bands, pairs),
        Engine::DotBf16 => dot_block_products(rows, tiles, sums, kp, bands, pairs),
    }
}

/// `block_products` on AMX, depth chunk by depth chunk, then pair by
/// pair: each band's four accumulator tiles (tmm0-3, back from `sums` after the first chunk)
/// take the products of its two A tiles (tmm4, tmm5) and the pair's two B tiles (tmm6, tmm7).
/// A pair's chunk of B tiles stays in L1 while the bands go by, and the bands' chunk of A
/// tiles in L2 while the pairs do, so a deep product streams each operand from memory once.
///
/// # Safety
/// AMX must be granted; `rows` holds the A tiles of mp rows of `kp` bf16 (`bands` within
/// mp / 32), `tiles` the B tiles of the column pairs (`pairs` within its `pair_base`) over
/// `kp` (`kb_offset` has kp / 32 entries), all `within` it, and `sums` 32 x 32 f32 for each
/// band of each pair, its first on a 64-byte line.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
unsafe fn amx_block_products(
    rows: &[u16],
    tiles: &TileLayout,
    sums: &mut [f32],
    kp: usize,
    bands: Range<usize>,
    pairs: Range<usize>,
) {
    use std::arch::asm;
    #[repr(C, align(64))]
    struct Config([u8; 64]);
    let mut config = Config([0; 64]);
    config.0[0] = 1;
    for tile in 0..8 {
        config.0[16 + 2 * tile] = 64;
        config.0[48 + tile] = 16;
    }
    let blocks_k = kp / TILE_K;
    let (a_stride, c_stride) = (TILE_K * 2, 2 * TILE_N * 4);
    asm!("ldtilecfg [{0}]", in(reg) config.0.as_ptr());
    for chunk in (0..blocks_k).step_by(CHUNK_K) {
        for (p, pair) in pairs.clone().enumerate() {
            let pair_tiles = tiles.values.as_ptr().add(tiles.pair_base[pair]);
            for (i, band) in bands.clone().enumerate() {
                let c00 = sums
                    .as_mut_ptr()
                    .add((p * bands.len() + i) * 4 * TILE_M * TILE_N);
                let c01 = c00.add(TILE_N);
                let c10 = c00.add(TILE_M * 2 * TILE_N);
                let c11 = c10.add(TILE_N);
                if chunk == 0 {
                    asm!(
                        "tilezero tmm0",
                        "tilezero tmm1",
                        "tilezero tmm2",
                        "tilezero tmm3"
                    );
                } else {
                    asm!(
                        "tileloadd tmm0, [{c00} + {sc}]",
                        "tileloadd tmm1, [{c01} + {sc}]",
                        "tileloadd tmm2, [{c10} + {sc}]",
                        "tileloadd tmm3, [{c11} + {sc}]",
                        c00 = in(reg) c00,
                        c01 = in(reg) c01,
                        c10 = in(reg) c10,
                        c11 = in(reg) c11,
                        sc = in(reg) c_stride,
                    );
                }
                for kb in chunk..(chunk + CHUNK_K).min(blocks_k) {
                    let a0 = rows
                        .as_ptr()
                        .add(band * 2 * TILE_M * kp + kb * 2 * TILE_M * TILE_K);
                    let a1 = a0.add(TILE_M * TILE_K);
                    let b0 = pair_tiles.add(tiles.kb_offset[kb]);
                    let b1 = b0.add(tiles.second);
                    asm!(
                        "tileloadd tmm4, [{a0} + {sa}]",
                        "tileloadd tmm5, [{a1} + {sa}]",
                        "tileloadd tmm6, [{b0} + {sb}]",
                        "tileloadd tmm7, [{b1} + {sb}]",
                        "tdpbf16ps tmm0, tmm4, tmm6",
                        "tdpbf16ps tmm1, tmm4, tmm7",
                        "tdpbf16ps tmm2, tmm5, tmm6",
                        "tdpbf16ps tmm3, tmm5, tmm7",
                        a0 = in(reg) a0,
                        a1 = in(reg) a1,
                        b0 = in(reg) b0,
                        b1 = in(reg) b1,
                        sa = in(reg) a_stride,
                        sb = in(reg) tiles.stride,
                    );
                }
                asm!(
                    "tilestored [{c00} + {sc}], tmm0",
                    "tilestored [{c01} + {sc}], tmm1",
                    "tilestored [{c10} + {sc}], tmm2",
                    "tilestored [{c11} + {sc}], tmm3",
                    c00 = in(reg) c00,
                    c01 = in(reg) c01,
                    c10 = in(reg) c10,
                    c11 = in(reg) c11,
                    sc = in(reg) c_stride,
                );
            }
        }
    }
    asm!("tilerelease");
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
unsafe fn amx_block_products(
    _: &[u16],
    _: &TileLayout,
    _: &mut [f32],
    _: usize,
    _: Range<usize>,
    _: Range<usize>,
) {
    unreachable!("AMX is x86-64 Linux only here")
}

/// Rows of a band that `dot_block_products` keeps in registers at once: 8 rows x 32 columns are
/// 16 accumulators of 16 lanes, beside the two B rows and a broadcast pair.
const DOT_ROWS: usize = 8;

/// `block_products` by VDPBF16PS, in the same order as on AMX (depth chunk, pair, band), each
/// band's 32 x 32 block eight rows at a time: for each pair of depth values, the two B tiles'
/// rows (16 columns of bf16 pairs each) are multiplied by each row's pair broadcast to every
/// lane and summed into its two accumulators.
///
/// # Safety
/// AVX-512F and AVX512_BF16 must be present; the operands as `amx_block_products` asks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn dot_block_products(
    rows: &[u16],
    tiles: &TileLayout,
    sums: &mut [f32],
    kp: usize,
    bands: Range<usize>,
    pairs: Range<usize>,
) {
    use std::arch::x86_64::*;
    let as_bf16 = |v: __m512i| std::mem::transmute::<__m512i, __m512bh>(v);
    let blocks_k = kp / TILE_K;
    let (row_step, block) = (tiles.stride / 4, 4 * TILE_M * TILE_N);
    for chunk in (0..blocks_k).step_by(CHUNK_K) {
        let depth = chunk..(chunk + CHUNK_K).min(blocks_k);
        for (p, pair) in pairs.clone().enumerate() {
            let pair_tiles = tiles.values.as_ptr().add(tiles.pair_base[pair]);
            for (i, band) in bands.clone().enumerate() {
                let sums_block = sums.as_mut_ptr().add((p * bands.len() + i) * block);
                for first in (0..2 * TILE_M).step_by(DOT_ROWS) {
                    let c = sums_block.add(first * 2 * TILE_N);
                    let mut acc = [[_mm512_setzero_ps(); 2]; DOT_ROWS];
                    if chunk > 0 {
                        for (r, sum) in acc.iter_mut().enumerate() {
                            sum[0] = _mm512_loadu_ps(c.add(r * 2 * TILE_N));
                            sum[1] = _mm512_loadu_ps(c.add(r * 2 * TILE_N + TILE_N));
                        }
                    }
                    for kb in depth.clone() {
                        // The group's rows of A as bf16 pairs, TILE_K / 2 a row.
                        let a = rows
                            .as_ptr()
                            .add(band * 2 * TILE_M * kp + kb * 2 * TILE_M * TILE_K + first * TILE_K)
                            as *const u32;
                        let b0 = pair_tiles.add(tiles.kb_offset[kb]);
                        let b1 = b0.add(tiles.second);
                        for q in 0..TILE_K / 2 {
                            let y0 = as_bf16(_mm512_loadu_si512(b0.add(q * row_step) as *const _));
                            let y1 = as_bf16(_mm512_loadu_si512(b1.add(q * row_step) as *const _));
                            for (r, sum) in acc.iter_mut().enumerate() {
                                let pair = a.add(r * TILE_K / 2 + q).read_unaligned();
                                let x = as_bf16(_mm512_set1_epi32(pair as i32));
                                sum[0] = _mm512_dpbf16_ps(sum[0], x, y0);
                                sum[1] = _mm512_dpbf16_ps(sum[1], x, y1);
                            }
                        }
                    }
                    for (r, sum) in acc.iter().enumerate() {
                        _mm512_storeu_ps(c.add(r * 2 * TILE_N), sum[0]);
                        _mm512_storeu_ps(c.add(r * 2 * TILE_N + TILE_N), sum[1]);
                    }
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dot_block_products(
    _: &[u16],
    _: &TileLayout,
    _: &mut [f32],
    _: usize,
    _: Range<usize>,
    _: Range<usize>,
) {
    unreachable!("AVX512_BF16 is x86-64 only")
}
