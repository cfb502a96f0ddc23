//! The screen, drawn by pure functions of the app state.

use super::app::{App, DataState, Mode, RunView, Status, RECENT_STEPS};
use super::keymap::help_lines;
use super::series::ema;
use gradboard::config::KEYS;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Chart, Clear, Dataset, Gauge, GraphType, List, ListItem, ListState,
    Paragraph, Wrap,
};
use ratatui::Frame;

/// The smallest terminal the layout fits.
pub const MIN_SIZE: (u16, u16) = (80, 24);

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let text = format!(
            "Terminal too small: {}x{}.\ngradboard needs at least {}x{}; enlarge the window (q quits).",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        );
        frame.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: true })
                .alignment(Alignment::Center),
            area,
        );
        return;
    }
    let [title, main, notice, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(10),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(title_line(app), title);
    let [charts, side] =
        Layout::horizontal([Constraint::Percentage(68), Constraint::Percentage(32)]).areas(main);
    match (&app.data, &app.run) {
        (DataState::Ready { .. }, _) => draw_charts(frame, app, charts),
        (state, _) => draw_data(frame, state, charts),
    }
    let [progress, config] =
        Layout::vertical([Constraint::Length(11), Constraint::Min(5)]).areas(side);
    draw_progress(frame, app, progress);
    draw_config(frame, app, config);
    frame.render_widget(notice_line(app), notice);
    frame.render_widget(status_line(app), status);
    match &app.mode {
        Mode::Help => draw_help(frame, area),
        Mode::ConfirmQuit => popup_text(
            frame,
            area,
            "Quit?",
            "A run is active: it will be stopped and kept on disk.\n\ny quit   any other key: stay",
            60,
            7,
        ),
        Mode::Presets { items, selected } => draw_presets(frame, area, items, *selected),
        Mode::SaveName { input, error } => {
            let mut text = format!("Name of the new preset: {input}▏\n\nEnter saves, Esc cancels");
            if let Some(e) = error {
                text.push_str(&format!("\n{e}"));
            }
            popup_text(frame, area, "Save preset", &text, 70, 8);
        }
        Mode::Normal | Mode::Editing { .. } => {}
    }
}

fn title_line(app: &App) -> Line<'static> {
    let mut spans = vec![
        Span::styled(" gradboard ", Style::new().bold().reversed()),
        Span::raw(format!("  preset {}", app.preset)),
    ];
    if let Some(run) = &app.run {
        spans.push(Span::raw(format!("   run {}   ", run.run_id)));
        spans.push(Span::styled(run.status.label(), status_style(&run.status)));
    }
    Line::from(spans)
}

fn status_style(status: &Status) -> Style {
    match status {
        Status::Running | Status::Starting => Style::new().fg(Color::Green).bold(),
        Status::Paused => Style::new().fg(Color::Yellow).bold(),
        Status::Completed => Style::new().fg(Color::Cyan).bold(),
        Status::Stopped => Style::new().fg(Color::Magenta).bold(),
        Status::Diverged(_) | Status::Failed(_) => Style::new().fg(Color::Red).bold(),
    }
}

fn notice_line(app: &App) -> Paragraph<'static> {
    match &app.notice {
        Some((text, true)) => Paragraph::new(format!(" {text}")).style(Style::new().fg(Color::Red)),
        Some((text, false)) => {
            Paragraph::new(format!(" {text}")).style(Style::new().fg(Color::Gray))
        }
        None => Paragraph::new(""),
    }
}

fn status_line(app: &App) -> Paragraph<'static> {
    let data = match &app.data {
        DataState::Ready {
            source,
            train,
            test,
        } => format!("data {source} ({train} train / {test} test)"),
        DataState::Loading(p) => format!("loading {p}"),
        DataState::Downloading { .. } => "downloading CIFAR-10".into(),
        DataState::Failed(_) => "no data set".into(),
    };
    Paragraph::new(Line::from(vec![
        Span::styled(format!(" {data} "), Style::new().reversed()),
        Span::raw(
            "  r restart  space pause  s stop  ↑↓ Enter edit  l presets  w save  ? help  q quit",
        ),
    ]))
}

fn draw_data(frame: &mut Frame, state: &DataState, area: Rect) {
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

fn draw_charts(frame: &mut Frame, app: &App, area: Rect) {
    let [loss_area, acc_area] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let Some(run) = &app.run else {
        let hint = Paragraph::new("No run yet.\n\nPress r to train with the settings on the right, or l to pick a preset.")
            .block(Block::bordered().title(" loss "))
            .wrap(Wrap { trim: true });
        frame.render_widget(hint, loss_area);
        frame.render_widget(Block::bordered().title(" accuracy "), acc_area);
        return;
    };
    let view = ChartView::new(app, run);
    let loss_y = |v: f64| {
        if app.chart.log_loss {
            v.max(1e-8).log10()
        } else {
            v
        }
    };
    let train_loss = view.train(run.loss.points(), loss_y);
    let test_loss = view.points(&run.test_loss, loss_y);
    let loss_title = if app.chart.log_loss {
        " loss (log10) "
    } else {
        " loss "
    };
    draw_chart(
        frame,
        loss_area,
        loss_title,
        &view,
        &train_loss,
        &test_loss,
        "train loss",
        "test loss",
        app.chart.log_loss,
    );
    let train_acc = view.train(run.acc.points(), |v| v);
    let test_acc = view.points(&run.test_acc, |v| v);
    draw_chart(
        frame,
        acc_area,
        " accuracy ",
        &view,
        &train_acc,
        &test_acc,
        "train acc",
        "test acc",
        false,
    );
}

/// What one frame's charts share: x units and window.
struct ChartView {
    per_step: f64,
    x_min: f64,
    smoothing: Option<f64>,
    x_label: &'static str,
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
        ChartView {
            per_step,
            x_min,
            smoothing: app.chart.smoothing.then_some(app.chart.alpha),
            x_label: if app.chart.epochs { "epoch" } else { "step" },
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

#[allow(clippy::too_many_arguments)]
fn draw_chart(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    view: &ChartView,
    train: &[(f64, f64)],
    test: &[(f64, f64)],
    train_name: &'static str,
    test_name: &'static str,
    log: bool,
) {
    let x = bounds(&[train, test], |p| p.0);
    let y = bounds(&[train, test], |p| p.1);
    let pad = (y[1] - y[0]) * 0.05;
    let y = [y[0] - pad, y[1] + pad];
    let datasets = vec![
        Dataset::default()
            .name(train_name)
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Cyan))
            .data(train),
        Dataset::default()
            .name(test_name)
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Yellow))
            .data(test),
    ];
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

fn clock(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn draw_progress(frame: &mut Frame, app: &App, area: Rect) {
    let block = Block::bordered().title(" progress ");
    let Some(run) = &app.run else {
        frame.render_widget(Paragraph::new("no run yet").block(block), area);
        return;
    };
    let last = |s: &[(f64, f64)]| {
        s.last()
            .map(|p| format!("{:.4}", p.1))
            .unwrap_or_else(|| "-".into())
    };
    let train_loss = run
        .loss
        .last()
        .map(|p| format!("{:.4}", p.1))
        .unwrap_or_else(|| "-".into());
    let train_acc = run
        .acc
        .last()
        .map(|p| format!("{:.3}", p.1))
        .unwrap_or_else(|| "-".into());
    let best = run
        .best_test_acc()
        .map(|b| format!("{b:.4}"))
        .unwrap_or_else(|| "-".into());
    let lines = vec![
        Line::from(vec![
            Span::raw("status  "),
            Span::styled(run.status.label(), status_style(&run.status)),
        ]),
        Line::from(format!(
            "step    {} / {}   epoch {:.2}",
            run.step, run.config.steps, run.epoch
        )),
        Line::from(format!(
            "elapsed {}   ETA {}",
            clock(run.elapsed()),
            run.eta().map(clock).unwrap_or_else(|| "-".into())
        )),
        Line::from(format!("speed   {:.0} samples/s", run.samples_per_sec)),
        Line::from(format!(
            "lr      {}",
            gradboard::config::format_float(run.lr)
        )),
        Line::from(format!("train   loss {train_loss}  acc {train_acc}")),
        Line::from(format!(
            "test    acc {}  loss {}",
            last(&run.test_acc),
            last(&run.test_loss)
        )),
        Line::from(format!("best    test acc {best}")),
    ];
    let mut gauge_area = block.inner(area);
    frame.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
        area,
    );
    gauge_area.y += gauge_area.height.saturating_sub(1);
    gauge_area.height = 1;
    let ratio = (run.step as f64 / run.config.steps.max(1) as f64).min(1.0);
    frame.render_widget(
        Gauge::default()
            .ratio(ratio)
            .gauge_style(Style::new().fg(Color::Green)),
        gauge_area,
    );
}

fn draw_config(frame: &mut Frame, app: &App, area: Rect) {
    let running = app.run.as_ref().map(|r| &r.config);
    let mut items = Vec::new();
    for (i, (key, _, _)) in KEYS.iter().enumerate() {
        let value = app.config.get(key).unwrap_or_default();
        let changed = running.is_some_and(|c| c.get(key).ok().as_deref() != Some(value.as_str()));
        let marker = if changed { "*" } else { " " };
        let line = if i == app.selected {
            if let Mode::Editing { input, error } = &app.mode {
                let mut spans = vec![
                    Span::raw(format!("{marker}{key:13} ")),
                    Span::styled(
                        format!("{input}▏"),
                        Style::new().fg(Color::Black).bg(Color::Yellow),
                    ),
                ];
                if let Some(e) = error {
                    spans.push(Span::styled(format!("  {e}"), Style::new().fg(Color::Red)));
                }
                Line::from(spans)
            } else {
                Line::from(format!("{marker}{key:13} {value}"))
                    .style(Style::new().add_modifier(Modifier::REVERSED))
            }
        } else {
            Line::from(format!("{marker}{key:13} {value}"))
        };
        items.push(ListItem::new(line));
    }
    let (_, _, help) = KEYS[app.selected];
    let title = " settings (* = not yet in the run) ";
    let mut state = ListState::default().with_selected(Some(app.selected));
    let block = Block::bordered()
        .title(title)
        .title_bottom(format!(" {help} "));
    frame.render_stateful_widget(List::new(items).block(block), area, &mut state);
    if let Mode::Editing { error: Some(e), .. } = &app.mode {
        let mut line_area = area;
        line_area.y = area.bottom().saturating_sub(2);
        line_area.height = 1;
        line_area.x += 1;
        line_area.width = line_area.width.saturating_sub(2);
        frame.render_widget(
            Paragraph::new(e.clone()).style(Style::new().fg(Color::Red).bold()),
            line_area,
        );
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn popup_text(frame: &mut Frame, area: Rect, title: &str, text: &str, width: u16, height: u16) {
    let r = centered(area, width, height);
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(text.to_string())
            .block(Block::bordered().title(format!(" {title} ")))
            .wrap(Wrap { trim: false }),
        r,
    );
}

fn draw_help(frame: &mut Frame, area: Rect) {
    let lines: Vec<Line> = help_lines()
        .into_iter()
        .map(|(keys, text)| {
            Line::from(vec![
                Span::styled(format!(" {keys:>14}  "), Style::new().bold()),
                Span::raw(text),
            ])
        })
        .chain([
            Line::from(""),
            Line::from(" Ctrl-C quits at once. Any key closes this help."),
        ])
        .collect();
    let r = centered(area, 60, lines.len() as u16 + 2);
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" keys ")),
        r,
    );
}

fn draw_presets(frame: &mut Frame, area: Rect, items: &[super::app::PresetItem], selected: usize) {
    let r = centered(
        area,
        area.width.saturating_sub(8).min(110),
        (items.len() as u16 + 4).min(area.height),
    );
    frame.render_widget(Clear, r);
    let list: Vec<ListItem> = items
        .iter()
        .map(|p| {
            ListItem::new(Line::from(vec![
                Span::styled(format!("{:24}", p.name), Style::new().bold()),
                Span::raw(p.description.clone()),
            ]))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(selected));
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" presets: Enter loads and starts, Esc closes ");
    frame.render_stateful_widget(
        List::new(list)
            .block(block)
            .highlight_style(Style::new().reversed()),
        r,
        &mut state,
    );
}
