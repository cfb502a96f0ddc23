//! The progress panel: status, step, times, speed, learning rate, last and best figures.

use super::{clock, status_style};
use crate::dashboard::app::App;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph, Wrap};
use ratatui::Frame;

/// Draws the progress panel of the live screen's run.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let block = Block::bordered().title(" progress ");
    let Some(run) = app.run() else {
        frame.render_widget(Paragraph::new("no run yet").block(block), area);
        return;
    };
    let now = app.shared.now;
    let last = |s: &[(f64, f64)]| {
        s.last()
            .map(|p| format!("{:.4}", p.1))
            .unwrap_or_else(|| "-".into())
    };
    let train_loss = run
        .curves
        .train_loss
        .last()
        .map(|p| format!("{:.4}", p.1))
        .unwrap_or_else(|| "-".into());
    let train_acc = run
        .curves
        .train_acc
        .last()
        .map(|p| format!("{:.3}", p.1))
        .unwrap_or_else(|| "-".into());
    let best = run
        .best_test()
        .map(|(s, b)| format!("{b:.4} (step {s})"))
        .unwrap_or_else(|| "-".into());
    let status = run.status();
    let mut lines = vec![
        Line::from(vec![
            Span::raw("status  "),
            Span::styled(status.label(), status_style(&status)),
        ]),
        Line::from(format!(
            "step    {} / {}   epoch {:.2}{}",
            run.step,
            run.last_step(),
            run.epoch,
            // A fork's steps are extra: it goes on from its parent's.
            run.parent()
                .map(|p| format!("  fork {}-{}", p.step + 1, run.last_step()))
                .unwrap_or_default()
        )),
        Line::from(format!(
            "elapsed {}   ETA {}",
            clock(run.elapsed(now)),
            run.eta(now).map(clock).unwrap_or_else(|| "-".into())
        )),
        Line::from(format!("speed   {:.0} samples/s", run.samples_per_sec)),
        Line::from(format!("lr      {}", super::lr_text(run.lr))),
        Line::from(format!("train   loss {train_loss}  acc {train_acc}")),
        Line::from(format!(
            "test    acc {}  loss {}",
            last(&run.curves.test_acc),
            last(&run.curves.test_loss)
        )),
        Line::from(format!("best    test acc {best}")),
    ];
    if let Some(w) = run.warnings.last() {
        // Under the status, above what the gauge may cover.
        lines.insert(
            1,
            Line::from(Span::styled(
                format!("⚠ {} (y: the layers screen)", w.message),
                Style::new().fg(Color::Yellow),
            )),
        );
    }
    let mut gauge_area = block.inner(area);
    frame.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
        area,
    );
    gauge_area.y += gauge_area.height.saturating_sub(1);
    gauge_area.height = 1;
    let done = run.step.saturating_sub(run.first_step) as f64;
    let ratio = (done / run.config.steps.max(1) as f64).clamp(0.0, 1.0);
    frame.render_widget(
        Gauge::default()
            .ratio(ratio)
            .gauge_style(Style::new().fg(Color::Green)),
        gauge_area,
    );
}
