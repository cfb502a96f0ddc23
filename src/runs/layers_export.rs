//! The export's per-layer part, for runs with `layers` events: `layers.csv` (one row a layer at
//! each event of each run) and `layers.png`/`layers.svg` (a row a run, up to `MAX_RUNS`: the
//! heat map of update ratios, layer by step, on the fixed scale with its healthy band, and the
//! weight quantile bands of its shallowest and deepest weight matrices).

use super::state::{LayersPoint, RunState};
use crate::diag::watch::is_matrix;
use crate::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Figure width, and height of each run's row, in pixels.
const SIZE: (u32, u32) = (1400, 460);

/// Runs drawn in the figure at most (the CSV holds every run).
const MAX_RUNS: usize = 16;

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Other(format!("layers figure: {e}"))
}

/// Writes the per-layer files of `runs` (id, fold) into `out`; none when no run has `layers`
/// events. Returns the files written.
pub fn write(runs: &[(&str, &RunState)], out: &Path) -> Result<Vec<PathBuf>> {
    let with: Vec<&(&str, &RunState)> = runs.iter().filter(|r| !r.1.layers.is_empty()).collect();
    if with.is_empty() {
        return Ok(Vec::new());
    }
    let drawn = &with[..with.len().min(MAX_RUNS)];
    let size = (SIZE.0, SIZE.1 * drawn.len() as u32);
    let mut files = Vec::new();
    let csv = out.join("layers.csv");
    super::write_text_atomically(&csv, &layers_csv(&with))?;
    files.push(csv);
    let png = out.join("layers.png");
    super::write_atomically(&png, |tmp| {
        let root = BitMapBackend::new(tmp, size).into_drawing_area();
        draw_all(&root, drawn)?;
        root.present().map_err(plot_error)
    })?;
    files.push(png);
    let svg = out.join("layers.svg");
    super::write_atomically(&svg, |tmp| {
        let root = SVGBackend::new(tmp, size).into_drawing_area();
        draw_all(&root, drawn)?;
        root.present().map_err(plot_error)
    })?;
    files.push(svg);
    Ok(files)
}

/// One row a parameter or hidden layer at each `layers` event of each run.
fn layers_csv(runs: &[&(&str, &RunState)]) -> String {
    let q = |prefix: &str| -> String {
        ["min", "p5", "p25", "p50", "p75", "p95", "max"]
            .iter()
            .map(|n| format!("{prefix}{n}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut out = format!(
        "run_id,step,kind,name,norm,grad_norm,grad_mean_abs,update_ratio,mean,std,dead,{},{}\n",
        q("q_"),
        q("grad_q_")
    );
    let join = |v: &[f64]| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    for (id, run) in runs {
        for point in &run.layers {
            for p in &point.params {
                let _ = writeln!(
                    out,
                    "{id},{},param,{},{},{},{},{},,,,{},{}",
                    point.step,
                    p.name,
                    p.norm,
                    p.grad_norm,
                    p.grad_mean_abs,
                    p.update_ratio,
                    join(&p.q),
                    join(&p.grad_q)
                );
            }
            for a in &point.acts {
                let _ = writeln!(
                    out,
                    "{id},{},act,{},,,,,{},{},{},{},,,,,,,",
                    point.step,
                    a.name,
                    a.mean,
                    a.std,
                    a.dead,
                    join(&a.q)
                );
            }
        }
    }
    out
}

/// A row a run.
fn draw_all<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[&(&str, &RunState)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    super::figure_style::register_font();
    root.fill(&WHITE).map_err(plot_error)?;
    for ((id, run), area) in runs
        .iter()
        .map(|r| (r.0, r.1))
        .zip(root.split_evenly((runs.len(), 1)))
    {
        draw(&area, id, run)?;
    }
    Ok(())
}

/// A tick's text, with the decimals the axis's span needs (the same for every tick): `0` for
/// what is zero but for rounding, scientific for spans below 1e-6.
fn tick(y: f64, span: f64) -> String {
    if y.abs() <= span * 1e-9 {
        return "0".into();
    }
    if span < 1e-6 {
        return format!("{y:.2e}");
    }
    let decimals = (-span.log10()).ceil() as i64 + 1;
    format!("{y:.*}", decimals.clamp(0, 8) as usize)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, id: &str, run: &RunState) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (left, right) = root.split_horizontally(SIZE.0 * 55 / 100);
    let names: Vec<String> = run
        .layers
        .last()
        .map(|p| p.params.iter().map(|x| x.name.clone()).collect())
        .unwrap_or_default();
    let n = run.layers.len();
    let scale = crate::diag::scales::UPDATE_RATIO;
    // Room for the longest name at about 7 pixels a character.
    let name_room = names.iter().map(|n| n.chars().count()).max().unwrap_or(4) as u32 * 7 + 16;
    let mut chart = ChartBuilder::on(&left)
        .caption(
            format!(
                "{id}: update ratio ({}: the middle third)",
                scale.describe()
            ),
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(name_room.clamp(60, 260))
        // A segment an event and a layer (a range 0..k has k + 1 segments).
        .build_cartesian_2d(
            (0..n.max(2) - 1).into_segmented(),
            (0..names.len().max(2) - 1).into_segmented(),
        )
        .map_err(plot_error)?;
    let steps: Vec<usize> = run.layers.iter().map(|p| p.step).collect();
    let labels = names.clone();
    let at = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => Some(*i),
        SegmentValue::Last => None,
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .y_labels(names.len())
        .x_labels(n.min(8))
        .x_desc("step")
        .x_label_formatter(&|v| {
            at(v)
                .and_then(|i| steps.get(i))
                .map(|s| s.to_string())
                .unwrap_or_default()
        })
        .y_label_formatter(&|v| {
            at(v)
                .and_then(|i| labels.get(i))
                .cloned()
                .unwrap_or_default()
        })
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(plot_error)?;
    let cells = run.layers.iter().enumerate().flat_map(|(c, point)| {
        names.iter().enumerate().filter_map(move |(r, name)| {
            let p = point.params.iter().find(|p| &p.name == name)?;
            let v = if p.update_ratio > 0.0 {
                scale.fraction(p.update_ratio.log10())
            } else {
                0.0
            };
            let (red, green, blue) = super::figure_style::ramp(v);
            Some(Rectangle::new(
                [
                    (SegmentValue::Exact(c), SegmentValue::Exact(r)),
                    (SegmentValue::Exact(c + 1), SegmentValue::Exact(r + 1)),
                ],
                RGBColor(red, green, blue).filled(),
            ))
        })
    });
    chart.draw_series(cells).map_err(plot_error)?;
    let matrices: Vec<&String> = names.iter().filter(|n| is_matrix(n)).collect();
    let panels: Vec<&String> = match (matrices.first(), matrices.last()) {
        (Some(a), Some(b)) if a != b => vec![*a, *b],
        (Some(a), _) => vec![*a],
        _ => Vec::new(),
    };
    if panels.is_empty() {
        return Ok(());
    }
    let areas = right.split_evenly((panels.len(), 1));
    for (name, area) in panels.iter().zip(areas.iter()) {
        let pick = |p: &LayersPoint| p.params.iter().find(|x| &&x.name == name).map(|x| x.q);
        let qs: Vec<(f64, [f64; 7])> = run
            .layers
            .iter()
            .filter_map(|p| pick(p).map(|q| (p.step as f64, q)))
            .collect();
        let (y0, y1) = qs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), (_, q)| {
                (l.min(q[0]), h.max(q[6]))
            });
        let (y0, y1) = if y1 > y0 {
            (y0, y1)
        } else {
            (y0 - 1.0, y0 + 1.0)
        };
        let (x0, x1) = (
            qs.first().map_or(0.0, |q| q.0),
            qs.last().map_or(1.0, |q| q.0),
        );
        let mut c = ChartBuilder::on(area)
            .caption(
                format!("{name}: weight quantiles (min-max, 5-95 %, 25-75 %, median)"),
                ("sans-serif", 15),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1.max(x0 + 1.0), y0..y1)
            .map_err(plot_error)?;
        let span = y1 - y0;
        c.configure_mesh()
            .light_line_style(WHITE)
            .label_style(("sans-serif", 12))
            .x_labels(6)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| tick(*y, span))
            .x_desc("step")
            .draw()
            .map_err(plot_error)?;
        for (lo, hi, colour) in [
            (0, 6, RGBColor(220, 220, 220)),
            (1, 5, RGBColor(170, 200, 230)),
            (2, 4, RGBColor(90, 140, 200)),
        ] {
            let outline: Vec<(f64, f64)> = qs
                .iter()
                .map(|(x, q)| (*x, q[hi]))
                .chain(qs.iter().rev().map(|(x, q)| (*x, q[lo])))
                .collect();
            c.draw_series(std::iter::once(Polygon::new(outline, colour.filled())))
                .map_err(plot_error)?;
        }
        c.draw_series(LineSeries::new(
            qs.iter().map(|(x, q)| (*x, q[3])),
            RGBColor(200, 120, 0).stroke_width(2),
        ))
        .map_err(plot_error)?;
    }
    Ok(())
}
