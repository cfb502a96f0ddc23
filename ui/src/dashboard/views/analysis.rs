//! The analysis screen: the confusion matrix as a heat map (share of each true class's
//! images), accuracy, precision and recall per class as bars, and the test images of the
//! selected cell drawn in the terminal with their true and predicted labels and the model's
//! confidence, a page at a time. Images go through `ratatui-image`: Kitty, Sixel or iTerm2
//! graphics where the terminal answered that it has them, half-blocks elsewhere.

use crate::dashboard::app::App;
use crate::dashboard::screens::analysis::{AnalysisScreen, AnalysisView, IMAGE_CELLS, MATRIX_ROWS};
use image::DynamicImage;
use ratatui::layout::Size;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;
use ratatui_image::picker::Picker;
use ratatui_image::{FilterType, Image, Resize};

/// Draws the analysis screen.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let view = match &app.analysis {
        AnalysisScreen::Ready(view) => view,
        other => {
            let text = match other {
                AnalysisScreen::Running(id) => format!("Analysing run {id} on the test set..."),
                AnalysisScreen::Failed(reason) => format!("The analysis failed: {reason}"),
                _ => "No analysis yet.\n\nPress a on the runs screen (the run under the cursor), on the live screen (its run) or on the sweep screen (the selected run) to see what its saved model gets wrong on the test set.".into(),
            };
            frame.render_widget(
                Paragraph::new(text)
                    .block(Block::bordered().title(" analysis "))
                    .wrap(Wrap { trim: true }),
                area,
            );
            return;
        }
    };
    // Many classes (CIFAR-100's) show the rows and columns that fit, the gallery below.
    let k = view.analysed.analysis.k().min(MATRIX_ROWS) as u16;
    let [top, gallery] =
        Layout::vertical([Constraint::Length(k + 4), Constraint::Min(0)]).areas(area);
    let [matrix_area, bars_area] = Layout::horizontal([
        Constraint::Length((11 + 6 * k + 2).min(area.width.saturating_sub(30))),
        Constraint::Min(30),
    ])
    .areas(top);
    draw_matrix(frame, view, matrix_area);
    draw_bars(frame, view, bars_area);
    draw_gallery(frame, &app.shared.graphics, view, gallery);
}

/// A heat colour for a share from 0 to 1: dark blue through to bright yellow.
fn heat(share: f64) -> Color {
    const RAMP: [Color; 6] = [
        Color::Indexed(17),
        Color::Indexed(18),
        Color::Indexed(25),
        Color::Indexed(30),
        Color::Indexed(142),
        Color::Indexed(226),
    ];
    let i = (share.clamp(0.0, 1.0) * (RAMP.len() - 1) as f64).round() as usize;
    RAMP[i]
}

fn draw_matrix(frame: &mut Frame, view: &AnalysisView, area: Rect) {
    let a = &view.analysed.analysis;
    let k = a.k();
    let short = |c: usize| short(a, c);
    let mut lines = vec![Line::from(
        std::iter::once(Span::raw(format!("{:>11}", "true \\ pred")))
            .chain((0..k).map(|c| {
                let style = if c == view.column {
                    Style::new().bold().fg(Color::Yellow)
                } else {
                    Style::new().bold()
                };
                Span::styled(format!("{:>6}", short(c)), style)
            }))
            .collect::<Vec<_>>(),
    )];
    for (r, name) in a.names.iter().enumerate() {
        let total = a.classes[r].count.max(1) as f64;
        let mut spans = vec![Span::styled(
            format!("{name:>11}"),
            if r == view.row {
                Style::new().bold().fg(Color::Yellow)
            } else {
                Style::new().bold()
            },
        )];
        for c in 0..k {
            let n = a.confusion[r][c];
            let share = n as f64 / total;
            let bg = heat(share);
            let fg = if share > 0.5 {
                Color::Black
            } else {
                Color::White
            };
            let mut style = Style::new().bg(bg).fg(fg);
            if (r, c) == (view.row, view.column) {
                style = style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
            }
            spans.push(Span::styled(format!("{n:>6}"), style));
        }
        lines.push(Line::from(spans));
    }
    let title = format!(
        " run {} (step {}): test accuracy {:.4} on {} images; arrows pick a cell ",
        view.analysed.run_id,
        view.analysed.step,
        a.accuracy(),
        a.count()
    );
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

fn bar(v: f64, width: usize) -> String {
    let full = (v.clamp(0.0, 1.0) * width as f64).round() as usize;
    format!("{}{}", "█".repeat(full), "·".repeat(width - full))
}

fn draw_bars(frame: &mut Frame, view: &AnalysisView, area: Rect) {
    let width = (area.width.saturating_sub(2 + 11 + 3 * 7) as usize / 3).clamp(4, 20);
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "{:>11} {:<w$}       {:<w$}       {:<w$}",
            "",
            "accuracy",
            "precision",
            "recall",
            w = width
        ),
        Style::new().bold(),
    ))];
    let a = &view.analysed.analysis;
    for (c, f) in a.classes.iter().enumerate() {
        let selected = c == view.row;
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:>11} ", name(a, c)),
                if selected {
                    Style::new().bold().fg(Color::Yellow)
                } else {
                    Style::new()
                },
            ),
            Span::styled(bar(f.accuracy, width), Style::new().fg(Color::Green)),
            Span::raw(format!(" {:.3} ", f.accuracy)),
            Span::styled(bar(f.precision, width), Style::new().fg(Color::Cyan)),
            Span::raw(format!(" {:.3} ", f.precision)),
            Span::styled(bar(f.recall, width), Style::new().fg(Color::Magenta)),
            Span::raw(format!(" {:.3}", f.recall)),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" per class ")),
        area,
    );
}

/// Draws an image (channel-major planes of `shape`) into `area` (32x16 cells) through the
/// terminal's graphics protocol, at its own size and channels.
fn draw_image(
    frame: &mut Frame,
    picker: &Picker,
    pixels: &[u8],
    shape: gradboard::data::DataShape,
    area: Rect,
) {
    let dims = (shape.channels, shape.height, shape.width);
    let image =
        DynamicImage::ImageRgb8(gradboard::data::resample::to_image(pixels, dims).to_rgb8());
    let size = Size::new(area.width, area.height);
    match picker.new_protocol(image, size, Resize::Scale(Some(FilterType::Nearest))) {
        Ok(protocol) => frame.render_widget(Image::new(&protocol), area),
        Err(e) => frame.render_widget(Paragraph::new(format!("image: {e}")), area),
    }
}

fn draw_gallery(frame: &mut Frame, picker: &Picker, view: &AnalysisView, area: Rect) {
    let images = view.cell();
    let a = &view.analysed.analysis;
    let (true_name, predicted_name) = (name(a, view.row), name(a, view.column));
    let block = Block::bordered();
    let inner = block.inner(area);
    let (w, h) = IMAGE_CELLS;
    let per_row = (inner.width / w) as usize;
    let rows = (inner.height / h) as usize;
    let per_page = (per_row * rows).max(1);
    let pages = images.len().div_ceil(per_page).max(1);
    let page = view.page.min(pages - 1);
    let kind = if view.row == view.column {
        "right"
    } else {
        "wrong"
    };
    let title = format!(
        " {} {true_name} images predicted {predicted_name} ({kind}), most confident first; page {} of {pages} (PgUp/PgDn) ",
        images.len(),
        page + 1
    );
    frame.render_widget(block.title(title), area);
    if per_row == 0 || rows == 0 {
        frame.render_widget(
            Paragraph::new(format!(
                "Enlarge the terminal to see the images: each takes {w}x{h} cells."
            ))
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    for (i, p) in images
        .iter()
        .skip(page * per_page)
        .take(per_page)
        .enumerate()
    {
        let (col, row) = ((i % per_row) as u16, (i / per_row) as u16);
        let x = inner.x + col * w;
        let y = inner.y + row * h;
        let pixels = view.analysed.data.test.image(p.index as usize);
        let shape = view.analysed.data.shape;
        draw_image(
            frame,
            picker,
            pixels,
            shape,
            Rect::new(x + 1, y, w - 2, h - 2),
        );
        let caption = format!(
            "#{} {}→{} {:.0}%",
            p.index,
            short(a, p.label as usize),
            short(a, p.predicted as usize),
            p.confidence * 100.0
        );
        frame.render_widget(
            Paragraph::new(caption),
            Rect::new(x + 1, y + h - 2, w - 2, 1),
        );
    }
}

/// Class `c`'s name (its number where the analysis has none).
fn name(a: &gradboard::analysis::Analysis, c: usize) -> String {
    a.names.get(c).cloned().unwrap_or_else(|| c.to_string())
}

/// Class `c`'s name cut to 5 characters.
fn short(a: &gradboard::analysis::Analysis, c: usize) -> String {
    name(a, c).chars().take(5).collect()
}
