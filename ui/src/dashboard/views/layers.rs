//! The layers screen: a heat map of layer by step for one statistic (update ratio, gradient
//! norm, weight norm, activation spread, dead fraction), the selected layer's quantile bands
//! over time (weights and gradients, or its outputs), and the gradient flow (mean |grad| of
//! each weight) at the cursor's step, with the run's warnings.

use crate::dashboard::app::App;
use crate::dashboard::screens::layers::LayerStat;
use gradboard::diag::watch::is_matrix;
use gradboard::events::Quantiles;
use gradboard::runs::figure_style::ramp;
use gradboard::runs::state::LayersPoint;
use gradboard::runs::RunState;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph, Wrap};
use ratatui::Frame;

/// A row's value at one `layers` event: row `index` named `row` (every event lists the
/// tensors in the network's order, so the name is looked for only when an event differs).
fn value(stat: LayerStat, point: &LayersPoint, (index, row): (usize, &str)) -> Option<f64> {
    let v = if stat.of_params() {
        let p = match point.params.get(index) {
            Some(p) if p.name == row => p,
            _ => point.params.iter().find(|p| p.name == row)?,
        };
        match stat {
            LayerStat::UpdateRatio => p.update_ratio,
            LayerStat::GradNorm => p.grad_norm,
            _ => p.norm,
        }
    } else {
        let a = match point.acts.get(index) {
            Some(a) if a.name == row => a,
            _ => point.acts.iter().find(|a| a.name == row)?,
        };
        match stat {
            LayerStat::ActStd => a.std,
            _ => a.dead,
        }
    };
    match stat.log() {
        true => (v > 0.0).then(|| v.log10()),
        false => Some(v),
    }
}

/// The rows of the heat map: parameter tensors or hidden layers, input to output.
pub fn rows(stat: LayerStat, run: &RunState) -> Vec<String> {
    let Some(last) = run.layers.last() else {
        return Vec::new();
    };
    if stat.of_params() {
        last.params.iter().map(|p| p.name.clone()).collect()
    } else {
        last.acts.iter().map(|a| a.name.clone()).collect()
    }
}

/// A value as text: `1.2e-3`, or a fraction with two decimals.
fn text(stat: LayerStat, v: Option<f64>) -> String {
    match (v, stat.log()) {
        (Some(v), true) => format!("{:.1e}", 10f64.powf(v)),
        (Some(v), false) => format!("{v:.2}"),
        (None, _) => "-".into(),
    }
}

/// Draws the layers screen.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let screen = &app.layers;
    let run = match &screen.run {
        Some(id) => app.shared.runs.get(id),
        None => app.run(),
    };
    let Some(run) = run else {
        let text = match &screen.run {
            Some(id) => format!("Reading run {id}..."),
            None => "No run: start one, or press y on a run of the runs screen.".into(),
        };
        frame.render_widget(
            Paragraph::new(text).block(Block::bordered().title(" layers ")),
            area,
        );
        return;
    };
    if run.layers.is_empty() {
        frame.render_widget(
            Paragraph::new(format!(
                "Run {} has no layers events (diag_every = {}; runs before this build wrote none). Set diag_every (e.g. 100) to record per-layer statistics.",
                run.run_id, run.config.diag_every
            ))
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" layers ")),
            area,
        );
        return;
    }
    let warn_rows = run.warnings.len().min(4) as u16;
    let [map_area, bottom, warn_area] = Layout::vertical([
        Constraint::Percentage(55),
        Constraint::Min(8),
        Constraint::Length(if warn_rows > 0 { warn_rows + 2 } else { 0 }),
    ])
    .areas(area);
    let rows = rows(screen.stat, run);
    let selected = screen.layer.min(rows.len().saturating_sub(1));
    let at = run.layers.len() - 1 - screen.back.min(run.layers.len() - 1);
    draw_map(frame, run, screen.stat, &rows, selected, at, map_area);
    let [bands_area, flow_area] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(bottom);
    draw_bands(frame, run, screen.stat, rows.get(selected), bands_area);
    draw_flow(frame, &run.layers[at], flow_area);
    if warn_rows > 0 {
        let lines: Vec<Line> = run
            .warnings
            .iter()
            .rev()
            .take(4)
            .map(|w| {
                Line::from(vec![
                    Span::styled(format!("step {} ", w.step), Style::new().fg(Color::Yellow)),
                    Span::raw(w.message.clone()),
                ])
            })
            .collect();
        frame.render_widget(
            Paragraph::new(lines).block(Block::bordered().title(" warnings ")),
            warn_area,
        );
    }
}

/// One row a layer, one column an event (or a span of them), its colour the statistic; the
/// newest value at the right; the cursor's column marked.
fn draw_map(
    frame: &mut Frame,
    run: &RunState,
    stat: LayerStat,
    rows: &[String],
    selected: usize,
    at: usize,
    area: Rect,
) {
    let name_w = rows.iter().map(|r| r.len()).max().unwrap_or(4).min(22) as u16;
    let inner_w = area.width.saturating_sub(2 + name_w + 1 + 9) as usize;
    let n = run.layers.len();
    let columns = inner_w.max(1);
    let event_of = |c: usize| -> usize {
        if n <= columns {
            (c * n / columns).min(n - 1)
        } else {
            ((c + 1) * n / columns).saturating_sub(1).min(n - 1)
        }
    };
    let scale = stat.scale();
    let cursor_col = (0..columns)
        .find(|&c| event_of(c) >= at)
        .unwrap_or(columns - 1);
    // The rows that fit (less the scale's two lines), scrolled to keep the selected one in
    // view; few rows are drawn taller so the map fills its panel.
    let fit = area.height.saturating_sub(4).max(1) as usize;
    let first = selected.saturating_sub(fit - 1);
    let repeat = (fit / rows.len().max(1)).clamp(1, 8);
    let mut lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .skip(first)
        .take(fit)
        .flat_map(|(i, row)| {
            let name_style = if i == selected {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            };
            let cells: Vec<Span> = (0..columns)
                .map(|c| {
                    let v = value(stat, &run.layers[event_of(c)], (i, row));
                    let colour = match v {
                        Some(v) if v.is_finite() => {
                            let (r, g, b) = ramp(scale.fraction(v));
                            Color::Rgb(r, g, b)
                        }
                        _ => Color::Black,
                    };
                    let mark = if c == cursor_col { "│" } else { " " };
                    Span::styled(mark, Style::new().bg(colour).fg(Color::White))
                })
                .collect();
            let now = value(stat, &run.layers[at], (i, row));
            // The value at the cursor, red outside the healthy band.
            let now_style = match now {
                Some(v) if !scale.healthy(v) => Style::new().fg(Color::LightRed),
                _ => Style::new(),
            };
            (0..repeat)
                .map(|k| {
                    let name = if k == repeat / 2 {
                        truncate(row, name_w as usize)
                    } else {
                        String::new()
                    };
                    let mut spans = vec![Span::styled(
                        format!("{name:>w$} ", w = name_w as usize),
                        name_style,
                    )];
                    spans.extend(cells.iter().cloned());
                    if k == repeat / 2 {
                        spans.push(Span::styled(format!(" {:>8}", text(stat, now)), now_style));
                    }
                    Line::from(spans)
                })
                .collect::<Vec<_>>()
        })
        .take(fit)
        .collect();
    // The scale: its colours across the map's width, the healthy band marked.
    let mut legend = vec![Span::raw(format!("{:>w$} ", "scale", w = name_w as usize))];
    for c in 0..columns {
        let f = (c as f64 + 0.5) / columns as f64;
        let v = scale.lo + f * (scale.hi - scale.lo);
        let (r, g, b) = ramp(f);
        let mark = if scale.healthy(v) { "━" } else { " " };
        legend.push(Span::styled(
            mark,
            Style::new().bg(Color::Rgb(r, g, b)).fg(Color::White),
        ));
    }
    lines.push(Line::from(legend));
    let scale_text = format!("{} (━ healthy)", scale.describe());
    lines.push(Line::from(Span::styled(
        format!(
            "{:>w$} steps {} .. {}, cursor at step {}; scale {scale_text}",
            "",
            run.layers[0].step,
            run.layers[n - 1].step,
            run.layers[at].step,
            w = name_w as usize
        ),
        Style::new().fg(Color::Gray),
    )));
    let title = format!(
        " layers of {}: {} (v next, ↑↓ layer, ←→ step; values at step {}) ",
        run.run_id,
        stat.name(),
        run.layers[at].step
    );
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

fn truncate(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else {
        s.chars().skip(s.chars().count() - w).collect()
    }
}

/// The quantile bands of the selected layer over time: min-max, 5-95 %, 25-75 %, median.
fn draw_bands(
    frame: &mut Frame,
    run: &RunState,
    stat: LayerStat,
    row: Option<&String>,
    area: Rect,
) {
    let Some(row) = row else {
        return;
    };
    type Pick = Box<dyn Fn(&LayersPoint) -> Option<Quantiles>>;
    let panels: Vec<(String, Pick)> = if stat.of_params() {
        let (a, b) = (row.clone(), row.clone());
        vec![
            (
                format!(" {row}: weights "),
                Box::new(move |p: &LayersPoint| p.params.iter().find(|x| x.name == a).map(|x| x.q)),
            ),
            (
                " gradients ".to_string(),
                Box::new(move |p: &LayersPoint| {
                    p.params.iter().find(|x| x.name == b).map(|x| x.grad_q)
                }),
            ),
        ]
    } else {
        let a = row.clone();
        vec![(
            format!(" {row}: outputs on the probe batch "),
            Box::new(move |p: &LayersPoint| p.acts.iter().find(|x| x.name == a).map(|x| x.q)),
        )]
    };
    let areas = Layout::horizontal(vec![
        Constraint::Ratio(1, panels.len() as u32);
        panels.len()
    ])
    .split(area);
    for ((title, pick), panel) in panels.iter().zip(areas.iter()) {
        let series: Vec<Vec<(f64, f64)>> = (0..7)
            .map(|k| {
                run.layers
                    .iter()
                    .filter_map(|p| pick(p).map(|q| (p.step as f64, q[k])))
                    .filter(|p| p.1.is_finite())
                    .collect()
            })
            .collect();
        let (x0, x1) = (
            run.layers[0].step as f64,
            run.layers[run.layers.len() - 1].step as f64,
        );
        let ys = series.iter().flatten().map(|p| p.1);
        let (y0, y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), y| {
            (l.min(y), h.max(y))
        });
        let (y0, y1) = if y1 > y0 {
            (y0, y1)
        } else {
            (y0 - 1.0, y0 + 1.0)
        };
        let style = |k: usize| match k {
            0 | 6 => Style::new().fg(Color::DarkGray),
            1 | 5 => Style::new().fg(Color::Gray),
            2 | 4 => Style::new().fg(Color::Cyan),
            _ => Style::new().fg(Color::Yellow),
        };
        let datasets: Vec<Dataset> = series
            .iter()
            .enumerate()
            .map(|(k, s)| {
                Dataset::default()
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(style(k))
                    .data(s)
            })
            .collect();
        let chart = Chart::new(datasets)
            .block(Block::bordered().title(format!(
                "{title}(min-max gray, 5-95 %, 25-75 % cyan, median yellow) "
            )))
            .x_axis(
                Axis::default()
                    .bounds([x0, x1.max(x0 + 1.0)])
                    .labels([format!("{x0:.0}"), format!("{x1:.0}")]),
            )
            .y_axis(
                Axis::default()
                    .bounds([y0, y1])
                    .labels([format!("{y0:.2e}"), format!("{y1:.2e}")]),
            );
        frame.render_widget(chart, *panel);
    }
}

/// Mean |grad| of each weight matrix at the cursor's step, bars on a log scale.
fn draw_flow(frame: &mut Frame, point: &LayersPoint, area: Rect) {
    let weights: Vec<(&str, f64)> = point
        .params
        .iter()
        .filter(|p| is_matrix(&p.name))
        .map(|p| (p.name.as_str(), p.grad_mean_abs))
        .collect();
    let logs: Vec<f64> = weights
        .iter()
        .filter(|w| w.1 > 0.0)
        .map(|w| w.1.log10())
        .collect();
    let lo = logs.iter().copied().fold(f64::INFINITY, f64::min) - 0.5;
    let hi = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let name_w = weights.iter().map(|w| w.0.len()).max().unwrap_or(4).min(14);
    let bar_w = area.width.saturating_sub(name_w as u16 + 12).max(1) as f64;
    let lines: Vec<Line> = weights
        .iter()
        .map(|(name, g)| {
            let len = if *g > 0.0 && hi > lo {
                ((g.log10() - lo) / (hi - lo) * bar_w).round() as usize
            } else {
                0
            };
            Line::from(vec![
                Span::raw(format!("{:>name_w$} {:.1e} ", truncate(name, name_w), g)),
                Span::styled("█".repeat(len), Style::new().fg(Color::LightBlue)),
            ])
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(format!(
            " gradient flow at step {}: mean |grad| (log) ",
            point.step
        ))),
        area,
    );
}
