//! The analysis screen: the confusion matrix, the per-class figures and the selected cell's
//! images through ratatui-image (the half-block path here), a page at a time.

use super::*;
use crate::dashboard::msg::{Analysed, Screen};
use crate::dashboard::screens::analysis::gallery_grid;
use gradboard::analysis::Analysis;
use gradboard::data::synthetic::{files, write_folder};
use gradboard::train::Prediction;
use ratatui::style::Color;
use std::sync::Arc;

fn analysed(dir: &Path) -> Analysed {
    write_folder(dir, &files(10, 40)).unwrap();
    let data = Arc::new(gradboard::data::Dataset::load(dir).unwrap());
    // Every cat (3) predicted dog (5), the rest right.
    let predictions: Vec<Prediction> = data
        .test
        .labels()
        .iter()
        .enumerate()
        .map(|(i, &label)| Prediction {
            index: i as u32,
            label,
            predicted: if label == 3 { 5 } else { label },
            confidence: 0.5 + i as f32 / 100.0,
        })
        .collect();
    Analysed {
        run_id: "run-a".into(),
        step: 300,
        analysis: Arc::new(Analysis::from_predictions(
            predictions,
            data.class_names.clone(),
        )),
        data,
    }
}

#[test]
fn the_analysis_screen_shows_the_matrix_the_classes_and_the_cells_images() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    app.update(Msg::Analyzed(Ok(Box::new(analysed(dir.path())))));
    app.screen = Screen::Analysis;
    let s = screen(&app, 140, 45);
    assert!(
        s.contains("run run-a (step 300): test accuracy 0.9000 on 40 images"),
        "{s}"
    );
    assert!(s.contains("true \\ pred"), "{s}");
    assert!(s.contains("per class"), "{s}");
    // The cursor starts on the most confused cell: cats predicted dogs.
    assert!(s.contains("4 cat images predicted dog (wrong)"), "{s}");
    assert!(s.contains("cat→dog"), "{s}");
    let blocks = s.matches('▀').count() + s.matches('▄').count();
    assert!(blocks >= 32 * 12, "images drawn: {s}");
    // Move to the cats predicted cat: none.
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Left);
    let s = screen(&app, 140, 45);
    assert!(s.contains("0 cat images predicted cat (right)"), "{s}");
    assert_eq!(s.matches('▀').count() + s.matches('▄').count(), 0);
    // Too small for images: a message instead.
    let s = screen(&app, 100, 24);
    assert!(s.contains("Enlarge the terminal"), "{s}");
}

#[test]
fn an_image_drawn_by_the_widget_shows_its_pixels_in_half_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let a = analysed(dir.path());
    let cell = a.analysis.cell(3, 5);
    let pixels = a.data.test.image(cell[0].index as usize).to_vec();
    app.update(Msg::Analyzed(Ok(Box::new(a))));
    app.screen = Screen::Analysis;
    let mut terminal = Terminal::new(TestBackend::new(140, 45)).unwrap();
    terminal.draw(|f| draw(f, &app)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    // The first image's top-left cell: the gallery's first row, one column in.
    let caption = (0..45u16)
        .find(|&y| (0..140u16).any(|x| buffer[(x, y)].symbol() == "#"))
        .expect("a caption");
    let (x0, y0) = (2u16, caption - 16);
    let rgb = |x: usize, y: usize| {
        let at = y * 32 + x;
        Color::Rgb(pixels[at], pixels[1024 + at], pixels[2048 + at])
    };
    // A half-block cell: `▀` upper in the foreground, `▄` lower in the foreground, a space
    // when both pixels are one colour.
    let pixels_of = |x: u16, y: u16| {
        let cell = &buffer[(x, y)];
        match cell.symbol() {
            "▀" => (cell.fg, cell.bg),
            "▄" => (cell.bg, cell.fg),
            _ => (cell.bg, cell.bg),
        }
    };
    for cy in 0..16usize {
        for cx in 0..32usize {
            assert_eq!(
                pixels_of(x0 + cx as u16, y0 + cy as u16),
                (rgb(cx, 2 * cy), rgb(cx, 2 * cy + 1)),
                "cell ({cx}, {cy})"
            );
        }
    }
}

#[test]
fn the_page_size_the_screen_uses_is_the_one_the_view_draws() {
    for (w, h) in [(80u16, 24u16), (100, 40), (140, 45), (200, 60), (300, 90)] {
        let dir = tempfile::tempdir().unwrap();
        let mut app = app(dir.path());
        app.update(Msg::Resize(w, h));
        let a = analysed(dir.path());
        app.update(Msg::Analyzed(Ok(Box::new(a))));
        app.screen = Screen::Analysis;
        // Every image of the page is drawn, each with its caption.
        let (per_row, rows) = gallery_grid((w, h), 10);
        let shown = (per_row * rows).min(4);
        let s = screen(&app, w, h);
        assert_eq!(
            s.matches("cat→dog").count(),
            shown,
            "{w}x{h}: a page of {per_row}x{rows}"
        );
    }
}
