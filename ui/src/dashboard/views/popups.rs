//! Overlays: help, the quit question, the stopping notice, the preset picker, the name of a
//! preset to save; the sweep form and the learning-rate finder have files of their own. All
//! place themselves with `layout`.

use super::layout::{centered, popup_text};
use crate::dashboard::app::App;
use crate::dashboard::keymap::{help_lines, Context};
use crate::dashboard::msg::{Mode, PresetItem};
use crate::dashboard::screens::live::ChoiceList;
use crate::dashboard::screens::Field;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

/// Draws the overlay of the current mode, if any.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    match app.mode {
        Mode::Help => draw_help(frame, area, Context::Screen(app.screen)),
        Mode::ConfirmQuit => popup_text(
            frame,
            area,
            "Quit?",
            "A run is active: it will be stopped and kept on disk.\n\ny quit   any other key: stay",
            60,
            7,
        ),
        Mode::Stopping => {
            let n = app.shared.runs.active_here().count();
            let sweep = if app.sweep.running() {
                " and the sweep (its queue is cancelled)"
            } else {
                ""
            };
            let text = format!(
                "Stopping {n} run(s){sweep}: each run writes its weights and its done event.\ngradboard quits when all have (a ConvNet evaluation stops at its next chunk)."
            );
            popup_text(frame, area, "Stopping", &text, 70, 6);
        }
        Mode::Presets => match app
            .live
            .picker
            .as_ref()
            .and_then(|p| p.items.as_ref().map(|i| (i, p.selected)))
        {
            Some((items, selected)) => draw_presets(frame, area, items, selected),
            None => popup_text(frame, area, "Presets", "Reading the presets...", 40, 3),
        },
        Mode::Choices => {
            if let Some(list) = &app.live.choices {
                draw_choices(frame, area, list);
            }
        }
        Mode::Nets => {
            if let Some(panel) = &app.live.nets {
                super::nets::draw(frame, area, panel, app.live.config.batch_size);
            }
        }
        Mode::Data => {
            if let Some(picker) = &app.live.data {
                super::data::draw(frame, area, picker);
            }
        }
        Mode::SaveName => {
            if let Some(field) = &app.live.save_name {
                draw_save_name(frame, area, field);
            }
        }
        Mode::SweepForm => {
            if let Some(form) = &app.sweep.form {
                super::sweep_form::draw(frame, area, form);
            }
        }
        Mode::LrFinder => {
            if let Some(view) = &app.lr_finder {
                super::lr_finder::draw(frame, area, view);
            }
        }
        Mode::Normal | Mode::Editing | Mode::Filtering => {}
    }
}

fn draw_save_name(frame: &mut Frame, area: Rect, field: &Field) {
    let mut text = format!(
        "Name of the new preset: {}▏\n\nEnter saves, Esc cancels",
        field.input.value()
    );
    if let Some(e) = &field.error {
        text.push_str(&format!("\n{e}"));
    }
    popup_text(frame, area, "Save preset", &text, 70, 8);
}

fn draw_help(frame: &mut Frame, area: Rect, context: Context) {
    let lines: Vec<Line> = help_lines(context)
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

/// A choice setting's values, the current one under the cursor, each with what it does.
fn draw_choices(frame: &mut Frame, area: Rect, list: &ChoiceList) {
    let help = list.spec.choice_help();
    let width = list
        .values
        .iter()
        .map(|v| v.len())
        .max()
        .unwrap_or(0)
        .max(8);
    let items: Vec<ListItem> = list
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let what = help.get(i).copied().unwrap_or_default();
            ListItem::new(Line::from(vec![
                Span::styled(format!(" {v:width$}  "), Style::new().bold()),
                Span::raw(what.to_string()),
            ]))
        })
        .collect();
    let r = centered(
        area,
        area.width.saturating_sub(8).min(110),
        (items.len() as u16 + 2).min(area.height),
    );
    frame.render_widget(Clear, r);
    let mut state = ListState::default().with_selected(Some(list.selected));
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {}: Enter takes it, Esc closes ", list.spec.name));
    frame.render_stateful_widget(
        List::new(items)
            .block(block)
            .highlight_style(Style::new().reversed()),
        r,
        &mut state,
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
        .title(" presets: Enter loads and starts, l loads only, Esc closes ");
    frame.render_stateful_widget(
        List::new(list)
            .block(block)
            .highlight_style(Style::new().reversed()),
        r,
        &mut state,
    );
}
