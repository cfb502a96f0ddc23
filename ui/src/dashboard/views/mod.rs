//! The screen, drawn by pure functions of the app state: one file a panel or overlay.

mod charts;
mod popups;
mod progress;
mod settings;

use super::app::{App, DataState, Mode};
use super::state::Status;
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
    let [charts_area, side] =
        Layout::horizontal([Constraint::Percentage(68), Constraint::Percentage(32)]).areas(main);
    match &app.data {
        DataState::Ready { .. } => charts::draw(frame, app, charts_area),
        state => charts::draw_data(frame, state, charts_area),
    }
    let [progress_area, settings_area] =
        Layout::vertical([Constraint::Length(11), Constraint::Min(5)]).areas(side);
    progress::draw(frame, app, progress_area);
    settings::draw(frame, app, settings_area);
    frame.render_widget(notice_line(app), notice);
    frame.render_widget(status_line(app), status);
    popups::draw(frame, app, area);
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
        Status::Ended(RunStatus::Diverged | RunStatus::Failed, _) => {
            Style::new().fg(Color::Red).bold()
        }
    }
}

fn title_line(app: &App) -> Line<'static> {
    let mut spans = vec![
        Span::styled(" gradboard ", Style::new().bold().reversed()),
        Span::raw(format!("  preset {}", app.preset)),
    ];
    if let Some(run) = app.run() {
        spans.push(Span::raw(format!("   run {}   ", run.run_id)));
        spans.push(Span::styled(run.status.label(), status_style(&run.status)));
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

/// `m:ss` or `h:mm:ss`.
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}
