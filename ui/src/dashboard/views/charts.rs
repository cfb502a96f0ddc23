//! The loss and accuracy charts of the live screen's run (train per step, test at each
//! evaluation, live changes as vertical lines), and the data set's state before it is ready.

use crate::dashboard::app::{App, DataState, RECENT_STEPS};
use crate::dashboard::series::ema;
use crate::dashboard::state::RunView;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::widgets::{Axis, Block, Chart, Dataset, Gauge, GraphType, Paragraph, Wrap};
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

/// Draws the loss and accuracy charts.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let [loss_area, acc_area] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let Some(run) = app.run() else {
        let hint = Paragraph::new("No run yet.\n\nPress r to train with the settings on the right, or l to pick a preset.")
            .block(Block::bordered().title(" loss "))
            .wrap(Wrap { trim: true });
        frame.render_widget(hint, loss_area);
        frame.render_widget(Block::bordered().title(" accuracy "), acc_area);
        return;
    };
    let view = ChartView::new(app, run);
    let log = app.chart.log_loss;
    let loss_y = |v: f64| if log { v.max(1e-8).log10() } else { v };
    let loss = Curves {
        train: view.train(run.loss.points(), loss_y),
        test: view.points(&run.test_loss, loss_y),
        names: ("train loss", "test loss"),
    };
    let title = if log { " loss (log10) " } else { " loss " };
    draw_chart(frame, loss_area, title, &view, &loss, log);
    let acc = Curves {
        train: view.train(run.acc.points(), |v| v),
        test: view.points(&run.test_acc, |v| v),
        names: ("train acc", "test acc"),
    };
    draw_chart(frame, acc_area, " accuracy ", &view, &acc, false);
}

/// What one frame's charts share: x units, window and the live changes.
struct ChartView {
    per_step: f64,
    x_min: f64,
    smoothing: Option<f64>,
    x_label: &'static str,
    marks: Vec<(f64, String)>,
}

impl ChartView {
    fn new(app: &App, run: &RunView) -> Self {
        let per_step = if app.chart.epochs && run.train_size > 0 {
            run.config.batch_size as f64 / run.train_size as f64
        } else {
            1.0
        };
        let last = run.step as f64;
        let x_min = if app.chart.recent {
            (last - RECENT_STEPS).max(0.0) * per_step
        } else {
            0.0
        };
        let marks = run
            .sets
            .iter()
            .map(|s| (s.step as f64 * per_step, format!("{}={}", s.key, s.value)))
            .filter(|m| m.0 >= x_min)
            .collect();
        ChartView {
            per_step,
            x_min,
            smoothing: app.chart.smoothing.then_some(app.chart.alpha),
            x_label: if app.chart.epochs { "epoch" } else { "step" },
            marks,
        }
    }

    fn points(&self, pts: &[(f64, f64)], y: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        pts.iter()
            .map(|&(s, v)| (s * self.per_step, y(v)))
            .filter(|p| p.0 >= self.x_min && p.1.is_finite())
            .collect()
    }

    fn train(&self, pts: &[(f64, f64)], y: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        let smoothed = match self.smoothing {
            Some(alpha) => ema(pts, alpha),
            None => pts.to_vec(),
        };
        self.points(&smoothed, y)
    }
}

/// The train and test curves of one chart.
struct Curves {
    train: Vec<(f64, f64)>,
    test: Vec<(f64, f64)>,
    names: (&'static str, &'static str),
}

fn bounds(sets: &[&[(f64, f64)]], pick: impl Fn(&(f64, f64)) -> f64) -> [f64; 2] {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for p in sets.iter().flat_map(|s| s.iter()) {
        lo = lo.min(pick(p));
        hi = hi.max(pick(p));
    }
    if !lo.is_finite() {
        return [0.0, 1.0];
    }
    if hi - lo < 1e-9 {
        return [lo - 0.5, hi + 0.5];
    }
    [lo, hi]
}

fn label(v: f64, log: bool) -> String {
    let v = if log { 10f64.powf(v) } else { v };
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 || v == 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn draw_chart(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    view: &ChartView,
    curves: &Curves,
    log: bool,
) {
    let x = bounds(&[&curves.train, &curves.test], |p| p.0);
    let y = bounds(&[&curves.train, &curves.test], |p| p.1);
    let pad = (y[1] - y[0]) * 0.05;
    let y = [y[0] - pad, y[1] + pad];
    let mark_lines: Vec<[(f64, f64); 2]> = view
        .marks
        .iter()
        .map(|(mx, _)| [(*mx, y[0]), (*mx, y[1])])
        .collect();
    let mut datasets: Vec<Dataset> = mark_lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let d = Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(Color::Magenta))
                .data(line);
            if i + 1 == mark_lines.len() {
                d.name(view.marks[i].1.clone())
            } else {
                d
            }
        })
        .collect();
    datasets.push(
        Dataset::default()
            .name(curves.names.0)
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Cyan))
            .data(&curves.train),
    );
    datasets.push(
        Dataset::default()
            .name(curves.names.1)
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Yellow))
            .data(&curves.test),
    );
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(title.to_string()))
        .x_axis(Axis::default().title(view.x_label).bounds(x).labels([
            label(x[0], false),
            label((x[0] + x[1]) / 2.0, false),
            label(x[1], false),
        ]))
        .y_axis(Axis::default().bounds(y).labels([
            label(y[0], log),
            label((y[0] + y[1]) / 2.0, log),
            label(y[1], log),
        ]))
        .legend_position(Some(ratatui::widgets::LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)));
    frame.render_widget(chart, area);
}
