//! Intel AMX (Advanced Matrix Extensions) as far as gradboard uses it today: whether this
//! CPU and kernel let a process use its bf16 tiles, and the rate of TDPBF16PS (a 16x16 f32
//! tile plus the products of a 16x32 and a 32x16 bf16 tile: 8,192 multiply-adds an
//! instruction) for `bench`'s roofline. Rust's AMX intrinsics are not stable; the few
//! instructions are written with `asm!`. `product` multiplies bf16-rounded matrices on the
//! tiles.

use super::gemm::View;

/// Whether AMX-BF16 tiles are usable here: the CPU has AMX-TILE and AMX-BF16 (CPUID leaf 7),
/// and Linux grants this process the tile data state (asked once).
pub fn available() -> bool {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        use std::sync::OnceLock;
        static GRANTED: OnceLock<bool> = OnceLock::new();
        *GRANTED.get_or_init(|| {
            // Leaf 7 only where the CPU reports it.
            let leaf = std::arch::x86_64::__cpuid(0);
            if leaf.eax < 7 {
                return false;
            }
            let ext = std::arch::x86_64::__cpuid_count(7, 0);
            let (bf16, tile) = (ext.edx & (1 << 22) != 0, ext.edx & (1 << 24) != 0);
            if !(bf16 && tile && super::simd::Level::detected().avx512()) {
                return false;
            }
            const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
            const XFEATURE_XTILEDATA: libc::c_long = 18;
            // SAFETY: arch_prctl(2) asking for a feature permission; it touches no memory.
            let asked = unsafe {
                libc::syscall(
                    libc::SYS_arch_prctl,
                    ARCH_REQ_XCOMP_PERM,
                    XFEATURE_XTILEDATA,
                )
            };
            asked == 0
        })
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        false
    }
}

/// Multiply-adds of one TDPBF16PS on full tiles.
pub const MACS_PER_TILE_PRODUCT: usize = 16 * 16 * 32;

/// Runs `rounds` times two independent TDPBF16PS (into tiles 0 and 3, from tiles 1 and 2
/// holding bf16 halves) on this thread and returns the first accumulator's first element:
/// `rounds * 32 * 0.25`, exact while below 2^24. Call only when `available()`.
pub fn tile_products(rounds: usize) -> f32 {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        assert!(available(), "AMX is not available here");
        #[repr(C, align(64))]
        struct Config([u8; 64]);
        let mut config = Config([0; 64]);
        config.0[0] = 1; // palette 1
        for tile in 0..4 {
            config.0[16 + 2 * tile] = 64; // 64 bytes a row
            config.0[48 + tile] = 16; // 16 rows
        }
        let halves = vec![0x3f00u16; 16 * 32]; // bf16 0.5
        let mut out = vec![0f32; 16 * 16];
        // SAFETY: the CPU has AMX and the kernel granted it (`available`); the configuration
        // is aligned and describes four 16x64-byte tiles; the loads and the store stay inside
        // `halves` and `out` (16 rows of 64 bytes); the tiles are released before returning.
        unsafe {
            std::arch::asm!("ldtilecfg [{0}]", in(reg) config.0.as_ptr());
            std::arch::asm!("tilezero tmm0", "tilezero tmm3");
            std::arch::asm!(
                "tileloadd tmm1, [{0} + {1}]",
                "tileloadd tmm2, [{0} + {1}]",
                in(reg) halves.as_ptr(),
                in(reg) 64usize
            );
            for _ in 0..rounds {
                std::arch::asm!("tdpbf16ps tmm0, tmm1, tmm2", "tdpbf16ps tmm3, tmm1, tmm2");
            }
            std::arch::asm!("tilestored [{0} + {1}], tmm0", in(reg) out.as_mut_ptr(), in(reg) 64usize);
            std::arch::asm!("tilerelease");
        }
        out[0]
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        let _ = rounds;
        unreachable!("AMX is x86-64 Linux only here")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amx_tile_products_compute_what_the_count_assumes_where_amx_is_granted() {
        if !available() {
            eprintln!("skipped: no AMX-BF16 here");
            return;
        }
        assert_eq!(tile_products(1000), 1000.0 * 32.0 * 0.25);
    }
}

/// Rounds an f32 to bf16 (nearest, ties to even; a NaN stays a NaN).
pub fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

/// The f32 a bf16 stands for.
pub fn from_bf16(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// Rows and f32 columns of an accumulator tile; bf16 values along the depth of a tile row.
const TILE_M: usize = 16;
const TILE_N: usize = 16;
const TILE_K: usize = 32;
/// Depth blocks one pass over a column pair keeps: 16 blocks of its two B tiles are 32 KiB,
/// which stay in L1 while every band of A goes by.
const CHUNK_K: usize = 16;
/// 32-row bands whose chunk of A (32 KiB a band) one pass keeps in L2.
const BANDS_PER_BLOCK: usize = 32;

/// `a` (m x k) times `b` (k x n) into a new row-major m x n matrix: the products of the
/// operands rounded to bf16 (nearest even), summed in f32 on AMX tiles (what `precision =
/// "bf16"` means for a product). The pool's threads take 32-column pairs of blocks (or 32-row
/// bands where there is one pair). Call only when `available()`.
pub fn product(a: View, b: View) -> Vec<f32> {
    use rayon::prelude::*;
    assert!(available(), "AMX is not available here");
    let (m, k, n) = (a.height(), a.width(), b.width());
    assert_eq!(b.height(), k, "a is m x k and b k x n");
    if m == 0 || n == 0 {
        return Vec::new();
    }
    let (mp, kp, np) = (
        m.div_ceil(2 * TILE_M) * 2 * TILE_M,
        k.div_ceil(TILE_K).max(1) * TILE_K,
        n.div_ceil(2 * TILE_N) * 2 * TILE_N,
    );
    let rows = pack_rows(a, mp, kp);
    let tiles = pack_tiles(b, kp, np);
    let (bands, pairs) = (mp / (2 * TILE_M), np / (2 * TILE_N));
    let mut c: Vec<f32> = Vec::with_capacity(mp * np);
    let out = Out(c.as_mut_ptr());
    // Depth chunk by depth chunk and block of bands by block (their A: 1 MiB, kept in L2),
    // the pool's threads take the column pairs (the bands where there is one pair), each pair's
    // B chunk (32 KiB) kept in L1 while the block's bands go by.
    for chunk in (0..kp / TILE_K).step_by(CHUNK_K) {
        for first in (0..bands).step_by(BANDS_PER_BLOCK) {
            let block = first..(first + BANDS_PER_BLOCK).min(bands);
            let run = |(bands, pair): (std::ops::Range<usize>, usize)| {
                let out = &out;
                // SAFETY: AMX is granted (asserted above); `rows` holds mp rows of kp bf16,
                // `tiles` the kp / 32 x np / 16 B tiles, and `out` mp x np f32 of which this
                // task alone writes its bands' rows of its pair's 32 columns.
                unsafe { block_products(&rows, &tiles, out.0, (kp, np), bands, pair, chunk) };
            };
            if pairs > 1 || block.len() == 1 {
                (0..pairs)
                    .into_par_iter()
                    .for_each(|pair| run((block.clone(), pair)));
            } else {
                block
                    .into_par_iter()
                    .for_each(|band| run((band..band + 1, 0)));
            }
        }
    }
    // SAFETY: the items cover every band of every column pair, and each stores its 32 x 32
    // block whole.
    unsafe { c.set_len(mp * np) };
    if (mp, np) == (m, n) {
        return c;
    }
    let mut dense = Vec::with_capacity(m * n);
    for row in c.chunks(np).take(m) {
        dense.extend_from_slice(&row[..n]);
    }
    dense
}

/// The destination of the tile stores, shared by the pool's threads (each writes its own
/// blocks).
struct Out(*mut f32);
// SAFETY: the threads write disjoint blocks through it (`product`).
unsafe impl Sync for Out {}

/// `a` rounded to bf16 as A tiles (zero past m and k): for each 32-row band, for each 32-deep
/// block, its two 16 x 32 tiles, 1 KiB each, contiguous (loads of contiguous tiles ran about
/// 10% faster than of tiles strided over whole rows). A band a task.
fn pack_rows(a: View, mp: usize, kp: usize) -> Vec<u16> {
    use rayon::prelude::*;
    let (m, k) = (a.height(), a.width());
    let mut rows = vec![0u16; mp * kp];
    rows.par_chunks_mut(2 * TILE_M * kp)
        .enumerate()
        .for_each(|(band, tiled)| {
            let first = band * 2 * TILE_M;
            let count = m.saturating_sub(first).min(2 * TILE_M);
            if count == 0 {
                return;
            }
            let mut band_rows = vec![0u16; 2 * TILE_M * kp];
            let dst = &mut band_rows[..];
            if a.row(first).is_some() {
                for r in 0..count {
                    let row = a.row(first + r).expect("unit column stride");
                    round_into(row, &mut dst[r * kp..r * kp + k]);
                }
            } else if a.column(0).is_some() {
                // Columns are adjacent: 32 rows' values at one depth are one run.
                let mut run = [0u16; 2 * TILE_M];
                for p in 0..k {
                    let column = a.column(p).expect("unit row stride");
                    round_into(&column[first..first + count], &mut run[..count]);
                    for (r, &h) in run[..count].iter().enumerate() {
                        dst[r * kp + p] = h;
                    }
                }
            } else {
                for r in 0..count {
                    for p in 0..k {
                        dst[r * kp + p] = to_bf16(a.at(first + r, p));
                    }
                }
            }
            // Each 16 x 32 tile contiguous: (depth block, half of the band), 1 KiB.
            for (t, tile) in tiled.chunks_mut(TILE_M * TILE_K).enumerate() {
                let (kb, half) = (t / 2, t % 2);
                for (r, row) in tile.chunks_mut(TILE_K).enumerate() {
                    row.copy_from_slice(
                        &band_rows[(half * TILE_M + r) * kp + kb * TILE_K..][..TILE_K],
                    );
                }
            }
        });
    rows
}

/// `b` rounded to bf16 as B tiles: for each 32-deep block (outer) and 16-column block, 16
/// rows of 16 pairs (b[2r][j], b[2r+1][j]) as one u32 each, low half first (1 KiB a tile).
/// A depth block a task.
fn pack_tiles(b: View, kp: usize, np: usize) -> Vec<u32> {
    use rayon::prelude::*;
    let (k, n) = (b.height(), b.width());
    let blocks_n = np / TILE_N;
    let tile = TILE_M * TILE_N;
    let mut tiles = vec![0u32; kp / TILE_K * blocks_n * tile];
    tiles
        .par_chunks_mut(blocks_n * tile)
        .enumerate()
        .for_each(|(kb, strip)| {
            let first = kb * TILE_K;
            let depth = k.saturating_sub(first).min(TILE_K);
            if depth == 0 {
                return;
            }
            let at = |r: usize, j: usize| (j / TILE_N) * tile + r * TILE_N + j % TILE_N;
            #[cfg(target_arch = "x86_64")]
            if b.row(first).is_some() && super::peak::has_bf16() {
                for r in 0..depth.div_ceil(2) {
                    let lo = b.row(first + 2 * r).expect("unit column stride");
                    let hi = (2 * r + 1 < depth)
                        .then(|| b.row(first + 2 * r + 1).expect("unit column stride"));
                    // SAFETY: AVX512_BF16, AVX-512F and BW are present (`has_bf16`); the strip
                    // holds np / 16 tiles of 16 rows of 16 pairs.
                    unsafe { pair_rows_avx512(lo, hi, strip, r) };
                }
                return;
            }
            if b.row(first).is_some() {
                let (mut lo, mut hi) = (vec![0u16; n], vec![0u16; n]);
                for r in 0..depth.div_ceil(2) {
                    round_into(b.row(first + 2 * r).expect("unit column stride"), &mut lo);
                    if 2 * r + 1 < depth {
                        round_into(
                            b.row(first + 2 * r + 1).expect("unit column stride"),
                            &mut hi,
                        );
                    } else {
                        hi.fill(0);
                    }
                    for (block, (lo, hi)) in lo.chunks(TILE_N).zip(hi.chunks(TILE_N)).enumerate() {
                        let dst = &mut strip[at(r, block * TILE_N)..][..lo.len()];
                        for ((d, &l), &h) in dst.iter_mut().zip(lo).zip(hi) {
                            *d = l as u32 | (h as u32) << 16;
                        }
                    }
                }
            } else if b.column(0).is_some() {
                // Rows are adjacent: a column's 32 values of the block are one run.
                let mut run = [0u16; TILE_K];
                for j in 0..n {
                    let column = b.column(j).expect("unit row stride");
                    round_into(&column[first..first + depth], &mut run[..depth]);
                    run[depth..].fill(0);
                    for r in 0..TILE_K / 2 {
                        strip[at(r, j)] = run[2 * r] as u32 | (run[2 * r + 1] as u32) << 16;
                    }
                }
            } else {
                for q in 0..depth {
                    for j in 0..n {
                        let h = to_bf16(b.at(first + q, j)) as u32;
                        strip[at(q / 2, j)] |= h << (16 * (q % 2));
                    }
                }
            }
        });
    tiles
}

/// Rows `lo` and `hi` (zeros where absent) of a depth block rounded to bf16 and written as
/// row `r` of the strip's tiles, pairs (lo[j], hi[j]): 16 columns an instruction of each kind.
///
/// # Safety
/// The CPU must have AVX-512F, BW and BF16; `strip` holds a tile for every 16 columns of `lo`
/// (rounded up), `r` < 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn pair_rows_avx512(lo: &[f32], hi: Option<&[f32]>, strip: &mut [u32], r: usize) {
    use std::arch::x86_64::*;
    let n = lo.len();
    let whole = n / TILE_N * TILE_N;
    // u16 lane 2j takes lo's j (lane j), lane 2j + 1 hi's j (lane 16 + j).
    let order: [i16; 32] = std::array::from_fn(|i| ((i % 2) * 16 + i / 2) as i16);
    let order = _mm512_loadu_si512(order.as_ptr() as *const __m512i);
    for j in (0..whole).step_by(TILE_N) {
        let l = _mm512_loadu_ps(lo.as_ptr().add(j));
        let h = match hi {
            Some(hi) => _mm512_loadu_ps(hi.as_ptr().add(j)),
            None => _mm512_setzero_ps(),
        };
        let both = std::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(h, l));
        let pairs = _mm512_permutexvar_epi16(order, both);
        let at = (j / TILE_N) * TILE_M * TILE_N + r * TILE_N;
        _mm512_storeu_si512(strip.as_mut_ptr().add(at) as *mut __m512i, pairs);
    }
    for j in whole..n {
        let h = hi.map_or(0, |hi| to_bf16(hi[j]) as u32);
        strip[(j / TILE_N) * TILE_M * TILE_N + r * TILE_N + j % TILE_N] =
            to_bf16(lo[j]) as u32 | h << 16;
    }
}

/// `src` rounded to bf16 into `dst` (as long): 32 at a time with VCVTNE2PS2BF16 where the CPU
/// has AVX512_BF16 (the same rounding, nearest even), else one at a time.
fn round_into(src: &[f32], dst: &mut [u16]) {
    #[cfg(target_arch = "x86_64")]
    if super::peak::has_bf16() {
        // SAFETY: AVX512_BF16 and AVX-512F are present (`has_bf16`).
        unsafe { round_into_avx512(src, dst) };
        return;
    }
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = to_bf16(x);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn round_into_avx512(src: &[f32], dst: &mut [u16]) {
    use std::arch::x86_64::*;
    let whole = src.len().min(dst.len()) / 32 * 32;
    for i in (0..whole).step_by(32) {
        let lo = _mm512_loadu_ps(src.as_ptr().add(i));
        let hi = _mm512_loadu_ps(src.as_ptr().add(i + 16));
        let pair = _mm512_cvtne2ps_pbh(hi, lo);
        _mm512_storeu_si512(
            dst.as_mut_ptr().add(i) as *mut __m512i,
            std::mem::transmute::<__m512bh, __m512i>(pair),
        );
    }
    for (d, &x) in dst[whole..].iter_mut().zip(&src[whole..]) {
        *d = to_bf16(x);
    }
}

/// One column pair's 32 x 32 blocks of C for `bands` over the depth chunk that starts at
/// block `chunk`: each band's four accumulator tiles (tmm0-3, loaded from C after the first
/// chunk) take the products of its two A tiles (tmm4, tmm5) and the pair's two B tiles (tmm6,
/// tmm7).
///
/// # Safety
/// AMX must be granted; `rows` holds mp rows of `kp` bf16 (`bands` within mp / 32), `tiles`
/// the packed B of `kp / 32` x `np / 16` tiles, and `c` mp rows of `np` f32 that no other
/// thread writes in these bands' rows of this pair's columns.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
unsafe fn block_products(
    rows: &[u16],
    tiles: &[u32],
    c: *mut f32,
    (kp, np): (usize, usize),
    bands: std::ops::Range<usize>,
    pair: usize,
    chunk: usize,
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
    let (blocks_k, blocks_n) = (kp / TILE_K, np / TILE_N);
    let (a_stride, c_stride) = (TILE_K * 2, np * 4);
    asm!("ldtilecfg [{0}]", in(reg) config.0.as_ptr());
    {
        for band in bands {
            let c00 = c.add(band * 2 * TILE_M * np + pair * 2 * TILE_N);
            let c01 = c00.add(TILE_N);
            let c10 = c00.add(TILE_M * np);
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
                let b0 = tiles
                    .as_ptr()
                    .add((kb * blocks_n + 2 * pair) * TILE_M * TILE_N);
                let b1 = b0.add(TILE_M * TILE_N);
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
                    sb = in(reg) 64usize,
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
    asm!("tilerelease");
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
unsafe fn block_products(
    _: &[u16],
    _: &[u32],
    _: *mut f32,
    _: (usize, usize),
    _: std::ops::Range<usize>,
    _: usize,
    _: usize,
) {
    unreachable!("AMX is x86-64 Linux only here")
}

#[cfg(test)]
mod product_tests {
    use super::*;

    #[test]
    fn bf16_rounding_is_to_nearest_even() {
        assert_eq!(from_bf16(to_bf16(1.0)), 1.0);
        // 1 + 2^-8 is halfway between two bf16 values: it rounds to the even one, 1.0.
        assert_eq!(from_bf16(to_bf16(1.0 + 1.0 / 256.0)), 1.0);
        assert_eq!(from_bf16(to_bf16(1.0 + 3.0 / 256.0)), 1.0 + 4.0 / 256.0);
        assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
        for x in [2.5e-3f32, 3.7, 1e30, 6.1e-20] {
            let r = from_bf16(to_bf16(x));
            assert_eq!(from_bf16(to_bf16(-x)), -r, "symmetric");
            assert!(
                ((r - x) / x).abs() <= 1.0 / 256.0,
                "{x} -> {r}: half a bf16 step at most"
            );
        }
    }

    #[test]
    fn the_vector_rounding_equals_the_scalar_one() {
        let src: Vec<f32> = (0..1000)
            .map(|i| ((i as f32) * 0.37).sin() * 10f32.powi(i % 7 - 3))
            .chain([f32::NAN, f32::INFINITY, -0.0, 1.0 + 1.0 / 256.0])
            .collect();
        let mut fast = vec![0u16; src.len()];
        round_into(&src, &mut fast);
        for (i, (&x, &h)) in src.iter().zip(&fast).enumerate() {
            if x.is_nan() {
                assert!(from_bf16(h).is_nan());
            } else {
                assert_eq!(h, to_bf16(x), "{i}: {x}");
            }
        }
    }

    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect()
    }

    /// The f64 sum of the products of the bf16-rounded elements of a (m x k) and b (k x n).
    fn rounded_product(a: View, b: View) -> Vec<f64> {
        let round = |x: f32| from_bf16(to_bf16(x)) as f64;
        let (m, k, n) = (a.height(), a.width(), b.width());
        let mut want = vec![0f64; m * n];
        for i in 0..m {
            for p in 0..k {
                for j in 0..n {
                    want[i * n + j] += round(a.at(i, p)) * round(b.at(p, j));
                }
            }
        }
        want
    }

    #[test]
    fn the_amx_product_equals_the_sum_of_the_rounded_products_for_every_layout_and_edge() {
        if !available() {
            eprintln!("skipped: no AMX-BF16 here");
            return;
        }
        for (m, k, n) in [
            (1, 1, 1),
            (16, 32, 16),
            (33, 70, 17),
            (200, 600, 100),
            (5, 40, 129),
            (64, 20, 20),
        ] {
            let (a, b) = (values(m * k, 7), values(k * n, 11));
            // Each operand as given (row-major), as the transpose of a stored transpose
            // (adjacent columns) and with neither stride 1.
            let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let a_views = [
                View::rows(&a, m, k),
                View::rows(&at, k, m).t(),
                View::strided(&a, m, k / 2, k, 2),
            ];
            let b_views = [
                View::rows(&b, k, n),
                View::rows(&bt, n, k).t(),
                View::strided(&b, k / 2, n, 2 * n, 1),
            ];
            for (av, bv) in a_views
                .iter()
                .zip(&b_views)
                .chain([(&a_views[1], &b_views[0])])
            {
                if av.width() != bv.height() || av.width() == 0 {
                    continue;
                }
                let got = product(*av, *bv);
                let want = rounded_product(*av, *bv);
                let depth = av.width() as f64;
                for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                    // f32 sums of exact bf16 products: only the summation rounds.
                    assert!(
                        (g as f64 - w).abs() <= 1e-5 * depth.sqrt().max(1.0),
                        "{m}x{k}x{n} element {i}: {g} vs {w}"
                    );
                }
                assert_eq!(got.len(), want.len());
            }
        }
    }

    #[test]
    fn small_multiples_of_powers_of_two_multiply_exactly_over_depth_chunks() {
        if !available() {
            eprintln!("skipped: no AMX-BF16 here");
            return;
        }
        // 40 depth blocks: three chunks, the last partial, each resumed from C.
        let (m, k, n) = (70, 40 * TILE_K - 3, 45);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0)
            .collect();
        let got = product(View::rows(&a, m, k), View::rows(&b, k, n));
        let want = rounded_product(View::rows(&a, m, k), View::rows(&b, k, n));
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(*g as f64, *w);
        }
    }
}
