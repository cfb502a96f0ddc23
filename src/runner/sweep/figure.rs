//! The parallel-coordinates figure of a sweep as PNG and SVG (`parallel.png`, `parallel.svg`
//! in its folder, and in the export of its runs).

use super::parallel::Parallel;
use crate::files::write_atomically;
use crate::runs::figure_style::ramp;
use crate::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Pixels of the figure.
const SIZE: (u32, u32) = (1200, 600);

/// Writes `parallel.png` and `parallel.svg` into `dir`; returns their paths.
pub fn write(figure: &Parallel, title: &str, dir: &Path) -> Result<Vec<PathBuf>> {
    let png = dir.join(super::folder::PARALLEL_PNG);
    write_atomically(&png, |tmp| {
        let root = BitMapBackend::new(tmp, SIZE).into_drawing_area();
        draw(&root, figure, title)?;
        root.present().map_err(plot_error)
    })?;
    let svg = dir.join(super::folder::PARALLEL_SVG);
    write_atomically(&svg, |tmp| {
        let root = SVGBackend::new(tmp, SIZE).into_drawing_area();
        draw(&root, figure, title)?;
        root.present().map_err(plot_error)
    })?;
    Ok(vec![png, svg])
}

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Other(format!("cannot draw the parallel coordinates: {e}"))
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &Parallel,
    title: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    crate::runs::figure_style::register_font();
    root.fill(&WHITE).map_err(plot_error)?;
    let (w, h) = (SIZE.0 as i32, SIZE.1 as i32);
    let (left, right, top, bottom) = (90, 90, 70, 60);
    let n = figure.axes.len().max(1);
    let x_of = |i: usize| -> i32 {
        if n == 1 {
            (left + w - right) / 2
        } else {
            left + (i as i32) * (w - left - right) / (n as i32 - 1)
        }
    };
    let y_of = |f: f64| -> i32 { top + ((1.0 - f) * (h - top - bottom) as f64).round() as i32 };
    let text = |size: u32| ("sans-serif", size).into_font().color(&BLACK);
    root.draw(&Text::new(title.to_string(), (left, 18), text(20)))
        .map_err(plot_error)?;
    for line in &figure.lines {
        let (r, g, b) = ramp(line.shade);
        let points: Vec<(i32, i32)> = line
            .positions
            .iter()
            .enumerate()
            .map(|(i, &p)| (x_of(i), y_of(p)))
            .collect();
        root.draw(&PathElement::new(points, RGBColor(r, g, b).stroke_width(2)))
            .map_err(plot_error)?;
    }
    for (i, axis) in figure.axes.iter().enumerate() {
        let x = x_of(i);
        root.draw(&PathElement::new(
            vec![(x, y_of(0.0)), (x, y_of(1.0))],
            BLACK.stroke_width(1),
        ))
        .map_err(plot_error)?;
        let name = if axis.log {
            format!("{} (log)", axis.key)
        } else {
            axis.key.clone()
        };
        root.draw(&Text::new(name, (x - 40, h - bottom + 22), text(15)))
            .map_err(plot_error)?;
        for (pos, label) in &axis.ticks {
            let y = y_of(*pos);
            root.draw(&PathElement::new(
                vec![(x - 4, y), (x + 4, y)],
                BLACK.stroke_width(1),
            ))
            .map_err(plot_error)?;
            root.draw(&Text::new(label.clone(), (x + 6, y - 7), text(12)))
                .map_err(plot_error)?;
        }
    }
    Ok(())
}
