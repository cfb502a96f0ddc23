//! What mattered: hyperparameter importance by PED-ANOVA (Optuna's default evaluator,
//! `PedAnovaImportanceEvaluator` with its defaults). For each key, the Parzen estimate of its
//! values among the best 10 % of the trials is compared with its estimate among all of them
//! (both on a grid of 50 cells, Scott's bandwidth, a prior kernel); the Pearson divergence
//! between the two is the key's importance. Shares are normalised to sum to 1 (equal when
//! nothing can be told apart). The objective is maximised.

use super::space::{Domain, Space};
use super::truncnorm;

/// Cells of a number axis's grid.
const GRID: usize = 50;
/// Share of the trials that counts as "the best".
const TARGET_QUANTILE: f64 = 0.1;
/// Weight of the prior kernel.
const PRIOR_WEIGHT: f64 = 1.0;

/// Each axis's share of the importance, in the space's order, summing to 1; from the
/// finished trials' points and figures.
pub fn ped_anova(space: &Space, trials: &[(Vec<f64>, f64)]) -> Vec<f64> {
    let n = space.params.len();
    if n == 0 {
        return Vec::new();
    }
    let equal = vec![1.0 / n as f64; n];
    if trials.len() <= 1 {
        return equal;
    }
    // The best 10 %: every trial at least as good as the ceil(10 %)-th best.
    let mut values: Vec<f64> = trials.iter().map(|t| t.1).collect();
    values.sort_by(|a, b| b.total_cmp(a));
    let cutoff = values[(TARGET_QUANTILE * trials.len() as f64).ceil() as usize - 1];
    let top: Vec<&(Vec<f64>, f64)> = trials.iter().filter(|t| t.1 >= cutoff).collect();
    let all: Vec<&(Vec<f64>, f64)> = trials.iter().collect();
    let quantile = top.len() as f64 / all.len() as f64;
    let raw: Vec<f64> = (0..n)
        .map(|d| {
            let top = grid_pdf(&space.params[d].domain, &top, d);
            let all = grid_pdf(&space.params[d].domain, &all, d);
            let divergence: f64 = top
                .iter()
                .zip(&all)
                .map(|(t, l)| {
                    let (t, l) = (t + 1e-12, l + 1e-12);
                    l * (t / l - 1.0).powi(2)
                })
                .sum();
            quantile * quantile * divergence
        })
        .collect();
    let sum: f64 = raw.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        raw.iter().map(|r| r / sum).collect()
    } else {
        equal
    }
}

/// The Parzen estimate of axis `d`'s values over `trials`, on the axis's grid.
fn grid_pdf(domain: &Domain, trials: &[&(Vec<f64>, f64)], d: usize) -> Vec<f64> {
    match domain {
        Domain::Choice(values) => {
            let mut counts = vec![0.0; values.len()];
            for t in trials {
                counts[t.0[d] as usize] += 1.0;
            }
            categorical_pdf(&counts)
        }
        Domain::Number { lo, hi, log, int } => {
            let cells = match (int, log) {
                (true, true) => ((hi - lo + 1.0).log2().ceil() as usize + 1).min(GRID),
                (true, false) => ((hi - lo).round() as usize + 1).min(GRID),
                _ => GRID,
            };
            let t = |v: f64| if *log { v.ln() } else { v };
            let (low, high) = (t(*lo), t(*hi));
            let mut counts = vec![0.0; cells];
            if cells < 2 || high <= low {
                return vec![1.0; cells.max(1)];
            }
            let step = (high - low) / (cells - 1) as f64;
            for tr in trials {
                let i = ((t(tr.0[d]) - low) / step - 0.5).ceil();
                counts[(i.max(0.0) as usize).min(cells - 1)] += 1.0;
            }
            numerical_pdf(&counts)
        }
    }
}

/// Mixture weights: each observed cell by its count, and the prior.
fn mixture_weights(counts: &[f64], observed: &[usize]) -> Vec<f64> {
    let mut w: Vec<f64> = observed.iter().map(|&i| counts[i]).collect();
    w.push(if observed.is_empty() {
        1.0
    } else {
        PRIOR_WEIGHT
    });
    let total: f64 = w.iter().sum();
    w.iter().map(|x| x / total).collect()
}

/// Choices: a kernel an observed choice (its mass plus the prior's share spread evenly).
fn categorical_pdf(counts: &[f64]) -> Vec<f64> {
    let k = counts.len();
    let observed: Vec<usize> = (0..k).filter(|&i| counts[i] > 0.0).collect();
    let weights = mixture_weights(counts, &observed);
    if observed.is_empty() {
        return vec![1.0 / k as f64; k];
    }
    let kernels = observed.len() + 1;
    let row = |at: Option<usize>| -> Vec<f64> {
        let mut r = vec![PRIOR_WEIGHT / kernels as f64; k];
        if let Some(i) = at {
            r[i] += 1.0;
        }
        let s: f64 = r.iter().sum();
        r.iter().map(|p| p / s).collect()
    };
    let rows: Vec<Vec<f64>> = observed
        .iter()
        .map(|&i| row(Some(i)))
        .chain([row(None)])
        .collect();
    (0..k)
        .map(|c| rows.iter().zip(&weights).map(|(r, w)| w * r[c]).sum())
        .collect()
}

/// Grid cells: discrete truncated normals with Scott's bandwidth at the observed cells, and a
/// wide prior at the middle.
fn numerical_pdf(counts: &[f64]) -> Vec<f64> {
    let cells = counts.len();
    let observed: Vec<usize> = (0..cells).filter(|&i| counts[i] > 0.0).collect();
    let weights = mixture_weights(counts, &observed);
    let (low, high) = (0.0, (cells - 1) as f64);
    let obs: Vec<f64> = observed.iter().map(|&i| i as f64).collect();
    let w: Vec<f64> = observed.iter().map(|&i| counts[i]).collect();
    let mut mus = obs.clone();
    let mut sigmas = Vec::new();
    if !obs.is_empty() {
        let wsum: f64 = w.iter().sum();
        let mean = obs.iter().zip(&w).map(|(o, w)| o * w).sum::<f64>() / wsum;
        let var = obs
            .iter()
            .zip(&w)
            .map(|(o, w)| (o - mean).powi(2) * w)
            .sum::<f64>()
            / (wsum - 1.0).max(1.0);
        let mut cum = Vec::with_capacity(w.len());
        let mut acc = 0.0;
        for x in &w {
            acc += x;
            cum.push(acc);
        }
        let q1_target = (wsum / 4.0).floor();
        let q3_target = (wsum * 3.0 / 4.0).floor();
        let q1 = cum.partition_point(|&c| c < q1_target);
        let q3 = cum.partition_point(|&c| c <= q3_target);
        let iqr = obs[q3.min(obs.len() - 1)] - obs[q1.min(obs.len() - 1)];
        let sigma = 1.059 * (iqr / 1.34).min(var.sqrt()) * wsum.powf(-0.2);
        let sigma = sigma.max(0.5 / 1.64);
        sigmas = vec![sigma; obs.len()];
    }
    mus.push((low + high) / 2.0);
    sigmas.push(high - low + 1.0);
    let (lo, hi) = (low - 0.5, high + 0.5);
    (0..cells)
        .map(|g| {
            let g = g as f64;
            mus.iter()
                .zip(&sigmas)
                .zip(&weights)
                .map(|((mu, s), w)| {
                    let mass = truncnorm::log_mass((g - 0.5 - mu) / s, (g + 0.5 - mu) / s)
                        - truncnorm::log_mass((lo - mu) / s, (hi - mu) / s);
                    w * mass.exp()
                })
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::space::Param;
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn space() -> Space {
        let number = |key: &str, lo: f64, hi: f64, log: bool| Param {
            key: key.into(),
            domain: Domain::Number {
                lo,
                hi,
                log,
                int: false,
            },
        };
        Space {
            params: vec![
                number("lr", 1e-4, 1e-1, true),
                number("dropout", 0.0, 0.8, false),
                number("momentum", 0.5, 0.99, false),
                Param {
                    key: "optimizer".into(),
                    domain: Domain::Choice(vec!["sgd".into(), "adam".into()]),
                },
            ],
        }
    }

    #[test]
    fn when_only_lr_moves_the_figure_lr_ranks_first_by_far() {
        let s = space();
        let mut rng = SmallRng::seed_from_u64(5);
        let trials: Vec<(Vec<f64>, f64)> = (0..60)
            .map(|_| {
                let p = s.random(&mut rng);
                let l = p[0].log10() + 2.5;
                (p.clone(), 0.6 - 0.1 * l * l)
            })
            .collect();
        let shares = ped_anova(&s, &trials);
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let others = shares[1..].iter().copied().fold(0.0, f64::max);
        assert!(
            shares[0] > 0.5 && shares[0] > 3.0 * others,
            "lr's share {shares:?}"
        );
    }

    #[test]
    fn shares_match_optunas_evaluator_on_the_same_trials() {
        // Optuna 5.0.0's `get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())`
        // on these 50 trials (a maximised figure set by the optimizer, plus noise).
        let s = space();
        for (seed, optuna) in [
            (9, [0.107939, 0.36529, 0.215052, 0.311719]),
            (10, [0.559244, 0.036089, 0.055292, 0.349375]),
        ] {
            let mut rng = SmallRng::seed_from_u64(seed);
            let trials: Vec<(Vec<f64>, f64)> = (0..50)
                .map(|_| {
                    let p = s.random(&mut rng);
                    let noise: f64 = rand::Rng::random_range(&mut rng, 0.0..0.01);
                    let v = if p[3] == 1.0 { 0.6 } else { 0.3 };
                    (p, v + noise)
                })
                .collect();
            let shares = ped_anova(&s, &trials);
            for (ours, theirs) in shares.iter().zip(optuna) {
                assert!((ours - theirs).abs() < 1e-6, "{shares:?} vs {optuna:?}");
            }
        }
    }

    #[test]
    fn too_few_trials_share_equally() {
        let s = space();
        assert_eq!(ped_anova(&s, &[]), vec![0.25; 4]);
        assert_eq!(
            ped_anova(&s, &[(vec![1e-3, 0.1, 0.9, 0.0], 0.5)]),
            vec![0.25; 4]
        );
    }
}
