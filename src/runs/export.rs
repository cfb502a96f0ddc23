//! Exporting runs: `curves.png` and `curves.svg` (loss and accuracy over steps, train and test,
//! one colour a run or a group of seeds, axes and legend), `metrics.csv` (one row an event),
//! `report.md` (the settings that differ, final and best figures, the figures) and, for runs
//! with per-layer statistics, `layers.csv` and `layers.png`/`.svg`.

use super::curves::{debiased_ema, y_range, Curves, Point};
use super::state::LiveChange;
use super::state::RunState;
use super::StoredRun;
use crate::config::{RunConfig, KEYS};
use crate::events::EventKind;
use crate::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Figure size in pixels.
pub const FIGURE_SIZE: (u32, u32) = (1400, 560);
/// Smoothing of the train curves in figures.
const SMOOTHING: f64 = 0.9;

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The files, in the order written.
    pub files: Vec<PathBuf>,
}

/// A run to export with its label.
struct Labelled {
    run: StoredRun,
    id: String,
    label: String,
    state: RunState,
}

/// The colours of runs in figures, cycling.
use super::figure_style::COLOURS;

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Other(format!("figure: {e}"))
}

/// The keys whose values differ among `configs`, in table order.
pub fn differing_keys(configs: &[&RunConfig]) -> Vec<&'static str> {
    KEYS.iter()
        .filter(|k| {
            let first = configs.first().map(|c| k.get(c));
            configs.iter().any(|c| Some(k.get(c)) != first)
        })
        .map(|k| k.name)
        .collect()
}

/// Writes the export of the runs in `dirs` into `out` (created if needed).
pub fn export(dirs: &[PathBuf], out: &Path) -> Result<Exported> {
    if dirs.is_empty() {
        return Err(Error::Other("export: no run folders given".into()));
    }
    let runs: Vec<(StoredRun, RunState)> = dirs
        .iter()
        .map(|d| StoredRun::load(d).map(|run| (run.state(), run)))
        .map(|r| r.map(|(state, run)| (run, state)))
        .collect::<Result<_>>()?;
    // The settings each run ended with (its start's with its live changes).
    let configs: Vec<&RunConfig> = runs.iter().map(|r| &r.1.config).collect();
    let keys = differing_keys(&configs);
    let labelled: Vec<Labelled> = runs
        .into_iter()
        .map(|(run, state)| {
            let id = run
                .dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("run")
                .to_string();
            let detail: Vec<String> = if keys.is_empty() {
                run.start()
                    .map(|s| {
                        s.changed
                            .iter()
                            .map(|(k, v)| {
                                format!(
                                    "{k}={}",
                                    v.as_str()
                                        .map(String::from)
                                        .unwrap_or_else(|| v.to_string())
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            } else {
                keys.iter()
                    .filter_map(|k| state.config.get(k).ok().map(|v| format!("{k}={v}")))
                    .collect()
            };
            // The id's suffix and at most three keys; the report's table has them all.
            let short = id.rsplit('-').next().unwrap_or(&id).to_string();
            let label = match detail.len() {
                0 => id.clone(),
                1..=3 => format!("{short} {}", detail.join(" ")),
                _ => format!("{short} {} ...", detail[..3].join(" ")),
            };
            Labelled {
                run,
                id,
                label,
                state,
            }
        })
        .collect();
    let groups = fold(&labelled);
    crate::files::create_folder(out)?;
    let mut files = Vec::new();
    let png = out.join("curves.png");
    super::write_atomically(&png, |tmp| {
        let root = BitMapBackend::new(tmp, FIGURE_SIZE).into_drawing_area();
        draw(&root, &labelled, &groups)?;
        root.present().map_err(plot_error)
    })?;
    files.push(png);
    let svg = out.join("curves.svg");
    super::write_atomically(&svg, |tmp| {
        let root = SVGBackend::new(tmp, FIGURE_SIZE).into_drawing_area();
        draw(&root, &labelled, &groups)?;
        root.present().map_err(plot_error)
    })?;
    files.push(svg);
    let csv = out.join("metrics.csv");
    super::write_text_atomically(&csv, &metrics_csv(&labelled))?;
    files.push(csv);
    let layered: Vec<(&str, &RunState)> =
        labelled.iter().map(|l| (l.id.as_str(), &l.state)).collect();
    let layer_files = super::layers_export::write(&layered, out)?;
    let report = out.join("report.md");
    let mut text = report_md(&labelled, &keys, &groups);
    if !layer_files.is_empty() {
        text.push_str("\n## Inside the network\n\n![update ratios and weight quantiles](layers.png)\n\nThe update ratio of each parameter tensor at each `layers` event (the healthy 1e-3 in teal) and the weight quantiles of the shallowest and deepest weight matrices; `layers.csv` has every figure.\n");
    }
    files.extend(layer_files);
    super::write_text_atomically(&report, &text)?;
    files.push(report);
    Ok(Exported { files })
}

fn range(sets: &[&[Point]], pick: impl Fn(&Point) -> f64) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for p in sets
        .iter()
        .flat_map(|s| s.iter())
        .filter(|p| p.1.is_finite())
    {
        lo = lo.min(pick(p));
        hi = hi.max(pick(p));
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        return (lo - 0.5, hi + 0.5);
    }
    (lo, hi)
}

/// A y tick's text: two decimals, or the exponent form past 10,000 and below 0.01.
fn tick_text(y: f64) -> String {
    if y != 0.0 && (y.abs() >= 1e4 || y.abs() < 1e-2) {
        format!("{y:.1e}")
    } else {
        format!("{y:.2}")
    }
}

/// The runs folded into groups of runs that differ only by seed (indices, in export order).
fn fold(runs: &[Labelled]) -> Vec<Vec<usize>> {
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let key = match &r.state.start {
            Some(s) => super::groups::group_key(&s.preset, &s.config, s.parent.as_ref()),
            None => r.id.clone(),
        };
        match out.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(i),
            None => out.push((key, vec![i])),
        }
    }
    out.into_iter().map(|g| g.1).collect()
}

/// Loss on the left, accuracy on the right; train smoothed (raw faintly under it), test with
/// markers; one colour a run, or a group of seeds: its mean curves over a shaded band from the
/// lowest to the highest of its runs.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[Labelled],
    groups: &[Vec<usize>],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    super::figure_style::register_font();
    root.fill(&WHITE).map_err(plot_error)?;
    let (left, right) = root.split_horizontally(FIGURE_SIZE.0 / 2);
    type Pick = fn(&Curves) -> (&[Point], &[Point]);
    let panels: [(&DrawingArea<DB, Shift>, &str, Pick); 2] = [
        (&left, "loss", |c| (c.train_loss.points(), &c.test_loss)),
        (&right, "accuracy", |c| (c.train_acc.points(), &c.test_acc)),
    ];
    for (area, name, pick) in panels {
        let all: Vec<&[Point]> = runs
            .iter()
            .flat_map(|r| {
                let (a, b) = pick(&r.state.curves);
                [a, b]
            })
            .collect();
        let (x0, x1) = range(&all, |p| p.0);
        // Every point is shown (no outliers ignored in a figure); a loss spanning more than
        // a hundredfold goes on a log axis, so a run that blew up and the healthy ones both
        // keep their shape.
        let span = y_range(&all, None, false);
        let log = name == "loss" && span.lo > 0.0 && span.hi > 100.0 * span.lo;
        let view = move |pts: Vec<Point>| -> Vec<Point> {
            match log {
                true => pts.into_iter().map(|(x, y)| (x, y.log10())).collect(),
                false => pts,
            }
        };
        let (y0, y1) = match log {
            true => (span.lo.log10(), span.hi.log10()),
            false => (span.lo, span.hi),
        };
        let pad = (y1 - y0) * 0.05;
        // A loss or an accuracy is never below 0: the padding stops there.
        let floor = if span.lo >= 0.0 && !log {
            0.0
        } else {
            f64::NEG_INFINITY
        };
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("{name} (lines: train, smoothed; dots: test)"),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1.max(x0 + 1.0), (y0 - pad).max(floor)..(y1 + pad))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc(if log { "loss (log scale)" } else { name })
            .label_style(("sans-serif", 14))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|&y| tick_text(if log { 10f64.powf(y) } else { y }))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()
            .map_err(plot_error)?;
        for (i, members) in groups.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            if members.len() > 1 {
                let curves: Vec<(Vec<Point>, Vec<Point>)> = members
                    .iter()
                    .map(|&m| {
                        let (train, test) = pick(&runs[m].state.curves);
                        (debiased_ema(train, SMOOTHING), test.to_vec())
                    })
                    .collect();
                let label = format!(
                    "{} (n={}, band min-max)",
                    runs[members[0]].label,
                    members.len()
                );
                for (k, series) in [0, 1].iter().enumerate() {
                    let sets: Vec<&[Point]> = curves
                        .iter()
                        .map(|c| {
                            if *series == 0 {
                                c.0.as_slice()
                            } else {
                                c.1.as_slice()
                            }
                        })
                        .collect();
                    let band: Vec<(f64, f64, f64, f64)> = super::groups::band(&sets)
                        .into_iter()
                        .map(|(x, mean, lo, hi)| match log {
                            true => (x, mean.log10(), lo.log10(), hi.log10()),
                            false => (x, mean, lo, hi),
                        })
                        .collect();
                    let outline: Vec<Point> = band
                        .iter()
                        .map(|b| (b.0, b.3))
                        .chain(band.iter().rev().map(|b| (b.0, b.2)))
                        .collect();
                    chart
                        .draw_series(std::iter::once(Polygon::new(
                            outline,
                            colour.mix(0.18).filled(),
                        )))
                        .map_err(plot_error)?;
                    let mean: Vec<Point> = band.iter().map(|b| (b.0, b.1)).collect();
                    let line = chart
                        .draw_series(LineSeries::new(mean.clone(), colour.stroke_width(2)))
                        .map_err(plot_error)?;
                    if k == 0 && name == "accuracy" {
                        line.label(label.clone()).legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
                        });
                    }
                    if k == 1 {
                        chart
                            .draw_series(mean.iter().map(|&p| Circle::new(p, 4, colour.filled())))
                            .map_err(plot_error)?;
                    }
                }
                continue;
            }
            let run = &runs[members[0]];
            let (train, test) = pick(&run.state.curves);
            let raw: Vec<Point> = train.iter().copied().filter(|p| p.1.is_finite()).collect();
            chart
                .draw_series(LineSeries::new(view(raw), colour.mix(0.2).stroke_width(1)))
                .map_err(plot_error)?;
            let smooth = chart
                .draw_series(LineSeries::new(
                    view(debiased_ema(train, SMOOTHING)),
                    colour.stroke_width(2),
                ))
                .map_err(plot_error)?;
            if name == "accuracy" {
                // One legend entry a run, on one panel: the colour is the run.
                smooth.label(run.label.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
                });
            }
            let test: Vec<Point> = view(test.iter().copied().filter(|p| p.1.is_finite()).collect());
            chart
                .draw_series(LineSeries::new(test.clone(), colour.stroke_width(1)))
                .map_err(plot_error)?;
            chart
                .draw_series(test.iter().map(|&p| Circle::new(p, 4, colour.filled())))
                .map_err(plot_error)?;
        }
        // Live changes as on screen: a line at the step, named by the new value.
        let (bottom, top) = ((y0 - pad).max(floor), y1 + pad);
        for (m, run) in runs.iter().enumerate() {
            let group = groups.iter().position(|g| g.contains(&m)).unwrap_or(0);
            let colour = COLOURS[group % COLOURS.len()];
            for c in run.state.live_changes() {
                let x = c.step as f64;
                chart
                    .draw_series(LineSeries::new(
                        [(x, bottom), (x, top)],
                        colour.mix(0.5).stroke_width(1),
                    ))
                    .map_err(plot_error)?;
                chart
                    .draw_series(std::iter::once(Text::new(
                        format!("{}={}", c.key, c.to),
                        (x, top),
                        ("sans-serif", 12).into_font().color(&colour),
                    )))
                    .map_err(plot_error)?;
            }
        }
        if name == "accuracy" {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .label_font(("sans-serif", 13))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(plot_error)?;
        }
    }
    Ok(())
}

fn field(v: Option<f64>) -> String {
    v.map(|v| format!("{v}")).unwrap_or_default()
}

/// One row an event of each run: run_id, event, step, epoch, loss, acc, test_loss, test_acc,
/// lr, time.
fn metrics_csv(runs: &[Labelled]) -> String {
    let mut out = String::from("run_id,event,step,epoch,loss,acc,test_loss,test_acc,lr,time\n");
    for run in runs {
        for e in run.run.history() {
            let (mut epoch, mut loss, mut acc, mut test_loss, mut test_acc, mut lr) =
                (None, None, None, None, None, None);
            match &e.kind {
                EventKind::Train {
                    epoch: ep,
                    loss: l,
                    acc: a,
                    lr: r,
                    ..
                } => (epoch, loss, acc, lr) = (Some(*ep), Some(*l), Some(*a), Some(*r)),
                EventKind::Eval {
                    epoch: ep,
                    test_loss: l,
                    test_acc: a,
                    ..
                } => (epoch, test_loss, test_acc) = (Some(*ep), Some(*l), Some(*a)),
                EventKind::Set { key, value, .. } if key == "lr" => lr = value.as_f64(),
                _ => {}
            }
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{}",
                e.run_id,
                e.name(),
                e.step(),
                field(epoch),
                field(loss),
                field(acc),
                field(test_loss),
                field(test_acc),
                field(lr),
                e.time
            );
        }
    }
    out
}

/// The report: runs with their figures, the settings that differ, the figure.
fn report_md(runs: &[Labelled], keys: &[&str], groups: &[Vec<usize>]) -> String {
    let mut out = String::from("# gradboard export\n\n");
    let _ = writeln!(
        out,
        "| run | preset | status | steps | best test acc | final test acc | seconds |"
    );
    out.push_str("|---|---|---|---|---|---|---|\n");
    for r in runs {
        let preset = r.state.preset();
        let step = r.state.step;
        let (status, seconds) = match &r.state.ended {
            Some(end) => (
                end.status.as_str().to_string(),
                format!("{:.1}", end.seconds),
            ),
            None => ("running or crashed".into(), "-".into()),
        };
        let best = r
            .state
            .curves
            .best_test_acc()
            .map(|(s, a)| format!("{a:.4} (step {s})"))
            .unwrap_or_else(|| "-".into());
        let last = r
            .state
            .curves
            .test_acc
            .last()
            .map(|p| format!("{:.4}", p.1))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "| {} | {preset} | {status} | {step} | {best} | {last} | {seconds} |",
            r.id
        );
    }
    out.push('\n');
    if groups.iter().any(|g| g.len() > 1) {
        out.push_str("## Groups (runs that differ only by seed)\n\n| runs | n | best test acc mean ± std | final test acc mean ± std |\n|---|---|---|---|\n");
        for g in groups.iter().filter(|g| g.len() > 1) {
            let figures = |f: fn(&RunState) -> Option<f64>| -> Vec<f64> {
                g.iter().filter_map(|&i| f(&runs[i].state)).collect()
            };
            let (best, last) = (
                figures(RunState::best_test_acc),
                figures(RunState::final_test_acc),
            );
            let spread = |v: &[f64]| {
                super::groups::spread_text(
                    crate::search::stats::mean(v),
                    crate::search::stats::std(v).filter(|_| v.len() > 1),
                )
            };
            let ids: Vec<&str> = g.iter().map(|&i| runs[i].id.as_str()).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                ids.join(", "),
                best.len(),
                spread(&best),
                spread(&last)
            );
        }
        out.push('\n');
    }
    if runs.len() > 1 {
        if keys.is_empty() {
            out.push_str("The runs have the same settings.\n\n");
        } else {
            out.push_str("## Settings that differ\n\n| key |");
            for r in runs {
                let _ = write!(out, " {} |", r.id);
            }
            out.push_str("\n|---|");
            out.push_str(&"---|".repeat(runs.len()));
            out.push('\n');
            for k in keys {
                let _ = write!(out, "| {k} |");
                for r in runs {
                    let _ = write!(out, " {} |", r.state.setting_text(k));
                }
                out.push('\n');
            }
            out.push('\n');
        }
    } else if let Some(start) = runs.first().and_then(|r| r.run.start()) {
        if !start.changed.is_empty() {
            out.push_str("## Settings changed from the preset\n\n| key | value |\n|---|---|\n");
            for (k, v) in &start.changed {
                let _ = writeln!(
                    out,
                    "| {k} | {} |",
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string())
                );
            }
            out.push('\n');
        }
    }
    let changes: Vec<(&str, LiveChange)> = runs
        .iter()
        .flat_map(|r| {
            r.state
                .live_changes()
                .into_iter()
                .map(|c| (r.id.as_str(), c))
        })
        .collect();
    if !changes.is_empty() {
        out.push_str(
            "## Settings changed while training\n\n| run | after step | key | from | to |\n|---|---|---|---|---|\n",
        );
        for (id, c) in &changes {
            let _ = writeln!(
                out,
                "| {id} | {} | {} | {} | {} |",
                c.step, c.key, c.from, c.to
            );
        }
        out.push('\n');
    }
    out.push_str("## Curves\n\n![loss and accuracy](curves.png)\n\n");
    out.push_str("Train curves are smoothed (debiased moving average, weight 0.9) with the raw curve faint beneath; dots are test evaluations.\n");
    out
}
