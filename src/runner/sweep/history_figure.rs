//! A sweep's history as PNG and SVG (`history.png`, `history.svg` in its folder), as the
//! Optuna dashboard draws it: the optimisation history (each trial's figure and the best so
//! far, by trial) beside the intermediate values (every trial's evaluations by step, a pruned
//! trial's last one crossed).

use super::state::{QueueEntry, SweepState};
use crate::events::RunStatus;
use crate::files::write_atomically;
use crate::runs::curves::padded_range;
use crate::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Pixels of the figure.
const SIZE: (u32, u32) = (1400, 520);
/// The figure's PNG in a sweep folder.
pub const HISTORY_PNG: &str = "history.png";
/// Its SVG.
pub const HISTORY_SVG: &str = "history.svg";

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Other(format!("cannot draw the sweep's history: {e}"))
}

/// Writes `history.png` and `history.svg` into `dir` when a trial has a figure; their paths.
pub fn write(state: &SweepState, dir: &Path) -> Result<Vec<PathBuf>> {
    if state.best_so_far().is_empty() {
        return Ok(Vec::new());
    }
    let png = dir.join(HISTORY_PNG);
    write_atomically(&png, |tmp| {
        let root = BitMapBackend::new(tmp, SIZE).into_drawing_area();
        draw(&root, state)?;
        root.present().map_err(plot_error)
    })?;
    let svg = dir.join(HISTORY_SVG);
    write_atomically(&svg, |tmp| {
        let root = SVGBackend::new(tmp, SIZE).into_drawing_area();
        draw(&root, state)?;
        root.present().map_err(plot_error)
    })?;
    Ok(vec![png, svg])
}

fn colour(e: &QueueEntry) -> RGBColor {
    match &e.state {
        super::QueueState::Ended {
            status: RunStatus::Pruned,
            ..
        } => RGBColor(190, 90, 190),
        super::QueueState::Ended {
            status: RunStatus::Completed,
            ..
        } => RGBColor(40, 120, 190),
        super::QueueState::Running { .. } => RGBColor(60, 160, 60),
        _ => RGBColor(200, 60, 60),
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, state: &SweepState) -> Result<()>
where
    DB::ErrorType: 'static,
{
    crate::runs::figure_style::register_font();
    root.fill(&WHITE).map_err(plot_error)?;
    let (left, right) = root.split_horizontally(SIZE.0 / 2);
    let header = state.value_header();
    // The optimisation history.
    let dots: Vec<(f64, f64)> = state
        .queue
        .iter()
        .filter_map(|e| Some((e.index as f64, e.value.filter(|v| v.is_finite())?)))
        .collect();
    let (y0, y1) = padded_range(dots.iter().map(|p| p.1));
    let n = state.queue.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&left)
        .caption(
            format!("optimisation history: {header}"),
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(-0.5..n - 0.5, y0..y1)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_desc("trial")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.3}"))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(
            dots.iter()
                .map(|&p| Circle::new(p, 4, RGBColor(40, 120, 190).filled())),
        )
        .map_err(plot_error)?
        .label("trial")
        .legend(|(x, y)| Circle::new((x + 8, y), 4, RGBColor(40, 120, 190).filled()));
    let stairs = state.best_staircase();
    chart
        .draw_series(LineSeries::new(
            stairs,
            RGBColor(220, 120, 0).stroke_width(2),
        ))
        .map_err(plot_error)?
        .label("best so far")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RGBColor(220, 120, 0)));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(plot_error)?;
    // The intermediate values, in the objective's own units.
    let objective = state
        .objective
        .clone()
        .unwrap_or(crate::config::sweep::Objective::TestAcc);
    let curves = state.intermediate();
    let (y0, y1) = padded_range(curves.iter().flat_map(|c| c.1.iter().map(|p| p.1)));
    let x1 = curves
        .iter()
        .flat_map(|c| c.1.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&right)
        .caption(
            format!(
                "intermediate values: {} by step (× pruned)",
                objective.label()
            ),
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x1, y0..y1)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_desc("step")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.3}"))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(plot_error)?;
    for (e, points) in &curves {
        chart
            .draw_series(LineSeries::new(points.clone(), colour(e)))
            .map_err(plot_error)?;
        if let (Some(_), Some(&last)) = (e.pruned_at, points.last()) {
            chart
                .draw_series(std::iter::once(Cross::new(
                    last,
                    5,
                    colour(e).stroke_width(2),
                )))
                .map_err(plot_error)?;
        }
    }
    Ok(())
}
