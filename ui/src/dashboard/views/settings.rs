//! The settings panel: every key of the table with its value; `*` marks a value the live
//! run does not have yet (for a fork: a value that differs from its parent's as it ended); the bottom line says what the selected key is and whether a running
//! run takes it live or needs a restart.

use crate::dashboard::app::App;
use gradboard::config::KEYS;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

/// Draws the settings panel.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let live = &app.live;
    // A fork's marks compare with its parent's settings at the checkpoint it starts from.
    let running = match &live.fork {
        Some(f) => Some(&f.config),
        None => app.run().map(|r| &r.config),
    };
    let width = KEYS.iter().map(|k| k.name.len()).max().unwrap_or(13);
    let mut items = Vec::new();
    for (i, spec) in KEYS.iter().enumerate() {
        let value = spec.get(&live.config);
        let changed = running.is_some_and(|c| spec.get(c) != value);
        let marker = if changed { "*" } else { " " };
        let name = spec.name;
        let line = if i == live.selected {
            if let Some(input) = live.editor.as_ref().map(|f| &f.input) {
                let field = area.width.saturating_sub(width as u16 + 5).max(4) as usize;
                let scroll = input.visual_scroll(field);
                let text: String = input.value().chars().skip(scroll).collect();
                let cursor = input.visual_cursor().saturating_sub(scroll);
                let (before, rest): (String, String) = (
                    text.chars().take(cursor).collect(),
                    text.chars().skip(cursor).collect(),
                );
                let mut rest = rest.chars();
                let at = rest.next().map(String::from).unwrap_or_else(|| " ".into());
                let edit = Style::new().fg(Color::Black).bg(Color::Yellow);
                Line::from(vec![
                    Span::raw(format!("{marker}{name:width$} ")),
                    Span::styled(before, edit),
                    Span::styled(at, edit.add_modifier(Modifier::REVERSED)),
                    Span::styled(rest.collect::<String>(), edit),
                ])
            } else {
                Line::from(format!("{marker}{name:width$} {value}"))
                    .style(Style::new().add_modifier(Modifier::REVERSED))
            }
        } else {
            Line::from(format!("{marker}{name:width$} {value}"))
        };
        items.push(ListItem::new(line));
    }
    let spec = live.selected_key();
    let when = if spec.live { "live" } else { "restart" };
    let help = format!(" {when}: {} ", spec.help);
    let title = match &live.fork {
        Some(_) => " fork (* = differs from its parent) ".to_string(),
        None => " settings (* = not yet in the run) ".to_string(),
    };
    let mut state = ListState::default().with_selected(Some(live.selected));
    let block = Block::bordered().title(title).title_bottom(help);
    frame.render_stateful_widget(List::new(items).block(block), area, &mut state);
    if let Some(e) = live.editor.as_ref().and_then(|f| f.error.as_ref()) {
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
