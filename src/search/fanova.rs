//! Functional ANOVA: how much of the figure's variance over the search space each key
//! explains on its own (its main effect, Hutter, Hoos and Leyton-Brown 2014).
//!
//! On a full grid the answer is exact: a key's main effect is the variance of the figure's
//! means at each of its values, the other keys averaged out. For sampled trials fANOVA fits a
//! random forest and integrates each tree exactly: a tree is a partition of the unit cube
//! into boxes, so the marginal of one key is a step function whose variance is a sum over its
//! split points. Points are positions in `[0, 1]` per key (log where the key's range is; a
//! choice's values evenly spaced).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Each key's share of the figure's main-effect variance (summing to 1; equal shares when
/// nothing varies), exact when `points` form a full grid (every combination of the values
/// seen, repeats averaged); `None` when they do not.
pub fn grid_shares(points: &[(Vec<f64>, f64)]) -> Option<Vec<f64>> {
    let dims = points.first()?.0.len();
    let levels: Vec<Vec<f64>> = (0..dims)
        .map(|d| {
            let mut v: Vec<f64> = points.iter().map(|p| p.0[d]).collect();
            v.sort_by(f64::total_cmp);
            v.dedup();
            v
        })
        .collect();
    let cells: usize = levels.iter().map(Vec::len).product();
    // Each combination's mean figure.
    let mut sums: std::collections::HashMap<Vec<usize>, (f64, usize)> = Default::default();
    for (x, y) in points {
        let at: Vec<usize> = (0..dims)
            .map(|d| levels[d].iter().position(|&l| l == x[d]).unwrap_or(0))
            .collect();
        let e = sums.entry(at).or_insert((0.0, 0));
        e.0 += y;
        e.1 += 1;
    }
    if sums.len() != cells || cells < 2 {
        return None;
    }
    let means: Vec<(Vec<usize>, f64)> = sums
        .into_iter()
        .map(|(k, (s, n))| (k, s / n as f64))
        .collect();
    let effects: Vec<f64> = (0..dims)
        .map(|d| {
            let marginal: Vec<f64> = (0..levels[d].len())
                .map(|l| {
                    let at: Vec<f64> = means.iter().filter(|m| m.0[d] == l).map(|m| m.1).collect();
                    at.iter().sum::<f64>() / at.len() as f64
                })
                .collect();
            variance(&marginal)
        })
        .collect();
    Some(normalise(effects))
}

/// Each key's share of the main-effect variance of a random forest (`trees` trees, seeded)
/// fitted to `points`, as fANOVA computes it; shares sum to 1.
pub fn forest_shares(points: &[(Vec<f64>, f64)], trees: usize, seed: u64) -> Vec<f64> {
    let dims = points.first().map_or(0, |p| p.0.len());
    if points.is_empty() {
        return vec![1.0 / dims.max(1) as f64; dims];
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut total = vec![0.0; dims];
    let mut counted = 0;
    for _ in 0..trees.max(1) {
        let sample: Vec<Sample> = (0..points.len())
            .map(|_| &points[rng.random_range(0..points.len())])
            .collect();
        let mut boxes = Vec::new();
        grow(&sample, vec![(0.0, 1.0); dims], &mut rng, &mut boxes, 0);
        if let Some(fractions) = tree_fractions(&boxes, dims) {
            for (t, f) in total.iter_mut().zip(fractions) {
                *t += f;
            }
            counted += 1;
        }
    }
    if counted == 0 {
        return vec![1.0 / dims.max(1) as f64; dims];
    }
    normalise(total)
}

/// A point and its figure.
type Sample<'a> = &'a (Vec<f64>, f64);

/// A leaf of a tree: its box in the unit cube and its mean figure.
struct Leaf {
    bounds: Vec<(f64, f64)>,
    value: f64,
}

/// Splits `sample` within `bounds` where the squared error falls most (a random key order,
/// every key tried; splits halfway between neighbouring values), down to leaves of 2 or
/// fewer points or no gain.
fn grow(
    sample: &[Sample],
    bounds: Vec<(f64, f64)>,
    rng: &mut SmallRng,
    leaves: &mut Vec<Leaf>,
    depth: usize,
) {
    let mean = sample.iter().map(|p| p.1).sum::<f64>() / sample.len().max(1) as f64;
    let sse = |ys: &[f64]| {
        let m = ys.iter().sum::<f64>() / ys.len() as f64;
        ys.iter().map(|y| (y - m).powi(2)).sum::<f64>()
    };
    let mut best: Option<(f64, usize, f64)> = None;
    if sample.len() > 2 && depth < 24 {
        let all: Vec<f64> = sample.iter().map(|p| p.1).collect();
        let before = sse(&all);
        let dims = bounds.len();
        // Like a forest's random feature subsets: a random start, every key.
        let first = rng.random_range(0..dims.max(1));
        for k in 0..dims {
            let d = (first + k) % dims;
            let mut xs: Vec<f64> = sample.iter().map(|p| p.0[d]).collect();
            xs.sort_by(f64::total_cmp);
            xs.dedup();
            for w in xs.windows(2) {
                let cut = (w[0] + w[1]) / 2.0;
                let (l, r): (Vec<f64>, Vec<f64>) = (
                    sample
                        .iter()
                        .filter(|p| p.0[d] <= cut)
                        .map(|p| p.1)
                        .collect(),
                    sample
                        .iter()
                        .filter(|p| p.0[d] > cut)
                        .map(|p| p.1)
                        .collect(),
                );
                let gain = before - sse(&l) - sse(&r);
                if gain > 1e-12 && best.is_none_or(|b| gain > b.0) {
                    best = Some((gain, d, cut));
                }
            }
        }
    }
    let Some((_, d, cut)) = best else {
        leaves.push(Leaf {
            bounds,
            value: mean,
        });
        return;
    };
    let (left, right): (Vec<Sample>, Vec<Sample>) = sample.iter().partition(|p| p.0[d] <= cut);
    let mut lb = bounds.clone();
    lb[d].1 = cut;
    let mut rb = bounds;
    rb[d].0 = cut;
    grow(&left, lb, rng, leaves, depth + 1);
    grow(&right, rb, rng, leaves, depth + 1);
}

/// One tree's main-effect variance of each key over its total variance (uniform over the
/// unit cube); `None` for a tree that predicts one value.
fn tree_fractions(leaves: &[Leaf], dims: usize) -> Option<Vec<f64>> {
    let volume = |l: &Leaf| l.bounds.iter().map(|b| b.1 - b.0).product::<f64>();
    let mean: f64 = leaves.iter().map(|l| l.value * volume(l)).sum();
    let total: f64 = leaves
        .iter()
        .map(|l| (l.value - mean).powi(2) * volume(l))
        .sum();
    if total <= 1e-15 {
        return None;
    }
    let fractions = (0..dims)
        .map(|d| {
            // The marginal is constant between consecutive edges of the leaves along d.
            let mut edges: Vec<f64> = leaves
                .iter()
                .flat_map(|l| [l.bounds[d].0, l.bounds[d].1])
                .collect();
            edges.sort_by(f64::total_cmp);
            edges.dedup();
            let mut var = 0.0;
            for w in edges.windows(2) {
                let mid = (w[0] + w[1]) / 2.0;
                let marginal: f64 = leaves
                    .iter()
                    .filter(|l| l.bounds[d].0 <= mid && mid < l.bounds[d].1)
                    .map(|l| l.value * volume(l) / (l.bounds[d].1 - l.bounds[d].0))
                    .sum();
                var += (marginal - mean).powi(2) * (w[1] - w[0]);
            }
            var / total
        })
        .collect();
    Some(fractions)
}

fn variance(v: &[f64]) -> f64 {
    let m = v.iter().sum::<f64>() / v.len().max(1) as f64;
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len().max(1) as f64
}

fn normalise(v: Vec<f64>) -> Vec<f64> {
    let sum: f64 = v.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        v.into_iter().map(|x| x / sum).collect()
    } else {
        vec![1.0 / v.len().max(1) as f64; v.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The case: a 2x2 grid where only lr matters (lr 1e-5 does not train): lr
    /// explains everything, neg_slope nothing.
    #[test]
    fn on_a_grid_only_the_key_that_matters_has_a_share() {
        let points = vec![
            (vec![0.0, 0.0], 0.10),
            (vec![0.0, 1.0], 0.10),
            (vec![1.0, 0.0], 0.45),
            (vec![1.0, 1.0], 0.45),
        ];
        let shares = grid_shares(&points).unwrap();
        assert!(
            (shares[0] - 1.0).abs() < 1e-12 && shares[1].abs() < 1e-12,
            "{shares:?}"
        );
        // Repeats of a cell (seeds) are averaged; a missing cell is no grid.
        let mut seeded = points.clone();
        seeded.push((vec![1.0, 1.0], 0.47));
        assert!(grid_shares(&seeded).unwrap()[0] > 0.99);
        assert!(grid_shares(&points[..3]).is_none());
    }

    /// Additive effects on a grid: the shares are the variances of the marginal means.
    #[test]
    fn grid_shares_are_the_variances_of_the_marginal_means() {
        // y = a(x0) + b(x1): var of a over {0, 2} is 1, of b over {0, 1, 2} is 2/3.
        let mut points = Vec::new();
        for (x0, a) in [(0.0, 0.0), (1.0, 2.0)] {
            for (x1, b) in [(0.0, 0.0), (0.5, 1.0), (1.0, 2.0)] {
                points.push((vec![x0, x1], a + b));
            }
        }
        let shares = grid_shares(&points).unwrap();
        assert!(
            (shares[0] - 1.0 / (1.0 + 2.0 / 3.0)).abs() < 1e-12,
            "{shares:?}"
        );
    }

    /// A forest on sampled trials finds the key that drives the figure, and is seeded.
    #[test]
    fn a_forest_on_sampled_trials_finds_the_key_that_matters() {
        let mut rng = SmallRng::seed_from_u64(3);
        let points: Vec<(Vec<f64>, f64)> = (0..30)
            .map(|_| {
                let x: Vec<f64> = (0..3).map(|_| rng.random::<f64>()).collect();
                let y = (x[1] * 6.0).sin() + 0.05 * x[0];
                (x, y)
            })
            .collect();
        let shares = forest_shares(&points, 16, 0);
        assert!(shares[1] > 0.8, "{shares:?}");
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!(shares, forest_shares(&points, 16, 0));
        // A single tree's main effects on an exactly additive step function are exact.
        let leaves = vec![
            Leaf {
                bounds: vec![(0.0, 0.5), (0.0, 1.0)],
                value: 0.0,
            },
            Leaf {
                bounds: vec![(0.5, 1.0), (0.0, 1.0)],
                value: 1.0,
            },
        ];
        let f = tree_fractions(&leaves, 2).unwrap();
        assert!((f[0] - 1.0).abs() < 1e-12 && f[1].abs() < 1e-12, "{f:?}");
    }
}
