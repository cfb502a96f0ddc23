//! Sweep folders written before sweeps kept their state in records (a `results.json` with the
//! queue and nothing else): read so that their tables still show.

use super::state::{QueueState, SweepState, SweepStatus};
use super::{folder::SWEEP_LOCK, RESULTS_FILE};
use crate::config::sweep::Objective;
use crate::runs::{lock_held_file, run_record, ListedStatus};
use crate::{Error, Result};
use std::path::Path;

/// The state an old sweep folder's `results.json` records, reconciled with its run folders
/// when no process holds it.
pub fn read(dir: &Path) -> Result<SweepState> {
    let path = dir.join(RESULTS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let bad = |why: String| Error::data(&path, format!("not a sweep's results: {why}"));
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let field = |k: &str| value.get(k).cloned().unwrap_or_default();
    let mut queue: Vec<super::QueueEntry> =
        serde_json::from_value(field("queue")).map_err(|e| bad(e.to_string()))?;
    let recorded_best = value.get("sampler").is_some();
    for e in queue.iter_mut() {
        if !recorded_best {
            e.group = e.index;
            e.best = e.best_test_acc;
        }
        // Sweeps of that format chose by the peak.
        if e.value.is_none() {
            e.value = e.best;
        }
    }
    let running = lock_held_file(&dir.join(SWEEP_LOCK));
    let runs_dir = dir.parent().and_then(Path::parent).unwrap_or(Path::new(""));
    if !running {
        for entry in queue.iter_mut() {
            match &entry.state {
                QueueState::Pending => entry.state = QueueState::Cancelled,
                QueueState::Running { run_id } => {
                    let record = run_record(&runs_dir.join(run_id)).ok();
                    entry.state = match record.map(|r| r.status) {
                        Some(ListedStatus::Ended(status)) => QueueState::Ended {
                            run_id: run_id.clone(),
                            status,
                            reason: None,
                        },
                        _ => QueueState::Crashed {
                            run_id: run_id.clone(),
                        },
                    };
                }
                _ => {}
            }
        }
    }
    let finished = !running;
    // A folder whose plan.json is gone still says in results.json how it was run; only a
    // folder from before sweeps kept their plan lacks it (a grid chosen on test accuracy).
    let said = |k: &str| field(k).as_str().map(str::to_string);
    let kept_plan = said("sampler").is_some();
    let objective = match said("objective").as_deref() {
        Some("val_acc") => Objective::ValAcc,
        _ => Objective::TestAcc,
    };
    let pruning = field("pruning").as_bool().unwrap_or(false);
    Ok(SweepState {
        id: field("sweep_id").as_str().unwrap_or_default().to_string(),
        name: field("name").as_str().unwrap_or_default().to_string(),
        status: if running {
            SweepStatus::Running
        } else {
            SweepStatus::Finished
        },
        sampler: said("sampler").unwrap_or_else(|| "grid".into()),
        pruner: said("pruner").unwrap_or_else(|| if pruning { "median" } else { "off" }.into()),
        seeds: field("seeds").as_u64().map_or(1, |s| s.max(1) as usize),
        objective: Some(objective),
        swept_keys: serde_json::from_value(field("swept_keys")).unwrap_or_default(),
        pruning,
        finished,
        queue,
        notice: Some(if kept_plan {
            format!(
                "{}: plan.json is missing; shown from results.json as last written",
                dir.display()
            )
        } else {
            format!(
                "{}: a sweep folder from before plans were kept: shown from results.json",
                dir.display()
            )
        }),
        ..SweepState::default()
    })
}
