//! bf16 products on tiles: Intel AMX (Advanced Matrix Extensions) where the CPU and kernel let
//! a process use its bf16 tiles, else AVX512_BF16 (AMD Zen 4 and later, Intel Cooper Lake)
//! multiplying the same tiles from memory (`Engine`); and the rate of TDPBF16PS (a 16x16 f32
//! tile plus the products of a 16x32 and a 32x16 bf16 tile: 8,192 multiply-adds an
//! instruction) for `bench`'s roofline. Rust's AMX intrinsics are not stable; the few
//! instructions are written with `asm!`. `product` multiplies bf16-rounded matrices on the
//! tiles (`pack` lays the operands out as tiles, `tiles` runs the tile loop); `conv` multiplies
//! a convolution's kernels and patches with the patches' tiles read in place from the maps.

pub mod conv;
mod pack;
mod tiles;

use super::gemm::View;
use super::im2col::Patches;
use pack::{mask16, pack_rows, pack_tiles};
use std::ops::Range;
use tiles::{block_products, TileLayout};

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

/// What multiplies the tiles: AMX's TDPBF16PS on tile registers, or AVX512_BF16's VDPBF16PS
/// on the same tiles in memory (about a sixth of AMX's rate, about twice the f32 FMA rate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// AMX-BF16 tiles.
    Amx,
    /// AVX512_BF16 dot products of bf16 pairs.
    DotBf16,
}

impl Engine {
    /// How `bench` names it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Amx => "AMX tiles",
            Engine::DotBf16 => "AVX512_BF16 VDPBF16PS on the tiles",
        }
    }
}

/// What runs the tile products here: AMX where it is granted, else AVX512_BF16 where the CPU
/// has it and `GRADBOARD_SIMD` allows AVX-512; `None` elsewhere (the bf16 products then run on
/// the f32 kernels).
pub fn engine() -> Option<Engine> {
    #[cfg(test)]
    if let Some(forced) = tests::FORCED.get() {
        return forced;
    }
    if available() {
        Some(Engine::Amx)
    } else if super::peak::has_bf16() {
        Some(Engine::DotBf16)
    } else {
        None
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
pub(crate) mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// What `engine()` answers on this thread while a test holds an `Only` (an engine, or
        /// none).
        pub(super) static FORCED: Cell<Option<Option<Engine>>> = const { Cell::new(None) };
    }

    /// Every engine this machine can run: AMX where granted, AVX512_BF16 where present (a CPU
    /// with AMX has both).
    pub(crate) fn engines_here() -> Vec<Engine> {
        let mut here = Vec::new();
        if available() {
            here.push(Engine::Amx);
        }
        if crate::kernels::peak::has_bf16() {
            here.push(Engine::DotBf16);
        }
        if here.is_empty() {
            eprintln!("skipped: neither AMX-BF16 nor AVX512_BF16 here");
        }
        here
    }

    /// Runs `check` with each engine this machine has forced on this thread.
    pub(crate) fn on_each_engine(check: impl Fn(Engine)) {
        for engine in engines_here() {
            let _only = Only::engine(engine);
            check(engine);
        }
    }

    /// While held, `engine()` on this thread answers its engine.
    pub(crate) struct Only;

    impl Only {
        /// Products on this thread run on `engine` until the guard drops.
        pub(crate) fn engine(engine: Engine) -> Only {
            FORCED.set(Some(Some(engine)));
            Only
        }

        /// Products on this thread take the path of a CPU without bf16 tiles until the guard
        /// drops.
        pub(crate) fn nothing() -> Only {
            FORCED.set(Some(None));
            Only
        }
    }

    impl Drop for Only {
        fn drop(&mut self) {
            FORCED.set(None);
        }
    }

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
/// Depth blocks one pass keeps: 16 blocks of a column pair's two B tiles are 32 KiB, which
/// stay in L1 while the task's bands go by.
const CHUNK_K: usize = 16;
/// The A bytes (a block of 32-row bands over the whole depth) a task's bands may hold, so that
/// they stay in L2 while the task's thread goes through the column pairs.
const BLOCK_A_BYTES: usize = 1 << 20;
/// The most 32-row bands a task takes.
const MAX_BANDS_PER_BLOCK: usize = 16;
/// Bands a task takes in a deep product (a depth chunk of their A tiles, 32 KiB a band, stays
/// in L2 while the task's pairs go by).
const DEEP_BANDS_PER_BLOCK: usize = 8;
/// The most 32 x 32 blocks of sums a task of a deep product keeps (512 KiB, in L2 beside a
/// depth chunk of its operands).
const DEEP_TASK_BLOCKS: usize = 128;
/// Tile products a task should have at least (where the product allows), so that setting up
/// the tiles and the task does not outweigh them.
const MIN_TASK_PRODUCTS: usize = 1024;
/// The most 32 x 32 blocks of sums one task keeps (4 KiB each).
const MAX_TASK_BLOCKS: usize = 64;

/// The right-hand side of a product: a matrix, or a convolution's patches (or their
/// transpose) made from the maps as the packer asks for them (`im2col::Patches`).
#[derive(Clone, Copy)]
pub enum Operand<'a> {
    /// A matrix in memory.
    Matrix(View<'a>),
    /// The patch matrix (c k k, h w b) of maps.
    Patches(Patches<'a>),
    /// Its transpose (h w b, c k k).
    PatchesT(Patches<'a>),
}

impl Operand<'_> {
    fn height(&self) -> usize {
        match self {
            Operand::Matrix(v) => v.height(),
            Operand::Patches(p) => p.height(),
            Operand::PatchesT(p) => p.width(),
        }
    }

    fn width(&self) -> usize {
        match self {
            Operand::Matrix(v) => v.width(),
            Operand::Patches(p) => p.width(),
            Operand::PatchesT(p) => p.height(),
        }
    }
}

/// The left-hand side of a product: a matrix, or convolution kernels turned half a turn
/// (`Turned`), read from the kernels as the packer asks for them.
#[derive(Clone, Copy)]
pub enum Left<'a> {
    /// A matrix in memory.
    Matrix(View<'a>),
    /// Kernels turned half a turn.
    Turned(Turned<'a>),
}

/// Kernels (c_out, c_in, k, k) as the (c_in, c_out k k) matrix whose product with the patches
/// of a convolution's output gradient is its input gradient: entry (i, (o, ky, kx)) is kernel
/// (o, i) at (k - 1 - ky, k - 1 - kx).
#[derive(Clone, Copy)]
pub struct Turned<'a> {
    /// The kernels, (c_out, c_in, k, k) row-major.
    pub weight: &'a [f32],
    /// (c_out, c_in, k).
    pub dims: (usize, usize, usize),
}

impl Turned<'_> {
    /// The entry's offset in the kernels for each depth (o, ky, kx) at row 0; a row i adds
    /// i k k. Zero past the depth, up to `kp`.
    fn offsets(&self, kp: usize) -> Vec<i32> {
        let (c_out, c_in, k) = self.dims;
        assert!(
            self.weight.len() < i32::MAX as usize,
            "kernels too large to gather"
        );
        let kk = k * k;
        (0..kp)
            .map(|q| {
                let (o, t) = (q / kk, q % kk);
                if o < c_out {
                    (o * c_in * kk + kk - 1 - t) as i32
                } else {
                    0
                }
            })
            .collect()
    }
}

impl Left<'_> {
    fn height(&self) -> usize {
        match self {
            Left::Matrix(v) => v.height(),
            Left::Turned(t) => t.dims.1,
        }
    }

    fn width(&self) -> usize {
        match self {
            Left::Matrix(v) => v.width(),
            Left::Turned(t) => t.dims.0 * t.dims.2 * t.dims.2,
        }
    }
}

/// `a` (m x k) times `b` (k x n) into a new row-major m x n matrix: the products of the
/// operands rounded to bf16 (nearest even), summed in f32 on AMX tiles (what `precision =
/// "bf16"` means for a product). Call only where `engine()` is some.
pub fn product(a: View, b: View) -> Vec<f32> {
    product_of(Left::Matrix(a), Operand::Matrix(b))
}

/// `product` with any right-hand side, its operands packed into tiles. Call only where
/// `engine()` is some.
pub fn product_of(a: Left, b: Operand) -> Vec<f32> {
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
    // SAFETY: the packers write every value.
    let (rows, tiles) = unsafe { (rows.values(), tiles.values()) };
    let layout = TileLayout::packed(tiles, np / (2 * TILE_N), kp / TILE_K);
    multiply(rows, (m, n), kp, &layout)
}

/// The m x n product of packed A tiles (`rows`: whole bands of `kp` bf16) and B's tiles where
/// `tiles` says they lie, on the pool's threads: a task takes a block of 32-row bands and a
/// run of 32-column pairs, in order.
fn multiply(rows: &[u16], (m, n): (usize, usize), kp: usize, tiles: &TileLayout) -> Vec<f32> {
    use rayon::prelude::*;
    let engine = engine().expect("tile products need AMX or AVX512_BF16");
    let mp = m.div_ceil(2 * TILE_M) * 2 * TILE_M;
    let (bands, pairs, blocks_k) = (mp / (2 * TILE_M), tiles.pair_base.len(), kp / TILE_K);
    assert!(rows.len() >= mp * kp && tiles.kb_offset.len() == blocks_k && tiles.within());
    assert!(
        pairs * 2 * TILE_N >= n,
        "{pairs} column pairs for {n} columns"
    );
    let threads = rayon::current_num_threads();
    let (per_block, per_run) = if blocks_k > CHUNK_K && 2 * TILE_M * kp * 2 > BLOCK_A_BYTES {
        // Deep: a task streams its bands' A and its pairs' B from memory once (`block_products`
        // keeps a depth chunk of each in cache), so as many bands and pairs a task as its
        // accumulators allow while every thread gets one.
        let per_block = bands.min(DEEP_BANDS_PER_BLOCK);
        let per_run = (DEEP_TASK_BLOCKS / per_block)
            .min(pairs.div_ceil(threads))
            .max(1);
        let per_block = match bands.div_ceil(per_block) * pairs.div_ceil(per_run) < threads {
            true => bands.div_ceil(threads).max(1),
            false => per_block,
        };
        (per_block, per_run)
    } else {
        let per_block = (BLOCK_A_BYTES / (2 * TILE_M * kp * 2)).clamp(1, MAX_BANDS_PER_BLOCK);
        // With one column pair, one band a task, so that both threads have work.
        let per_block = if pairs == 1 { 1 } else { per_block.min(bands) };
        let per_run = MIN_TASK_PRODUCTS
            .div_ceil(per_block * blocks_k * 4)
            .clamp(1, (MAX_TASK_BLOCKS / per_block).max(1))
            .min(pairs.div_ceil(2 * threads).max(1));
        (per_block, per_run)
    };
    let (blocks, runs) = (bands.div_ceil(per_block), pairs.div_ceil(per_run));
    let mut c: Vec<f32> = Vec::with_capacity(m * n);
    let out = Out(c.as_mut_ptr());
    (0..blocks * runs).into_par_iter().for_each(|task| {
        let out = &out;
        let (block, run) = (task / runs, task % runs);
        let block = block * per_block..((block + 1) * per_block).min(bands);
        let run = run * per_run..((run + 1) * per_run).min(pairs);
        let block_len = block.len();
        SUMS.with_borrow_mut(|sums| {
            let sums = sums.take(run.len() * block_len * 4 * TILE_M * TILE_N);
            // SAFETY: `engine` runs here (`engine()`); `rows` holds mp rows of kp bf16
            // as A tiles, every B tile lies in `tiles` (asserted above), `sums` a 32 x 32
            // block for each band of each pair.
            unsafe { block_products(engine, rows, tiles, sums, kp, block.clone(), run.clone()) };
            // SAFETY: c holds m x n f32 (capacity); this task alone writes the block's rows of
            // its pairs' columns; `sums` holds a 32 x 32 block for each band of each pair.
            unsafe { copy_out(sums, out.0, (m, n), block.clone(), run.clone()) };
        });
    });
    // SAFETY: the tasks cover every band of every column pair, and each wrote its rows within
    // m of its columns within n.
    unsafe { c.set_len(m * n) };
    c
}

/// A task's blocks of sums (a 32 x 32 block for each band of `bands` of each pair of `pairs`)
/// to their place in c (m x n, row-major), row by row with the pairs side by side: c's rows
/// are written in runs of up to 16 x 32 values, not 32 at a time down hundreds of rows (which
/// measured slower than the products when n was large), each row's 32 values in two masked
/// moves (a call to memcpy for each cost more than the move).
///
/// # Safety
/// AVX-512F must be present (AMX implies it here); `c` holds m x n f32; `sums` the blocks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn copy_out(
    sums: &[f32],
    c: *mut f32,
    (m, n): (usize, usize),
    bands: Range<usize>,
    pairs: Range<usize>,
) {
    use std::arch::x86_64::*;
    let block = 4 * TILE_M * TILE_N;
    for (i, band) in bands.clone().enumerate() {
        for r in 0..2 * TILE_M {
            let row = band * 2 * TILE_M + r;
            if row >= m {
                break;
            }
            for (p, pair) in pairs.clone().enumerate() {
                let from = sums[(p * bands.len() + i) * block + r * 2 * TILE_N..].as_ptr();
                let start = pair * 2 * TILE_N;
                let count = (n - start).min(2 * TILE_N);
                let to = c.add(row * n + start);
                let (lo, hi) = (mask16(count), mask16(count.saturating_sub(16)));
                let a = _mm512_maskz_loadu_ps(lo, from);
                let b = _mm512_maskz_loadu_ps(hi, from.add(16));
                _mm512_mask_storeu_ps(to, lo, a);
                _mm512_mask_storeu_ps(to.wrapping_add(16), hi, b);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn copy_out(_: &[f32], _: *mut f32, _: (usize, usize), _: Range<usize>, _: Range<usize>) {
    unreachable!("AMX is x86-64 only")
}

/// The destination of the tasks' blocks, shared by the pool's threads (each writes its own
/// blocks).
struct Out(*mut f32);
// SAFETY: the threads write disjoint blocks through it (`product`).
unsafe impl Sync for Out {}

thread_local! {
    /// Each thread's accumulators for its tasks, kept between products.
    static SUMS: std::cell::RefCell<Scratch> = const { std::cell::RefCell::new(Scratch(Vec::new())) };
}

/// f32 values a thread reuses, handed out from a 64-byte line (their values are whatever the
/// last task left: every user writes before it reads).
struct Scratch(Vec<f32>);

impl Scratch {
    /// `len` values from the first 64-byte line of the buffer, grown as needed.
    fn take(&mut self, len: usize) -> &mut [f32] {
        if self.0.len() < len + 16 {
            self.0 = vec![0.0; len + 16];
        }
        let first = (16 - self.0.as_ptr() as usize % 64 / 4) % 16;
        &mut self.0[first..first + len]
    }
}

#[cfg(test)]
pub(super) mod product_tests {
    use super::pack::a_offset;
    use super::tests::on_each_engine;
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
        // Packed as one row of A tiles: the vector rounding where the CPU has AVX512_BF16.
        let kp = src.len().div_ceil(TILE_K) * TILE_K;
        let packed = pack_rows(Left::Matrix(View::rows(&src, 1, src.len())), 2 * TILE_M, kp);
        let fast: Vec<u16> = (0..src.len())
            // SAFETY: the packer writes every value.
            .map(|p| unsafe { packed.values() }[a_offset(p / TILE_K, 0) + p % TILE_K])
            .collect();
        for (i, (&x, &h)) in src.iter().zip(&fast).enumerate() {
            if x.is_nan() {
                assert!(from_bf16(h).is_nan());
            } else {
                assert_eq!(h, to_bf16(x), "{i}: {x}");
            }
        }
    }

    /// `len` values in [-0.5, 0.5) from a seeded linear congruential generator.
    pub(super) fn values(len: usize, seed: u64) -> Vec<f32> {
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
    fn the_tile_product_equals_the_sum_of_the_rounded_products_for_every_layout_and_edge() {
        on_each_engine(|_| {
            for (m, k, n) in [
                (1, 1, 1),
                (16, 32, 16),
                (33, 70, 17),
                (200, 600, 100),
                (5, 40, 129),
                (64, 20, 20),
                // Several runs of column pairs a task, several blocks of bands, a long depth.
                (40, 300, 1100),
                (600, 50, 40),
                (3, 5000, 70),
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
        });
    }

    #[test]
    fn patches_made_while_packing_equal_the_stored_patch_matrix() {
        on_each_engine(|_| {
            use crate::kernels::im2col::im2col;
            // Odd sizes: runs and depth blocks end inside a map row and inside a batch; batches of
            // 16 and 64 read whole runs of 16 from the maps.
            for (dims @ (c, h, w, b), k, out) in [
                ((5, 7, 6, 3), 3, 9),
                ((4, 9, 9, 8), 5, 40),
                ((3, 5, 3, 16), 3, 20),
                ((6, 4, 4, 64), 3, 33),
                ((2, 3, 2, 64), 1, 7),
            ] {
                let x = values(c * h * w * b, 3);
                let patches = Patches { x: &x, dims, k };
                let cols = im2col(&x, dims, k);
                let (kk, n) = (c * k * k, h * w * b);
                let weights = values(out * kk, 5);
                let grad = values(out * n, 9);
                let made = product_of(
                    Left::Matrix(View::rows(&weights, out, kk)),
                    Operand::Patches(patches),
                );
                let stored = product(View::rows(&weights, out, kk), View::rows(&cols, kk, n));
                assert_eq!(made, stored, "W x patches");
                let made = product_of(
                    Left::Matrix(View::rows(&grad, out, n)),
                    Operand::PatchesT(patches),
                );
                let stored = product(View::rows(&grad, out, n), View::rows(&cols, kk, n).t());
                assert_eq!(made, stored, "dY x patches^T");
            }
        });
    }

    #[test]
    fn small_multiples_of_powers_of_two_multiply_exactly_over_depth_chunks() {
        on_each_engine(|_| {
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
        });
    }
}
