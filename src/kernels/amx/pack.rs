//! Packing a product's operands into AMX tiles: each value rounded to bf16 once, A as 16 x 32
//! tiles a band (32 rows) at a time, B as VNNI pairs of depth rows, 32 columns a pair, on
//! 64-byte lines; from matrices, from convolution patches made as they are packed, and from
//! kernels turned half a turn.

use super::{to_bf16, Left, Operand, Turned, TILE_K, TILE_M, TILE_N};
use crate::kernels::gemm::View;
use crate::kernels::im2col::PatchRow;
use crate::kernels::peak::has_bf16;
use std::mem::MaybeUninit;
use std::ops::Range;

/// Values whose first lies on a 64-byte line: a tile row (64 bytes) that straddles two lines
/// loads at about a quarter of the rate (measured: 1.3 against 5.4 TFLOP/s on one core of this
/// machine's Sapphire Rapids class CPU), and the allocator only promises 16 bytes. Left
/// unwritten (a zeroing pass over every packed operand measured 5 % of a bf16 step): the
/// packers write every value, zeros at the edges.
pub(super) struct Aligned<T> {
    buffer: Vec<MaybeUninit<T>>,
    first: usize,
    len: usize,
}

impl<T> Aligned<T> {
    pub(super) fn unwritten(len: usize) -> Self {
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

    pub(super) fn slots(&mut self) -> &mut [MaybeUninit<T>] {
        &mut self.buffer[self.first..self.first + self.len]
    }

    /// The values, every one written.
    ///
    /// # Safety
    /// Every slot must have been written.
    pub(super) unsafe fn values(&self) -> &[T] {
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
pub(super) fn a_offset(kb: usize, r: usize) -> usize {
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
pub(super) fn pack_rows(a: Left, mp: usize, kp: usize) -> Aligned<u16> {
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
            if has_bf16() {
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
            let tiled = crate::kernels::uninit::filled(tiled, 0);
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
        let hi = _mm512_maskz_loadu_ps(hi_mask, row.as_ptr().add((at + 16).min(k)));
        let both = std::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(hi, lo));
        let dst = &mut tiled[a_offset(kb, r)..][..TILE_K];
        _mm512_storeu_si512(dst.as_mut_ptr() as *mut __m512i, both);
    }
}

/// The low `n` (at most 16) lanes of a 16-lane mask.
pub(super) fn mask16(n: usize) -> u16 {
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
pub(super) unsafe fn interleave(
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
pub(super) unsafe fn transpose16(rows: &mut [std::arch::x86_64::__m512i; 16]) {
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
pub(super) fn pack_tiles(b: Operand, kp: usize, np: usize) -> Aligned<u32> {
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
    let patch_rows = match b {
        Operand::Patches(p) | Operand::PatchesT(p) => p.rows(),
        Operand::Matrix(_) => Vec::new(),
    };
    tiles
        .slots()
        .par_chunks_mut(per_run * pair_stride)
        .enumerate()
        .for_each(|(run, strips)| {
            let first_j = run * per_run * 2 * TILE_N;
            let columns = first_j..(first_j + per_run * 2 * TILE_N).min(n);
            for kb in 0..k.div_ceil(TILE_K).max(1) {
                let strip = &mut strips[kb * 2 * TILE_M * TILE_N..];
                pack_block(
                    b,
                    &patch_rows,
                    strip,
                    pair_stride,
                    kb * TILE_K,
                    columns.clone(),
                );
            }
        });
    tiles
}

/// One depth block (rows `first`.. of `b`, 32 or up to k) of the columns `columns` into the B
/// tiles at `strip` (`b_offset` with `pair_stride`, from the run's first pair); `patch_rows`
/// says where each row of patches reads the maps (patch operands only).
fn pack_block(
    b: Operand,
    patch_rows: &[PatchRow],
    strip: &mut [MaybeUninit<u32>],
    pair_stride: usize,
    first: usize,
    columns: Range<usize>,
) {
    let depth = b.height().saturating_sub(first).min(TILE_K);
    let pairs = columns.len().div_ceil(2 * TILE_N);
    let vector = cfg!(target_arch = "x86_64")
        && has_bf16()
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
        match b {
            Operand::Matrix(v) if v.row(first).is_some() => {
                for r in 0..depth.div_ceil(2) {
                    let row = |i| &v.row(i).expect("rows are adjacent")[columns.clone()];
                    let hi = (2 * r + 1 < depth).then(|| row(first + 2 * r + 1));
                    // SAFETY: AVX512_BF16, AVX-512F and BW are present (`has_bf16`); the
                    // strip holds the run's pairs' tiles of this depth block.
                    unsafe { pair_rows_avx512(row(first + 2 * r), hi, strip, pair_stride, r) };
                }
            }
            Operand::Patches(_) => {
                for r in 0..depth.div_ceil(2) {
                    let lo = &patch_rows[first + 2 * r];
                    let hi = patch_rows
                        .get(first + 2 * r + 1)
                        .filter(|_| 2 * r + 1 < depth);
                    // SAFETY: as above.
                    unsafe {
                        patch_pair_rows_avx512(lo, hi, columns.clone(), strip, pair_stride, r)
                    };
                }
            }
            Operand::Matrix(v) => {
                for group in (0..width).step_by(TILE_N) {
                    // Each of the group's columns' depth block: B's column j from `first`.
                    let mut depths: [&[f32]; TILE_N] = [&[]; TILE_N];
                    let group_columns = columns.start + group..(columns.start + group + TILE_N);
                    for (depths, j) in depths.iter_mut().zip(group_columns.take(width - group)) {
                        *depths = &v.column(j).expect("columns are adjacent")[first..first + depth];
                    }
                    // SAFETY: as above; each depth block holds `depth` values.
                    unsafe { transpose_b_avx512(&depths, depth, strip, pair_stride, group) };
                }
            }
            Operand::PatchesT(_) => {
                for group in (0..width).step_by(TILE_N) {
                    let rows = &patch_rows
                        [columns.start + group..columns.end.min(columns.start + group + TILE_N)];
                    // SAFETY: as above.
                    unsafe {
                        transpose_patches_avx512(rows, first, depth, strip, pair_stride, group)
                    };
                }
            }
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

/// `n` (at most 16) values of a patch row (`PatchRow`) from column `at`, which lies at offset
/// `x` of image row `y`, zeros past `n`: one masked load from the maps (a macro, as a
/// function it was not inlined into its AVX-512 callers). The caller must have AVX-512F.
#[cfg(target_arch = "x86_64")]
macro_rules! patch_values {
    ($row:expr, $position:expr, $n:expr) => {{
        let (at, y, x): (usize, usize, usize) = $position;
        match $row.window(y, x, $n) {
            // SAFETY: the mask's lanes lie in the maps.
            Some((mask, first)) => _mm512_maskz_loadu_ps(mask, first),
            None => _mm512_loadu_ps(values_across_rows($row, at, $n).as_ptr()),
        }
    }};
}

/// `n` values of a patch row from column `at` one at a time (they cross an image row).
#[cold]
fn values_across_rows(row: &PatchRow, at: usize, n: usize) -> [f32; TILE_N] {
    let mut v = [0f32; TILE_N];
    for (i, v) in v.iter_mut().take(n).enumerate() {
        *v = row.at(at + i);
    }
    v
}

/// Patch rows `lo` and `hi` (zeros where absent) over `columns`, rounded to bf16 and written as
/// row `r` of the tiles of the run's pairs, read from the maps (no patch row is made).
///
/// # Safety
/// As `pair_rows_avx512`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn patch_pair_rows_avx512(
    lo: &PatchRow,
    hi: Option<&PatchRow>,
    columns: Range<usize>,
    strip: &mut [MaybeUninit<u32>],
    pair_stride: usize,
    r: usize,
) {
    use std::arch::x86_64::*;
    let span = lo.span;
    let (mut y, mut x) = (columns.start / span, columns.start % span);
    for j in (0..columns.len()).step_by(TILE_N) {
        let (n, at) = ((columns.len() - j).min(TILE_N), columns.start + j);
        let l = patch_values!(lo, (at, y, x), n);
        let h = match hi {
            Some(hi) => patch_values!(hi, (at, y, x), n),
            None => _mm512_setzero_ps(),
        };
        let to = b_offset(pair_stride, r, j);
        _mm512_storeu_si512(strip.as_mut_ptr().add(to) as *mut __m512i, interleave(l, h));
        x += TILE_N;
        while x >= span {
            (x, y) = (x - span, y + 1);
        }
    }
}

/// The B tiles' 16-column group `group` of a depth block of patches transposed: column c is
/// patch row `rows[c]` (none past its end) over patch columns `first..first + depth`, each
/// rounded as 16 u32 pairs, then the 16 x 16 transposed into the tiles' rows.
///
/// # Safety
/// As `transpose_b_avx512`; `depth` is at most 32.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn transpose_patches_avx512(
    rows: &[PatchRow],
    first: usize,
    depth: usize,
    strip: &mut [MaybeUninit<u32>],
    pair_stride: usize,
    group: usize,
) {
    use std::arch::x86_64::*;
    let Some(span) = rows.first().map(|row| row.span) else {
        return;
    };
    let second = first + 16;
    let lo_at = (first, first / span, first % span);
    let hi_at = (second, second / span, second % span);
    let mut pairs = [_mm512_setzero_si512(); 16];
    for (pair, row) in pairs.iter_mut().zip(rows) {
        let lo = patch_values!(row, lo_at, depth.min(16));
        let hi = match depth > 16 {
            true => patch_values!(row, hi_at, depth - 16),
            false => _mm512_setzero_ps(),
        };
        // u16 lane i holds depth i: u32 lane r the pair (2r, 2r + 1).
        *pair = std::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(hi, lo));
    }
    transpose16(&mut pairs);
    for (r, row) in pairs.iter().enumerate() {
        let at = b_offset(pair_stride, r, group);
        _mm512_storeu_si512(strip.as_mut_ptr().add(at) as *mut __m512i, *row);
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
