//! What mattered in a sweep: each swept key's share of the importance, by the method that
//! suits the trials (fANOVA exactly on a grid, fANOVA's random forest on few sampled
//! configurations, PED-ANOVA on many), on the configurations that completed or, under
//! successive halving, at the deepest rung enough reached.

use super::book::Book;
use crate::search::fanova;
use crate::search::importance::ped_anova;
use crate::search::stats::mean;
use crate::search::Space;
use std::collections::BTreeMap;

/// Configurations PED-ANOVA wants at least (below it, with successive halving, a rung that
/// more reached is used).
const IMPORTANCE_MIN: usize = 8;

/// Configurations from which PED-ANOVA answers (its top 10 % then holds 5); below, fANOVA.
const PED_ANOVA_MIN: usize = 50;

/// Trees of fANOVA's forest.
const FOREST_TREES: usize = 64;

/// Every swept key's importance over the configurations that completed (their mean figure);
/// when successive halving left fewer than `IMPORTANCE_MIN` complete, over the figures
/// recorded at the deepest rung that many reached. On a grid, fANOVA exactly (the variance of
/// each key's marginal means); on fewer than `PED_ANOVA_MIN` sampled configurations, fANOVA's
/// random forest; on more, PED-ANOVA. With what it was measured on and the method.
pub fn importance(axes: &Space, book: &Book) -> (Vec<(String, f64)>, String, String) {
    if axes.params.is_empty() {
        return (Vec::new(), String::new(), String::new());
    }
    let point = |group: usize| book.group(group).and_then(|c| axes.read(&c.swept));
    let complete: Vec<(Vec<f64>, f64)> = book
        .groups()
        .filter_map(|c| Some((point(c.group)?, book.completed_mean(c.group)?)))
        .collect();
    let mut trials = complete;
    let mut basis = format!("{} complete configurations", trials.len());
    if trials.len() < IMPORTANCE_MIN {
        let reached: std::collections::BTreeSet<usize> =
            book.rungs().iter().map(|r| r.rung).collect();
        for &rung in reached.iter().rev() {
            // Each configuration's figure: the mean of its runs' own, each run once.
            let mut by_group: BTreeMap<usize, (BTreeMap<usize, f64>, usize)> = Default::default();
            for r in book.rungs().iter().filter(|r| r.rung == rung) {
                let entry = by_group
                    .entry(r.group)
                    .or_insert((BTreeMap::new(), r.rung_step));
                entry.0.insert(r.index, r.own_value());
            }
            let at_rung: Vec<(Vec<f64>, f64)> = by_group
                .iter()
                .filter_map(|(&g, (runs, _))| {
                    Some((
                        point(g)?,
                        mean(&runs.values().copied().collect::<Vec<_>>())?,
                    ))
                })
                .collect();
            // The deepest rung that IMPORTANCE_MIN reached; else the widest basis there is.
            if at_rung.len() >= IMPORTANCE_MIN || at_rung.len() > trials.len() {
                let step = by_group.values().next().map_or(0, |v| v.1);
                basis = format!(
                    "{} configurations at rung {rung} (step {step}): too few complete",
                    at_rung.len()
                );
                let enough = at_rung.len() >= IMPORTANCE_MIN;
                trials = at_rung;
                if enough {
                    break;
                }
            }
        }
    }
    if trials.len() < 2 {
        return (
            Vec::new(),
            format!("nothing to rank: {basis}, at least 2 needed"),
            String::new(),
        );
    }
    let varies: Vec<bool> = (0..axes.params.len())
        .map(|d| trials.iter().any(|t| t.0[d] != trials[0].0[d]))
        .collect();
    if !varies.iter().any(|&v| v) {
        return (
            Vec::new(),
            format!("nothing to rank: every swept key took one value over {basis}"),
            String::new(),
        );
    }
    let positions: Vec<(Vec<f64>, f64)> = trials
        .iter()
        .filter(|t| t.1.is_finite())
        .map(|(p, y)| (super::parallel::position(axes, p), *y))
        .collect();
    let (shares, method) = if let Some(shares) = fanova::grid_shares(&positions) {
        (shares, "fANOVA, exact on a grid".to_string())
    } else if trials.len() < PED_ANOVA_MIN {
        if trials.len() < 10 {
            basis.push_str(": few for a forest, read with care");
        }
        (
            fanova::forest_shares(&positions, FOREST_TREES, 0),
            format!("fANOVA (random forest, {FOREST_TREES} trees)"),
        )
    } else {
        let top = (trials.len() as f64 * 0.1).ceil() as usize;
        if top < 5 {
            basis.push_str(&format!(
                "; {top} in the top 10 %, fewer than the 5 it wants: read with care"
            ));
        }
        (ped_anova(axes, &trials), "PED-ANOVA (top 10 %)".to_string())
    };
    // A key that took one value explains nothing; the others share what is left.
    let kept: f64 = shares
        .iter()
        .zip(&varies)
        .filter(|(_, &v)| v)
        .map(|(s, _)| s)
        .sum();
    let mut out: Vec<(String, f64)> = axes
        .params
        .iter()
        .map(|p| p.key.clone())
        .zip(shares.iter().zip(&varies).map(|(&s, &v)| {
            if !v {
                0.0
            } else if kept > 0.0 {
                s / kept
            } else {
                1.0 / varies.iter().filter(|&&v| v).count() as f64
            }
        }))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    (out, basis, method)
}
