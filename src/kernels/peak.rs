//! The machine's limit: the f32 multiply-add rate a core reaches at an instruction-set level
//! (independent fused multiply-adds on registers, enough chains to hide their latency), on
//! every thread of the pool at once. `gradboard bench` sets a step's rate against it.

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
    let threads = threads.max(1);
    let per_thread = |_| -> f64 {
        let start = Instant::now();
        let sink = chains(level, ROUNDS / 8);
        std::hint::black_box(sink);
        start.elapsed().as_secs_f64()
    };
    (0..3)
        .map(|_| {
            let start = Instant::now();
            let _: Vec<f64> = (0..threads).into_par_iter().map(per_thread).collect();
            let seconds = start.elapsed().as_secs_f64();
            let flops = 2.0 * (lanes(level) * CHAINS * ROUNDS / 8 * threads) as f64;
            flops / seconds / 1e9
        })
        .fold(0.0, f64::max)
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
    fn every_level_measures_a_rate_and_wider_registers_do_not_measure_slower() {
        let rates: Vec<(Level, f64)> = Level::available()
            .into_iter()
            .map(|l| (l, fma_peak(l, 1)))
            .collect();
        for (l, r) in &rates {
            assert!(r.is_finite() && *r > 0.1, "{}: {r} GFLOP/s", l.name());
        }
        // AVX2's fused multiply-adds on eight lanes beat SSE's multiply and add on four; an
        // AVX-512 core may split its sixteen lanes over the same ports (Zen 4 does), so it is
        // only held to not being slower.
        if let [base, avx2, rest @ ..] = rates.as_slice() {
            assert!(avx2.1 > 1.3 * base.1, "{rates:?}");
            if let Some(avx512) = rest.first() {
                assert!(avx512.1 > 0.8 * avx2.1, "{rates:?}");
            }
        }
    }
}
