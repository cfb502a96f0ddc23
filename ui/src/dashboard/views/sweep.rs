//! The sweep screen: the queue (each run's state, progress, best figure and the pruner's last
//! decision) under a header with the budget spent; the results by the sweep's objective (test
//! accuracy beside it), groups of seeds, what mattered (importance); the parallel coordinates
//! with their brushes; and a scatter of the objective against one swept key's value.

use crate::dashboard::app::App;
use gradboard::runner::sweep::parallel::Parallel;
use gradboard::runner::sweep::{QueueEntry, QueueState, SweepState};
use gradboard::runs::figure_style::ramp;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as CanvasLine};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use gradboard::runs::accuracy_text as figure;

fn state_style(e: &QueueEntry) -> Style {
    use gradboard::events::RunStatus;
    match &e.state {
        QueueState::Pending => Style::new().fg(Color::Gray),
        QueueState::Cancelled | QueueState::Refused { .. } => Style::new().fg(Color::DarkGray),
        QueueState::Crashed { .. } => Style::new().fg(Color::Red),
        QueueState::Requeued { .. } => Style::new().fg(Color::Yellow).italic(),
        QueueState::Running { .. } => Style::new().fg(Color::Green).bold(),
        QueueState::Ended { status, .. } => match status {
            RunStatus::Completed => Style::new().fg(Color::Cyan),
            RunStatus::Pruned => Style::new().fg(Color::Magenta),
            RunStatus::Stopped => Style::new().fg(Color::Yellow),
            RunStatus::Diverged | RunStatus::Failed => Style::new().fg(Color::Red),
        },
    }
}

/// Draws the sweep screen.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let Some(state) = &app.sweep.state else {
        frame.render_widget(
            Paragraph::new("No sweep yet.\n\nPress n for a new sweep: a preset with grid keys (every combination), or ranges and choices searched by random draws or TPE (which learns from the runs so far), seeds, settings for every run, and a pruner (successive halving or the median rule); or the name of a sweep file such as lab-ablation (section 2 of the lab report, each run beside the report's figure).")
                .block(Block::bordered().title(" sweep "))
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    let [queue_area, right] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(top);
    draw_queue(frame, app, state, queue_area);
    let importance_rows = if state.importance.is_empty() {
        if state.importance_basis.is_empty() {
            0
        } else {
            3
        }
    } else {
        state.importance.len() as u16 + 4
    };
    let [results_area, importance_area] = Layout::vertical([
        Constraint::Min(4),
        Constraint::Length(importance_rows.min(right.height / 2)),
    ])
    .areas(right);
    let figure = Parallel::of(state);
    draw_results(frame, app, state, &figure, results_area);
    draw_importance(frame, state, importance_area);
    let [parallel_area, scatter_area] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(bottom);
    draw_parallel(frame, app, state, &figure, parallel_area);
    super::sweep_plots::draw(frame, app, state, scatter_area);
}

fn draw_queue(frame: &mut Frame, app: &App, state: &SweepState, area: Rect) {
    let selected = app.sweep.selected.min(state.queue.len().saturating_sub(1));
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(7)]).areas(area);
    let ranked = state.objective_at.name();
    let header = Row::new(["#", "settings", "state", "step", ranked.as_str(), "pruner"])
        .style(Style::new().add_modifier(Modifier::BOLD));
    let rows: Vec<Row> = state
        .queue
        .iter()
        .map(|e| {
            let step = if e.step > 0 {
                // A command's trial says its length only by ending.
                match e.steps {
                    0 => e.step.to_string(),
                    steps => format!("{}/{steps}", e.step),
                }
            } else {
                format!("-/{}", e.steps)
            };
            let state_text = match e.pruned_at {
                Some(s) => format!("pruned@{s}"),
                None => e.state_name(),
            };
            Row::new(vec![
                Cell::from(e.index.to_string()),
                Cell::from(e.label.clone()),
                Cell::from(Span::styled(state_text, state_style(e))),
                Cell::from(step),
                Cell::from(figure(e.value)),
                Cell::from(e.pruner.as_deref().map(short_pruner).unwrap_or_default()),
            ])
        })
        .collect();
    let mut counts: Vec<(String, usize)> = Vec::new();
    for e in &state.queue {
        let name = e.state_name();
        match counts.iter_mut().find(|c| c.0 == name) {
            Some(c) => c.1 += 1,
            None => counts.push((name, 1)),
        }
    }
    let counts: Vec<String> = counts.iter().map(|(n, c)| format!("{c} {n}")).collect();
    let title = format!(
        " sweep{}{}: {}; {} sampler, pruner {} ",
        match (&state.job, app.sweep.local) {
            (Some(job), _) => format!(" (SLURM job {job})"),
            (None, true) => String::new(),
            (None, false) => " (from its folder)".to_string(),
        },
        if state.paused {
            " (paused)"
        } else if state.finished {
            " (finished)"
        } else {
            ""
        },
        counts.join(", "),
        state.sampler,
        state.pruner,
    );
    let label_width = state
        .label_width()
        .clamp(8, (table_area.width / 2).max(8) as usize) as u16;
    let mut table_state = TableState::default().with_selected(Some(selected));
    frame.render_stateful_widget(
        Table::new(
            rows,
            [
                Constraint::Length(3),
                Constraint::Length(label_width),
                Constraint::Length(10),
                Constraint::Length(9),
                Constraint::Length(6),
                Constraint::Fill(1),
            ],
        )
        .header(header)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::bordered().title(title)),
        table_area,
        &mut table_state,
    );
    draw_detail(frame, state, state.queue.get(selected), detail_area);
}

/// The selected run in full: its id, settings and the pruner's whole last decision.
fn draw_detail(frame: &mut Frame, state: &SweepState, entry: Option<&QueueEntry>, area: Rect) {
    let folder = Line::from(format!(
        "sweep {} ranked by {}; budget {}{}",
        state.id,
        state.value_header(),
        state.budget_text(),
        state
            .notice
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default()
    ));
    let Some(e) = entry else {
        frame.render_widget(
            Paragraph::new(folder).block(Block::bordered().title(" selected run ")),
            area,
        );
        return;
    };
    let ended = match &e.state {
        QueueState::Ended {
            reason: Some(r), ..
        } if e.pruner.as_deref() != Some(r) => format!(" ({r})"),
        QueueState::Refused { reason } => format!(" ({reason})"),
        _ => String::new(),
    };
    let lines = vec![
        folder,
        Line::from(vec![
            Span::styled(format!("{} ", e.index), Style::new().bold()),
            Span::raw(e.label.clone()),
            Span::styled(format!("  {}{ended}", e.state_name()), state_style(e)),
        ]),
        Line::from(match state.result_rows(false).on_metric {
            true => format!(
                "run {}  {} {}  step {}",
                e.run_id().unwrap_or("not started"),
                state.value_header(),
                figure(e.value),
                e.step
            ),
            false => format!(
                "run {}  {} {}  test {} (final {})",
                e.run_id().unwrap_or("not started"),
                state.value_header(),
                figure(e.value),
                figure(e.best_test_acc),
                figure(e.final_test_acc)
            ),
        }),
        Line::from(format!(
            "pruner: {}",
            e.pruner.as_deref().unwrap_or("no decision yet")
        )),
    ];
    frame.render_widget(
        Paragraph::new(lines)
            .block(
                Block::bordered()
                    .title(" selected run: Enter opens, a analyses, f forks it; F forks the best "),
            )
            .wrap(Wrap { trim: true }),
        area,
    );
}

fn draw_results(frame: &mut Frame, app: &App, state: &SweepState, lines: &Parallel, area: Rect) {
    let objective = state.value_header();
    let short = state
        .objective_at
        .header(state.objective_label().split(' ').next().unwrap_or("best"));
    let table = state.result_rows(false);
    let with_expected = table.with_expected;
    let on_metric = table.on_metric;
    let inside: Option<Vec<usize>> = app.sweep.brushing().then(|| app.sweep.brushed(lines));
    let mut header = vec![
        short.to_string(),
        if on_metric { "step" } else { "test" }.into(),
        if on_metric { "secs" } else { "final" }.into(),
        "settings".into(),
    ];
    if with_expected {
        header.insert(3, "report".into());
    }
    let grouped = state.seeds > 1 && inside.is_none();
    let rows: Vec<Row> = if grouped {
        header = vec![
            format!("{short} mean"),
            "± std".into(),
            "final".into(),
            format!("n  settings ({} seeds)", state.seeds),
        ];
        let groups = state.ranked_groups();
        groups
            .into_iter()
            .map(|g| {
                Row::new(vec![
                    Cell::from(figure(g.value_mean)),
                    Cell::from(figure(g.value_std.filter(|_| g.n > 1))),
                    Cell::from(figure(g.final_mean)),
                    Cell::from(format!("{}  {}", g.n, g.label)),
                ])
            })
            .collect()
    } else {
        table
            .rows
            .into_iter()
            .filter(|r| inside.as_ref().is_none_or(|i| i.contains(&r.entry.index)))
            .map(|r| {
                let (second, third) = match table.on_metric {
                    true => (r.entry.step.to_string(), r.seconds),
                    false => (r.best_test, r.final_test),
                };
                let mut cells = vec![
                    Cell::from(r.value),
                    Cell::from(second),
                    Cell::from(third),
                    Cell::from(Span::styled(r.entry.label.clone(), state_style(r.entry))),
                ];
                if with_expected {
                    cells.insert(3, Cell::from(r.expected));
                }
                Row::new(cells)
            })
            .collect()
    };
    let mut widths = vec![
        Constraint::Length(header[0].chars().count().max(8) as u16),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Min(10),
    ];
    if with_expected && !grouped {
        widths.insert(3, Constraint::Length(7));
    }
    let title = match &inside {
        Some(i) => format!(" {} runs inside the brushes, by {objective} ", i.len()),
        None if grouped => format!(" groups of seeds, by mean {objective} "),
        None if on_metric => format!(" results, by {objective} "),
        None => format!(" results, by {objective} (test beside it) "),
    };
    frame.render_widget(
        Table::new(rows, widths)
            .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
            .block(Block::bordered().title(title)),
        area,
    );
}

/// Each swept key's share of importance, as a bar.
fn draw_importance(frame: &mut Frame, state: &SweepState, area: Rect) {
    if area.height < 3 {
        return;
    }
    if state.importance.is_empty() {
        frame.render_widget(
            Paragraph::new(state.importance_basis.as_str())
                .block(Block::bordered().title(" what mattered ")),
            area,
        );
        return;
    }
    let width = area.width.saturating_sub(24).max(4) as f64;
    let mut lines: Vec<Line> = state
        .importance
        .iter()
        .map(|(k, share)| {
            Line::from(vec![
                Span::raw(format!("{k:>14} {share:.2} ")),
                Span::styled(
                    gradboard::runner::sweep::bar(*share, width as usize, '█'),
                    Style::new().fg(Color::Yellow),
                ),
            ])
        })
        .collect();
    // What it was measured on, and its caveat, where a user reads the shares.
    lines.push(Line::from(Span::styled(
        format!(
            "by {} on {}",
            state.importance_method, state.importance_basis
        ),
        Style::new().fg(Color::Gray),
    )));
    let method = state
        .importance_method
        .split([' ', ','])
        .next()
        .unwrap_or_default();
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(format!(" what mattered ({method}) "))),
        area,
    );
}

/// A pruner's decision in a queue cell: `✕r0@20 0.1685 < top 2/10 cut 0.2010`.
fn short_pruner(text: &str) -> String {
    [
        ("promoted at rung ", "↑r"),
        ("pruned at rung ", "✕r"),
        ("pruned at step ", "✕@"),
        (" (step ", "@"),
        ("): ", " "),
        (": ", " "),
        ("below the top ", "< top "),
        ("outside the top ", "∉ top "),
        ("in the top ", "∈ top "),
        (" of ", "/"),
        ("(cutoff ", "cut "),
    ]
    .iter()
    .fold(text.to_string(), |t, (from, to)| t.replace(from, to))
    .trim_end_matches(')')
    .to_string()
}

/// One axis a swept key and one for the objective; a line a run coloured by its figure (dim
/// outside the brushes); the selected axis and its brush marked.
fn draw_parallel(frame: &mut Frame, app: &App, state: &SweepState, figure: &Parallel, area: Rect) {
    if state.axes.params.is_empty() {
        frame.render_widget(
            Paragraph::new("The runs of this sweep are listed, not swept over a key.")
                .block(Block::bordered().title(" parallel coordinates "))
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let n = figure.axes.len();
    let selected = app.sweep.axis.min(n - 1);
    let brushed = app.sweep.brushing();
    let inside = app.sweep.brushed(figure);
    let brushes: Vec<Option<(f64, f64)>> = (0..n)
        .map(|i| app.sweep.brushes.get(i).copied().flatten())
        .collect();
    let x_of = |i: usize| {
        if n == 1 {
            0.5
        } else {
            i as f64 / (n - 1) as f64
        }
    };
    let brush_text = brushes[selected]
        .map(|b| format!(" brushed {}", figure.range_text(selected, b)))
        .unwrap_or_default();
    let title = format!(
        " parallel coordinates: {}{brush_text}{} · ←/→ axis, b brush, [ ] move, - + size ",
        figure.axes[selected].key,
        if brushed {
            format!("; {} of {} runs inside", inside.len(), figure.lines.len())
        } else {
            String::new()
        }
    );
    let labels: Vec<(f64, String)> = figure
        .axes
        .iter()
        .enumerate()
        .map(|(i, a)| {
            (
                x_of(i),
                if a.log {
                    format!("{} (log)", a.key)
                } else {
                    a.key.clone()
                },
            )
        })
        .collect();
    let canvas = Canvas::default()
        .block(Block::bordered().title(title))
        .marker(Marker::Braille)
        .x_bounds([-0.06, 1.06])
        .y_bounds([-0.18, 1.08])
        .paint(|ctx| {
            for line in &figure.lines {
                let keep = !brushed || inside.contains(&line.index);
                let colour = if keep {
                    let (r, g, b) = ramp(line.shade);
                    Color::Rgb(r, g, b)
                } else {
                    Color::DarkGray
                };
                for i in 0..n.saturating_sub(1) {
                    ctx.draw(&CanvasLine {
                        x1: x_of(i),
                        y1: line.positions[i],
                        x2: x_of(i + 1),
                        y2: line.positions[i + 1],
                        color: colour,
                    });
                }
            }
            ctx.layer();
            for (i, axis) in figure.axes.iter().enumerate() {
                let x = x_of(i);
                let style = if i == selected {
                    Color::White
                } else {
                    Color::Gray
                };
                ctx.draw(&CanvasLine {
                    x1: x,
                    y1: 0.0,
                    x2: x,
                    y2: 1.0,
                    color: style,
                });
                if let Some((lo, hi)) = brushes[i] {
                    for dx in [-0.008, 0.0, 0.008] {
                        ctx.draw(&CanvasLine {
                            x1: x + dx,
                            y1: lo,
                            x2: x + dx,
                            y2: hi,
                            color: Color::LightRed,
                        });
                    }
                }
                if let (Some(first), Some(last)) = (axis.ticks.first(), axis.ticks.last()) {
                    ctx.print(
                        x,
                        1.06,
                        Span::styled(last.1.clone(), Style::new().fg(style)),
                    );
                    ctx.print(
                        x,
                        -0.06,
                        Span::styled(first.1.clone(), Style::new().fg(style)),
                    );
                }
                let (_, name) = &labels[i];
                let name_style = if i == selected {
                    Style::new().fg(Color::White).bold().underlined()
                } else {
                    Style::new().fg(Color::Gray)
                };
                ctx.print(x, -0.15, Span::styled(name.clone(), name_style));
            }
        });
    frame.render_widget(canvas, area);
}
