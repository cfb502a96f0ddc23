//! Parallel coordinates of a sweep: one vertical axis a swept key (log-scaled where its range
//! is, a choice's values evenly spaced) and a last axis for the objective; one line a run with
//! a figure, at its values, coloured by its best figure. Positions are fractions of each
//! axis (0 at the bottom, 1 at the top), so the dashboard and the exported figure draw the
//! same thing.

use super::state::{QueueEntry, SweepState};
use crate::search::{Domain, Space};

/// One axis: its name, whether it is log-scaled, and labelled ticks.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisView {
    /// The key (or the objective's name).
    pub key: String,
    /// Log-scaled.
    pub log: bool,
    /// (position, label) pairs.
    pub ticks: Vec<(f64, String)>,
}

/// One run's line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineView {
    /// The run's queue index.
    pub index: usize,
    /// Its position on each axis, the objective's last.
    pub positions: Vec<f64>,
    /// Its best figure of the objective.
    pub value: f64,
    /// Its colour on the ramp: 0 for the sweep's worst figure, 1 for its best.
    pub shade: f64,
}

/// The whole figure.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parallel {
    /// The swept keys' axes, then the objective's.
    pub axes: Vec<AxisView>,
    /// Each swept key's domain, in the axes' order.
    pub domains: Vec<Domain>,
    /// The objective axis's figures at its bottom and top.
    pub range: (f64, f64),
    /// One line a run with a figure, worst first (the best are drawn on top).
    pub lines: Vec<LineView>,
}

impl Parallel {
    /// The figure of `state`'s runs.
    pub fn of(state: &SweepState) -> Self {
        let space = &state.axes;
        let rows: Vec<(&QueueEntry, Vec<f64>)> = state
            .queue
            .iter()
            .filter(|e| e.value.is_some())
            .filter_map(|e| Some((e, space.read(&e.settings())?)))
            .collect();
        let values: Vec<f64> = rows.iter().filter_map(|(e, _)| e.value).collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() && hi > lo {
            (lo, hi)
        } else if lo.is_finite() {
            (lo - 0.01, lo + 0.01)
        } else {
            (0.0, 1.0)
        };
        let mut axes: Vec<AxisView> = space
            .params
            .iter()
            .map(|p| axis(&p.key, &p.domain))
            .collect();
        axes.push(AxisView {
            key: state.objective_label().replace(' ', "_"),
            log: false,
            ticks: (0..=4)
                .map(|i| {
                    let f = i as f64 / 4.0;
                    (f, format!("{:.3}", lo + f * (hi - lo)))
                })
                .collect(),
        });
        let mut lines: Vec<LineView> = rows
            .into_iter()
            .map(|(e, point)| {
                let value = e.value.unwrap_or(lo);
                let shade = (value - lo) / (hi - lo);
                let mut positions = position(space, &point);
                positions.push(shade);
                LineView {
                    index: e.index,
                    positions,
                    value,
                    shade,
                }
            })
            .collect();
        lines.sort_by(|a, b| a.value.total_cmp(&b.value));
        Parallel {
            axes,
            lines,
            domains: space.params.iter().map(|p| p.domain.clone()).collect(),
            range: (lo, hi),
        }
    }

    /// A brushed range of axis `axis` (fractions of it) in the axis's own values:
    /// `0.001..0.03`, the choices inside (`adam, sgd`), or the figure's range.
    pub fn range_text(&self, axis: usize, (lo, hi): (f64, f64)) -> String {
        match self.domains.get(axis) {
            Some(domain @ Domain::Number { .. }) => format!(
                "{}..{}",
                number_at(domain, lo.max(0.0)),
                number_at(domain, hi.min(1.0))
            ),
            Some(Domain::Choice(values)) => {
                let inside: Vec<&str> = values
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| {
                        let p = choice_position(*i, values.len());
                        p >= lo && p <= hi
                    })
                    .map(|(_, v)| v.as_str())
                    .collect();
                if inside.is_empty() {
                    "none".into()
                } else {
                    inside.join(", ")
                }
            }
            None => {
                let (a, b) = self.range;
                format!(
                    "{:.4}..{:.4}",
                    a + lo.max(0.0) * (b - a),
                    a + hi.min(1.0) * (b - a)
                )
            }
        }
    }

    /// Where the lines cross axis `axis`: the lowest and highest position.
    pub fn data_span(&self, axis: usize) -> Option<(f64, f64)> {
        let positions = self
            .lines
            .iter()
            .filter_map(|l| l.positions.get(axis).copied());
        let (lo, hi) = positions.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
            (l.min(p), h.max(p))
        });
        lo.is_finite().then_some((lo, hi))
    }
}

/// Each value's place on its axis.
pub fn position(space: &Space, point: &[f64]) -> Vec<f64> {
    space
        .params
        .iter()
        .zip(point)
        .map(|(p, &v)| match &p.domain {
            Domain::Number { lo, hi, log, .. } => {
                let t = |x: f64| if *log { x.ln() } else { x };
                if hi > lo {
                    ((t(v) - t(*lo)) / (t(*hi) - t(*lo))).clamp(0.0, 1.0)
                } else {
                    0.5
                }
            }
            Domain::Choice(values) => choice_position(v as usize, values.len()),
        })
        .collect()
}

fn choice_position(i: usize, n: usize) -> f64 {
    if n <= 1 {
        0.5
    } else {
        i as f64 / (n - 1) as f64
    }
}

/// A numeric key's value at fraction `f` of its axis (log where its range is), as the axis
/// labels it: a whole number for integer keys, else three significant figures.
fn number_at(domain: &Domain, f: f64) -> String {
    let Domain::Number { lo, hi, log, int } = domain else {
        return String::new();
    };
    let v = if *log {
        (lo.ln() + f * (hi.ln() - lo.ln())).exp()
    } else {
        lo + f * (hi - lo)
    };
    if *int {
        format!("{}", v.round() as i64)
    } else {
        crate::config::format_float(crate::search::space::significant(v))
    }
}

fn axis(key: &str, domain: &Domain) -> AxisView {
    match domain {
        Domain::Number { log, .. } => AxisView {
            key: key.to_string(),
            log: *log,
            ticks: (0..=4)
                .map(|i| {
                    let f = i as f64 / 4.0;
                    (f, number_at(domain, f))
                })
                .collect(),
        },
        Domain::Choice(values) => AxisView {
            key: key.to_string(),
            log: false,
            ticks: values
                .iter()
                .enumerate()
                .map(|(i, v)| (choice_position(i, values.len()), v.clone()))
                .collect(),
        },
    }
}
