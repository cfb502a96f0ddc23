//! The data picker: the sources (CIFAR-10 by default, the recent ones), the path field, and
//! for the data set read its format, shape, classes and counts, its leaks between the splits,
//! and a few training images a class drawn with half blocks (two pixel rows a cell).

use crate::dashboard::screens::data::DataPicker;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

/// Side, in pixels, an image is drawn at (16 columns, 8 rows).
pub const SIDE: u32 = 16;
/// Training images a class the picker shows at most.
pub const SAMPLES_A_CLASS: usize = 8;

/// Draws the picker over `area`.
pub fn draw(frame: &mut Frame, area: Rect, picker: &DataPicker) {
    let popup = area.inner(ratatui::layout::Margin::new(2, 1));
    frame.render_widget(Clear, popup);
    let block = Block::bordered().title(
        " data: ↑↓ a source, or type a path; Enter reads it, Enter again trains on it; Esc closes ",
    );
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let listed = picker.sources.len().clamp(1, 8) as u16;
    let [list, field, summary] = Layout::vertical([
        Constraint::Length(listed),
        Constraint::Length(2),
        Constraint::Min(0),
    ])
    .areas(inner);
    let lines: Vec<Line> = picker
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut label = s.display().to_string();
            if i == 0 {
                label.push_str("  (CIFAR-10's download: the default)");
            }
            if *s == picker.current {
                label.push_str("  (in use)");
            }
            let style = if i == picker.selected {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            };
            Line::styled(format!(" {label}"), style)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list);
    let mut text = vec![Line::from(vec![
        Span::raw(" path: "),
        Span::styled(
            match picker.field.input.value() {
                "" => format!(
                    "▏ (type a path, or Enter reads {})",
                    picker.path().display()
                ),
                typed => format!("{typed}▏"),
            },
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ),
    ])];
    if let Some(e) = &picker.field.error {
        text.push(Line::styled(format!(" {e}"), Style::new().fg(Color::Red)));
    } else if let Some(p) = &picker.reading {
        text.push(Line::from(format!(" reading {}...", p.display())));
    }
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), field);
    if let Some(opened) = &picker.opened {
        draw_summary(frame, summary, opened);
    }
}

fn draw_summary(frame: &mut Frame, area: Rect, opened: &crate::dashboard::msg::OpenedData) {
    let r = &opened.report;
    let [c, h, w] = r.shape;
    let mut lines = vec![
        Line::styled(
            format!(
                " {}: {} {c}x{h}x{w}, {} classes; train {} images, test {}",
                opened.path.display(),
                r.format,
                r.classes.len(),
                r.train.n,
                r.test.n,
            ),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Line::from(format!(
            " {} test image(s) copy a training image{}. Enter trains on it.",
            r.duplicates,
            if r.duplicates > 0 {
                " (a leak: test figures overstate)"
            } else {
                ""
            }
        )),
        Line::from(format!(
            " {}",
            r.classes
                .iter()
                .zip(&r.train.per_class)
                .take(20)
                .map(|(n, k)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
                + if r.classes.len() > 20 { ", ..." } else { "" }
        )),
    ];
    let fit = (area.width as usize / (SIDE as usize + 1)).clamp(1, SAMPLES_A_CLASS);
    let classes_shown = (area.height.saturating_sub(3) / 9) as usize;
    for (class, row) in opened.thumbnails.iter().enumerate().take(classes_shown) {
        lines.push(Line::from(format!(" {}", opened.data.class_names[class])));
        let images = &row[..row.len().min(fit)];
        for y in (0..SIDE).step_by(2) {
            let mut spans = vec![Span::raw(" ")];
            for im in images {
                for x in 0..SIDE {
                    let (t, b) = (im.get_pixel(x, y), im.get_pixel(x, y + 1));
                    spans.push(Span::styled(
                        "▀",
                        Style::new()
                            .fg(Color::Rgb(t[0], t[1], t[2]))
                            .bg(Color::Rgb(b[0], b[1], b[2])),
                    ));
                }
                spans.push(Span::raw(" "));
            }
            lines.push(Line::from(spans));
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
}
