//! Other programs' runs exported: `metrics.csv` (run, tag, step, value, wall time: every point)
//! and `curves.png` (a panel a tag, for the six tags most runs share; a line a run), written to
//! temporary names and renamed.

use super::LogRun;
use crate::runs::figure_style::{register_font, COLOURS};
use crate::{Error, Result};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Panels at most.
const PANELS: usize = 6;

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Other(format!("figure: {e}"))
}

/// Writes `runs`' metrics.csv and curves.png into `out` (created if needed); the files.
pub fn export(runs: &[LogRun], out: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut csv = String::from("run,tag,step,value,wall_time\n");
    for run in runs {
        for (tag, points) in &run.scalars {
            for p in points {
                let _ = writeln!(
                    csv,
                    "{},{},{},{},{}",
                    quote(&run.id),
                    quote(tag),
                    p.step,
                    p.value,
                    p.wall_time
                );
            }
        }
    }
    let csv_path = out.join("metrics.csv");
    crate::files::write_text_atomically(&csv_path, &csv)?;
    let png = out.join("curves.png");
    crate::files::write_atomically(&png, |tmp| draw(runs, tmp))?;
    Ok(vec![csv_path, png])
}

/// A CSV field, quoted when it holds a comma, a quote or a newline.
fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The tags with a finite value that most runs share, most shared first (then by name), at
/// most `PANELS`.
fn tags(runs: &[LogRun]) -> Vec<String> {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for run in runs {
        for (tag, points) in &run.scalars {
            // A tag with no finite value has nothing to draw.
            if points.iter().any(|p| p.value.is_finite()) {
                *counts.entry(tag).or_default() += 1;
            }
        }
    }
    let mut tags: Vec<(&str, usize)> = counts.into_iter().collect();
    tags.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    tags.into_iter()
        .take(PANELS)
        .map(|(t, _)| t.to_string())
        .collect()
}

fn draw(runs: &[LogRun], path: &Path) -> Result<()> {
    register_font();
    let tags = tags(runs);
    let columns = tags.len().clamp(1, 2);
    let rows = tags.len().div_ceil(2).max(1);
    let root =
        BitMapBackend::new(path, (640 * columns as u32, 360 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let panels = root.split_evenly((rows, columns));
    for (tag, area) in tags.iter().zip(panels.iter()) {
        let series: Vec<(usize, Vec<(f64, f64)>)> = runs
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let points: Vec<(f64, f64)> = r
                    .scalars
                    .get(tag)?
                    .iter()
                    .filter(|p| p.value.is_finite())
                    .map(|p| (p.step as f64, p.value))
                    .collect();
                (!points.is_empty()).then_some((i, points))
            })
            .collect();
        let all = series.iter().flat_map(|(_, p)| p.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in all {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        if series.is_empty() {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        let pad = ((y1 - y0) * 0.05).max(y0.abs() * 0.05).max(1e-6);
        let mut chart = ChartBuilder::on(area)
            .caption(tag, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1.max(x0 + 1.0), (y0 - pad)..(y1 + pad))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .label_style(("sans-serif", 13))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()
            .map_err(plot_error)?;
        for (i, points) in series {
            let colour = COLOURS[i % COLOURS.len()];
            // Points as dots too: a tag logged once (an hparams metric) is a dot.
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 2, colour.filled())))
                .map_err(plot_error)?;
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(plot_error)?
                .label(runs[i].id.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(plot_error)?;
    }
    root.present().map_err(plot_error)
}
