//! Intel AMX (Advanced Matrix Extensions) as far as gradboard uses it today: whether this
//! CPU and kernel let a process use its bf16 tiles, and the rate of TDPBF16PS (a 16x16 f32
//! tile plus the products of a 16x32 and a 32x16 bf16 tile: 8,192 multiply-adds an
//! instruction) for `bench`'s roofline. Rust's AMX intrinsics are not stable; the few
//! instructions are written with `asm!`. `product` multiplies bf16-rounded matrices on the
//! tiles.

use super::gemm::View;
use super::im2col::Patches;
use std::mem::MaybeUninit;
use std::ops::Range;

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
/// Depth blocks one pass keeps: 16 blocks of a column pair's two B tiles are 32 KiB, which
/// stay in L1 while the task's bands go by.
const CHUNK_K: usize = 16;
/// The A bytes (a block of 32-row bands over the whole depth) a task's bands may hold, so that
/// they stay in L2 while the task's thread goes through the column pairs.
const BLOCK_A_BYTES: usize = 1 << 20;
/// The most 32-row bands a task takes.
const MAX_BANDS_PER_BLOCK: usize = 16;
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
/// "bf16"` means for a product). Call only when `available()`.
pub fn product(a: View, b: View) -> Vec<f32> {
    product_of(Left::Matrix(a), Operand::Matrix(b))
}

/// `product` with any right-hand side. A task takes a block of 32-row bands and a run of
/// 32-column pairs; the pool's threads take the tasks in order. Call only when `available()`.
pub fn product_of(a: Left, b: Operand) -> Vec<f32> {
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
    // SAFETY: the packers write every value.
    let (rows, tiles) = unsafe { (rows.values(), tiles.values()) };
    let (bands, pairs, blocks_k) = (mp / (2 * TILE_M), np / (2 * TILE_N), kp / TILE_K);
    let per_block = (BLOCK_A_BYTES / (2 * TILE_M * kp * 2)).clamp(1, MAX_BANDS_PER_BLOCK);
    // With one column pair, one band a task, so that both threads have work.
    let per_block = if pairs == 1 { 1 } else { per_block.min(bands) };
    let per_run = MIN_TASK_PRODUCTS
        .div_ceil(per_block * blocks_k * 4)
        .clamp(1, (MAX_TASK_BLOCKS / per_block).max(1))
        .min(pairs.div_ceil(2 * rayon::current_num_threads()).max(1));
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
            // SAFETY: AMX is granted (asserted above); `rows` holds mp rows of kp bf16 as A tiles,
            // `tiles` the np / 32 column pairs of kp / 32 depth blocks of B tiles, `sums` a 32 x 32
            // block for each band of each pair.
            unsafe { block_products(rows, tiles, sums, kp, block.clone(), run.clone()) };
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

/// Values whose first lies on a 64-byte line: a tile row (64 bytes) that straddles two lines
/// loads at about a quarter of the rate (measured: 1.3 against 5.4 TFLOP/s on one core of this
/// machine's Sapphire Rapids class CPU), and the allocator only promises 16 bytes. Left
/// unwritten (a zeroing pass over every packed operand measured 5 % of a bf16 step): the
/// packers write every value, zeros at the edges.
struct Aligned<T> {
    buffer: Vec<MaybeUninit<T>>,
    first: usize,
    len: usize,
}

impl<T> Aligned<T> {
    fn unwritten(len: usize) -> Self {
        let per_line = 64 / std::mem::size_of::<T>();
        let mut buffer = Vec::with_capacity(len + per_line);
        // SAFETY: MaybeUninit needs no initialisation.
        unsafe { buffer.set_len(len + per_line) };
        if cfg!(test) {
            // All ones (a NaN in bf16 and f32): a slot a packer misses poisons the products.
            // SAFETY: the buffer holds len + per_line values.
            unsafe { std::ptr::write_bytes(buffer.as_mut_ptr(), 0xff, len + per_line) };
        }
        let misplaced = buffer.as_ptr() as usize % 64 / std::mem::size_of::<T>();
        let first = (per_line - misplaced) % per_line;
        Aligned { buffer, first, len }
    }

    fn slots(&mut self) -> &mut [MaybeUninit<T>] {
        &mut self.buffer[self.first..self.first + self.len]
    }

    /// The values, every one written.
    ///
    /// # Safety
    /// Every slot must have been written.
    unsafe fn values(&self) -> &[T] {
        // SAFETY: the caller promises every slot was written.
        unsafe {
            &*(&self.buffer[self.first..self.first + self.len] as *const [MaybeUninit<T>]
                as *const [T])
        }
    }
}

/// Where row `r` (0..32) of a band's A tiles starts for depth block `kb`, in u16: a band's
/// tiles go depth block by block, each block's two 16 x 32 tiles (rows 0-15, 16-31)
/// contiguous, 1 KiB each.
fn a_offset(kb: usize, r: usize) -> usize {
    kb * 2 * TILE_M * TILE_K + (r / TILE_M) * TILE_M * TILE_K + (r % TILE_M) * TILE_K
}

/// Where the u32 pair of B tiles for depth row pair `r` (0..16) and column `j` lies within the
/// tiles of one depth block of a run of column pairs, `pair_stride` u32 apart: column pair
/// j / 32, its tile j / 16 % 2, row r, column j % 16.
fn b_offset(pair_stride: usize, r: usize, j: usize) -> usize {
    (j / (2 * TILE_N)) * pair_stride + (j / TILE_N % 2) * TILE_M * TILE_N + r * TILE_N + j % TILE_N
}

/// `a` rounded to bf16 as A tiles (zero past m and k), a band's tiles as `a_offset` places
/// them (loads of contiguous tiles ran about 10% faster than of tiles strided over whole
/// rows). A band a task.
fn pack_rows(a: Left, mp: usize, kp: usize) -> Aligned<u16> {
    use rayon::prelude::*;
    let (m, k) = (a.height(), a.width());
    let offsets = match a {
        Left::Turned(t) if t.dims.2 * t.dims.2 > 16 => t.offsets(kp),
        _ => Vec::new(),
    };
    let mut rows = Aligned::unwritten(mp * kp);
    rows.slots()
        .par_chunks_mut(2 * TILE_M * kp)
        .enumerate()
        .for_each(|(band, tiled)| {
            let first = band * 2 * TILE_M;
            let count = m.saturating_sub(first).min(2 * TILE_M);
            // The writers below fill whole rows over the depth; a band's missing rows (and a
            // product without depth) are zeros.
            if count < 2 * TILE_M || k == 0 {
                tiled.fill(MaybeUninit::new(0));
            }
            let a = match a {
                Left::Matrix(a) => a,
                Left::Turned(t) if t.dims.2 * t.dims.2 <= 16 => {
                    // SAFETY: AMX (asserted by `product_of`) comes with AVX-512 and
                    // AVX512_BF16; the band's rows first..first + count are rows of `t`.
                    unsafe { turned_band_avx512(t, first, count, kp, tiled) };
                    return;
                }
                Left::Turned(t) => {
                    for r in 0..count {
                        // SAFETY: AMX (asserted by `product_of`) comes with AVX-512 and
                        // AVX512_BF16; `offsets` covers kp depths; row first + r < c_in.
                        unsafe { turned_row_avx512(t, &offsets, k, first + r, tiled, r) };
                    }
                    return;
                }
            };
            #[cfg(target_arch = "x86_64")]
            if super::peak::has_bf16() {
                if a.row(first).is_some() {
                    for r in 0..count {
                        let row = a.row(first + r).expect("unit column stride");
                        // SAFETY: AVX512_BF16, AVX-512F and BW are present (`has_bf16`); the
                        // band's tiles hold kp >= k values a row.
                        unsafe { round_row_avx512(row, tiled, r) };
                    }
                    return;
                }
                if a.column(0).is_some() {
                    for kb in 0..kp / TILE_K {
                        for half in 0..2 {
                            // SAFETY: as above; the tile at (kb, half) is within the band.
                            unsafe { transpose_a_avx512(a, tiled, first, count, kb, half) };
                        }
                    }
                    return;
                }
            }
            let tiled = super::uninit::filled(tiled, 0);
            for r in 0..count {
                for p in 0..k {
                    tiled[a_offset(p / TILE_K, r) + p % TILE_K] = to_bf16(a.at(first + r, p));
                }
            }
        });
    rows
}

/// A band's rows (`count` from row `first`) of turned kernels of at most 16 taps (k <= 3),
/// kernel by kernel: the band's 32 kernels for one output channel are one run of the weights;
/// each kernel's taps in one masked load, turned by a lane permutation, rounded and stored
/// with masks into the tile rows of the depth blocks they fall in (a gather a value measured
/// slower). Zeros past the depth.
///
/// # Safety
/// The CPU must have AVX-512F, BW and BF16; rows first..first + count are rows of `t`; k k <=
/// 16; `tiled` holds the band's tiles over kp >= c_out k k.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn turned_band_avx512(
    t: Turned,
    first: usize,
    count: usize,
    kp: usize,
    tiled: &mut [MaybeUninit<u16>],
) {
    use std::arch::x86_64::*;
    let (c_out, c_in, k) = t.dims;
    let kk = k * k;
    let depth = c_out * kk;
    assert!(kk <= 16 && kp >= depth && first + count <= c_in);
    assert!(t.weight.len() >= c_out * c_in * kk && tiled.len() >= 2 * TILE_M * kp);
    let turn: [i32; 16] = std::array::from_fn(|l| (kk - 1).saturating_sub(l) as i32);
    let turn = _mm512_loadu_si512(turn.as_ptr().cast());
    let iota: [i16; 32] = std::array::from_fn(|l| l as i16);
    let iota = _mm512_loadu_si512(iota.as_ptr().cast());
    let taps_mask = mask16(kk);
    let out = tiled.as_mut_ptr() as *mut u16;
    for o in 0..c_out {
        let q = o * kk;
        let (kb, at) = (q / TILE_K, q % TILE_K);
        // The taps that fit this depth block's rows; the rest open the next block's.
        let head = kk.min(TILE_K - at);
        let rest = _mm512_add_epi16(iota, _mm512_set1_epi16(head as i16));
        let run = t.weight.as_ptr().add((o * c_in + first) * kk);
        for r in 0..count {
            let taps = _mm512_maskz_loadu_ps(taps_mask, run.add(r * kk));
            let turned = _mm512_permutexvar_ps(turn, taps);
            let rounded = _mm512_castsi256_si512(std::mem::transmute::<__m256bh, __m256i>(
                _mm512_cvtneps_pbh(turned),
            ));
            let row = out.add(a_offset(kb, r));
            _mm512_mask_storeu_epi16(row.add(at).cast(), mask16(head) as __mmask32, rounded);
            if head < kk {
                let moved = _mm512_permutexvar_epi16(rest, rounded);
                let next = out.add(a_offset(kb + 1, r));
                _mm512_mask_storeu_epi16(next.cast(), mask16(kk - head) as __mmask32, moved);
            }
        }
    }
    // Past the depth: zeros to the end of the last depth block.
    if depth % TILE_K != 0 {
        let (kb, at) = (depth / TILE_K, depth % TILE_K);
        for r in 0..count {
            let row = &mut tiled[a_offset(kb, r)..][at..TILE_K];
            row.fill(MaybeUninit::new(0));
        }
    }
    // Depth blocks wholly past the depth (a product padded beyond it).
    for kb in depth.div_ceil(TILE_K)..kp / TILE_K {
        for r in 0..count {
            tiled[a_offset(kb, r)..][..TILE_K].fill(MaybeUninit::new(0));
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn turned_band_avx512(_: Turned, _: usize, _: usize, _: usize, _: &mut [MaybeUninit<u16>]) {
    unreachable!("AMX is x86-64 only")
}

/// Row `r` of a band: row `i` of turned kernels, gathered 16 at a time from the kernels by
/// `offsets` and rounded to bf16 into its depth blocks' tile rows.
///
/// # Safety
/// The CPU must have AVX-512F, BW and BF16; `offsets` holds an offset for every depth of the
/// band's tiles (at least `depth` rounded up to 32); `i` is a row of `t`; `r` < 32.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn turned_row_avx512(
    t: Turned,
    offsets: &[i32],
    depth: usize,
    i: usize,
    tiled: &mut [MaybeUninit<u16>],
    r: usize,
) {
    use std::arch::x86_64::*;
    let kk = t.dims.2 * t.dims.2;
    let row = _mm512_set1_epi32((i * kk) as i32);
    let base = t.weight.as_ptr();
    for kb in 0..depth.div_ceil(TILE_K) {
        let at = kb * TILE_K;
        let left = depth - at;
        let (lo_mask, hi_mask) = (mask16(left), mask16(left.saturating_sub(16)));
        let lo_at = _mm512_add_epi32(row, _mm512_loadu_si512(offsets.as_ptr().add(at).cast()));
        let hi_at = _mm512_add_epi32(
            row,
            _mm512_loadu_si512(offsets.as_ptr().add(at + 16).cast()),
        );
        let zero = _mm512_setzero_ps();
        let lo = _mm512_mask_i32gather_ps::<4>(zero, lo_mask, lo_at, base);
        let hi = _mm512_mask_i32gather_ps::<4>(zero, hi_mask, hi_at, base);
        let both = std::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(hi, lo));
        let dst = &mut tiled[a_offset(kb, r)..][..TILE_K];
        _mm512_storeu_si512(dst.as_mut_ptr() as *mut __m512i, both);
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn turned_row_avx512(
    _: Turned,
    _: &[i32],
    _: usize,
    _: usize,
    _: &mut [MaybeUninit<u16>],
    _: usize,
) {
    unreachable!("AMX is x86-64 only")
}

/// Row `r` of a band: `row` rounded to bf16, 32 at a time into its depth blocks' tile rows.
///
/// # Safety
/// The CPU must have AVX-512F, BW and BF16; `tiled` holds a band's tiles for at least
/// `row.len()` depth, `r` < 32.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn round_row_avx512(row: &[f32], tiled: &mut [MaybeUninit<u16>], r: usize) {
    use std::arch::x86_64::*;
    let k = row.len();
    for kb in 0..k.div_ceil(TILE_K) {
        let at = kb * TILE_K;
        let left = (k - at).min(TILE_K);
        let (lo_mask, hi_mask) = (mask16(left), mask16(left.saturating_sub(16)));
        let lo = _mm512_maskz_loadu_ps(lo_mask, row.as_ptr().add(at));
        let hi = _mm512_maskz_loadu_ps(hi_mask, row.as_ptr().add(at + 16).min(row.as_ptr().add(k)));
        let both = std::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(hi, lo));
        let dst = &mut tiled[a_offset(kb, r)..][..TILE_K];
        _mm512_storeu_si512(dst.as_mut_ptr() as *mut __m512i, both);
    }
}

/// The low `n` (at most 16) lanes of a 16-lane mask.
fn mask16(n: usize) -> u16 {
    if n >= 16 {
        u16::MAX
    } else {
        (1u16 << n) - 1
    }
}

/// A's tile (depth block `kb`, `half` of the band) where A's columns are adjacent: for each
/// pair of depths, the 16 rows' values paired (as the tile's u32 columns), then the 16 x 16
/// transposed into the tile's rows.
///
/// # Safety
/// The CPU must have AVX-512F, BW and BF16; `a` has unit row stride; `tiled` holds the band's
/// tiles through depth block `kb`; `count` rows of the band from `first` exist.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn transpose_a_avx512(
    a: View,
    tiled: &mut [MaybeUninit<u16>],
    first: usize,
    count: usize,
    kb: usize,
    half: usize,
) {
    use std::arch::x86_64::*;
    let k = a.width();
    let rows = count.saturating_sub(half * TILE_M).min(TILE_M);
    let mask = mask16(rows);
    let start = first + half * TILE_M;
    let load = |p: usize| {
        if p < k && rows > 0 {
            let column = a.column(p).expect("unit row stride");
            _mm512_maskz_loadu_ps(mask, column.as_ptr().add(start.min(column.len())))
        } else {
            _mm512_setzero_ps()
        }
    };
    let mut pairs = [_mm512_setzero_si512(); 16];
    for (q, pair) in pairs.iter_mut().enumerate() {
        let p = kb * TILE_K + 2 * q;
        *pair = interleave(load(p), load(p + 1));
    }
    transpose16(&mut pairs);
    let tile = &mut tiled[a_offset(kb, half * TILE_M)..][..TILE_M * TILE_K];
    for (i, row) in pairs.iter().enumerate() {
        _mm512_storeu_si512(tile.as_mut_ptr().add(i * TILE_K) as *mut __m512i, *row);
    }
}

/// `lo` and `hi` rounded to bf16 as 16 u32 pairs (lo[j] low, hi[j] high).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn interleave(
    lo: std::arch::x86_64::__m512,
    hi: std::arch::x86_64::__m512,
) -> std::arch::x86_64::__m512i {
    use std::arch::x86_64::*;
    // u16 lane 2j takes lo's j (lane j), lane 2j + 1 hi's j (lane 16 + j).
    const ORDER: [i16; 32] = {
        let mut order = [0i16; 32];
        let mut i = 0;
        while i < 32 {
            order[i] = ((i % 2) * 16 + i / 2) as i16;
            i += 1;
        }
        order
    };
    let order = _mm512_loadu_si512(ORDER.as_ptr() as *const __m512i);
    let both = std::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(hi, lo));
    _mm512_permutexvar_epi16(order, both)
}

/// Transposes 16 rows of 16 u32 in place: 32-bit and 64-bit unpacks within 128-bit lanes,
/// then two rounds of 128-bit lane shuffles.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transpose16(rows: &mut [std::arch::x86_64::__m512i; 16]) {
    use std::arch::x86_64::*;
    let r = *rows;
    let mut t = [_mm512_setzero_si512(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    // u[4g + c], lane l: rows 4g..4g+3 of column 4l + c.
    let mut u = [_mm512_setzero_si512(); 16];
    for g in 0..4 {
        u[4 * g] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
        u[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
    }
    for c in 0..4 {
        let x = _mm512_shuffle_i32x4::<0x44>(u[c], u[4 + c]);
        let y = _mm512_shuffle_i32x4::<0xEE>(u[c], u[4 + c]);
        let x2 = _mm512_shuffle_i32x4::<0x44>(u[8 + c], u[12 + c]);
        let y2 = _mm512_shuffle_i32x4::<0xEE>(u[8 + c], u[12 + c]);
        rows[c] = _mm512_shuffle_i32x4::<0x88>(x, x2);
        rows[4 + c] = _mm512_shuffle_i32x4::<0xDD>(x, x2);
        rows[8 + c] = _mm512_shuffle_i32x4::<0x88>(y, y2);
        rows[12 + c] = _mm512_shuffle_i32x4::<0xDD>(y, y2);
    }
}

/// `b` rounded to bf16 as B tiles: for each 32-column pair of blocks (outer), for each 32-deep
/// block, the pair's two tiles of 16 rows of 16 pairs (b[2r][j], b[2r+1][j]) as one u32 each,
/// low half first (1 KiB a tile). A pair's tiles are contiguous over the whole depth, so the
/// tile loop's chunk of them stays in L1. A run of pairs a task.
fn pack_tiles(b: Operand, kp: usize, np: usize) -> Aligned<u32> {
    use rayon::prelude::*;
    let (k, n) = (b.height(), b.width());
    let blocks_k = kp / TILE_K;
    let pair_stride = blocks_k * 2 * TILE_M * TILE_N;
    let pairs = np / (2 * TILE_N);
    // Runs of up to 16 pairs (512 columns), at least four runs a thread where there are pairs
    // enough.
    let per_run = pairs
        .div_ceil(4 * rayon::current_num_threads())
        .clamp(1, 16);
    let mut tiles = Aligned::unwritten(pairs * pair_stride);
    tiles
        .slots()
        .par_chunks_mut(per_run * pair_stride)
        .enumerate()
        .for_each(|(run, strips)| {
            let first_j = run * per_run * 2 * TILE_N;
            let columns = first_j..(first_j + per_run * 2 * TILE_N).min(n);
            // Rows of patches made for the run's columns (two at a time), or a column's depth
            // block (sixteen at a time).
            let mut made = vec![0f32; (2 * per_run * 2 * TILE_N).max(TILE_N * TILE_K)];
            for kb in 0..k.div_ceil(TILE_K).max(1) {
                let strip = &mut strips[kb * 2 * TILE_M * TILE_N..];
                pack_block(
                    b,
                    strip,
                    pair_stride,
                    kb * TILE_K,
                    columns.clone(),
                    &mut made,
                );
            }
        });
    tiles
}

/// One depth block (rows `first`.. of `b`, 32 or up to k) of the columns `columns` into the B
/// tiles at `strip` (`b_offset` with `pair_stride`, from the run's first pair); `made` holds
/// patch values for a run's two rows (or sixteen columns' depth blocks).
fn pack_block(
    b: Operand,
    strip: &mut [MaybeUninit<u32>],
    pair_stride: usize,
    first: usize,
    columns: Range<usize>,
    made: &mut [f32],
) {
    let depth = b.height().saturating_sub(first).min(TILE_K);
    let pairs = columns.len().div_ceil(2 * TILE_N);
    let vector = cfg!(target_arch = "x86_64")
        && super::peak::has_bf16()
        && match b {
            Operand::Matrix(v) => v.row(first).is_some() || v.column(0).is_some(),
            Operand::Patches(_) | Operand::PatchesT(_) => true,
        };
    // The writers below fill whole 16-column groups of the depth block's rows; at an edge
    // (fewer rows or columns), first zeros over the block's tiles.
    if !vector || depth < TILE_K || !columns.len().is_multiple_of(2 * TILE_N) {
        for pair in 0..pairs {
            strip[pair * pair_stride..][..2 * TILE_M * TILE_N].fill(MaybeUninit::new(0));
        }
    }
    #[cfg(target_arch = "x86_64")]
    if vector {
        let width = columns.len();
        let adjacent_rows = match b {
            Operand::Matrix(v) => v.row(first).is_some(),
            Operand::Patches(_) => true,
            Operand::PatchesT(_) => false,
        };
        if adjacent_rows {
            let (lo_made, hi_made) = made.split_at_mut(width);
            let hi_made = &mut hi_made[..width];
            for r in 0..depth.div_ceil(2) {
                let lo = row_of(b, &columns, first + 2 * r, lo_made).expect("rows are adjacent");
                let hi = (2 * r + 1 < depth).then(|| {
                    row_of(b, &columns, first + 2 * r + 1, hi_made).expect("rows are adjacent")
                });
                // SAFETY: AVX512_BF16, AVX-512F and BW are present (`has_bf16`); the strip
                // holds the run's pairs' tiles of this depth block.
                unsafe { pair_rows_avx512(lo, hi, strip, pair_stride, r) };
            }
            return;
        }
        for group in (0..width).step_by(TILE_N) {
            // Each of the group's columns' depth block: B's column j from `first`.
            let mut depths: [&[f32]; TILE_N] = [&[]; TILE_N];
            let mut rest = &mut made[..];
            for (c, depths) in depths.iter_mut().enumerate() {
                let j = columns.start + group + c;
                if j >= columns.end {
                    break;
                }
                *depths = match b {
                    Operand::Matrix(v) => {
                        &v.column(j).expect("columns are adjacent")[first..first + depth]
                    }
                    Operand::PatchesT(p) => {
                        let (this, next) = std::mem::take(&mut rest).split_at_mut(depth);
                        p.segment(j, first, this);
                        rest = next;
                        this
                    }
                    Operand::Patches(_) => unreachable!("patches have rows"),
                };
            }
            // SAFETY: as above; each depth block holds `depth` values.
            unsafe { transpose_b_avx512(&depths, depth, strip, pair_stride, group) };
        }
        return;
    }
    let Operand::Matrix(b) = b else {
        unreachable!("patches go through the vector path (AMX implies AVX512_BF16)")
    };
    for q in 0..depth {
        for (j, column) in columns.clone().enumerate() {
            let h = to_bf16(b.at(first + q, column)) as u32;
            let slot = &mut strip[b_offset(pair_stride, q / 2, j)];
            // SAFETY: the block's tiles were zeroed above (`vector` is false here).
            let old = unsafe { slot.assume_init() };
            *slot = MaybeUninit::new(old | h << (16 * (q % 2)));
        }
    }
}

/// Row `i` of `b` over `columns` where B's rows are adjacent (patch rows made into `made`).
fn row_of<'r>(
    b: Operand<'r>,
    columns: &Range<usize>,
    i: usize,
    made: &'r mut [f32],
) -> Option<&'r [f32]> {
    match b {
        Operand::Matrix(v) => v.row(i).map(|row| &row[columns.clone()]),
        Operand::Patches(p) => {
            p.segment(i, columns.start, made);
            Some(made)
        }
        Operand::PatchesT(_) => None,
    }
}

/// Rows `lo` and `hi` (zeros where absent) of a depth block rounded to bf16 and written as
/// row `r` of the tiles of the run's pairs, pairs (lo[j], hi[j]): 16 columns an instruction
/// of each kind.
///
/// # Safety
/// The CPU must have AVX-512F, BW and BF16; `strip` holds the tiles of a pair for every 32
/// columns of `lo` (rounded up), `pair_stride` apart; `r` < 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn pair_rows_avx512(
    lo: &[f32],
    hi: Option<&[f32]>,
    strip: &mut [MaybeUninit<u32>],
    pair_stride: usize,
    r: usize,
) {
    use std::arch::x86_64::*;
    let n = lo.len();
    for j in (0..n).step_by(TILE_N) {
        let mask = mask16(n - j);
        let l = _mm512_maskz_loadu_ps(mask, lo.as_ptr().add(j));
        let h = match hi {
            Some(hi) => _mm512_maskz_loadu_ps(mask, hi.as_ptr().add(j)),
            None => _mm512_setzero_ps(),
        };
        let at = b_offset(pair_stride, r, j);
        _mm512_storeu_si512(strip.as_mut_ptr().add(at) as *mut __m512i, interleave(l, h));
    }
}

/// The B tiles' 16-column group `group` (from the run's first column) of a depth block, from
/// each column's `depth` values of the block (`depths`, empty past the last column): each
/// rounded as 16 u32 pairs, then the 16 x 16 transposed into the tiles' rows.
///
/// # Safety
/// The CPU must have AVX-512F, BW and BF16; every non-empty slice of `depths` holds `depth`
/// (at most 32) values; `strip` holds the run's tiles of this depth block.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn transpose_b_avx512(
    depths: &[&[f32]; TILE_N],
    depth: usize,
    strip: &mut [MaybeUninit<u32>],
    pair_stride: usize,
    group: usize,
) {
    use std::arch::x86_64::*;
    let (lo_mask, hi_mask) = (mask16(depth), mask16(depth.saturating_sub(16)));
    let mut pairs = [_mm512_setzero_si512(); 16];
    for (pair, column) in pairs.iter_mut().zip(depths) {
        if column.is_empty() {
            break;
        }
        let column = column.as_ptr();
        let lo = _mm512_maskz_loadu_ps(lo_mask, column);
        let hi = _mm512_maskz_loadu_ps(hi_mask, column.add(16.min(depth)));
        // u16 lane i holds depth i: u32 lane r the pair (2r, 2r + 1).
        *pair = std::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(hi, lo));
    }
    transpose16(&mut pairs);
    for (r, row) in pairs.iter().enumerate() {
        let at = b_offset(pair_stride, r, group);
        _mm512_storeu_si512(strip.as_mut_ptr().add(at) as *mut __m512i, *row);
    }
}

/// The 32 x 32 blocks of C for `bands` and `pairs` into `sums` (a row-major 32 x 32 block a
/// band of a pair, pair by pair, on 64-byte lines), pair by pair and depth chunk by chunk: each band's four accumulator tiles
/// (tmm0-3, back from `sums` after the first chunk) take the products of its two A tiles
/// (tmm4, tmm5) and the pair's two B tiles (tmm6, tmm7); the chunk's B tiles stay in L1 while
/// the bands go by.
///
/// # Safety
/// AMX must be granted; `rows` holds the A tiles of mp rows of `kp` bf16 (`bands` within
/// mp / 32), `tiles` the B tiles of the column pairs (`pairs` within them) over `kp`, and
/// `sums` 32 x 32 f32 for each band of each pair, its first on a 64-byte line.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
unsafe fn block_products(
    rows: &[u16],
    tiles: &[u32],
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
    for (p, pair) in pairs.enumerate() {
        for chunk in (0..blocks_k).step_by(CHUNK_K) {
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
                    let b0 = tiles
                        .as_ptr()
                        .add((pair * blocks_k + kb) * 2 * TILE_M * TILE_N);
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
    }
    asm!("tilerelease");
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
unsafe fn block_products(
    _: &[u16],
    _: &[u32],
    _: &mut [f32],
    _: usize,
    _: Range<usize>,
    _: Range<usize>,
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
    }

    #[test]
    fn patches_made_while_packing_equal_the_stored_patch_matrix() {
        if !available() {
            eprintln!("skipped: no AMX-BF16 here");
            return;
        }
        use crate::kernels::im2col::im2col;
        // Odd sizes: runs and depth blocks end inside a map row and inside a batch.
        for (dims @ (c, h, w, b), k, out) in [((5, 7, 6, 3), 3, 9), ((4, 9, 9, 8), 5, 40)] {
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
