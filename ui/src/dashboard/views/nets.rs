//! The architecture panel: the nets on the left; on the right the selected net's variables
//! (the one under the cursor marked), its layers with their output shapes, parameters and FLOP
//! an image, the totals and the memory a training step needs at the settings' batch size, as
//! `gradboard net show` prints them.

use super::layout::{centered, popup_text};
use crate::dashboard::screens::live::NetPicker;
use gradboard::config::format_float;
use gradboard::model::summary::{summarise, thousands, CIFAR};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

/// Draws the panel over `area`; `batch` is the settings' batch size.
pub fn draw(frame: &mut Frame, area: Rect, panel: &NetPicker, batch: usize) {
    let Some(items) = &panel.items else {
        popup_text(frame, area, "Nets", "Reading the nets...", 40, 3);
        return;
    };
    let r = centered(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(2),
    );
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .title(" architecture: ↑↓ net  ←→ variable  + - change it  Enter to the settings (r starts it)  Esc closes ");
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let width = items.iter().map(|i| i.name.len()).max().unwrap_or(8) as u16 + 4;
    let [list_area, detail] = Layout::horizontal([
        Constraint::Length(width.min(inner.width / 3)),
        Constraint::Min(20),
    ])
    .areas(inner);
    let list: Vec<ListItem> = items
        .iter()
        .map(|i| ListItem::new(i.name.clone()))
        .collect();
    let mut state = ListState::default().with_selected(Some(panel.selected));
    frame.render_stateful_widget(
        List::new(list)
            .highlight_style(Style::new().reversed())
            .highlight_symbol("> "),
        list_area,
        &mut state,
    );
    let Some(item) = panel.current() else {
        return;
    };
    let mut lines = vec![Line::from(Span::styled(
        item.description.clone(),
        Style::new().italic(),
    ))];
    let vars: Vec<Span> = item
        .net
        .vars()
        .iter()
        .enumerate()
        .flat_map(|(i, (k, v))| {
            let text = format!("{k}={}", format_float(*v));
            let style = if i == panel.var {
                Style::new().fg(Color::Yellow).bold().reversed()
            } else {
                Style::new().fg(Color::Yellow)
            };
            [Span::styled(text, style), Span::raw("  ")]
        })
        .collect();
    lines.push(Line::from(
        std::iter::once(Span::raw("variables: "))
            .chain(if vars.is_empty() {
                vec![Span::raw("none")]
            } else {
                vars
            })
            .collect::<Vec<_>>(),
    ));
    if let Some(e) = &panel.error {
        lines.push(Line::from(Span::styled(
            e.clone(),
            Style::new().fg(Color::Red),
        )));
    }
    let summary = item
        .net
        .net()
        .map_err(|e| e.to_string())
        .and_then(|net| summarise(&net, CIFAR.0, CIFAR.1).map_err(|e| e.to_string()));
    match summary {
        Ok(s) => {
            lines.push(Line::from(Span::styled(
                format!(
                    "{} parameters, {:.2} MFLOP an image; a training step at batch {batch} needs about {:.2} GB",
                    thousands(s.params),
                    s.flops as f64 / 1e6,
                    s.training_bytes(batch) as f64 / 1e9
                ),
                Style::new().bold(),
            )));
            lines.push(Line::from(""));
            let room = (detail.height as usize).saturating_sub(lines.len());
            let mut rows = s.row_lines(false, false);
            for (compact, top, note) in [
                (true, false, "(activations and dropout left out to fit)"),
                (
                    true,
                    true,
                    "(activations, dropout and residual bodies left out to fit)",
                ),
            ] {
                if rows.len() < room {
                    break;
                }
                rows = s.row_lines(compact, top);
                if rows.len() < room || top {
                    lines.push(Line::from(Span::styled(
                        note,
                        Style::new().fg(Color::DarkGray),
                    )));
                }
            }
            lines.extend(rows.into_iter().map(Line::from));
        }
        Err(e) => lines.push(Line::from(Span::styled(e, Style::new().fg(Color::Red)))),
    }
    frame.render_widget(Paragraph::new(lines), detail);
}
