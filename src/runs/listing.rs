//! Listing a runs folder: each run's status and what it reached. A finished run is read from
//! its first line and its summary.json; a running or crashed one from all its events.

use super::reader::parse_events;
use super::{EVENTS_FILE, LOCK_FILE, SUMMARY_FILE};
use crate::config::RunConfig;
use crate::events::{Event, EventKind, ParentRef, RunStatus, SweepRef};
use crate::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// A listed run's status: its `done` status, else `running` while its process holds the
/// folder's lock, else `crashed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListedStatus {
    /// It ended with this status.
    Ended(RunStatus),
    /// Its process is alive and training it.
    Running,
    /// No `done`, and no process holds it.
    Crashed,
}

impl ListedStatus {
    /// The status as DESIGN.md spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ListedStatus::Ended(s) => s.as_str(),
            ListedStatus::Running => "running",
            ListedStatus::Crashed => "crashed",
        }
    }
}

impl Serialize for ListedStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One run as a listing shows it (`gradboard runs --json` prints these fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// The run's id.
    pub run_id: String,
    /// The preset its settings came from.
    pub preset: String,
    /// Its status.
    pub status: ListedStatus,
    /// The last step it reached.
    pub step: usize,
    /// Test accuracy of its last evaluation.
    pub final_test_acc: Option<f64>,
    /// Best test accuracy of any evaluation.
    pub best_test_acc: Option<f64>,
    /// Training seconds (a running or crashed run: wall time from start to its last event).
    pub seconds: f64,
    /// Unix seconds when it started.
    pub started: f64,
    /// The keys whose values differ from the preset.
    pub changed: BTreeMap<String, serde_json::Value>,
    /// The run it was forked from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRef>,
    /// Its sweep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepRef>,
    /// Why it ended early.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its configuration as it started.
    #[serde(skip)]
    pub config: Option<RunConfig>,
    /// Its folder.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// Whether some process holds the run folder's lock (its run is training).
pub fn lock_held(dir: &Path) -> bool {
    let Ok(file) = std::fs::File::open(dir.join(LOCK_FILE)) else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

fn first_event(path: &Path) -> Option<Event> {
    let file = std::fs::File::open(path).ok()?;
    let mut line = String::new();
    std::io::BufReader::new(file).read_line(&mut line).ok()?;
    serde_json::from_str(&line).ok()
}

/// The preset part of an id `DATE-TIME-PRESET-SUFFIX`, for runs whose start names none.
fn preset_from_id(id: &str) -> String {
    let parts: Vec<&str> = id.split('-').collect();
    if parts.len() >= 4 {
        parts[2..parts.len() - 1].join("-")
    } else {
        String::new()
    }
}

/// Reads one run folder's record.
pub fn run_record(dir: &Path) -> Result<RunRecord> {
    let run_id = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Other(format!("{}: not a run folder", dir.display())))?
        .to_string();
    let events_path = dir.join(EVENTS_FILE);
    let mut record = RunRecord {
        preset: preset_from_id(&run_id),
        run_id,
        status: ListedStatus::Crashed,
        step: 0,
        final_test_acc: None,
        best_test_acc: None,
        seconds: 0.0,
        started: 0.0,
        changed: BTreeMap::new(),
        parent: None,
        sweep: None,
        reason: None,
        config: None,
        dir: dir.to_path_buf(),
    };
    let summary: Option<Event> = std::fs::read_to_string(dir.join(SUMMARY_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let events: Vec<Event> = match summary {
        Some(done) => first_event(&events_path)
            .into_iter()
            .chain([done])
            .collect(),
        None => {
            let text =
                std::fs::read_to_string(&events_path).map_err(|e| Error::io(&events_path, e))?;
            parse_events(&text).0
        }
    };
    let mut last_time = 0.0;
    for e in &events {
        last_time = e.time.max(last_time);
        match &e.kind {
            EventKind::Start(info) => {
                record.started = e.time;
                if !info.preset.is_empty() {
                    record.preset = info.preset.clone();
                }
                record.changed = info.changed.clone();
                record.parent = info.parent.clone();
                record.sweep = info.sweep.clone();
                record.config = Some(info.config.clone());
                if let Some(p) = &info.parent {
                    record.step = p.step;
                }
            }
            EventKind::Train { step, .. } => record.step = *step,
            EventKind::Eval { test_acc, .. } => {
                record.final_test_acc = Some(*test_acc);
                record.best_test_acc =
                    Some(record.best_test_acc.map_or(*test_acc, |b| b.max(*test_acc)));
            }
            EventKind::Done {
                step,
                status,
                final_test_acc,
                best_test_acc,
                seconds,
                reason,
            } => {
                record.step = *step;
                record.status = ListedStatus::Ended(*status);
                record.seconds = *seconds;
                record.reason = reason.clone();
                if record.final_test_acc.is_none() && *best_test_acc > 0.0 {
                    record.final_test_acc = Some(*final_test_acc);
                    record.best_test_acc = Some(*best_test_acc);
                }
            }
            _ => {}
        }
    }
    if !matches!(record.status, ListedStatus::Ended(_)) {
        record.status = if lock_held(dir) {
            ListedStatus::Running
        } else {
            ListedStatus::Crashed
        };
        record.seconds = (last_time - record.started).max(0.0);
    }
    Ok(record)
}

/// Every run in `runs_dir`, newest first. Folders without events.jsonl are not runs and are
/// skipped; a missing runs folder lists nothing.
pub fn list_runs(runs_dir: &Path) -> Result<Vec<RunRecord>> {
    let entries = match std::fs::read_dir(runs_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(runs_dir, e)),
    };
    let mut records: Vec<RunRecord> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(EVENTS_FILE).is_file())
        .filter_map(|p| run_record(&p).ok())
        .collect();
    records.sort_by(|a, b| {
        b.started
            .total_cmp(&a.started)
            .then_with(|| b.run_id.cmp(&a.run_id))
    });
    Ok(records)
}

/// A listing kept between scans: a run folder is read again only when its events file
/// changed (size or modification time); unfinished runs have their lock checked every scan,
/// so a process that died shows as `crashed` at once.
#[derive(Debug, Default)]
pub struct ListingCache {
    entries: std::collections::HashMap<PathBuf, (u64, Option<std::time::SystemTime>, RunRecord)>,
}

impl ListingCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every run in `runs_dir`, newest first, reading only what changed since the last scan.
    pub fn scan(&mut self, runs_dir: &Path) -> Result<Vec<RunRecord>> {
        let entries = match std::fs::read_dir(runs_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.entries.clear();
                return Ok(Vec::new());
            }
            Err(e) => return Err(Error::io(runs_dir, e)),
        };
        let mut seen = std::collections::HashSet::new();
        for dir in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            let Ok(meta) = std::fs::metadata(dir.join(EVENTS_FILE)) else {
                continue;
            };
            let (size, modified) = (meta.len(), meta.modified().ok());
            seen.insert(dir.clone());
            let fresh = match self.entries.get_mut(&dir) {
                Some((s, m, record)) if *s == size && *m == modified => {
                    if !matches!(record.status, ListedStatus::Ended(_)) {
                        record.status = if lock_held(&dir) {
                            ListedStatus::Running
                        } else {
                            ListedStatus::Crashed
                        };
                    }
                    continue;
                }
                _ => run_record(&dir),
            };
            if let Ok(record) = fresh {
                self.entries.insert(dir, (size, modified, record));
            }
        }
        self.entries.retain(|dir, _| seen.contains(dir));
        let mut records: Vec<RunRecord> = self.entries.values().map(|e| e.2.clone()).collect();
        records.sort_by(|a, b| {
            b.started
                .total_cmp(&a.started)
                .then_with(|| b.run_id.cmp(&a.run_id))
        });
        Ok(records)
    }
}
