//! The tile loop: 32 x 32 blocks of C accumulated in four AMX tiles from packed A tiles and B
//! tiles wherever a `TileLayout` says they lie.

use super::{CHUNK_K, TILE_K, TILE_M, TILE_N};
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
/// band of a pair, pair by pair, on 64-byte lines), depth chunk by depth chunk, then pair by
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
pub(super) unsafe fn block_products(
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
    assert!(sums.len() >= pairs.len() * bands.len() * 4 * TILE_M * TILE_N);
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
pub(super) unsafe fn block_products(
    _: &[u16],
    _: &TileLayout,
    _: &mut [f32],
    _: usize,
    _: Range<usize>,
    _: Range<usize>,
) {
    unreachable!("AMX is x86-64 Linux only here")
}
