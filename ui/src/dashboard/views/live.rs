//! The live screen's charts: the current run's loss and accuracy (and its learning rate when
//! that moves), or the data set's state while it downloads or loads.

use super::chart::{axis_name, draw as draw_chart, smoothing_note, trace, Metric, YAxis};
use crate::dashboard::app::App;
use crate::dashboard::msg::DataState;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::widgets::{Block, Gauge, Paragraph, Wrap};
use ratatui::Frame;

/// Draws the data set's download or load state, or its failure with the fix.
pub fn draw_data(frame: &mut Frame, state: &DataState, area: Rect) {
    let block = Block::bordered().title(" CIFAR-10 ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [text_area, gauge_area, _] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    match state {
        DataState::Downloading { done, total } => {
            let mb = |b: u64| b as f64 / 1e6;
            let label = match total {
                Some(t) => format!("{:.1} / {:.1} MB", mb(*done), mb(*t)),
                None => format!("{:.1} MB", mb(*done)),
            };
            frame.render_widget(Paragraph::new("Downloading the CIFAR-10 binary archive (first use only).\nIts md5 is checked before it is used."), text_area);
            let ratio = total.map(|t| (*done as f64 / t.max(1) as f64).min(1.0)).unwrap_or(0.0);
            frame.render_widget(Gauge::default().gauge_style(Style::new().fg(Color::Cyan)).ratio(ratio).label(label), gauge_area);
        }
        DataState::Loading(path) => frame.render_widget(Paragraph::new(format!("Reading {path} ...")), text_area),
        DataState::Failed(reason) => frame.render_widget(
            Paragraph::new(format!("The data set could not be loaded:\n{reason}\n\nFix: set GRADBOARD_DATA or --data to a cifar-10-binary.tar.gz (or its extracted folder), or check the network, then start gradboard again."))
                .style(Style::new().fg(Color::Red))
                .wrap(Wrap { trim: true }),
            inner,
        ),
        DataState::Ready { .. } => {}
    }
}

/// Draws the current run's loss and accuracy charts.
pub fn draw_charts(frame: &mut Frame, app: &App, area: Rect) {
    let area = match app.run().filter(|r| super::schedule::shows(r)) {
        Some(run) => {
            let [charts, lr_area] =
                Layout::vertical([Constraint::Min(10), Constraint::Percentage(22)]).areas(area);
            super::schedule::draw(frame, run, lr_area);
            charts
        }
        None => area,
    };
    let [loss_area, acc_area] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let Some(run) = app.run() else {
        let text = if app.live.current.is_some() {
            "Reading the run's events..."
        } else {
            "No run yet.\n\nPress r to train with the settings on the right, l to pick a preset, or Tab for every run in the runs folder."
        };
        frame.render_widget(
            Paragraph::new(text)
                .block(Block::bordered().title(" loss "))
                .wrap(Wrap { trim: true }),
            loss_area,
        );
        frame.render_widget(Block::bordered().title(" accuracy "), acc_area);
        return;
    };
    let options = &app.shared.chart;
    let x_name = axis_name(options.x_axis);
    let loss = trace(
        run,
        None,
        options,
        Metric::Loss,
        (Color::Cyan, Color::Yellow),
        ("train loss".into(), true),
    );
    let title = format!(
        " loss{} (train {}) ",
        if options.log_loss { " log10" } else { "" },
        smoothing_note(options)
    );
    draw_chart(
        frame,
        loss_area,
        title,
        &[loss],
        x_name,
        YAxis::of(Metric::Loss, options),
    );
    let acc = trace(
        run,
        None,
        options,
        Metric::Accuracy,
        (Color::Cyan, Color::Yellow),
        ("train acc".into(), true),
    );
    draw_chart(
        frame,
        acc_area,
        " accuracy ".into(),
        &[acc],
        x_name,
        YAxis::of(Metric::Accuracy, options),
    );
}
