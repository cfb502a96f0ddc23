//! The runs screen: every run of the runs folder in a sortable, filterable table.

use super::{clock, status_style_listed};
use crate::dashboard::app::App;
use crate::dashboard::screens::runs::{parent_text, run_text, sweep_text, Column};
use gradboard::runs::query;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use gradboard::runs::accuracy_text as acc;
use gradboard::runs::groups::RunGroup;
use gradboard::runs::RunRecord;

/// Draws the runs table and its filter line.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let [table_area, filter_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
    let screen = &app.runs;
    let listing = &app.shared.listing;
    let rows = screen.visible(listing);
    let (sort, descending) = screen.sort;
    // Sweep and parent columns where a run shown has one; the key column once `o` chose it.
    // Narrow screens leave out the preset and net (the id names the preset) and the date
    // of the id.
    let narrow = table_area.width < 140;
    let mut columns: Vec<Column> = Column::ALL
        .iter()
        .copied()
        .filter(|c| !(narrow && matches!(c, Column::Preset | Column::Net)))
        .collect();
    if rows.iter().any(|r| r.sweep.is_some()) {
        columns.push(Column::Sweep);
    }
    if rows.iter().any(|r| r.parent.is_some()) {
        columns.push(Column::Parent);
    }
    if screen.key.is_some() {
        columns.push(Column::Key);
    }
    let leading = &screen.leading;
    let figure_width = match (screen.grouped, narrow) {
        (true, _) => 17,
        (false, true) => 9,
        (false, false) => 13,
    };
    let width_of = |c: &Column| -> u16 {
        match c {
            Column::Run => {
                if narrow {
                    26
                } else {
                    35
                }
            }
            Column::Preset => 12,
            Column::Net => 14,
            Column::Changed => 10,
            Column::Status => 11,
            Column::Steps => 7,
            Column::Best | Column::Final => figure_width,
            Column::Time => 6,
            Column::Sweep => {
                if narrow {
                    10
                } else {
                    12
                }
            }
            Column::Parent => 20,
            Column::Key => screen
                .key
                .as_ref()
                .map_or(8, |k| k.chars().count() as u16 + 4)
                .max(10),
        }
    };
    // Columns that do not fit leave, the least telling first; the changed column takes what
    // the others leave (each a column apart from the next).
    let used = |columns: &[Column]| -> u16 { columns.iter().map(|c| width_of(c) + 1).sum() };
    for drop in [
        Column::Time,
        Column::Steps,
        Column::Parent,
        Column::Sweep,
        Column::Final,
    ] {
        if used(&columns) + 2 <= table_area.width {
            break;
        }
        columns.retain(|c| *c != drop);
    }
    let changed_width = table_area
        .width
        .saturating_sub(used(&columns) - width_of(&Column::Changed) + 2)
        .max(10);
    let widths: Vec<Constraint> = columns
        .iter()
        .map(|c| match c {
            Column::Changed => Constraint::Length(changed_width),
            c => Constraint::Length(width_of(c)),
        })
        .collect();
    let header = Row::new(columns.iter().map(|c| {
        let digit = Column::ALL.iter().position(|a| a == c).map_or(0, |i| i + 1);
        let arrow = match (*c == sort, descending) {
            (false, _) => "",
            (true, true) => " ▼",
            (true, false) => " ▲",
        };
        match c {
            Column::Key => Cell::from(format!(
                "o:{}{arrow}",
                screen.key.as_deref().unwrap_or_default()
            )),
            Column::Sweep | Column::Parent => Cell::from(format!("{}{arrow}", c.title())),
            Column::Best | Column::Final if narrow => Cell::from(format!(
                "{digit}:{}{arrow}",
                c.title().trim_end_matches(" test")
            )),
            _ => Cell::from(format!("{digit}:{}{arrow}", c.title())),
        }
    }))
    .style(Style::new().add_modifier(Modifier::BOLD));
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if let Some(g) = screen.group(i).filter(|_| screen.grouped) {
                return group_row(app, r, g, &columns, leading);
            }
            let marked = app.shared.marked.contains(&r.run_id);
            let cells: Vec<Cell> = columns
                .iter()
                .map(|c| match c {
                    Column::Run => Cell::from(format!(
                        "{}{}",
                        if marked { "● " } else { "  " },
                        if narrow && r.labels.name.is_none() {
                            // The id without its date: the time, preset and suffix.
                            run_text(r)
                                .split_once('-')
                                .map_or(run_text(r), |p| p.1.to_string())
                        } else {
                            run_text(r)
                        }
                    )),
                    Column::Preset => Cell::from(r.preset.clone()),
                    Column::Net => Cell::from(r.net.clone()),
                    Column::Changed => Cell::from(query::changed_words(r, leading, false)),
                    Column::Status => Cell::from(Span::styled(
                        match r.warnings.len() {
                            0 => r.status.as_str().to_string(),
                            _ => format!("{} ⚠", r.status.as_str()),
                        },
                        status_style_listed(r.status),
                    )),
                    Column::Steps => Cell::from(r.step.to_string()),
                    Column::Best => Cell::from(acc(r.best_test_acc)),
                    Column::Final => Cell::from(acc(r.final_test_acc)),
                    Column::Time => Cell::from(clock(r.seconds)),
                    Column::Sweep => Cell::from(sweep_text(r)),
                    Column::Parent => Cell::from(parent_text(r)),
                    Column::Key => Cell::from(key_text(r, screen.key.as_deref())),
                })
                .collect();
            Row::new(cells)
        })
        .collect();
    let title = match &listing.error {
        Some(e) => format!(" runs: {e} "),
        None => {
            let reading = if listing.scanned {
                ""
            } else {
                " (reading the runs folder...)"
            };
            let marked = app.shared.marked.len();
            let (n, total) = (rows.len(), listing.records.len());
            if screen.grouped {
                format!(" runs: {n} groups of {total} runs (runs that differ only by seed; g: one a row), {marked} marked{reading} ")
            } else {
                format!(
                    " runs: {n} of {total} shown, {marked} marked{reading} (g: groups of seeds){} ",
                    if narrow {
                        "; best, final: test acc"
                    } else {
                        ""
                    }
                )
            }
        }
    };
    let table = Table::new(body, widths)
        .header(header)
        .block(Block::bordered().title(title))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(Some(screen.cursor));
    frame.render_stateful_widget(table, table_area, &mut state);
    let field_line = |label: &str, value: &str, after: &str| {
        Line::from(vec![
            Span::raw(format!(" {label}: ")),
            Span::styled(
                format!("{value}▏"),
                Style::new().fg(Color::Black).bg(Color::Yellow),
            ),
            Span::raw(format!("  {after}")),
        ])
    };
    let filter = if let Some((prompt, field)) = &screen.prompt {
        field_line(
            prompt.label(),
            field.input.value(),
            "Enter sets it, Esc leaves it",
        )
    } else if let Some(input) = screen.filter_field.as_ref().map(|f| &f.input) {
        let after = match screen.filter_error() {
            Some(e) => e.to_string(),
            None => "lr>0.01 optimizer=adam tag:x is:archived or any text; Enter keeps it, Esc clears it".into(),
        };
        field_line("filter", input.value(), &after)
    } else if let Some(e) = screen.filter_error() {
        Line::from(Span::styled(
            format!(" filter {}: {e}", screen.filter),
            Style::new().fg(Color::Red),
        ))
    } else if !screen.filter.is_empty() {
        Line::from(format!(" filter: {}  (/ changes it)", screen.filter))
    } else {
        Line::from(" / filters (lr>0.01 tag:x), 1-9 or o sort, space marks, c compares, f forks, N names, t tags, A notes, z archives, D deletes")
    };
    frame.render_widget(Paragraph::new(filter), filter_area);
}

/// The key column's text for run `r`.
fn key_text(r: &RunRecord, key: Option<&str>) -> String {
    key.and_then(|k| query::value(r, k))
        .map(|v| v.text())
        .unwrap_or_else(|| "-".into())
}

/// A group's row: its first run and how many more, the settings without the seed, how many
/// ended, mean ± std of best and final test accuracy.
fn group_row<'a>(
    app: &App,
    r: &RunRecord,
    g: &RunGroup,
    columns: &[Column],
    leading: &std::collections::BTreeSet<String>,
) -> Row<'a> {
    let all = g.runs.iter().all(|id| app.shared.marked.contains(id));
    // The first run's id without its date, and how many more.
    let id = r.run_id.split_once('-').map_or(r.run_id.as_str(), |p| p.1);
    let name = match g.runs.len() {
        1 => id.to_string(),
        k => format!("{id} +{}", k - 1),
    };
    let changed = query::changed_words(r, leading, true);
    let seeds: Vec<String> = g.seeds.iter().map(|s| s.to_string()).collect();
    Row::new(columns.iter().map(|c| match c {
        Column::Run => Cell::from(format!("{}{name}", if all { "● " } else { "  " })),
        Column::Preset => Cell::from(r.preset.clone()),
        Column::Net => Cell::from(r.net.clone()),
        Column::Changed => Cell::from(format!("{changed} seeds {}", seeds.join(","))),
        Column::Status => Cell::from(format!("n={}", g.n)),
        Column::Steps => Cell::from(r.step.to_string()),
        Column::Best => Cell::from(g.best_text()),
        Column::Final => Cell::from(g.final_text()),
        Column::Time => Cell::from(clock(r.seconds)),
        Column::Sweep => Cell::from(sweep_text(r)),
        Column::Parent => Cell::from(parent_text(r)),
        Column::Key => Cell::from(String::new()),
    }))
}
