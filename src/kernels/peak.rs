//! The machine's limit: the f32 multiply-add rate a core reaches at an instruction-set level
//! (independent fused multiply-adds on registers, enough chains to hide their latency), on
//! every thread of the pool at once, and the bf16 dot-product rate (AVX512_BF16's VDPBF16PS,
//! two bf16 products summed into each f32 lane) where the CPU has it. `gradboard bench` sets a
//! step's rate against them.

use super::simd::Level;
use rayon::prelude::*;
use std::time::Instant;

/// Independent accumulators a thread keeps (latency 4 x 2 ports, with room).
const CHAINS: usize = 12;
/// Multiply-adds a chain does per timing.
const ROUNDS: usize = 20_000_000;

/// GFLOP/s (a multiply-add counts two) of `threads` threads at `level`, each running
/// `CHAINS` independent multiply-add chains: the best of three timings.
pub fn fma_peak(level: Level, threads: usize) -> f64 {
    let flops = 2.0 * (lanes(level) * CHAINS * ROUNDS / 8) as f64;
    best_rate(threads, flops, || chains(level, ROUNDS / 8))
}

/// GFLOP/s of `threads` threads each running `work` (`flops_each` a thread at once): the
/// best of three timings.
fn best_rate(threads: usize, flops_each: f64, work: impl Fn() -> f32 + Sync) -> f64 {
    let threads = threads.max(1);
    (0..3)
        .map(|_| {
            let start = Instant::now();
            (0..threads).into_par_iter().for_each(|_| {
                std::hint::black_box(work());
            });
            flops_each * threads as f64 / start.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max)
}

/// GFLOP/s (a multiply-add counts two) of `threads` threads each running `CHAINS`
/// independent VDPBF16PS chains (32 bf16 multiply-adds an instruction into 16 f32 lanes): the
/// best of three timings; `None` where the CPU lacks AVX512_BF16 (or it is capped off).
pub fn bf16_peak(threads: usize) -> Option<f64> {
    if !has_bf16() {
        return None;
    }
    let flops = 2.0 * (32 * CHAINS * ROUNDS / 16) as f64;
    Some(best_rate(threads, flops, || bf16_chains(ROUNDS / 16)))
}

/// GFLOP/s of `threads` threads each running two independent AMX TDPBF16PS chains (bf16
/// tiles, f32 accumulators): the best of three timings; `None` where AMX-BF16 is absent or
/// not granted.
pub fn amx_bf16_peak(threads: usize) -> Option<f64> {
    if !super::amx::available() {
        return None;
    }
    // Two tile products a round: 16,384 multiply-adds.
    let rounds = ROUNDS / 200;
    let flops = 2.0 * (2 * super::amx::MACS_PER_TILE_PRODUCT * rounds) as f64;
    Some(best_rate(threads, flops, || {
        super::amx::tile_products(rounds)
    }))
}

/// Whether the CPU has AVX512_BF16 and the level allows AVX-512.
pub fn has_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        Level::detected().avx512() && std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn bf16_chains(rounds: usize) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: only called after `has_bf16`.
        unsafe { avx512_bf16(rounds) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = rounds;
        0.0
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn avx512_bf16(rounds: usize) -> f32 {
    use std::arch::x86_64::*;
    let half = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5), _mm512_set1_ps(0.5));
    let mut acc = [_mm512_set1_ps(1.0); CHAINS];
    for _ in 0..rounds {
        for a in acc.iter_mut() {
            *a = _mm512_dpbf16_ps(*a, half, half);
        }
    }
    let mut sum = _mm512_setzero_ps();
    for a in acc {
        sum = _mm512_add_ps(sum, a);
    }
    _mm512_reduce_add_ps(sum)
}

/// f32 lanes of a register at `level`.
pub fn lanes(level: Level) -> usize {
    if level.avx512() {
        16
    } else if level.avx2() {
        8
    } else {
        4
    }
}

/// `rounds` multiply-adds on each of `CHAINS` registers at `level`; returns a value that
/// depends on all of them (so none is optimised away).
fn chains(level: Level, rounds: usize) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if level.avx512() {
            // SAFETY: `level` says the CPU has AVX-512F.
            return unsafe { avx512(rounds) };
        }
        if level.avx2() {
            // SAFETY: `level` says the CPU has AVX2 and FMA.
            return unsafe { avx2(rounds) };
        }
        // SAFETY: SSE2 is baseline x86-64.
        unsafe { sse(rounds) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = level;
        let mut acc = [1.0f32; CHAINS];
        for _ in 0..rounds {
            for a in acc.iter_mut() {
                *a = a.mul_add(0.999_999, 1e-7);
            }
        }
        acc.iter().sum()
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512(rounds: usize) -> f32 {
    use std::arch::x86_64::*;
    let mul = _mm512_set1_ps(0.999_999);
    let add = _mm512_set1_ps(1e-7);
    let mut acc = [_mm512_set1_ps(1.0); CHAINS];
    for _ in 0..rounds {
        for a in acc.iter_mut() {
            *a = _mm512_fmadd_ps(*a, mul, add);
        }
    }
    let mut sum = _mm512_setzero_ps();
    for a in acc {
        sum = _mm512_add_ps(sum, a);
    }
    _mm512_reduce_add_ps(sum)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2(rounds: usize) -> f32 {
    use std::arch::x86_64::*;
    let mul = _mm256_set1_ps(0.999_999);
    let add = _mm256_set1_ps(1e-7);
    let mut acc = [_mm256_set1_ps(1.0); CHAINS];
    for _ in 0..rounds {
        for a in acc.iter_mut() {
            *a = _mm256_fmadd_ps(*a, mul, add);
        }
    }
    let mut out = [0.0f32; 8];
    let mut sum = _mm256_setzero_ps();
    for a in acc {
        sum = _mm256_add_ps(sum, a);
    }
    _mm256_storeu_ps(out.as_mut_ptr(), sum);
    out.iter().sum()
}

/// SSE has no fused multiply-add: a multiply and an add, two flops all the same.
#[cfg(target_arch = "x86_64")]
unsafe fn sse(rounds: usize) -> f32 {
    use std::arch::x86_64::*;
    let mul = _mm_set1_ps(0.999_999);
    let add = _mm_set1_ps(1e-7);
    let mut acc = [_mm_set1_ps(1.0); CHAINS];
    for _ in 0..rounds {
        for a in acc.iter_mut() {
            *a = _mm_add_ps(_mm_mul_ps(*a, mul), add);
        }
    }
    let mut out = [0.0f32; 4];
    let mut sum = _mm_setzero_ps();
    for a in acc {
        sum = _mm_add_ps(sum, a);
    }
    _mm_storeu_ps(out.as_mut_ptr(), sum);
    out.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bf16_rate_is_measured_exactly_where_the_cpu_has_avx512_bf16() {
        match bf16_peak(1) {
            Some(rate) => {
                assert!(has_bf16());
                assert!(rate.is_finite() && rate > 0.1, "{rate} GFLOP/s");
            }
            None => assert!(!has_bf16()),
        }
        // Each VDPBF16PS adds 32 products of halves into 16 lanes starting at 1: the chains'
        // sum is exact, so the instruction did what the count assumes.
        if has_bf16() {
            let rounds = 1000;
            let lanes_sum = 16.0 * CHAINS as f32 * (1.0 + 0.5 * rounds as f32);
            assert_eq!(bf16_chains(rounds), lanes_sum);
        }
    }

    #[test]
    fn every_level_measures_a_rate_and_wider_registers_do_not_measure_slower() {
        // AVX2's fused multiply-adds on eight lanes beat SSE's multiply and add on four; an
        // AVX-512 core may split its sixteen lanes over the same ports (Zen 4 does), so it is
        // only held to not being slower.
        let ordered = |rates: &[(Level, f64)]| match rates {
            [base, avx2, rest @ ..] => {
                avx2.1 > 1.3 * base.1 && rest.first().is_none_or(|avx512| avx512.1 > 0.8 * avx2.1)
            }
            _ => true,
        };
        // Timings on a machine that other tests share: a level timed while another test held
        // the core is measured again, up to three times.
        let mut rates = Vec::new();
        for _ in 0..3 {
            rates = Level::available()
                .into_iter()
                .map(|l| (l, fma_peak(l, 1)))
                .collect();
            for (l, r) in &rates {
                assert!(r.is_finite() && *r > 0.1, "{}: {r} GFLOP/s", l.name());
            }
            if ordered(&rates) {
                return;
            }
        }
        panic!("wider registers measured slower three times: {rates:?}");
    }
}
