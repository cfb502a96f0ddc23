//! Finding the runs under a log folder and reading each: a folder with `events.out.tfevents.*`
//! files is a TensorBoard run (its files read in name order), one with `metrics.jsonl` a
//! JSON-lines run, one with gradboard's `events.jsonl` and `config.toml` a gradboard run
//! (its `train` and `eval` figures as scalars). Folders are walked without following links
//! (no loop), at most 16 deep.

use super::jsonl::Metrics;
use super::tensorboard::{Decoded, Point};
use super::tfrecord;
use crate::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a run's figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// TensorBoard event files.
    Tensorboard,
    /// A `metrics.jsonl`.
    Jsonl,
    /// A gradboard run folder.
    Gradboard,
}

/// A run found under a log folder.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRun {
    /// Its folder relative to the log folder (`.` for the log folder itself).
    pub id: String,
    /// Its folder.
    pub path: PathBuf,
    /// What wrote it.
    pub source: Source,
    /// Its settings (hparams, a `config` line, gradboard's settings).
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Its scalars by tag.
    pub scalars: BTreeMap<String, Vec<Point>>,
    /// Records or lines skipped as corrupt or unreadable.
    pub skipped: usize,
}

/// A tag's figures, as `runs --logdir --json` gives them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagSummary {
    /// Points logged.
    pub count: usize,
    /// The last value (`null` when not finite).
    pub last: Option<f64>,
    /// The last point's step.
    pub step: i64,
    /// The smallest finite value.
    pub min: Option<f64>,
    /// The largest finite value.
    pub max: Option<f64>,
}

impl LogRun {
    /// Each tag's summary.
    pub fn summaries(&self) -> BTreeMap<String, TagSummary> {
        self.scalars
            .iter()
            .map(|(tag, points)| {
                let finite = points.iter().map(|p| p.value).filter(|v| v.is_finite());
                let last = points.last();
                let summary = TagSummary {
                    count: points.len(),
                    last: last.map(|p| p.value).filter(|v| v.is_finite()),
                    step: last.map_or(0, |p| p.step),
                    min: finite.clone().reduce(f64::min),
                    max: finite.reduce(f64::max),
                };
                (tag.clone(), summary)
            })
            .collect()
    }

    /// The run as `runs --logdir --json` prints it.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "path": self.path,
            "source": self.source,
            "settings": self.settings,
            "scalars": self.summaries(),
            "skipped": self.skipped,
        })
    }
}

const MAX_DEPTH: usize = 16;

/// Every run under `dir`, by id.
pub fn scan(dir: &Path) -> Result<Vec<LogRun>> {
    if !dir.is_dir() {
        return Err(Error::data(dir, "no such folder"));
    }
    let mut runs = Vec::new();
    walk(dir, dir, 0, &mut runs)?;
    runs.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(runs)
}

fn walk(root: &Path, dir: &Path, depth: usize, runs: &mut Vec<LogRun>) -> Result<()> {
    let mut entries: Vec<(PathBuf, std::fs::FileType)> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_type().ok().map(|t| (e.path(), t)))
            .collect(),
        // A folder that cannot be listed is not a run (it is named where it is the root).
        Err(e) if depth == 0 => return Err(Error::data(dir, e.to_string())),
        Err(_) => return Ok(()),
    };
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let events: Vec<PathBuf> = entries
        .iter()
        .filter(|(p, t)| t.is_file() && name(p).is_some_and(|n| n.contains("tfevents")))
        .map(|(p, _)| p.clone())
        .collect();
    let id = match dir.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => dir.display().to_string(),
    };
    if !events.is_empty() {
        runs.push(read_tensorboard(id, dir, &events));
    } else if dir.join("metrics.jsonl").is_file() {
        runs.push(read_jsonl(id, dir));
    } else if dir.join("events.jsonl").is_file() && dir.join("config.toml").is_file() {
        runs.push(read_gradboard(id, dir));
    }
    if depth < MAX_DEPTH {
        for (p, t) in &entries {
            // Links are not followed: a link to a parent cannot loop.
            if t.is_dir() {
                walk(root, p, depth + 1, runs)?;
            }
        }
    }
    Ok(())
}

fn read_tensorboard(id: String, dir: &Path, files: &[PathBuf]) -> LogRun {
    let mut decoded = Decoded::default();
    let mut skipped = 0;
    for file in files {
        let Ok(bytes) = std::fs::read(file) else {
            skipped += 1;
            continue;
        };
        let records = tfrecord::read(&bytes);
        skipped += records.corrupt + usize::from(records.broken);
        for r in &records.records {
            decoded.add_record(r);
        }
    }
    LogRun {
        id,
        path: dir.to_path_buf(),
        source: Source::Tensorboard,
        settings: decoded.settings,
        scalars: decoded.scalars,
        skipped: skipped + decoded.undecodable,
    }
}

fn read_jsonl(id: String, dir: &Path) -> LogRun {
    let mut metrics = Metrics::default();
    match std::fs::read(dir.join("metrics.jsonl")) {
        Ok(bytes) => metrics.add_text(&String::from_utf8_lossy(&bytes)),
        Err(_) => metrics.skipped += 1,
    }
    LogRun {
        id,
        path: dir.to_path_buf(),
        source: Source::Jsonl,
        settings: metrics.settings,
        scalars: metrics.scalars,
        skipped: metrics.skipped,
    }
}

/// A gradboard run folder: its settings, and its `train` and `eval` figures by field name.
fn read_gradboard(id: String, dir: &Path) -> LogRun {
    let mut metrics = Metrics::default();
    let mut settings = serde_json::Map::new();
    if let Ok(stored) = crate::runs::StoredRun::load(dir) {
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(stored.state().config) {
            settings = map;
        }
        for (n, e) in stored.history().iter().enumerate() {
            let Ok(serde_json::Value::Object(map)) = serde_json::to_value(e) else {
                continue;
            };
            if !matches!(
                map.get("event").and_then(|v| v.as_str()),
                Some("train" | "eval")
            ) {
                continue;
            }
            let figures = map
                .into_iter()
                .filter(|(k, _)| !matches!(k.as_str(), "event" | "run_id" | "epoch"))
                .collect();
            metrics.add_value(n, serde_json::Value::Object(figures));
        }
    } else {
        metrics.skipped += 1;
    }
    LogRun {
        id,
        path: dir.to_path_buf(),
        source: Source::Gradboard,
        settings,
        scalars: metrics.scalars,
        skipped: metrics.skipped,
    }
}
