//! The new-sweep form: one text field a line with the cursor in the focused one, a hint for
//! each, and the reason the last start was refused.

use super::layout::centered;
use crate::dashboard::screens::sweep::{SweepForm, FORM_FIELDS};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

/// Draws the form over `area`.
pub fn draw(frame: &mut Frame, area: Rect, form: &SweepForm) {
    let r = centered(area, 110, FORM_FIELDS.len() as u16 * 2 + 6);
    frame.render_widget(Clear, r);
    let field_width = r.width.saturating_sub(14).max(10) as usize;
    let mut lines = Vec::new();
    for (i, ((name, hint), field)) in FORM_FIELDS.iter().zip(&form.fields).enumerate() {
        let input = &field.input;
        let focused = i == form.focus;
        let label = Span::styled(
            format!("{name:>8}  "),
            Style::new().add_modifier(Modifier::BOLD),
        );
        if focused {
            let scroll = input.visual_scroll(field_width);
            let text: String = input.value().chars().skip(scroll).collect();
            let cursor = input.visual_cursor().saturating_sub(scroll);
            let before: String = text.chars().take(cursor).collect();
            let mut rest = text.chars().skip(cursor);
            let at = rest.next().map(String::from).unwrap_or_else(|| " ".into());
            let edit = Style::new().fg(Color::Black).bg(Color::Yellow);
            lines.push(Line::from(vec![
                label,
                Span::styled(before, edit),
                Span::styled(at, edit.add_modifier(Modifier::REVERSED)),
                Span::styled(rest.collect::<String>(), edit),
            ]));
        } else {
            lines.push(Line::from(vec![
                label,
                Span::raw(input.value().to_string()),
            ]));
        }
        lines.push(Line::from(Span::styled(
            format!("{:>10}{hint}", ""),
            Style::new().fg(Color::DarkGray),
        )));
    }
    lines.push(Line::from(""));
    match &form.error {
        Some(e) => lines.push(Line::from(Span::styled(
            e.clone(),
            Style::new().fg(Color::Red).bold(),
        ))),
        None if form.checking => lines.push(Line::from("checking the sweep...")),
        None => lines.push(Line::from(
            "↑↓/Tab move between fields, Enter starts the sweep, Esc closes",
        )),
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(" new sweep "))
            .wrap(Wrap { trim: false }),
        r,
    );
}
