//! The compare screen: the marked runs' curves overlaid (one colour a run, a fork's parent
//! leading into it), and with `d` their settings side by side, only the keys that differ.

use super::chart::{
    axis_name, draw as draw_chart, group_trace, smoothing_note, trace, Metric, Trace, YAxis,
};
use crate::dashboard::app::App;
use crate::dashboard::store::RunView;
use gradboard::config::RunConfig;
use gradboard::runs::export::differing_keys;
use gradboard::runs::groups::group_key;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

/// The colours of compared runs, in marking order.
pub const PALETTE: [Color; 8] = [
    Color::Cyan,
    Color::Yellow,
    Color::LightGreen,
    Color::LightMagenta,
    Color::LightBlue,
    Color::LightRed,
    Color::White,
    Color::Green,
];

/// The marked runs that are loaded, in marking order.
fn compared(app: &App) -> Vec<&RunView> {
    app.shared
        .marked
        .iter()
        .filter_map(|id| app.shared.runs.get(id))
        .collect()
}

/// A run's legend: the keys in which the compared runs differ, those where it departs from
/// the others' most common value first (what sets it apart leads, before the legend is cut),
/// else its id (a group's first run, `without_seed`: those keys less the seed, else its id's
/// tail).
fn labels(runs: &[&RunView], without_seed: bool) -> Vec<String> {
    let configs: Vec<&RunConfig> = runs.iter().map(|r| &r.config).collect();
    let mut keys = differing_keys(&configs);
    if without_seed {
        keys.retain(|k| *k != "seed");
    }
    let value = |r: &RunView, k: &str| r.config.get(k).ok();
    // Each key's most common value among the runs (the first run's on a tie).
    let common: Vec<Option<String>> = keys
        .iter()
        .map(|k| {
            let values: Vec<Option<String>> = runs.iter().map(|r| value(r, k)).collect();
            values
                .iter()
                .max_by_key(|v| {
                    let n = values.iter().filter(|w| w == v).count();
                    (n, std::cmp::Reverse(values.iter().position(|w| w == *v)))
                })
                .cloned()
                .flatten()
        })
        .collect();
    runs.iter()
        .map(|r| {
            let mut ordered: Vec<(bool, &str)> = keys
                .iter()
                .zip(&common)
                .map(|(k, c)| (value(r, k) == *c, *k))
                .collect();
            // Departures first, each group in the keys' order.
            ordered.sort_by_key(|(same, _)| *same);
            let parts: Vec<String> = ordered
                .iter()
                .take(3)
                .filter_map(|(_, k)| value(r, k).map(|v| format!("{k}={v}")))
                .collect();
            let short = r.run_id.rsplit('-').next().unwrap_or("");
            match (parts.is_empty(), without_seed) {
                (true, false) => r.run_id.clone(),
                (true, true) => short.to_string(),
                _ => format!("{short} {}", parts.join(" ")),
            }
        })
        .collect()
}

/// The compared runs, each alone or (when `grouped`) with the runs that differ from it only by
/// seed, in marking order.
fn fold<'a>(runs: &[&'a RunView], grouped: bool) -> Vec<Vec<&'a RunView>> {
    let mut out: Vec<(String, Vec<&RunView>)> = Vec::new();
    for r in runs {
        let key = match (&r.start, grouped) {
            (Some(start), true) => group_key(&start.preset, &start.config, start.parent.as_ref()),
            _ => r.run_id.clone(),
        };
        match out.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(r),
            None => out.push((key, vec![r])),
        }
    }
    out.into_iter().map(|g| g.1).collect()
}

/// Draws the overlay (and the settings when `d` is on).
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let runs = compared(app);
    if runs.is_empty() {
        let text = if app.shared.marked.is_empty() {
            "No runs marked.\n\nOn the runs screen (Tab), space marks runs and c compares them."
        } else {
            "Reading the marked runs' events..."
        };
        frame.render_widget(
            Paragraph::new(text)
                .block(Block::bordered().title(" compare "))
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let (charts_area, diff_area) = if app.compare.diff {
        let [c, d] =
            Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
        (c, Some(d))
    } else {
        (area, None)
    };
    let [loss_area, acc_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(charts_area);
    let options = &app.shared.chart;
    // Grouped (the runs screen's g): runs that differ only by seed are one mean curve and band,
    // named by its first run's settings less the seed.
    let groups = fold(&runs, app.runs.grouped);
    let firsts: Vec<&RunView> = groups.iter().map(|g| g[0]).collect();
    let names = labels(&firsts, groups.iter().any(|g| g.len() > 1));
    let traces = |metric: Metric| -> Vec<Trace> {
        groups
            .iter()
            .enumerate()
            .map(|(i, members)| {
                let color = PALETTE[i % PALETTE.len()];
                let first = members[0];
                let name = names[i].clone();
                if members.len() > 1 {
                    return group_trace(members, options, metric, color, name);
                }
                let parent = first.parent().and_then(|p| app.shared.runs.get(&p.run_id));
                trace(
                    first,
                    parent,
                    options,
                    metric,
                    (color, color),
                    (name, false),
                )
            })
            .collect()
    };
    let x_name = axis_name(options.x_axis);
    let loss_title = format!(
        " loss{} (train {}; dots: test) ",
        if options.log_loss { " log10" } else { "" },
        smoothing_note(options)
    );
    draw_chart(
        frame,
        loss_area,
        loss_title,
        &traces(Metric::Loss),
        x_name,
        YAxis::of(Metric::Loss, options),
    );
    draw_chart(
        frame,
        acc_area,
        " accuracy ".into(),
        &traces(Metric::Accuracy),
        x_name,
        YAxis::of(Metric::Accuracy, options),
    );
    if let Some(diff_area) = diff_area {
        draw_diff(frame, &runs, diff_area);
    }
}

/// The settings of the runs side by side, only the keys that differ.
fn draw_diff(frame: &mut Frame, runs: &[&RunView], area: Rect) {
    let configs: Vec<&RunConfig> = runs.iter().map(|r| &r.config).collect();
    let keys = differing_keys(&configs);
    let header = Row::new(
        std::iter::once(Cell::from("key")).chain(runs.iter().enumerate().map(|(i, r)| {
            Cell::from(r.run_id.clone()).style(Style::new().fg(PALETTE[i % PALETTE.len()]))
        })),
    )
    .style(Style::new().add_modifier(Modifier::BOLD));
    let mut rows: Vec<Row> = keys
        .iter()
        .map(|k| {
            Row::new(
                std::iter::once(Cell::from(k.to_string()))
                    .chain(runs.iter().map(|r| Cell::from(r.setting_text(k)))),
            )
        })
        .collect();
    let figure = |r: &RunView| {
        r.best_test()
            .map(|(s, v)| format!("{v:.4} @ {s}"))
            .unwrap_or_else(|| "-".into())
    };
    rows.push(Row::new(
        std::iter::once(Cell::from("best test acc"))
            .chain(runs.iter().map(|r| Cell::from(figure(r)))),
    ));
    rows.push(Row::new(
        std::iter::once(Cell::from("status"))
            .chain(runs.iter().map(|r| Cell::from(r.status().label()))),
    ));
    let widths: Vec<Constraint> = std::iter::once(Constraint::Length(14))
        .chain(runs.iter().map(|_| Constraint::Min(12)))
        .collect();
    let title = if keys.is_empty() {
        " settings: the runs have the same settings ".to_string()
    } else {
        format!(" settings: the {} keys that differ ", keys.len())
    };
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(Block::bordered().title(title)),
        area,
    );
}
