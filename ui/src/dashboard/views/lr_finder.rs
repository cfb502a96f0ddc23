//! The learning-rate finder's popup: the smoothed loss against the learning rate on a log
//! axis as the ramp goes, the suggestion marked, and the keys to apply it or close.

use super::layout::centered;
use crate::dashboard::screens::lr_finder::LrFinderView;
use gradboard::config::format_float;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Block, Chart, Clear, Dataset, GraphType, Paragraph};
use ratatui::Frame;

/// Draws the popup over `area`.
pub fn draw(frame: &mut Frame, area: Rect, view: &LrFinderView) {
    let r = centered(area, 100, 26);
    frame.render_widget(Clear, r);
    let [chart_area, text_area] =
        Layout::vertical([Constraint::Min(8), Constraint::Length(4)]).areas(r);
    let points: Vec<(f64, f64)> = view
        .curve
        .iter()
        .filter(|p| p.0 > 0.0 && p.1.is_finite())
        .map(|&(lr, loss)| (lr.log10(), loss))
        .collect();
    // x: the decades the ramp has covered; y: from just under the lowest loss to half the
    // fall above the first, so a small dip shows and the blow-up runs off the top.
    let (x_lo, x_hi) = match (points.first(), points.last()) {
        (Some(a), Some(b)) => (a.0.floor(), b.0.ceil().max(a.0.floor() + 1.0)),
        _ => (-7.0, 1.0),
    };
    let first = points.first().map(|p| p.1).unwrap_or(2.5);
    let lowest = points.iter().map(|p| p.1).fold(first, f64::min);
    let span = (first - lowest).max(0.02 * first.abs().max(0.1));
    let y_lo = lowest - 0.1 * span;
    let y_hi = first + 0.5 * span;
    let suggestion = view.suggestion();
    let marker: Vec<(f64, f64)> = suggestion
        .map(|lr| vec![(lr.log10(), y_lo), (lr.log10(), y_hi)])
        .unwrap_or_default();
    let mut datasets = vec![Dataset::default()
        .name("smoothed loss")
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::new().fg(Color::Cyan))
        .data(&points)];
    if !marker.is_empty() {
        datasets.push(
            Dataset::default()
                .name(format!(
                    "suggested {}",
                    format_float(suggestion.unwrap_or(0.0))
                ))
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(Color::Yellow))
                .data(&marker),
        );
    }
    let decades = (x_hi - x_lo).round().max(1.0) as usize;
    let every = decades.div_ceil(4);
    let decades = decades.div_ceil(every) * every;
    let labels: Vec<String> = (0..=decades)
        .step_by(every)
        .map(|i| format_float(10f64.powi((x_lo as i32) + i as i32)))
        .collect();
    let x_hi = x_lo + decades as f64;
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(Line::from(format!(
            " learning-rate finder on {}: loss against lr ",
            view.source
        ))))
        .x_axis(Axis::default().bounds([x_lo, x_hi]).labels(labels))
        .y_axis(Axis::default().bounds([y_lo, y_hi]).labels([
            format!("{y_lo:.3}"),
            format!("{:.3}", (y_lo + y_hi) / 2.0),
            format!("{y_hi:.3}"),
        ]));
    frame.render_widget(chart, chart_area);
    let status = match (&view.result, suggestion) {
        (None, _) => format!(
            "ramping: {} steps, lr {}   (Esc stops)",
            view.curve.len(),
            view.curve
                .last()
                .map(|p| format_float(p.0))
                .unwrap_or_else(|| "-".into())
        ),
        (Some(Err(e)), _) => format!("failed: {e}   (Esc closes)"),
        (Some(Ok(f)), Some(lr)) => format!(
            "suggested lr {} (steepest descent of the smoothed loss){}   a/Enter: use it   Esc: close",
            format_float(lr),
            if f.diverged { "; the ramp stopped where the loss blew up" } else { "" }
        ),
        (Some(Ok(_)), None) => "no suggestion: the loss never fell along the ramp   (Esc closes)".into(),
    };
    frame.render_widget(
        Paragraph::new(status)
            .wrap(ratatui::widgets::Wrap { trim: true })
            .block(Block::bordered()),
        text_area,
    );
}
