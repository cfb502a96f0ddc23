//! Overlays: help, the quit question, the stopping notice, the preset picker, the name of a
//! preset to save; the sweep form and the learning-rate finder have files of their own.

use crate::dashboard::app::{App, Mode, PresetItem};
use crate::dashboard::keymap::{help_lines, Screen};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

/// Draws the overlay of the current mode, if any.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    match &app.mode {
        Mode::Help => draw_help(frame, area, app.screen),
        Mode::ConfirmQuit => popup_text(
            frame,
            area,
            "Quit?",
            "A run is active: it will be stopped and kept on disk.\n\ny quit   any other key: stay",
            60,
            7,
        ),
        Mode::Stopping => {
            let n = app.runs.active_here().count();
            let sweep = if app.sweep.state.as_ref().is_some_and(|s| !s.finished) {
                " and the sweep (its queue is cancelled)"
            } else {
                ""
            };
            let text = format!(
                "Stopping {n} run(s){sweep}: each run writes its weights and its done event.\ngradboard quits when all have (a ConvNet evaluation stops at its next chunk)."
            );
            popup_text(frame, area, "Stopping", &text, 70, 6);
        }
        Mode::Presets { items, selected } => draw_presets(frame, area, items, *selected),
        Mode::SaveName { input, error } => {
            let mut text = format!(
                "Name of the new preset: {}▏\n\nEnter saves, Esc cancels",
                input.value()
            );
            if let Some(e) = error {
                text.push_str(&format!("\n{e}"));
            }
            popup_text(frame, area, "Save preset", &text, 70, 8);
        }
        Mode::SweepForm(form) => super::sweep_form::draw(frame, area, form),
        Mode::LrFinder => {
            if let Some(view) = &app.lr_finder {
                super::lr_finder::draw(frame, area, view);
            }
        }
        Mode::Normal | Mode::Editing { .. } | Mode::Filtering { .. } => {}
    }
}

/// A `width` x `height` rectangle in the middle of `area` (clipped to it).
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
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

fn draw_help(frame: &mut Frame, area: Rect, screen: Screen) {
    let lines: Vec<Line> = help_lines(screen)
        .into_iter()
        .map(|(keys, text)| {
            Line::from(vec![
                Span::styled(format!(" {keys:>12}  "), Style::new().bold()),
                Span::raw(text),
            ])
        })
        .chain([
            Line::from(""),
            Line::from(" Ctrl-C stops every run this dashboard started and quits. Any key closes this help."),
        ])
        .collect();
    let r = centered(area, 100, lines.len() as u16 + 2);
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" keys ")),
        r,
    );
}

fn draw_presets(frame: &mut Frame, area: Rect, items: &[PresetItem], selected: usize) {
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
