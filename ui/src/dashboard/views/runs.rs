//! The runs screen: every run of the runs folder in a sortable, filterable table.

use super::{clock, status_style_listed};
use crate::dashboard::app::App;
use crate::dashboard::screens::runs::{changed_text, Column};
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
    let header = Row::new(Column::ALL.iter().enumerate().map(|(i, c)| {
        let arrow = if *c == sort {
            if descending {
                " ▼"
            } else {
                " ▲"
            }
        } else {
            ""
        };
        Cell::from(format!("{}:{}{arrow}", i + 1, c.title()))
    }))
    .style(Style::new().add_modifier(Modifier::BOLD));
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if let Some(g) = screen.group(i).filter(|_| screen.grouped) {
                return group_row(app, r, g);
            }
            let marked = app.shared.marked.contains(&r.run_id);
            let id = format!("{}{}", if marked { "● " } else { "  " }, r.run_id);
            let parent = r
                .parent
                .as_ref()
                .map(|p| format!(" ← {}@{}", p.run_id, p.step))
                .unwrap_or_default();
            Row::new(vec![
                Cell::from(id),
                Cell::from(r.preset.clone()),
                Cell::from(r.net.clone()),
                Cell::from(format!("{}{parent}", changed_text(r))),
                Cell::from(Span::styled(
                    match r.warnings.len() {
                        0 => r.status.as_str().to_string(),
                        _ => format!("{} ⚠", r.status.as_str()),
                    },
                    status_style_listed(r.status),
                )),
                Cell::from(r.step.to_string()),
                Cell::from(acc(r.best_test_acc)),
                Cell::from(acc(r.final_test_acc)),
                Cell::from(clock(r.seconds)),
            ])
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
                    " runs: {n} of {total} shown, {marked} marked{reading} (g: groups of seeds) "
                )
            }
        }
    };
    let figure_width = if screen.grouped { 17 } else { 9 };
    let table = Table::new(
        body,
        [
            Constraint::Length(38),
            Constraint::Length(12),
            Constraint::Length(20),
            Constraint::Min(16),
            Constraint::Length(11),
            Constraint::Length(9),
            Constraint::Length(figure_width),
            Constraint::Length(figure_width),
            Constraint::Length(9),
        ],
    )
    .header(header)
    .block(Block::bordered().title(title))
    .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(Some(screen.cursor));
    frame.render_stateful_widget(table, table_area, &mut state);
    let filter = match screen.filter_field.as_ref().map(|f| &f.input) {
        Some(input) => Line::from(vec![
            Span::raw(" filter: "),
            Span::styled(
                format!("{}▏", input.value()),
                Style::new().fg(Color::Black).bg(Color::Yellow),
            ),
            Span::raw("  Enter keeps it, Esc clears it"),
        ]),
        _ if !screen.filter.is_empty() => Line::from(format!(" filter: {}  (/ changes it)", screen.filter)),
        _ => Line::from(" / filters, 1-9 sort, space marks for compare, c compares, f forks, R resumes, E exports"),
    };
    frame.render_widget(Paragraph::new(filter), filter_area);
}

/// A group's row: its first run and how many more, the settings without the seed, how many
/// ended, mean ± std of best and final test accuracy.
fn group_row<'a>(app: &App, r: &RunRecord, g: &RunGroup) -> Row<'a> {
    let all = g.runs.iter().all(|id| app.shared.marked.contains(id));
    let name = match g.runs.len() {
        1 => r.run_id.clone(),
        k => format!("{} +{}", r.run_id, k - 1),
    };
    let changed: Vec<String> = r
        .changed
        .iter()
        .filter(|(k, _)| *k != "seed")
        .map(|(k, v)| format!("{k}={}", gradboard::config::json_text(v)))
        .collect();
    let seeds: Vec<String> = g.seeds.iter().map(|s| s.to_string()).collect();
    Row::new(vec![
        Cell::from(format!("{}{name}", if all { "● " } else { "  " })),
        Cell::from(r.preset.clone()),
        Cell::from(r.net.clone()),
        Cell::from(format!("{} seeds {}", changed.join(" "), seeds.join(","))),
        Cell::from(format!("n={}", g.n)),
        Cell::from(r.step.to_string()),
        Cell::from(g.best_text()),
        Cell::from(g.final_text()),
        Cell::from(clock(r.seconds)),
    ])
}
