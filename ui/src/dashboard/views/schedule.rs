//! The learning-rate panel of the live screen: the run's whole schedule drawn faintly (a live
//! change of lr scales it from its step on), the steps trained in colour, the current step
//! marked.

use crate::dashboard::store::RunView;
use gradboard::config::Schedule;
use gradboard::optim::schedule::LrSchedule;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType};
use ratatui::Frame;

/// Whether the run's lr moves at all (a schedule, a warm-up or a live change).
pub fn shows(run: &RunView) -> bool {
    run.config.schedule != Schedule::Constant
        || run.config.warmup_steps > 0
        || run.curves.sets.iter().any(|s| s.key == "lr")
}

/// The base lr in force at `step`: the one the run started with, then each live change from
/// the step after it was made.
fn base_at(run: &RunView, step: usize) -> f64 {
    let start = run.start.as_ref().map_or(run.config.lr, |s| s.config.lr);
    run.curves
        .sets
        .iter()
        .filter(|s| s.key == "lr" && s.step < step)
        .filter_map(|s| s.value.parse::<f64>().ok())
        .next_back()
        .unwrap_or(start)
}

/// The learning rate at `points` steps over the whole run, and at each step where the base
/// changed, as (step, lr).
pub fn path(run: &RunView, points: usize) -> Vec<(f64, f64)> {
    let schedule = LrSchedule::new(&run.config);
    let mut steps: Vec<usize> = schedule.curve(points).into_iter().map(|p| p.0).collect();
    for s in run.curves.sets.iter().filter(|s| s.key == "lr") {
        let t = s.step.saturating_sub(run.first_step);
        steps.extend([t, t + 1]);
    }
    steps.retain(|&t| t >= 1 && t <= schedule.steps());
    steps.sort_unstable();
    steps.dedup();
    steps
        .into_iter()
        .map(|t| {
            let step = run.first_step + t;
            (step as f64, base_at(run, step) * schedule.factor(t))
        })
        .collect()
}

/// Draws the panel.
pub fn draw(frame: &mut Frame, run: &RunView, area: Rect) {
    let whole = path(run, (area.width as usize * 2).max(8));
    let done: Vec<(f64, f64)> = whole
        .iter()
        .copied()
        .filter(|p| p.0 <= run.step as f64)
        .collect();
    let now = [(run.step as f64, run.lr)];
    let x = [
        run.first_step as f64,
        (run.first_step + run.config.steps) as f64,
    ];
    let top = whole.iter().map(|p| p.1).fold(0.0, f64::max).max(run.lr);
    let y = [0.0, if top > 0.0 { top * 1.05 } else { 1.0 }];
    let mut datasets = vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::DarkGray))
            .data(&whole),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Cyan))
            .data(&done),
    ];
    if run.step > run.first_step {
        datasets.push(
            Dataset::default()
                .marker(Marker::Block)
                .graph_type(GraphType::Scatter)
                .style(Style::new().fg(Color::Yellow))
                .data(&now),
        );
    }
    let title = format!(
        " lr: {} now, {} schedule ",
        super::lr_text(run.lr),
        gradboard::config::Choice::name(run.config.schedule)
    );
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(Line::from(title)))
        .x_axis(Axis::default().bounds(x))
        .y_axis(
            Axis::default()
                .bounds(y)
                .labels(["0".to_string(), super::lr_text(top)]),
        );
    frame.render_widget(chart, area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradboard::config::RunConfig;
    use gradboard::runs::SetMark;

    fn run(sets: &[&str]) -> RunView {
        let mut config = RunConfig::default();
        for s in sets {
            config.apply_override(s).unwrap();
        }
        RunView::new("r", config)
    }

    #[test]
    fn the_path_follows_the_schedule_and_a_live_change_scales_the_rest() {
        let mut r = run(&["steps=100", "schedule=cosine", "lr=0.1"]);
        let p = path(&r, 11);
        assert_eq!(
            p.first().unwrap(),
            &(1.0, 0.1 * LrSchedule::new(&r.config).factor(1))
        );
        assert!((p.last().unwrap().1).abs() < 1e-12, "cosine ends at 0");
        r.state.curves.sets.push(SetMark {
            step: 50,
            key: "lr".into(),
            value: "0.05".into(),
        });
        let p = path(&r, 11);
        let at = |s: f64| p.iter().find(|q| q.0 == s).unwrap().1;
        let f = |t| LrSchedule::new(&r.config).factor(t);
        assert!((at(50.0) - 0.1 * f(50)).abs() < 1e-12);
        assert!((at(51.0) - 0.05 * f(51)).abs() < 1e-12);
        assert!(shows(&r));
        assert!(!shows(&run(&["steps=100"])));
    }
}
