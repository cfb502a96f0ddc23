//! The screen, drawn by pure functions of the app state: one file a panel or overlay. Views
//! read the state and write none of it.

pub mod analysis;
pub mod chart;
mod compare;
pub mod data;
mod layers;
mod layout;
mod live;
mod logs;
mod lr_finder;
mod nets;
mod popups;
mod progress;
mod runs;
pub mod schedule;
mod settings;
mod sweep;
mod sweep_form;
pub mod sweep_plots;

use super::app::App;
use super::keymap::status_hints;
use super::msg::{DataState, Mode, Screen};
use super::store::Status;
use gradboard::runs::ListedStatus;
use ratatui::layout::{Alignment, Constraint, Layout};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
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
    match app.screen {
        Screen::Live => {
            let [charts_area, side] =
                Layout::horizontal([Constraint::Percentage(68), Constraint::Percentage(32)])
                    .areas(main);
            match &app.shared.data {
                DataState::Ready { .. } => live::draw_charts(frame, app, charts_area),
                state => live::draw_data(frame, state, charts_area),
            }
            let [progress_area, settings_area] =
                Layout::vertical([Constraint::Length(11), Constraint::Min(5)]).areas(side);
            progress::draw(frame, app, progress_area);
            settings::draw(frame, app, settings_area);
        }
        Screen::Runs => runs::draw(frame, app, main),
        Screen::Compare => compare::draw(frame, app, main),
        Screen::Sweep => sweep::draw(frame, app, main),
        Screen::Analysis => analysis::draw(frame, app, main),
        Screen::Layers => layers::draw(frame, app, main),
        Screen::Logs => logs::draw(frame, app, main),
    }
    frame.render_widget(notice_line(app), notice);
    frame.render_widget(status_line(app), status);
    popups::draw(frame, app, area);
}

/// Whether the screen changes with the clock alone: a run or sweep active, the finder or the
/// data set under way (the runtime then redraws at its tick).
pub fn animating(app: &App) -> bool {
    app.shared.runs.active_here().next().is_some()
        || app.sweep.running()
        || app.lr_finder.as_ref().is_some_and(|v| v.running())
        || !matches!(
            app.shared.data,
            DataState::Ready { .. } | DataState::Failed(_)
        )
        || app.run().is_some_and(|r| r.status() == Status::Running)
}

/// A learning rate to 4 significant digits (a scheduled lr has many).
pub fn lr_text(lr: f64) -> String {
    if lr == 0.0 || !lr.is_finite() {
        return gradboard::config::format_float(lr);
    }
    let scale = 10f64.powi(3 - lr.abs().log10().floor() as i32);
    gradboard::config::format_float((lr * scale).round() / scale)
}

/// The colour of a status.
pub fn status_style(status: &Status) -> Style {
    use gradboard::events::RunStatus;
    match status {
        Status::Running | Status::Starting => Style::new().fg(Color::Green).bold(),
        Status::Paused | Status::Stopping => Style::new().fg(Color::Yellow).bold(),
        Status::Ended(RunStatus::Completed, _) => Style::new().fg(Color::Cyan).bold(),
        Status::Ended(RunStatus::Stopped | RunStatus::Pruned, _) => {
            Style::new().fg(Color::Magenta).bold()
        }
        Status::Ended(RunStatus::Diverged | RunStatus::Failed, _) | Status::Crashed => {
            Style::new().fg(Color::Red).bold()
        }
    }
}

/// A run's loss trace as compare draws it (tests look at its points).
#[cfg(test)]
pub fn chart_trace(
    run: &super::store::RunView,
    prefix: Option<&super::store::RunView>,
    options: &super::shared::ChartOptions,
) -> chart::Trace {
    chart::trace(
        run,
        prefix,
        options,
        chart::Metric::Loss,
        (Color::Cyan, Color::Cyan),
        (String::new(), false),
    )
}

/// The colour of a listed status.
pub fn status_style_listed(status: ListedStatus) -> Style {
    match status {
        ListedStatus::Running => status_style(&Status::Running),
        ListedStatus::Crashed => status_style(&Status::Crashed),
        ListedStatus::Ended(s) => status_style(&Status::Ended(s, None)),
    }
}

fn title_line(app: &App) -> Line<'static> {
    let mut spans = vec![Span::styled(" gradboard ", Style::new().bold().reversed())];
    for screen in Screen::ALL {
        let style = if screen == app.screen {
            Style::new().bold().reversed()
        } else {
            Style::new().fg(Color::Gray)
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(format!(" {} ", screen.name()), style));
    }
    spans.push(Span::raw(format!("   preset {}", app.live.preset)));
    if let Some(fork) = &app.live.fork {
        spans.push(Span::styled(
            format!("   fork of {}", fork.run_id),
            Style::new().fg(Color::Yellow),
        ));
    }
    if let Some(run) = app.run() {
        let status = run.status();
        spans.push(Span::raw(format!("   run {}   ", run.run_id)));
        spans.push(Span::styled(status.label(), status_style(&status)));
    }
    if let Mode::Stopping = app.mode {
        spans.push(Span::styled(
            "   stopping",
            Style::new().fg(Color::Yellow).bold(),
        ));
    }
    Line::from(spans)
}

fn notice_line(app: &App) -> Paragraph<'static> {
    match &app.shared.notice {
        Some(n) if n.error => {
            Paragraph::new(format!(" {}", n.text)).style(Style::new().fg(Color::Red))
        }
        Some(n) => Paragraph::new(format!(" {}", n.text)).style(Style::new().fg(Color::Gray)),
        None => Paragraph::new(""),
    }
}

fn status_line(app: &App) -> Paragraph<'static> {
    let data = match &app.shared.data {
        DataState::Ready {
            source,
            train,
            test,
            shape,
            format,
        } => format!(
            "data {source} ({train} train / {test} test) {format} {}x{}x{}, {} classes",
            shape.channels, shape.height, shape.width, shape.classes
        ),
        DataState::Loading(p) => format!("loading {p}"),
        DataState::Downloading { .. } => "downloading CIFAR-10".into(),
        DataState::Failed(_) => "no data set".into(),
    };
    Paragraph::new(Line::from(vec![
        Span::styled(format!(" {data} "), Style::new().reversed()),
        Span::raw(format!(
            "  {}",
            app.context().map(status_hints).unwrap_or_default()
        )),
    ]))
}

/// `m:ss` or `h:mm:ss`.
pub fn clock(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "-".into();
    }
    let s = seconds.max(0.0) as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}
