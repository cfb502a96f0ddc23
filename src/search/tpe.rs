//! The tree-structured Parzen estimator, as Optuna's `TPESampler` runs it by default
//! (multivariate, constant liar): random draws for the first `startup` finished trials; then
//! the trials are split into the best `gamma(n)` ("below") and the rest ("above"), a Parzen
//! mixture is fitted to each (one kernel a trial plus a prior), `candidates` points are drawn
//! from the good mixture l(x), and the one with the largest l(x)/g(x) is suggested. Running
//! trials count as bad ones (the constant liar), so trials started side by side spread out.
//! The objective is maximised.

use super::space::{Domain, Point, Space};
use super::truncnorm;
use rand::Rng;

/// How a trial stands, for the sampler.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished with this value of the objective.
    Complete(f64),
    /// Stopped by a pruner after `step` with this value.
    Pruned {
        /// Its last evaluated step.
        step: usize,
        /// Its objective there.
        value: f64,
    },
    /// Still training (or waiting for the other seeds of its group).
    Running,
}

/// One earlier trial: where it was and how it did, in trial order.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Its settings as a point of the space.
    pub point: Point,
    /// How it stands.
    pub outcome: Outcome,
}

/// The sampler's settings (Optuna's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tpe {
    /// Finished trials drawn at random before the estimator takes over.
    pub startup: usize,
    /// Points drawn from l(x) to choose from.
    pub candidates: usize,
    /// Weight of the prior kernel in each mixture.
    pub prior_weight: f64,
}

impl Default for Tpe {
    fn default() -> Self {
        Tpe {
            startup: 10,
            candidates: 24,
            prior_weight: 1.0,
        }
    }
}

/// How many finished trials are "good": 10 %, at most 25.
pub fn gamma(finished: usize) -> usize {
    finished.div_ceil(10).min(25)
}

/// Weights of `n` kernels in trial order: equal up to 25, then older ones fade linearly.
pub fn kernel_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let first = 1.0 / n as f64;
    (0..ramp)
        .map(|i| match ramp {
            1 => first,
            _ => first + (1.0 - first) * i as f64 / (ramp - 1) as f64,
        })
        .chain(std::iter::repeat_n(1.0, 25))
        .collect()
}

impl Tpe {
    /// The next point to try, given every earlier trial (running ones included).
    pub fn suggest(&self, space: &Space, history: &[Observation], rng: &mut impl Rng) -> Point {
        let finished = history
            .iter()
            .filter(|o| o.outcome != Outcome::Running)
            .count();
        if finished < self.startup.max(1) || space.params.is_empty() {
            return space.random(rng);
        }
        let (below, above) = split(history, gamma(finished));
        let good = Parzen::new(space, &below, self.prior_weight);
        let bad = Parzen::new(space, &above, self.prior_weight);
        let mut best: Option<(f64, Point)> = None;
        for _ in 0..self.candidates.max(1) {
            let x = good.sample(rng);
            let score = good.log_pdf(&x) - bad.log_pdf(&x);
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((score, x));
            }
        }
        let (_, x) = best.expect("one candidate at least");
        space.round(&x)
    }
}

/// The good trials and the rest, each in trial order: complete trials best first, then
/// pruned ones that got furthest (then best), fill the good share; running trials are bad.
fn split(history: &[Observation], n_below: usize) -> (Vec<&Point>, Vec<&Point>) {
    let mut complete: Vec<(usize, f64)> = Vec::new();
    let mut pruned: Vec<(usize, usize, f64)> = Vec::new();
    for (i, o) in history.iter().enumerate() {
        match o.outcome {
            Outcome::Complete(v) => complete.push((i, v)),
            Outcome::Pruned { step, value } => pruned.push((i, step, value)),
            Outcome::Running => {}
        }
    }
    complete.sort_by(|a, b| b.1.total_cmp(&a.1));
    pruned.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.total_cmp(&a.2)));
    let good_complete = n_below.min(complete.len());
    let good_pruned = (n_below - good_complete).min(pruned.len());
    let mut good: Vec<usize> = complete[..good_complete]
        .iter()
        .map(|c| c.0)
        .chain(pruned[..good_pruned].iter().map(|p| p.0))
        .collect();
    good.sort_unstable();
    let below = good.iter().map(|&i| &history[i].point).collect();
    let above = history
        .iter()
        .enumerate()
        .filter(|(i, _)| good.binary_search(i).is_err())
        .map(|(_, o)| &o.point)
        .collect();
    (below, above)
}

/// One axis of a mixture: a truncated normal a kernel (in log space on log axes), or a
/// categorical distribution a kernel.
#[derive(Debug, Clone)]
enum Axis {
    Number {
        mus: Vec<f64>,
        sigmas: Vec<f64>,
        /// The range the kernels are truncated to (whole numbers widened by half a step).
        lo: f64,
        hi: f64,
        log: bool,
        int: bool,
        /// The range itself.
        range: (f64, f64),
    },
    Choice {
        probs: Vec<Vec<f64>>,
    },
}

/// A mixture of product kernels over the space: one a trial, plus the prior.
#[derive(Debug, Clone)]
pub(crate) struct Parzen {
    weights: Vec<f64>,
    axes: Vec<Axis>,
}

impl Parzen {
    /// The mixture of `points` (in trial order) and a prior of weight `prior_weight`.
    pub(crate) fn new(space: &Space, points: &[&Point], prior_weight: f64) -> Self {
        let n = points.len();
        let mut weights = kernel_weights(n);
        weights.push(if n == 0 { 1.0 } else { prior_weight });
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let axes = space
            .params
            .iter()
            .enumerate()
            .map(|(d, p)| match &p.domain {
                Domain::Number { lo, hi, log, int } => {
                    let widen = if *int { 0.5 } else { 0.0 };
                    let t = |v: f64| if *log { v.ln() } else { v };
                    let (low, high) = (t(lo - widen), t(hi + widen));
                    let mut mus: Vec<f64> = points.iter().map(|x| t(x[d])).collect();
                    let mut sigmas = bandwidths(&mus, low, high);
                    mus.push(0.5 * (low + high));
                    sigmas.push(high - low);
                    Axis::Number {
                        mus,
                        sigmas,
                        lo: low,
                        hi: high,
                        log: *log,
                        int: *int,
                        range: (*lo, *hi),
                    }
                }
                Domain::Choice(values) => {
                    let k = values.len();
                    if n == 0 {
                        return Axis::Choice {
                            probs: vec![vec![1.0 / k as f64; k]],
                        };
                    }
                    let kernels = n + 1;
                    let mut probs = vec![vec![prior_weight / kernels as f64; k]; kernels];
                    for (row, x) in probs.iter_mut().zip(points) {
                        row[x[d] as usize] += 1.0;
                    }
                    for row in probs.iter_mut() {
                        let sum: f64 = row.iter().sum();
                        if sum > 0.0 {
                            row.iter_mut().for_each(|p| *p /= sum);
                        }
                    }
                    Axis::Choice { probs }
                }
            })
            .collect();
        Parzen { weights, axes }
    }

    /// A draw: a kernel by weight, then each axis from that kernel.
    pub(crate) fn sample(&self, rng: &mut impl Rng) -> Point {
        let k = pick(&self.weights, rng);
        self.axes
            .iter()
            .map(|axis| match axis {
                Axis::Number {
                    mus,
                    sigmas,
                    lo,
                    hi,
                    log,
                    int,
                    range,
                } => {
                    let (mu, sigma) = (mus[k], sigmas[k]);
                    let z = truncnorm::sample((lo - mu) / sigma, (hi - mu) / sigma, rng);
                    let mut x = mu + sigma * z;
                    if *log {
                        x = x.exp();
                    }
                    if *int {
                        x = (range.0 + (x - range.0).round()).clamp(range.0, range.1);
                    }
                    x.clamp(range.0, range.1)
                }
                Axis::Choice { probs } => pick(&probs[k], rng) as f64,
            })
            .collect()
    }

    /// The log density (of whole numbers: the log mass of their step) at `x`.
    pub(crate) fn log_pdf(&self, x: &[f64]) -> f64 {
        let terms: Vec<f64> = (0..self.weights.len())
            .map(|k| {
                let mut sum = self.weights[k].ln();
                for (axis, &v) in self.axes.iter().zip(x) {
                    sum += match axis {
                        Axis::Number {
                            mus,
                            sigmas,
                            lo,
                            hi,
                            log,
                            int,
                            ..
                        } => {
                            let t = |v: f64| if *log { v.ln() } else { v };
                            let (mu, sigma) = (mus[k], sigmas[k]);
                            if *int {
                                let (l, r) = (t(v - 0.5), t(v + 0.5));
                                truncnorm::log_mass((l - mu) / sigma, (r - mu) / sigma)
                                    - truncnorm::log_mass((lo - mu) / sigma, (hi - mu) / sigma)
                            } else {
                                truncnorm::log_pdf(t(v), mu, sigma, *lo, *hi)
                            }
                        }
                        Axis::Choice { probs } => probs[k][v as usize].ln(),
                    };
                }
                sum
            })
            .collect();
        log_sum_exp(&terms)
    }
}

/// Each kernel's width: the larger gap to its sorted neighbours (the range's ends count as
/// neighbours, except that the outermost kernels take their inner gap), clipped to
/// [range / min(100, kernels + 1), range] (Optuna's "magic clip").
fn bandwidths(mus: &[f64], low: f64, high: f64) -> Vec<f64> {
    let n = mus.len();
    if n == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| mus[a].total_cmp(&mus[b]));
    let mut s = Vec::with_capacity(n + 2);
    s.push(low);
    s.extend(order.iter().map(|&i| mus[i]));
    s.push(high);
    let mut sorted: Vec<f64> = (0..n)
        .map(|i| (s[i + 1] - s[i]).max(s[i + 2] - s[i + 1]))
        .collect();
    if n >= 2 {
        sorted[0] = s[2] - s[1];
        sorted[n - 1] = s[n] - s[n - 1];
    }
    let max = high - low;
    let min = max / (100f64).min(1.0 + (n + 1) as f64);
    let mut sigmas = vec![0.0; n];
    for (rank, &i) in order.iter().enumerate() {
        sigmas[i] = sorted[rank].clamp(min, max);
    }
    sigmas
}

/// An index drawn with probability proportional to `weights`.
fn pick(weights: &[f64], rng: &mut impl Rng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random_range(0.0..1.0) * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

fn log_sum_exp(terms: &[f64]) -> f64 {
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::super::space::Param;
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn number(key: &str, lo: f64, hi: f64, log: bool) -> Param {
        Param {
            key: key.into(),
            domain: Domain::Number {
                lo,
                hi,
                log,
                int: false,
            },
        }
    }

    fn choice(key: &str, values: &[&str]) -> Param {
        Param {
            key: key.into(),
            domain: Domain::Choice(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    /// log lr and dropout with a known optimum (lr 3e-3, dropout 0.3), a categorical key that
    /// matters (`b` is worth 0.5) and one that does not.
    fn synthetic() -> (Space, impl Fn(&[f64]) -> f64) {
        let space = Space {
            params: vec![
                number("lr", 1e-4, 1e-1, true),
                number("dropout", 0.0, 0.9, false),
                choice("norm", &["a", "b", "c"]),
                choice("noise", &["x", "y", "z"]),
            ],
        };
        let f = |p: &[f64]| {
            let l = p[0].log10() + 2.5;
            let d = p[1] - 0.3;
            -l * l - 4.0 * d * d + if p[2] == 1.0 { 0.5 } else { 0.0 }
        };
        (space, f)
    }

    fn best_of(
        space: &Space,
        f: &impl Fn(&[f64]) -> f64,
        trials: usize,
        seed: u64,
        tpe: bool,
    ) -> (f64, Vec<Point>) {
        let mut history: Vec<Observation> = Vec::new();
        for t in 0..trials {
            let mut rng = SmallRng::seed_from_u64(seed * 1000 + t as u64);
            let point = if tpe {
                Tpe::default().suggest(space, &history, &mut rng)
            } else {
                space.random(&mut rng)
            };
            let value = f(&point);
            history.push(Observation {
                point,
                outcome: Outcome::Complete(value),
            });
        }
        let best = history
            .iter()
            .map(|o| match o.outcome {
                Outcome::Complete(v) => v,
                _ => f64::NEG_INFINITY,
            })
            .fold(f64::NEG_INFINITY, f64::max);
        (best, history.into_iter().map(|o| o.point).collect())
    }

    #[test]
    fn tpe_finds_better_settings_than_random_search() {
        let (space, f) = synthetic();
        let mut tpe: Vec<f64> = (0..20)
            .map(|s| best_of(&space, &f, 40, s, true).0)
            .collect();
        let mut random: Vec<f64> = (0..20)
            .map(|s| best_of(&space, &f, 40, s, false).0)
            .collect();
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            (v[9] + v[10]) / 2.0
        };
        let (t, r) = (median(&mut tpe), median(&mut random));
        assert!(t > r, "TPE's median best {t} is not above random's {r}");
        assert!(t > 0.4, "TPE's median best {t}: the optimum is 0.5");
    }

    #[test]
    fn the_same_seed_gives_the_same_trials() {
        let (space, f) = synthetic();
        assert_eq!(
            best_of(&space, &f, 25, 7, true).1,
            best_of(&space, &f, 25, 7, true).1
        );
        assert_ne!(
            best_of(&space, &f, 25, 7, true).1,
            best_of(&space, &f, 25, 8, true).1
        );
    }

    #[test]
    fn the_constant_liar_keeps_parallel_suggestions_apart() {
        let (space, f) = synthetic();
        let spread = |liar: bool| -> f64 {
            let mut total = 0.0;
            for seed in 0..20 {
                let (_, points) = best_of(&space, &f, 20, seed, false);
                let mut history: Vec<Observation> = points
                    .into_iter()
                    .map(|p| Observation {
                        outcome: Outcome::Complete(f(&p)),
                        point: p,
                    })
                    .collect();
                let mut batch: Vec<Point> = Vec::new();
                for k in 0..4 {
                    let mut rng = SmallRng::seed_from_u64(seed * 100 + k);
                    let p = Tpe::default().suggest(&space, &history, &mut rng);
                    if liar {
                        history.push(Observation {
                            point: p.clone(),
                            outcome: Outcome::Running,
                        });
                    }
                    batch.push(p);
                }
                // The smallest distance between two of the four, in log lr and dropout.
                let mut min = f64::INFINITY;
                for i in 0..4 {
                    for j in i + 1..4 {
                        let dl = (batch[i][0].log10() - batch[j][0].log10()) / 3.0;
                        let dd = (batch[i][1] - batch[j][1]) / 0.9;
                        min = min.min((dl * dl + dd * dd).sqrt());
                    }
                }
                total += min;
            }
            total / 20.0
        };
        let (with, without) = (spread(true), spread(false));
        assert!(
            with > without,
            "with the liar the nearest pair is {with}, without {without}"
        );
    }

    #[test]
    fn the_split_puts_the_best_tenth_below_and_running_trials_above() {
        let obs = |v: Option<f64>, i: f64| Observation {
            point: vec![i],
            outcome: v.map_or(Outcome::Running, Outcome::Complete),
        };
        let history: Vec<Observation> = (0..20)
            .map(|i| obs(Some(i as f64), i as f64))
            .chain([obs(None, 99.0)])
            .collect();
        let (below, above) = split(&history, gamma(20));
        assert_eq!(below, vec![&vec![18.0], &vec![19.0]]);
        assert_eq!(above.len(), 19);
        assert!(above.contains(&&vec![99.0]));
        assert_eq!(gamma(1000), 25);
        let w = kernel_weights(30);
        assert_eq!(w.len(), 30);
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-12 && w[4] == 1.0 && w[29] == 1.0);
    }

    #[test]
    fn the_mixture_matches_optunas_parzen_estimator() {
        // Optuna 5.0.0's `_ParzenEstimator` (multivariate, default weights, prior 1, magic
        // clip) over the same five trials gives these log densities.
        let whole = |lo: f64, hi: f64, log: bool| Domain::Number {
            lo,
            hi,
            log,
            int: true,
        };
        let space = Space {
            params: vec![
                number("lr", 1e-4, 1e-1, true),
                number("dropout", 0.0, 0.9, false),
                Param {
                    key: "b".into(),
                    domain: whole(1.0, 6.0, false),
                },
                Param {
                    key: "bl".into(),
                    domain: whole(16.0, 512.0, true),
                },
                choice("c", &["a", "b", "c"]),
            ],
        };
        let trials: Vec<Point> = vec![
            vec![1e-3, 0.1, 2.0, 32.0, 0.0],
            vec![3e-3, 0.5, 5.0, 100.0, 1.0],
            vec![2e-2, 0.2, 2.0, 500.0, 1.0],
            vec![1.5e-4, 0.85, 1.0, 16.0, 2.0],
            vec![5e-2, 0.3, 3.0, 64.0, 1.0],
        ];
        let refs: Vec<&Point> = trials.iter().collect();
        let p = Parzen::new(&space, &refs, 1.0);
        for (x, optuna) in [
            (vec![2e-3, 0.3, 2.0, 50.0, 1.0], -9.075_629_86),
            (vec![1e-4, 0.0, 6.0, 512.0, 0.0], -14.236_255),
            (vec![0.09, 0.89, 4.0, 17.0, 2.0], -10.689_216_27),
        ] {
            let ours = p.log_pdf(&x);
            assert!((ours - optuna).abs() < 1e-6, "{x:?}: {ours} vs {optuna}");
        }
        let prior = Parzen::new(&space, &[], 1.0).log_pdf(&[2e-3, 0.3, 2.0, 50.0, 1.0]);
        assert!((prior - -9.780_134_4).abs() < 1e-6, "{prior}");
    }

    #[test]
    fn the_mixture_is_a_density_and_whole_numbers_are_masses() {
        let space = Space {
            params: vec![Param {
                key: "batch_size".into(),
                domain: Domain::Number {
                    lo: 1.0,
                    hi: 6.0,
                    log: false,
                    int: true,
                },
            }],
        };
        let pts = [vec![2.0], vec![3.0]];
        let refs: Vec<&Point> = pts.iter().collect();
        let p = Parzen::new(&space, &refs, 1.0);
        let total: f64 = (1..=6).map(|v| p.log_pdf(&[v as f64]).exp()).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        let mut rng = SmallRng::seed_from_u64(1);
        for _ in 0..200 {
            let x = p.sample(&mut rng)[0];
            assert!(x.fract() == 0.0 && (1.0..=6.0).contains(&x));
        }
        let space = Space {
            params: vec![number("lr", 1e-4, 1e-1, true)],
        };
        let p = Parzen::new(&space, &[&vec![1e-3]], 1.0);
        // A density in log space: it integrates to 1 over ln(lr).
        let (a, b) = (1e-4f64.ln(), 1e-1f64.ln());
        let n = 20_000;
        let h = (b - a) / n as f64;
        let total: f64 = (0..n)
            .map(|i| p.log_pdf(&[(a + (i as f64 + 0.5) * h).exp()]).exp() * h)
            .sum();
        assert!((total - 1.0).abs() < 1e-4, "{total}");
    }
}
