//! The standard normal distribution truncated to [a, b]: its log probability mass, log density
//! and draws, accurate in the tails (masses are taken in the lower tail, where erfc keeps its
//! digits).

use rand::Rng;
use std::f64::consts::{PI, SQRT_2};

/// log Φ(x), the log of the standard normal's distribution function.
pub fn log_ndtr(x: f64) -> f64 {
    if x > 6.0 {
        // Φ(x) = 1 - Φ(-x), and Φ(-x) is tiny.
        return (-0.5 * libm::erfc(x / SQRT_2)).ln_1p();
    }
    if x > -20.0 {
        return (0.5 * libm::erfc(-x / SQRT_2)).ln();
    }
    // Asymptotic series of the lower tail: Φ(x) ≈ φ(x)/(-x) (1 - 1/x² + 3/x⁴).
    let x2 = x * x;
    -0.5 * x2 - (-x).ln() - 0.5 * (2.0 * PI).ln() + (1.0 - 1.0 / x2 + 3.0 / (x2 * x2)).ln()
}

/// log(Φ(b) - Φ(a)) for a < b: the log mass of [a, b].
pub fn log_mass(a: f64, b: f64) -> f64 {
    if a >= b {
        return f64::NEG_INFINITY;
    }
    if a > 0.0 {
        // By symmetry, in the lower tail.
        return log_mass(-b, -a);
    }
    if b <= 0.0 {
        let (la, lb) = (log_ndtr(a), log_ndtr(b));
        return lb + (-(la - lb).exp()).ln_1p();
    }
    // a <= 0 < b: one minus the two tails.
    (-(0.5 * libm::erfc(-a / SQRT_2)) - 0.5 * libm::erfc(b / SQRT_2)).ln_1p()
}

/// Log density at `x` of the normal (mu, sigma) truncated to [lo, hi].
pub fn log_pdf(x: f64, mu: f64, sigma: f64, lo: f64, hi: f64) -> f64 {
    if x < lo || x > hi {
        return f64::NEG_INFINITY;
    }
    let z = (x - mu) / sigma;
    -0.5 * z * z
        - 0.5 * (2.0 * PI).ln()
        - sigma.ln()
        - log_mass((lo - mu) / sigma, (hi - mu) / sigma)
}

/// The standard normal's quantile function (Acklam's approximation, refined by one Halley
/// step).
fn ppf(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    const P_LOW: f64 = 0.02425;
    let x = if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    };
    let e = 0.5 * libm::erfc(-x / SQRT_2) - p;
    let u = e * (2.0 * PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// A draw of the standard normal truncated to [a, b].
pub fn sample(a: f64, b: f64, rng: &mut impl Rng) -> f64 {
    if a > 0.0 {
        return -sample(-b, -a, rng);
    }
    let (pa, pb) = (0.5 * libm::erfc(-a / SQRT_2), 0.5 * libm::erfc(-b / SQRT_2));
    if pb <= pa {
        // Both ends beyond the reach of doubles: the interval's nearer end.
        return b;
    }
    let u: f64 = rng.random_range(0.0..1.0);
    ppf(pa + u * (pb - pa)).clamp(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    #[test]
    fn masses_match_known_values_and_stay_finite_in_the_tails() {
        // Φ(1) - Φ(-1) = 0.682689492...
        assert!((log_mass(-1.0, 1.0).exp() - 0.682_689_492_137).abs() < 1e-9);
        assert!((log_mass(0.0, f64::INFINITY).exp() - 0.5).abs() < 1e-12);
        assert!((log_mass(1.0, 2.0) - log_mass(-2.0, -1.0)).abs() < 1e-12);
        let deep = log_mass(-40.0, -39.0);
        assert!(deep.is_finite() && deep < -700.0, "{deep}");
        assert!(
            (log_ndtr(-30.0) - (-454.321_174_97)).abs() < 1e-3,
            "{}",
            log_ndtr(-30.0)
        );
    }

    #[test]
    fn the_quantile_function_inverts_the_distribution_function() {
        for p in [1e-10, 0.001, 0.02, 0.3, 0.5, 0.9, 0.999] {
            let x = ppf(p);
            let back = 0.5 * libm::erfc(-x / SQRT_2);
            assert!((back - p).abs() / p < 1e-9, "p {p}: x {x} gives {back}");
        }
    }

    #[test]
    fn draws_stay_inside_and_follow_the_density() {
        let mut rng = SmallRng::seed_from_u64(3);
        let draws: Vec<f64> = (0..20_000).map(|_| sample(0.5, 3.0, &mut rng)).collect();
        assert!(draws.iter().all(|x| (0.5..=3.0).contains(x)));
        // The mean of N(0,1) truncated to [0.5, 3]: (φ(a) - φ(b)) / (Φ(b) - Φ(a)).
        let phi = |x: f64| (-0.5 * x * x).exp() / (2.0 * PI).sqrt();
        let expected = (phi(0.5) - phi(3.0)) / log_mass(0.5, 3.0).exp();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - expected).abs() < 0.01, "{mean} vs {expected}");
        assert!(sample(8.0, 9.0, &mut rng) >= 8.0);
    }

    #[test]
    fn the_density_integrates_to_one() {
        let (mu, sigma, lo, hi) = (0.3, 0.7, -1.0, 2.0);
        let n = 100_000;
        let h = (hi - lo) / n as f64;
        let total: f64 = (0..n)
            .map(|i| log_pdf(lo + (i as f64 + 0.5) * h, mu, sigma, lo, hi).exp() * h)
            .sum();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
    }
}
