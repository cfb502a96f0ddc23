//! Groups of runs that differ only by seed: the same preset, the same settings but `seed`, the
//! same parent, and each a seed of its own (runs of one seed are repeats, in groups apart). A group has n, the mean and standard deviation of its runs' best and final
//! test accuracy, and a band: its runs' curves averaged on common steps, with their minimum
//! and maximum. The runs screen, `gradboard runs`, the compare screen and the export use it.

use super::curves::Point;
use super::listing::RunRecord;
use crate::config::RunConfig;
use crate::events::ParentRef;
use crate::search::stats::{mean, std};

/// What makes runs one group: preset, settings without the seed, parent.
pub fn group_key(preset: &str, config: &RunConfig, parent: Option<&ParentRef>) -> String {
    let mut c = config.clone();
    c.seed = 0;
    let settings = serde_json::to_string(&c).unwrap_or_default();
    let parent = parent.map_or(String::new(), |p| format!("{}@{}", p.run_id, p.step));
    format!("{preset}|{parent}|{settings}")
}

/// Runs that differ only by seed, with their figures.
#[derive(Debug, Clone, PartialEq)]
pub struct RunGroup {
    /// What they share (`group_key`).
    pub key: String,
    /// The runs, in listing order.
    pub runs: Vec<String>,
    /// Their seeds, in the same order.
    pub seeds: Vec<u64>,
    /// Runs with a best test accuracy.
    pub n: usize,
    /// Mean of their best test accuracy.
    pub best_mean: Option<f64>,
    /// Its standard deviation.
    pub best_std: Option<f64>,
    /// Mean of their final test accuracy.
    pub final_mean: Option<f64>,
    /// Its standard deviation.
    pub final_std: Option<f64>,
}

impl RunGroup {
    /// "0.5123 ± 0.0040" of the best test accuracy ("0.5123" for one run: no spread).
    pub fn best_text(&self) -> String {
        spread_text(self.best_mean, self.best_std.filter(|_| self.n > 1))
    }

    /// The same of the final test accuracy.
    pub fn final_text(&self) -> String {
        spread_text(self.final_mean, self.final_std.filter(|_| self.n > 1))
    }
}

/// "mean ± std", or `-`.
pub fn spread_text(mean: Option<f64>, std: Option<f64>) -> String {
    match (mean, std) {
        (Some(m), Some(s)) => format!("{m:.4} ± {s:.4}"),
        (Some(m), None) => format!("{m:.4}"),
        _ => "-".into(),
    }
}

/// The listing's runs folded into groups, in the order their first run is listed; a run
/// without readable settings is a group of its own.
pub fn group_runs(records: &[RunRecord]) -> Vec<RunGroup> {
    let mut groups: Vec<(RunGroup, Vec<&RunRecord>)> = Vec::new();
    for r in records {
        let key = match &r.config {
            Some(c) => group_key(&r.preset, c, r.parent.as_ref()),
            None => format!("run|{}", r.run_id),
        };
        // Runs that share a seed are repeats, not seeds: a run joins the first group of its
        // settings that lacks its seed.
        let seed = r.config.as_ref().map(|c| c.seed);
        let joins = |g: &&mut (RunGroup, Vec<&RunRecord>)| {
            g.0.key == key
                && !g
                    .1
                    .iter()
                    .any(|o| o.config.as_ref().map(|c| c.seed) == seed)
        };
        match groups.iter_mut().find(joins) {
            Some(g) => g.1.push(r),
            None => groups.push((
                RunGroup {
                    key,
                    runs: Vec::new(),
                    seeds: Vec::new(),
                    n: 0,
                    best_mean: None,
                    best_std: None,
                    final_mean: None,
                    final_std: None,
                },
                vec![r],
            )),
        }
    }
    groups
        .into_iter()
        .map(|(mut g, members)| {
            g.runs = members.iter().map(|r| r.run_id.clone()).collect();
            g.seeds = members
                .iter()
                .map(|r| r.config.as_ref().map_or(0, |c| c.seed))
                .collect();
            let best: Vec<f64> = members.iter().filter_map(|r| r.best_test_acc).collect();
            let finals: Vec<f64> = members.iter().filter_map(|r| r.final_test_acc).collect();
            g.n = best.len();
            g.best_mean = mean(&best);
            g.best_std = std(&best);
            g.final_mean = mean(&finals);
            g.final_std = std(&finals);
            g
        })
        .collect()
}

/// A curve averaged over a group's runs: at each x of the first run's curve (where every run
/// has reached it), the mean, minimum and maximum of the runs' values there (linearly
/// interpolated between their own points).
pub fn band(curves: &[&[Point]]) -> Vec<(f64, f64, f64, f64)> {
    let Some(first) = curves.first() else {
        return Vec::new();
    };
    let end = curves
        .iter()
        .map(|c| c.last().map_or(f64::NEG_INFINITY, |p| p.0))
        .fold(f64::INFINITY, f64::min);
    first
        .iter()
        .filter(|p| p.0 <= end)
        .filter_map(|&(x, _)| {
            let values: Vec<f64> = curves.iter().filter_map(|c| at(c, x)).collect();
            if values.len() < curves.len() {
                return None;
            }
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            Some((x, mean(&values)?, lo, hi))
        })
        .collect()
}

/// A curve's value at `x`, interpolated; `None` outside it or where it is not finite.
fn at(curve: &[Point], x: f64) -> Option<f64> {
    let i = curve.partition_point(|p| p.0 < x);
    let value = match (curve.get(i), i.checked_sub(1).and_then(|j| curve.get(j))) {
        (Some(p), _) if p.0 == x => p.1,
        (Some(b), Some(a)) => a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0),
        _ => return None,
    };
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::ListedStatus;

    fn record(id: &str, seed: u64, lr: f64, best: f64) -> RunRecord {
        let config = RunConfig {
            seed,
            lr,
            ..RunConfig::default()
        };
        RunRecord {
            preset: "mlp-default".into(),
            status: ListedStatus::Ended(crate::events::RunStatus::Completed),
            step: 100,
            final_test_acc: Some(best - 0.01),
            best_test_acc: Some(best),
            seconds: 1.0,
            config: Some(config),
            ..RunRecord::empty(id)
        }
    }

    #[test]
    fn runs_differing_only_by_seed_form_one_group_with_its_mean_and_std() {
        let records = vec![
            record("a", 1, 1e-3, 0.50),
            record("b", 2, 1e-3, 0.52),
            record("c", 1, 2e-3, 0.40),
            record("d", 3, 1e-3, 0.54),
        ];
        let groups = group_runs(&records);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].runs, ["a", "b", "d"]);
        assert_eq!(groups[0].seeds, [1, 2, 3]);
        assert_eq!(groups[0].n, 3);
        assert!((groups[0].best_mean.unwrap() - 0.52).abs() < 1e-12);
        assert!((groups[0].best_std.unwrap() - 0.02).abs() < 1e-12);
        assert!((groups[0].final_mean.unwrap() - 0.51).abs() < 1e-12);
        assert_eq!(groups[0].best_text(), "0.5200 ± 0.0200");
        assert_eq!(groups[1].runs, ["c"]);
        assert_eq!(groups[1].best_std, Some(0.0));
        assert_eq!(groups[1].best_text(), "0.4000", "one run: no '± 0.0000'");
    }

    #[test]
    fn runs_of_one_seed_are_repeats_not_a_group_of_seeds() {
        let records = vec![
            record("a", 42, 1e-3, 0.50),
            record("b", 42, 1e-3, 0.52),
            record("c", 43, 1e-3, 0.40),
            record("d", 42, 1e-3, 0.54),
        ];
        let groups = group_runs(&records);
        let seeds: Vec<Vec<u64>> = groups.iter().map(|g| g.seeds.clone()).collect();
        assert_eq!(seeds, [vec![42, 43], vec![42], vec![42]]);
        assert_eq!(groups[0].runs, ["a", "c"]);
    }

    #[test]
    fn a_band_is_the_mean_and_the_extremes_on_common_steps() {
        let a = [(0.0, 1.0), (10.0, 2.0), (20.0, 3.0)];
        let b = [(0.0, 3.0), (20.0, 5.0)];
        let c = [(0.0, 2.0), (10.0, 2.5)];
        let band = band(&[&a, &b, &c]);
        // Up to step 10, where the shortest run ends; b interpolated at 10 (4.0).
        assert_eq!(
            band,
            vec![(0.0, 2.0, 1.0, 3.0), (10.0, 8.5 / 3.0, 2.0, 4.0)]
        );
    }
}
