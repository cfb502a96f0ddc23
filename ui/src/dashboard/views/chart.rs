//! Loss and accuracy charts of one run or several: train curves smoothed with TensorBoard's
//! debiased moving average over the whole series (the raw curve faint beneath), test figures at
//! each evaluation, the best test accuracy marked, live changes as vertical lines, x in steps,
//! epochs or wall time.

use crate::dashboard::shared::{ChartOptions, XAxis, RECENT_STEPS};
use crate::dashboard::store::RunView;
use gradboard::runs::curves::{debiased_ema, y_range};
use gradboard::runs::groups::band;
use gradboard::runs::series::decimate;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, LegendPosition};
use ratatui::Frame;

/// Which figure a chart draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Loss (log10 when asked).
    Loss,
    /// Accuracy.
    Accuracy,
}

/// How a chart's y axis is drawn.
#[derive(Debug, Clone, Copy)]
pub struct YAxis {
    /// The figure: a run's loss or accuracy, or none (any other scalar, a followed script's
    /// tag).
    pub metric: Option<Metric>,
    /// Values are log10 (the traces' points already are).
    pub log: bool,
    /// TensorBoard's "ignore outliers in chart scaling" (upward: a loss blowing up).
    pub ignore_outliers: bool,
}

impl YAxis {
    /// The axis of `metric` under the screen's chart options.
    pub fn of(metric: Metric, options: &ChartOptions) -> Self {
        YAxis {
            metric: Some(metric),
            log: metric == Metric::Loss && options.log_loss,
            // An accuracy has no outliers to ignore: its extremes are its story.
            ignore_outliers: metric == Metric::Loss && options.ignore_outliers,
        }
    }
}

/// One run's curves in chart units.
pub struct Trace {
    /// Legend name of the train curve.
    pub label: String,
    /// Colour of the run.
    pub color: Color,
    /// Test figures' colour (the run's own when several runs share a chart).
    pub test_color: Color,
    /// The raw train curve (drawn faintly), or none.
    pub raw: Vec<(f64, f64)>,
    /// The (smoothed) train curve.
    pub train: Vec<(f64, f64)>,
    /// Test figures.
    pub test: Vec<(f64, f64)>,
    /// The best test accuracy, marked.
    pub best: Option<(f64, f64)>,
    /// Live changes: x and "key=value".
    pub marks: Vec<(f64, String)>,
    /// A group's spread: at each x, the lowest and highest of its runs (shaded).
    pub band: Vec<(f64, f64, f64)>,
}

/// Chart units for a run: x of a step, the window, the y transform.
pub struct Units<'a> {
    run: &'a RunView,
    axis: XAxis,
    x_min_step: f64,
    log: bool,
}

impl<'a> Units<'a> {
    /// Units of `run` for `metric` under `options`.
    pub fn new(run: &'a RunView, options: &ChartOptions, metric: Metric) -> Self {
        let x_min_step = if options.recent {
            (run.step as f64 - RECENT_STEPS).max(0.0)
        } else {
            f64::NEG_INFINITY
        };
        Units {
            run,
            axis: options.x_axis,
            x_min_step,
            log: metric == Metric::Loss && options.log_loss,
        }
    }

    /// The x of a step.
    pub fn x(&self, step: f64) -> f64 {
        match self.axis {
            XAxis::Steps => step,
            XAxis::Epochs if self.run.train_size() > 0 => {
                step * self.run.config.batch_size as f64 / self.run.train_size() as f64
            }
            XAxis::Epochs => step,
            XAxis::WallTime => self.run.seconds_at(step),
        }
    }

    fn y(&self, v: f64) -> f64 {
        if self.log {
            v.max(1e-8).log10()
        } else {
            v
        }
    }

    /// Points in chart units, inside the window, finite only.
    pub fn points(&self, pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
        pts.iter()
            .filter(|p| p.0 >= self.x_min_step)
            .map(|&(s, v)| (self.x(s), self.y(v)))
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect()
    }
}

/// What the train curves show, for a chart's title: TensorBoard's smoothing weight (an
/// exponential moving average), or "raw".
pub fn smoothing_note(options: &ChartOptions) -> String {
    match options.smoothing {
        true => format!("EMA {:.2}", options.alpha),
        false => "raw".to_string(),
    }
}

/// The x axis's name.
pub fn axis_name(axis: XAxis) -> &'static str {
    match axis {
        XAxis::Steps => "step",
        XAxis::Epochs => "epoch",
        XAxis::WallTime => "seconds",
    }
}

/// Curves of `run` for `metric`: smoothed over the whole series, then thinned to the chart's
/// resolution. `prefix` is a parent run's history leading into this one (a fork).
pub fn trace(
    run: &RunView,
    prefix: Option<&RunView>,
    options: &ChartOptions,
    metric: Metric,
    (color, test_color): (Color, Color),
    (label, with_raw): (String, bool),
) -> Trace {
    let units = Units::new(run, options, metric);
    type Curves = (Vec<(f64, f64)>, Vec<(f64, f64)>);
    let pick = |r: &RunView| -> Curves {
        match metric {
            Metric::Loss => (
                r.curves.train_loss.points().to_vec(),
                r.curves.test_loss.clone(),
            ),
            Metric::Accuracy => (
                r.curves.train_acc.points().to_vec(),
                r.curves.test_acc.clone(),
            ),
        }
    };
    let (mut train, mut test) = pick(run);
    if let Some(parent) = prefix {
        let start = run.first_step as f64;
        let (ptrain, ptest) = pick(parent);
        train = ptrain
            .into_iter()
            .filter(|p| p.0 <= start)
            .chain(train)
            .collect();
        test = ptest
            .into_iter()
            .filter(|p| p.0 <= start)
            .chain(test)
            .collect();
    }
    let smoothed = if options.smoothing {
        debiased_ema(&train, options.alpha)
    } else {
        train.clone()
    };
    const DOTS: usize = 2000;
    let best = match metric {
        Metric::Accuracy => run.best_test().map(|(s, v)| (units.x(s), v)),
        Metric::Loss => None,
    };
    Trace {
        label,
        color,
        test_color,
        raw: if with_raw && options.smoothing {
            decimate(&units.points(&train), DOTS)
        } else {
            Vec::new()
        },
        train: decimate(&units.points(&smoothed), DOTS),
        test: units.points(&test),
        best: best.filter(|b| b.0.is_finite()),
        marks: run
            .curves
            .sets
            .iter()
            .filter(|s| s.step as f64 >= units.x_min_step)
            .map(|s| (units.x(s.step as f64), format!("{}={}", s.key, s.value)))
            .collect(),
        band: Vec::new(),
    }
}

/// Curves of a group of runs that differ only by seed: the mean of their (smoothed) train
/// curves and of their test figures, with the band from the lowest to the highest of them.
pub fn group_trace(
    members: &[&RunView],
    options: &ChartOptions,
    metric: Metric,
    color: Color,
    label: String,
) -> Trace {
    let traces: Vec<Trace> = members
        .iter()
        .map(|r| {
            trace(
                r,
                None,
                options,
                metric,
                (color, color),
                (String::new(), false),
            )
        })
        .collect();
    let train: Vec<&[(f64, f64)]> = traces.iter().map(|t| t.train.as_slice()).collect();
    let test: Vec<&[(f64, f64)]> = traces.iter().map(|t| t.test.as_slice()).collect();
    let (train, test) = (band(&train), band(&test));
    Trace {
        label: format!("{label} (n={}, band min-max)", members.len()),
        color,
        test_color: color,
        raw: Vec::new(),
        train: train.iter().map(|b| (b.0, b.1)).collect(),
        test: test.iter().map(|b| (b.0, b.1)).collect(),
        best: None,
        marks: Vec::new(),
        band: train.iter().chain(&test).map(|b| (b.0, b.2, b.3)).collect(),
    }
}

/// Points filling each band from its low to its high at the chart's vertical resolution
/// (four braille dots a row), at most two columns of them a cell.
fn band_fill(band: &[(f64, f64, f64)], y: [f64; 2], area: Rect) -> Vec<(f64, f64)> {
    let rows = area.height.saturating_sub(2).max(1) as f64 * 4.0;
    let dy = (y[1] - y[0]) / rows;
    let keep = (band.len() / (area.width as usize * 2).max(1)).max(1);
    let mut points = Vec::new();
    for &(x, lo, hi) in band.iter().step_by(keep) {
        let mut v = lo.max(y[0]);
        while v <= hi.min(y[1]) && dy > 0.0 {
            points.push((x, v));
            v += dy;
        }
    }
    points
}

fn bounds<'a>(
    sets: impl Iterator<Item = &'a [(f64, f64)]>,
    pick: impl Fn(&(f64, f64)) -> f64,
) -> [f64; 2] {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for p in sets.flat_map(|s| s.iter()) {
        lo = lo.min(pick(p));
        hi = hi.max(pick(p));
    }
    if !lo.is_finite() || !hi.is_finite() {
        return [0.0, 1.0];
    }
    if hi - lo < 1e-9 {
        return [lo - 0.5, hi + 0.5];
    }
    [lo, hi]
}

/// A tick's text for a value on an axis spanning `span`: whole numbers on a long axis, more
/// decimals on a short one, the exponent form for the very large and very small.
pub fn tick(v: f64, span: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        return format!("{v:.1e}");
    }
    let decimals = match span.abs() {
        s if s >= 20.0 => 0,
        s if s >= 2.0 => 1,
        s if s >= 0.2 => 2,
        _ => 3,
    };
    format!("{v:.decimals$}")
}

/// A log axis's tick: the value 10^v, to three significant digits.
fn log_tick(v: f64) -> String {
    let value = 10f64.powf(v);
    let digits = (2 - value.abs().log10().floor() as i32).clamp(0, 3) as usize;
    if !(1e-3..1e5).contains(&value) {
        format!("{value:.1e}")
    } else {
        format!("{value:.digits$}")
    }
}

/// Draws one chart of traces on the y axis `axis` (log10, outliers ignored in the range or
/// not): a trace with points off the chart is named "(clipped)" in the legend and the title
/// says how to see them.
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    title: String,
    traces: &[Trace],
    x_name: &str,
    axis: YAxis,
) {
    let (metric, log) = (axis.metric, axis.log);
    let curves = || {
        traces
            .iter()
            .flat_map(|t| [t.raw.as_slice(), t.train.as_slice(), t.test.as_slice()])
    };
    let x = bounds(curves(), |p| p.0);
    // A loss above 1.5 times where the lowest-starting run started is a run blowing up (or
    // one that started blown up): with outliers ignored the healthy curves keep the chart.
    let cap = (metric == Some(Metric::Loss)).then(|| {
        let start = traces
            .iter()
            .filter_map(|t| t.train.first().map(|p| p.1))
            .fold(f64::INFINITY, f64::min);
        if log {
            start + 1.5f64.log10()
        } else {
            1.5 * start
        }
    });
    let sets: Vec<&[(f64, f64)]> = curves().collect();
    let range = y_range(&sets, cap, axis.ignore_outliers);
    let pad = (range.hi - range.lo) * 0.05;
    // A loss or an accuracy is never negative: the padding stops at 0.
    let floor = match metric {
        Some(_) if range.lo >= 0.0 && !log => 0.0,
        _ => f64::NEG_INFINITY,
    };
    let y = [(range.lo - pad).max(floor), range.hi + pad];
    // Off the chart: beyond the padded range (a point trimmed by the percentiles but within
    // the padding is still drawn).
    let off_chart = |t: &Trace| {
        [&t.raw, &t.train, &t.test]
            .iter()
            .flat_map(|s| s.iter())
            .any(|p| p.1 > y[1] || p.1 < y[0])
    };
    let clipped = range.clipped && traces.iter().any(off_chart);
    // Said in the title, with the way back to every point where there is room (the legend,
    // which a narrow chart hides, says "(clipped)" too).
    let room = (area.width as usize).saturating_sub(2);
    let title = match ["· o shows all ", "· clipped "]
        .iter()
        .find(|hint| title.chars().count() + hint.chars().count() <= room)
    {
        Some(hint) if clipped => format!("{title}{hint}"),
        _ => title,
    };
    let mark_lines: Vec<Vec<(f64, f64)>> = traces
        .iter()
        .flat_map(|t| t.marks.iter().map(|(mx, _)| vec![(*mx, y[0]), (*mx, y[1])]))
        .collect();
    let mark_names: Vec<&str> = traces
        .iter()
        .flat_map(|t| t.marks.iter().map(|(_, n)| n.as_str()))
        .collect();
    let best: Vec<Vec<(f64, f64)>> = traces
        .iter()
        .map(|t| t.best.into_iter().collect())
        .collect();
    let fills: Vec<(Color, Vec<(f64, f64)>)> = traces
        .iter()
        .filter(|t| !t.band.is_empty())
        .map(|t| (t.color, band_fill(&t.band, y, area)))
        .collect();
    let mut datasets: Vec<Dataset> = Vec::new();
    for (color, fill) in &fills {
        datasets.push(
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Scatter)
                .style(Style::new().fg(*color).add_modifier(Modifier::DIM))
                .data(fill),
        );
    }
    for (i, line) in mark_lines.iter().enumerate() {
        let d = Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Magenta))
            .data(line);
        datasets.push(if i + 1 == mark_lines.len() {
            d.name(mark_names[i].to_string())
        } else {
            d
        });
    }
    for t in traces {
        if !t.raw.is_empty() {
            datasets.push(
                Dataset::default()
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(Style::new().fg(Color::DarkGray))
                    .data(&t.raw),
            );
        }
    }
    for (t, b) in traces.iter().zip(&best) {
        let label = if clipped && off_chart(t) {
            format!("{} (clipped)", t.label)
        } else {
            t.label.clone()
        };
        datasets.push(
            Dataset::default()
                .name(label)
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(t.color))
                .data(&t.train),
        );
        let test = Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(t.test_color))
            .data(&t.test);
        datasets.push(if traces.len() == 1 && !t.test.is_empty() {
            test.name(match metric {
                Some(Metric::Loss) => "test loss",
                Some(Metric::Accuracy) => "test acc",
                None => "test",
            })
        } else {
            test
        });
        if let Some(&(_, v)) = b.first() {
            let best = Dataset::default()
                .marker(Marker::Block)
                .graph_type(GraphType::Scatter)
                .style(Style::new().fg(Color::LightRed))
                .data(b);
            // One run: the legend says the figure; several: the mark alone.
            datasets.push(if traces.len() == 1 {
                best.name(format!("best {v:.4}"))
            } else {
                best
            });
        }
    }
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(Line::from(title)))
        .x_axis(
            Axis::default()
                .title(x_name.to_string())
                .bounds(x)
                .labels([x[0], (x[0] + x[1]) / 2.0, x[1]].map(|v| tick(v, x[1] - x[0]))),
        )
        .y_axis(
            Axis::default()
                .bounds(y)
                .labels([y[0], (y[0] + y[1]) / 2.0, y[1]].map(|v| match log {
                    true => log_tick(v),
                    false => tick(v, y[1] - y[0]),
                })),
        )
        .legend_position(Some(LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Ratio(2, 3), Constraint::Ratio(2, 3)));
    frame.render_widget(chart, area);
}
