//! The sweep screen's plot panel beside the parallel coordinates, as the Optuna dashboard
//! has them (`m` cycles): the figure against one swept key (categorical keys on categorical
//! axes), the optimisation history (each trial's figure and the best so far), the
//! intermediate values (every trial's curve, a pruned one marked where it was stopped), a
//! contour of the figure over two keys, and the timeline (which trial ran when).

use crate::dashboard::app::App;
use crate::dashboard::screens::sweep::Plot;
use gradboard::runner::sweep::parallel::position;
use gradboard::runner::sweep::{QueueEntry, QueueState, SweepState};
use gradboard::runs::figure_style::ramp;
use gradboard::search::Domain;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as CanvasLine, Points, Rectangle};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph, Wrap};
use ratatui::Frame;

/// Draws the plot the screen has chosen.
pub fn draw(frame: &mut Frame, app: &App, state: &SweepState, area: Rect) {
    let screen = &app.sweep;
    match screen.plot {
        Plot::Scatter => draw_scatter(frame, state, screen.scatter_key, area),
        Plot::History => draw_history(frame, state, area),
        Plot::Intermediate => draw_intermediate(frame, state, area),
        Plot::Contour => draw_contour(frame, state, screen.scatter_key, screen.contour_key, area),
        Plot::Timeline => draw_timeline(frame, state, area),
    }
}

/// A panel that says why it has nothing to draw.
fn empty(frame: &mut Frame, title: &str, text: &str, area: Rect) {
    frame.render_widget(
        Paragraph::new(text)
            .block(Block::bordered().title(format!(" {title} ")))
            .wrap(Wrap { trim: true }),
        area,
    );
}

/// Four decimals, as the tables show figures.
fn figure_text(v: f64) -> String {
    format!("{v:.4}")
}

/// A y range around `values`, as the chart takes it.
fn y_range(values: impl Iterator<Item = f64>) -> [f64; 2] {
    let (lo, hi) = gradboard::runs::curves::padded_range(values);
    [lo, hi]
}

fn y_labels(y: [f64; 2]) -> Vec<String> {
    vec![
        figure_text(y[0]),
        figure_text((y[0] + y[1]) / 2.0),
        figure_text(y[1]),
    ]
}

/// A run's figure as the sweep ranks it, in the objective's own units.
fn value(e: &QueueEntry) -> Option<f64> {
    e.value.filter(|v| v.is_finite())
}

/// The figure against one swept key: numbers on a numeric (log where they span a factor of
/// 20) axis, choices on a categorical one in the space's order.
fn draw_scatter(frame: &mut Frame, state: &SweepState, key_index: usize, area: Rect) {
    let Some(key) = state
        .swept_keys
        .get(key_index % state.swept_keys.len().max(1))
    else {
        return empty(
            frame,
            "scatter",
            "The runs of this sweep are listed, not swept over a key: see the results.",
            area,
        );
    };
    let choices: Option<Vec<String>> =
        state
            .axes
            .params
            .iter()
            .find(|p| &p.key == key)
            .and_then(|p| match &p.domain {
                Domain::Choice(values) => Some(values.clone()),
                Domain::Number { .. } => None,
            });
    let points: Vec<(String, f64)> = state
        .queue
        .iter()
        .filter_map(|e| {
            let v = e.swept.iter().find(|(k, _)| k == key)?.1.clone();
            Some((v, value(e)?))
        })
        .collect();
    let values: Vec<String> = points.iter().map(|p| p.0.clone()).collect();
    let (xs, log, names) = match &choices {
        Some(names) => (
            values
                .iter()
                .map(|v| names.iter().position(|n| n == v).unwrap_or(0) as f64)
                .collect(),
            false,
            names.clone(),
        ),
        None => positions(&values),
    };
    let data: Vec<(f64, f64)> = xs.iter().zip(&points).map(|(&x, p)| (x, p.1)).collect();
    let (x_lo, x_hi) = if !names.is_empty() {
        (-0.5, names.len() as f64 - 0.5)
    } else {
        let (lo, hi) = data
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
                (l.min(p.0), h.max(p.0))
            });
        if !lo.is_finite() {
            (0.0, 1.0)
        } else if hi > lo {
            let pad = (hi - lo) * 0.1;
            (lo - pad, hi + pad)
        } else {
            let pad = (lo.abs() * 0.5).max(1e-9);
            (lo - pad, hi + pad)
        }
    };
    let y = y_range(data.iter().map(|p| p.1));
    let x_labels: Vec<String> = if names.is_empty() {
        let label = |x: f64| {
            let v = if log { 10f64.powf(x) } else { x };
            gradboard::config::format_float(gradboard::search::space::significant(v))
        };
        vec![label(x_lo), label((x_lo + x_hi) / 2.0), label(x_hi)]
    } else {
        names.clone()
    };
    let title = format!(
        " {} vs {key}{} · v key ",
        state.value_header(),
        if log { " (log)" } else { "" }
    );
    let chart = Chart::new(vec![Dataset::default()
        .marker(Marker::Block)
        .graph_type(GraphType::Scatter)
        .style(Style::new().fg(Color::Yellow))
        .data(&data)])
    .block(Block::bordered().title(Line::from(title)))
    .x_axis(Axis::default().bounds([x_lo, x_hi]).labels(x_labels))
    .y_axis(Axis::default().bounds(y).labels(y_labels(y)));
    frame.render_widget(chart, area);
}

/// x positions of a key's values: the number itself (log10 for values spanning a factor of
/// 20 or more), or the index among the distinct values for names and lists.
fn positions(values: &[String]) -> (Vec<f64>, bool, Vec<String>) {
    let numbers: Option<Vec<f64>> = values.iter().map(|v| v.parse::<f64>().ok()).collect();
    if let Some(n) = numbers.filter(|n| !n.is_empty()) {
        let (lo, hi) = n
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        let log = lo > 0.0 && hi / lo >= 20.0;
        let x = n.iter().map(|&v| if log { v.log10() } else { v }).collect();
        return (x, log, Vec::new());
    }
    let mut names: Vec<String> = Vec::new();
    let x = values
        .iter()
        .map(|v| match names.iter().position(|n| n == v) {
            Some(i) => i as f64,
            None => {
                names.push(v.clone());
                (names.len() - 1) as f64
            }
        })
        .collect();
    (x, false, names)
}

/// Each trial's figure as a dot, the best so far as a line.
fn draw_history(frame: &mut Frame, state: &SweepState, area: Rect) {
    let dots: Vec<(f64, f64)> = state
        .queue
        .iter()
        .filter_map(|e| Some((e.index as f64, value(e)?)))
        .collect();
    if dots.is_empty() {
        return empty(
            frame,
            "optimisation history",
            "No trial has a figure yet.",
            area,
        );
    }
    let best = state.best_staircase();
    let n = state.queue.len().max(1) as f64;
    let y = y_range(dots.iter().map(|p| p.1));
    let chart = Chart::new(vec![
        Dataset::default()
            .marker(Marker::Block)
            .graph_type(GraphType::Scatter)
            .style(Style::new().fg(Color::Cyan))
            .data(&dots),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Yellow))
            .data(&best),
    ])
    .block(Block::bordered().title(format!(
        " history: {} by trial, line best so far ",
        state.value_header()
    )))
    .x_axis(Axis::default().bounds([-0.5, n - 0.5]).labels([
        "0".to_string(),
        format!("{}", (n as usize).saturating_sub(1) / 2),
        format!("{}", n as usize - 1),
    ]))
    .y_axis(Axis::default().bounds(y).labels(y_labels(y)));
    frame.render_widget(chart, area);
}

/// A run's colour by where it stands.
fn status_colour(e: &QueueEntry) -> Color {
    use gradboard::events::RunStatus;
    match &e.state {
        QueueState::Running { .. } => Color::Green,
        QueueState::Ended {
            status: RunStatus::Pruned,
            ..
        } => Color::Magenta,
        QueueState::Ended {
            status: RunStatus::Completed,
            ..
        } => Color::Cyan,
        _ => Color::Red,
    }
}

/// Every trial's evaluations of the objective against the step; a pruned trial's last point
/// is marked (×) where the pruner stopped it.
fn draw_intermediate(frame: &mut Frame, state: &SweepState, area: Rect) {
    let objective = state
        .objective
        .clone()
        .unwrap_or(gradboard::config::sweep::Objective::TestAcc);
    let curves = state.intermediate();
    if curves.is_empty() {
        return empty(
            frame,
            "intermediate values",
            "No trial has evaluated yet.",
            area,
        );
    }
    let x_hi = curves
        .iter()
        .flat_map(|c| c.1.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let y = y_range(curves.iter().flat_map(|c| c.1.iter().map(|p| p.1)));
    let pruned: Vec<(f64, f64)> = curves
        .iter()
        .filter(|(e, _)| e.pruned_at.is_some())
        .filter_map(|(_, c)| c.last().copied())
        .collect();
    let mut datasets: Vec<Dataset> = curves
        .iter()
        .map(|(e, c)| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(status_colour(e)))
                .data(c)
        })
        .collect();
    datasets.push(
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::new().fg(Color::LightRed))
            .data(&pruned),
    );
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(format!(
            " intermediate {} by step; • {} pruned ",
            objective.label(),
            pruned.len()
        )))
        .x_axis(Axis::default().bounds([0.0, x_hi]).labels([
            "0".to_string(),
            format!("{}", (x_hi / 2.0).round()),
            format!("{x_hi}"),
        ]))
        .y_axis(Axis::default().bounds(y).labels(y_labels(y)));
    frame.render_widget(chart, area);
}

/// The figure over two swept keys: each cell coloured by the trials near it (inverse-distance
/// weights in the axes' own scale, log where the key's range is), the trials as dots.
fn draw_contour(frame: &mut Frame, state: &SweepState, x_key: usize, y_key: usize, area: Rect) {
    let n = state.axes.params.len();
    if n < 2 {
        return empty(
            frame,
            "contour",
            "A contour needs two swept keys; this sweep has fewer.",
            area,
        );
    }
    let (xi, yi) = (x_key % n, y_key % n);
    let yi = if yi == xi { (yi + 1) % n } else { yi };
    let trials: Vec<(f64, f64, f64)> = state
        .queue
        .iter()
        .filter_map(|e| {
            let v = value(e)?;
            let point = state.axes.read(&e.settings())?;
            let pos = position(&state.axes, &point);
            Some((pos[xi], pos[yi], v))
        })
        .collect();
    let (kx, ky) = (&state.axes.params[xi].key, &state.axes.params[yi].key);
    if trials.len() < 2 {
        return empty(
            frame,
            "contour",
            &format!("A contour of {kx} and {ky} needs two trials with a figure."),
            area,
        );
    }
    let (lo, hi) = trials
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), t| {
            (l.min(t.2), h.max(t.2))
        });
    let shade = |v: f64| {
        let s = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        // Larger is better on the ramp; a minimised metric turns it round.
        if state.rank(Some(1.0)) < state.rank(Some(0.0)) {
            1.0 - s
        } else {
            s
        }
    };
    let estimate = |x: f64, y: f64| -> f64 {
        let (mut num, mut den) = (0.0, 0.0);
        for &(tx, ty, v) in &trials {
            let d2 = (tx - x).powi(2) + (ty - y).powi(2);
            if d2 < 1e-12 {
                return v;
            }
            let w = 1.0 / d2;
            num += w * v;
            den += w;
        }
        num / den
    };
    let cells_x = (area.width.saturating_sub(10) / 2).clamp(4, 40) as usize;
    let cells_y = area.height.saturating_sub(4).clamp(3, 20) as usize;
    let ends = |i: usize| {
        let axis = &state.axes.params[i];
        match &axis.domain {
            Domain::Number { lo, hi, .. } => (
                gradboard::config::format_float(gradboard::search::space::significant(*lo)),
                gradboard::config::format_float(gradboard::search::space::significant(*hi)),
            ),
            Domain::Choice(values) => (
                values.first().cloned().unwrap_or_default(),
                values.last().cloned().unwrap_or_default(),
            ),
        }
    };
    let ((x0, x1), (y0, y1)) = (ends(xi), ends(yi));
    let title = format!(
        " {} over {kx} × {ky}: {}..{} · v V keys ",
        state.value_header(),
        figure_text(lo),
        figure_text(hi)
    );
    let canvas = Canvas::default()
        .block(Block::bordered().title(title))
        .marker(Marker::Block)
        .x_bounds([-0.12, 1.02])
        .y_bounds([-0.14, 1.02])
        .paint(|ctx| {
            for cx in 0..cells_x {
                for cy in 0..cells_y {
                    let (x, y) = (
                        (cx as f64 + 0.5) / cells_x as f64,
                        (cy as f64 + 0.5) / cells_y as f64,
                    );
                    let (r, g, b) = ramp(shade(estimate(x, y)));
                    ctx.draw(&Rectangle {
                        x: cx as f64 / cells_x as f64,
                        y: cy as f64 / cells_y as f64,
                        width: 1.0 / cells_x as f64,
                        height: 1.0 / cells_y as f64,
                        color: Color::Rgb(r, g, b),
                    });
                    ctx.draw(&Points {
                        coords: &[(x, y)],
                        color: Color::Rgb(r, g, b),
                    });
                }
            }
            ctx.layer();
            for &(x, y, _) in &trials {
                ctx.print(x, y, Span::styled("●", Style::new().fg(Color::White)));
            }
            ctx.print(0.0, -0.08, Span::raw(x0.clone()));
            ctx.print(0.85, -0.08, Span::raw(x1.clone()));
            ctx.print(-0.12, 0.0, Span::raw(y0.clone()));
            ctx.print(-0.12, 0.95, Span::raw(y1.clone()));
            ctx.print(0.4, -0.12, Span::raw(kx.clone()));
        });
    frame.render_widget(canvas, area);
}

/// Lanes for runs by their spans: the runs of each worker (a process, or a cluster's task)
/// together, each run in its worker's first lane free when it starts (as many lanes as the
/// worker ran at once).
pub fn lanes(state: &SweepState) -> Lanes {
    let mut runs: Vec<(&str, usize, f64, f64)> = state
        .queue
        .iter()
        .filter_map(|e| {
            let (a, b) = e.span?;
            Some((e.worker.as_deref().unwrap_or(""), e.index, a, b))
        })
        .collect();
    // Workers in the order they first started a run; runs by start within each.
    let mut workers: Vec<&str> = Vec::new();
    let mut by_start = runs.clone();
    by_start.sort_by(|a, b| a.2.total_cmp(&b.2).then(a.1.cmp(&b.1)));
    for r in &by_start {
        if !workers.contains(&r.0) {
            workers.push(r.0);
        }
    }
    runs.sort_by(|a, b| {
        let w = |n: &str| workers.iter().position(|w| *w == n);
        w(a.0)
            .cmp(&w(b.0))
            .then(a.2.total_cmp(&b.2))
            .then(a.1.cmp(&b.1))
    });
    let (mut out, mut names) = (Vec::new(), Vec::new());
    let mut base = 0;
    for worker in &workers {
        let mut free_at: Vec<f64> = Vec::new();
        for &(_, index, start, end) in runs.iter().filter(|r| r.0 == *worker) {
            let lane = match free_at.iter().position(|&f| f <= start) {
                Some(l) => l,
                None => {
                    free_at.push(0.0);
                    free_at.len() - 1
                }
            };
            free_at[lane] = end;
            out.push((index, base + lane));
        }
        names.push((base, worker.to_string()));
        base += free_at.len();
    }
    Lanes {
        runs: out,
        workers: names,
    }
}

/// The timeline's rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Lanes {
    /// `(queue index, lane)` for each run.
    pub runs: Vec<(usize, usize)>,
    /// Each worker's first lane and name.
    pub workers: Vec<(usize, String)>,
}

/// Which trial ran when: a bar a trial from its start to its last event, in lanes (one a run
/// at once: as many as the sweep ran in parallel, or its SLURM tasks at once), coloured by
/// how it ended.
fn draw_timeline(frame: &mut Frame, state: &SweepState, area: Rect) {
    let Lanes {
        runs: lanes,
        workers,
    } = lanes(state);
    if lanes.is_empty() {
        return empty(frame, "timeline", "No trial has started yet.", area);
    }
    let spans: Vec<(f64, f64)> = state.queue.iter().filter_map(|e| e.span).collect();
    let t0 = spans.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
    let t1 = spans.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
    let width = (t1 - t0).max(1.0);
    let n_lanes = lanes.iter().map(|l| l.1).max().unwrap_or(0) + 1;
    let title = format!(
        " timeline: {} trials, {:.0} s, {} worker(s), {n_lanes} lane(s) ",
        lanes.len(),
        t1 - t0,
        workers.len()
    );
    let canvas = Canvas::default()
        .block(Block::bordered().title(title))
        .marker(Marker::HalfBlock)
        .x_bounds([-0.08 * width, width * 1.02])
        .y_bounds([-1.0, n_lanes as f64])
        .paint(|ctx| {
            for &(index, lane) in &lanes {
                let Some(e) = state.queue.get(index) else {
                    continue;
                };
                let Some((a, b)) = e.span else {
                    continue;
                };
                let y = (n_lanes - 1 - lane) as f64;
                ctx.draw(&CanvasLine {
                    x1: a - t0,
                    y1: y,
                    x2: (b - t0).max(a - t0 + width * 0.004),
                    y2: y,
                    color: status_colour(e),
                });
                ctx.print(a - t0, y + 0.5, Span::raw(format!("#{index}")));
            }
            // Each worker named over its first lane, when there are several.
            if workers.len() > 1 {
                for (lane, name) in &workers {
                    let y = (n_lanes - 1 - lane) as f64;
                    ctx.print(
                        width * 0.55,
                        y + 0.5,
                        Span::styled(name.clone(), Style::new().fg(Color::Gray)),
                    );
                }
            }
            ctx.print(0.0, -0.8, Span::raw("0 s"));
            ctx.print(width * 0.85, -0.8, Span::raw(format!("{:.0} s", t1 - t0)));
        });
    frame.render_widget(canvas, area);
}
