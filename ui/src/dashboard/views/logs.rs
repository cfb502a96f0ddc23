//! The logs screen: the log folder's runs (marked ones compared), their tags grouped by prefix
//! with the one charted picked out, the charted tag for every run shown, and the settings in
//! which the shown runs differ.

use super::chart::{draw as draw_chart, Trace, YAxis};
use super::compare::PALETTE;
use crate::dashboard::app::App;
use crate::dashboard::screens::logs::{prefix, seed_groups};
use gradboard::logs::{LogRun, Source};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

/// Draws the logs screen.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let logs = &app.logs;
    let Some(dir) = &logs.dir else {
        frame.render_widget(
            Paragraph::new(
                "No log folder: open the dashboard with --logdir DIR to follow other programs' runs \
                 (folders with TensorBoard event files or a metrics.jsonl) here.",
            )
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" logs ")),
            area,
        );
        return;
    };
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)]).areas(area);
    let [runs_area, settings_area] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(left);
    let [tags_area, chart_area] =
        Layout::vertical([Constraint::Length(4), Constraint::Min(6)]).areas(right);
    draw_runs(frame, app, &dir.display().to_string(), runs_area);
    let shown = logs.shown();
    draw_settings(frame, &shown, settings_area);
    let tag = logs.current_tag();
    draw_tags(frame, &logs.tags(), tag.as_deref(), tags_area);
    let curve = |run: &LogRun| -> Curve {
        tag.as_ref()
            .and_then(|t| run.scalars.get(t))
            .map(|ps| {
                ps.iter()
                    .filter(|p| p.value.is_finite() && (!logs.log || p.value > 0.0))
                    .map(|p| {
                        let y = if logs.log { p.value.log10() } else { p.value };
                        (p.step as f64, y)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let groups: Vec<Vec<&LogRun>> = match logs.grouped {
        true => seed_groups(&shown),
        false => shown.iter().map(|r| vec![*r]).collect(),
    };
    let traces: Vec<Trace> = groups
        .iter()
        .enumerate()
        .map(|(i, members)| {
            let curves: Vec<Curve> = members.iter().map(|r| curve(r)).collect();
            let (line, band) = match curves.len() {
                1 => (curves[0].clone(), Vec::new()),
                _ => mean_and_band(&curves),
            };
            let label = match members.len() {
                1 => members[0].id.clone(),
                n => format!("{} +{} seeds (n={n})", members[0].id, n - 1),
            };
            Trace {
                label,
                color: PALETTE[i % PALETTE.len()],
                test_color: PALETTE[i % PALETTE.len()],
                raw: Vec::new(),
                train: line,
                test: Vec::new(),
                best: None,
                marks: Vec::new(),
                band,
            }
        })
        .collect();
    let title = match &tag {
        Some(t) if logs.grouped => format!(
            " {t}{} ({} runs in {} group{}: mean, min-max band; G ungroups) ",
            if logs.log { ", log10" } else { "" },
            shown.len(),
            traces.len(),
            if traces.len() == 1 { "" } else { "s" }
        ),
        Some(t) => format!(
            " {t}{} ({} run{}) ",
            if logs.log { ", log10" } else { "" },
            traces.len(),
            if traces.len() == 1 { "" } else { "s" }
        ),
        None => " no scalars yet ".to_string(),
    };
    let axis = YAxis {
        metric: None,
        log: logs.log,
        ignore_outliers: true,
    };
    draw_chart(frame, chart_area, title, &traces, "step", axis);
}

/// A curve's points, (x, y).
type Curve = Vec<(f64, f64)>;

/// The mean of curves at the steps all of them reached, and their min-max band there.
fn mean_and_band(curves: &[Curve]) -> (Curve, Vec<(f64, f64, f64)>) {
    let mut at: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
    for c in curves {
        for &(x, y) in c {
            at.entry(x.to_bits()).or_default().push(y);
        }
    }
    let mut line = Vec::new();
    let mut band = Vec::new();
    let mut steps: Vec<(f64, Vec<f64>)> = at
        .into_iter()
        .filter(|(_, ys)| ys.len() == curves.len())
        .map(|(x, ys)| (f64::from_bits(x), ys))
        .collect();
    steps.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (x, ys) in steps {
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        line.push((x, mean));
        band.push((x, lo, hi));
    }
    (line, band)
}

fn draw_runs(frame: &mut Frame, app: &App, dir: &str, area: Rect) {
    let logs = &app.logs;
    let narrow = area.width < 60;
    let skipped = logs.runs.iter().any(|r| r.skipped > 0);
    // What the id gets: the panel less its border, the other columns and their gaps.
    let others = if narrow {
        1 + 5 + 4 + 6
    } else {
        1 + 11 + 4 + 7
    } + if skipped { 7 } else { 0 };
    let gaps = if skipped { 5 } else { 4 };
    let id_width = (area.width as usize)
        .saturating_sub(2 + others + gaps)
        .max(8);
    let rows: Vec<Row> = logs
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mark = match logs.marked.iter().position(|m| *m == r.id) {
                Some(k) => Span::styled("●", Style::new().fg(PALETTE[k % PALETTE.len()])),
                None => Span::raw(" "),
            };
            let points: usize = r.scalars.values().map(Vec::len).sum();
            let style = if i == logs.cursor {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            };
            let mut cells = vec![
                Cell::from(mark),
                Cell::from(tail(&r.id, id_width)),
                Cell::from(source_name(r.source, narrow)),
                Cell::from(format!("{}", r.scalars.len())),
                Cell::from(format!("{points}")),
            ];
            if skipped {
                cells.push(Cell::from(match r.skipped {
                    0 => String::new(),
                    n => n.to_string(),
                }));
            }
            Row::new(cells).style(style)
        })
        .collect();
    let title = match &logs.error {
        Some(e) => format!(" {dir}: {e} "),
        None => format!(
            " {dir}: {} run{} (followed live; space marks to compare) ",
            logs.runs.len(),
            if logs.runs.len() == 1 { "" } else { "s" }
        ),
    };
    let mut header = vec!["", "run", "source", "tags", "points"];
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Min(8),
        Constraint::Length(if narrow { 5 } else { 11 }),
        Constraint::Length(4),
        Constraint::Length(if narrow { 6 } else { 7 }),
    ];
    if skipped {
        header.push("skipped");
        widths.push(Constraint::Length(7));
    }
    let header = Row::new(header).style(Style::new().add_modifier(Modifier::BOLD));
    let mut block = Block::bordered().title(title);
    if logs.runs.is_empty() && logs.error.is_none() {
        block = block.title_bottom(
            " no runs yet: a run is a folder with events.out.tfevents.* or metrics.jsonl ",
        );
    }
    frame.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

fn source_name(source: Source, short: bool) -> &'static str {
    match (source, short) {
        (Source::Tensorboard, false) => "tensorboard",
        (Source::Tensorboard, true) => "tb",
        (Source::Jsonl, _) => "jsonl",
        (Source::Gradboard, false) => "gradboard",
        (Source::Gradboard, true) => "gb",
    }
}

/// `text` in `width` characters: whole, or its end after an ellipsis (run ids differ at
/// their ends: `cifar-lr0.01`, `cifar-lr0.1`).
fn tail(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_string();
    }
    let kept: String = text.chars().skip(n + 1 - width).collect();
    format!("…{kept}")
}

/// The tags, a line a prefix, the charted one highlighted.
fn draw_tags(frame: &mut Frame, tags: &[String], current: Option<&str>, area: Rect) {
    let mut lines: Vec<Line> = Vec::new();
    let mut group: Option<&str> = None;
    for tag in tags {
        let p = prefix(tag);
        if group != Some(p) {
            group = Some(p);
            lines.push(Line::from(Span::styled(
                if p.is_empty() {
                    "(no prefix): ".to_string()
                } else {
                    format!("{p}/: ")
                },
                Style::new().fg(Color::DarkGray),
            )));
        }
        let name = tag.rsplit_once('/').map_or(tag.as_str(), |(_, n)| n);
        let style = if Some(tag.as_str()) == current {
            Style::new().fg(Color::Black).bg(Color::Cyan)
        } else {
            Style::new()
        };
        let line = lines.last_mut().expect("a group line");
        line.spans.push(Span::styled(name.to_string(), style));
        line.spans.push(Span::raw("  "));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" tags (←/→ picks the one charted) ")),
        area,
    );
}

/// The settings of the shown runs: the keys in which they differ (all of one run's).
fn draw_settings(frame: &mut Frame, shown: &[&LogRun], area: Rect) {
    let mut keys: Vec<&String> = shown.iter().flat_map(|r| r.settings.keys()).collect();
    keys.sort();
    keys.dedup();
    if shown.len() > 1 {
        keys.retain(|k| {
            let first = shown[0].settings.get(*k);
            shown.iter().any(|r| r.settings.get(*k) != first)
        });
    }
    let text = |v: Option<&serde_json::Value>| match v {
        None => "-".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let rows: Vec<Row> = keys
        .iter()
        .map(|k| {
            let mut cells = vec![Cell::from(k.to_string())];
            cells.extend(shown.iter().enumerate().map(|(i, r)| {
                Cell::from(Span::styled(
                    text(r.settings.get(*k)),
                    Style::new().fg(PALETTE[i % PALETTE.len()]),
                ))
            }));
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Length(14)];
    widths.extend(shown.iter().map(|_| Constraint::Min(6)));
    let title = match (shown.len(), keys.is_empty()) {
        (0, _) => " settings ".to_string(),
        (1, true) => " settings: none recorded ".to_string(),
        (1, false) => " settings ".to_string(),
        (_, true) => " settings: the same in every run shown ".to_string(),
        (n, false) => format!(" settings that differ between the {n} runs "),
    };
    frame.render_widget(
        Table::new(rows, widths).block(Block::bordered().title(title)),
        area,
    );
}
