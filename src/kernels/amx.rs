//! Intel AMX (Advanced Matrix Extensions) as far as gradboard uses it today: whether this
//! CPU and kernel let a process use its bf16 tiles, and the rate of TDPBF16PS (a 16x16 f32
//! tile plus the products of a 16x32 and a 32x16 bf16 tile: 8,192 multiply-adds an
//! instruction) for `bench`'s roofline. Rust's AMX intrinsics are not stable; the few
//! instructions are written with `asm!`.

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

/// Rows of a tile; f32 columns of an accumulator tile; bf16 values along k of a tile row.
const TILE_M: usize = 16;
const TILE_N: usize = 16;
const TILE_K: usize = 32;

/// `a` (m x k, row-major) times `b` (k x n, row-major) into a new m x n f32 matrix, the
/// products of bf16-rounded inputs summed in f32 on AMX tiles (what `precision = "bf16"` means
/// for a product). Call only when `available()`.
pub fn matmul_bf16(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    matmul_bf16_packed(a, m, &PackedB::new(b, k, n))
}

/// A right-hand matrix rounded to bf16 and laid out for the tiles once, to multiply by many
/// left-hand ones (a layer's weights between two optimizer steps).
#[derive(Debug, Clone)]
pub struct PackedB {
    /// Its k and n.
    k: usize,
    n: usize,
    /// k and n rounded up to whole tiles (32 deep, 32 wide: two accumulator tiles).
    kp: usize,
    np: usize,
    /// For each 16-column block and 32-deep block, 16 rows of (b[2r][j], b[2r+1][j]) for the
    /// block's 16 columns j: 1 KiB a tile, contiguous.
    tiles: Vec<u16>,
}

impl PackedB {
    /// `b` (k x n, row-major) rounded and laid out; the 32-deep blocks on the compute pool.
    pub fn new(b: &[f32], k: usize, n: usize) -> Self {
        use rayon::prelude::*;
        assert_eq!(b.len(), k * n, "b is k x n");
        let (kp, np) = (
            k.div_ceil(TILE_K) * TILE_K,
            n.div_ceil(2 * TILE_N) * 2 * TILE_N,
        );
        let (blocks_k, blocks_n) = (kp / TILE_K, np / TILE_N);
        let strips: Vec<Vec<u16>> = (0..blocks_k)
            .into_par_iter()
            .map(|kb| {
                let mut strip = vec![0u16; blocks_n * 512];
                let mut row = vec![0u16; n];
                for q in 0..TILE_K {
                    let kk = kb * TILE_K + q;
                    if kk >= k {
                        break;
                    }
                    round_into(&b[kk * n..(kk + 1) * n], &mut row);
                    let (r, p) = (q / 2, q % 2);
                    for (j, &h) in row.iter().enumerate() {
                        strip[(j / TILE_N) * 512 + r * 32 + 2 * (j % TILE_N) + p] = h;
                    }
                }
                strip
            })
            .collect();
        let mut tiles = vec![0u16; blocks_n * blocks_k * 512];
        tiles
            .par_chunks_mut(blocks_k * 512)
            .enumerate()
            .for_each(|(jb, column)| {
                for (kb, strip) in strips.iter().enumerate() {
                    column[kb * 512..][..512].copy_from_slice(&strip[jb * 512..][..512]);
                }
            });
        PackedB {
            k,
            n,
            kp,
            np,
            tiles,
        }
    }
}

/// `a` (m x k) times a packed `b` into a new m x n f32 matrix on AMX tiles; each thread of the
/// pool takes whole 32-row bands. Call only when `available()`.
pub fn matmul_bf16_packed(a: &[f32], m: usize, b: &PackedB) -> Vec<f32> {
    use rayon::prelude::*;
    assert!(available(), "AMX is not available here");
    let (k, n, kp, np) = (b.k, b.n, b.kp, b.np);
    assert_eq!(a.len(), m * k, "a is m x k");
    let mp = m.div_ceil(2 * TILE_M) * 2 * TILE_M;
    let mut c = vec![0f32; m * n];
    let bands: Vec<(usize, &mut [f32])> = c.chunks_mut(2 * TILE_M * n).enumerate().collect();
    debug_assert_eq!(bands.len(), mp / (2 * TILE_M));
    bands.into_par_iter().for_each(|(band, c_out)| {
        // The band's rows of A as bf16, zero-padded to 32 rows of kp.
        let mut a_band = vec![0u16; 2 * TILE_M * kp];
        let rows = c_out.len() / n.max(1);
        for r in 0..rows {
            let i = band * 2 * TILE_M + r;
            round_into(&a[i * k..(i + 1) * k], &mut a_band[r * kp..r * kp + k]);
        }
        let mut c_band = vec![0f32; 2 * TILE_M * np];
        // SAFETY: AMX is granted (asserted above); the band's buffers hold 32 rows of A (kp
        // bf16 each) and C (np f32 each), and B's tiles are 1 KiB each.
        unsafe { band_product(&a_band, &b.tiles, &mut c_band, kp, np, kp / TILE_K) };
        for r in 0..rows {
            c_out[r * n..(r + 1) * n].copy_from_slice(&c_band[r * np..r * np + n]);
        }
    });
    c
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

/// One 32-row band of C: for each pair of 16-column blocks, four accumulator tiles (tmm0-3)
/// take the products of two A tiles (tmm4, tmm5) and two B tiles (tmm6, tmm7) along k.
///
/// # Safety
/// AMX must be granted; `a` holds 32 rows of `kp` bf16, `c` 32 rows of `np` f32, `b` the
/// packed B of `np / 16` column blocks of `blocks_k` tiles.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
unsafe fn band_product(a: &[u16], b: &[u16], c: &mut [f32], kp: usize, np: usize, blocks_k: usize) {
    use std::arch::asm;
    #[repr(C, align(64))]
    struct Config([u8; 64]);
    let mut config = Config([0; 64]);
    config.0[0] = 1;
    for tile in 0..8 {
        config.0[16 + 2 * tile] = 64;
        config.0[48 + tile] = 16;
    }
    let (a_stride, c_stride) = (kp * 2, np * 4);
    asm!("ldtilecfg [{0}]", in(reg) config.0.as_ptr());
    for jb in (0..np / TILE_N).step_by(2) {
        asm!(
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3"
        );
        for kb in 0..blocks_k {
            let a0 = a.as_ptr().add(kb * TILE_K);
            let a1 = a0.add(TILE_M * kp);
            let b0 = b.as_ptr().add((jb * blocks_k + kb) * 512);
            let b1 = b.as_ptr().add(((jb + 1) * blocks_k + kb) * 512);
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
        let c00 = c.as_mut_ptr().add(jb * TILE_N);
        let c01 = c00.add(TILE_N);
        let c10 = c00.add(TILE_M * np);
        let c11 = c10.add(TILE_N);
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
    asm!("tilerelease");
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
unsafe fn band_product(_: &[u16], _: &[u16], _: &mut [f32], _: usize, _: usize, _: usize) {
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

    #[test]
    fn a_packed_right_hand_side_gives_the_same_products() {
        if !available() {
            eprintln!("skipped: no AMX-BF16 here");
            return;
        }
        let (m, k, n) = (70, 100, 45);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0)
            .collect();
        let packed = PackedB::new(&b, k, n);
        assert_eq!(
            matmul_bf16_packed(&a, m, &packed),
            matmul_bf16(&a, &b, m, k, n)
        );
        // Small whole multiples of powers of two are exact in bf16 and in f32 sums.
        let mut want = vec![0f32; m * n];
        for i in 0..m {
            for p in 0..k {
                for j in 0..n {
                    want[i * n + j] += a[i * k + p] * b[p * n + j];
                }
            }
        }
        assert_eq!(matmul_bf16_packed(&a, m, &packed), want);
    }

    #[test]
    fn the_amx_product_equals_the_f32_product_of_the_rounded_inputs_at_every_edge() {
        if !available() {
            eprintln!("skipped: no AMX-BF16 here");
            return;
        }
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        for (m, k, n) in [
            (1, 1, 1),
            (16, 32, 16),
            (33, 70, 17),
            (200, 3072, 100),
            (5, 40, 129),
        ] {
            let a: Vec<f32> = (0..m * k).map(|_| next()).collect();
            let b: Vec<f32> = (0..k * n).map(|_| next()).collect();
            let got = matmul_bf16(&a, &b, m, k, n);
            for i in 0..m {
                for j in 0..n {
                    let mut rounded = 0f64;
                    let mut exact = 0f64;
                    for p in 0..k {
                        let (x, y) = (a[i * k + p], b[p * n + j]);
                        rounded += from_bf16(to_bf16(x)) as f64 * from_bf16(to_bf16(y)) as f64;
                        exact += x as f64 * y as f64;
                    }
                    let g = got[i * n + j] as f64;
                    // f32 sums of exact bf16 products: only the summation rounds.
                    assert!(
                        (g - rounded).abs() <= 1e-5 * (k as f64).sqrt().max(1.0),
                        "{m}x{k}x{n} [{i},{j}]: {g} vs {rounded}"
                    );
                    // Against f32 inputs: bf16's 8 bits of mantissa.
                    assert!(
                        (g - exact).abs() <= 0.01 * (k as f64).sqrt(),
                        "{m}x{k}x{n} [{i},{j}]: {g} vs {exact}"
                    );
                }
            }
        }
    }
}
