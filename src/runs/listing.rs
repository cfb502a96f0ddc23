//! Listing a runs folder: each run's status and what it reached. A finished run is read from
//! its first line and its summary.json; a running or crashed one from all its events.

use super::labels::{RunLabels, LABELS_FILE};
use super::reader::parse_events;
use super::state::{LiveChange, RunState};
use super::{CONFIG_FILE, EVENTS_FILE, LOCK_FILE, SUMMARY_FILE};
use crate::config::RunConfig;
use crate::events::{Event, EventKind, ParentRef, RunStatus, SweepRef};
use crate::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{BufRead, Read};
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
    /// The name of the network it trains: its net's, or the lab model's as a net
    /// (`mlp 800-400-200-100`, `convnet`); empty where its settings cannot be read.
    pub net: String,
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
    /// Settings changed while it trained, with the values they replaced (`step`, `key`,
    /// `from`, `to`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub live_changes: Vec<LiveChange>,
    /// The run it was forked from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRef>,
    /// Its sweep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepRef>,
    /// Why it ended early, or why its events cannot be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its per-layer warnings (`kind layer` each): what the layers screen explains.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// When its evaluated accuracy first reached each level (`done`'s `time_to`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub time_to: BTreeMap<String, f64>,
    /// Its name, tags, note and archived mark (`labels.json`), when any is said.
    #[serde(skip_serializing_if = "RunLabels::is_empty")]
    pub labels: RunLabels,
    /// Its configuration as it started.
    #[serde(skip)]
    pub config: Option<RunConfig>,
    /// Its folder.
    #[serde(skip)]
    pub dir: PathBuf,
}

impl RunRecord {
    /// A record of run `run_id` with nothing else known (crashed, no figures, no settings):
    /// the base that tests and listings of partial folders fill in.
    pub fn empty(run_id: &str) -> Self {
        RunRecord {
            run_id: run_id.into(),
            preset: String::new(),
            net: String::new(),
            status: ListedStatus::Crashed,
            step: 0,
            final_test_acc: None,
            best_test_acc: None,
            seconds: 0.0,
            started: 0.0,
            changed: BTreeMap::new(),
            live_changes: Vec::new(),
            parent: None,
            sweep: None,
            reason: None,
            warnings: Vec::new(),
            time_to: BTreeMap::new(),
            labels: RunLabels::default(),
            config: None,
            dir: PathBuf::new(),
        }
    }
}

/// Whether some process holds the run folder's lock (its run is training).
pub fn lock_held(dir: &Path) -> bool {
    lock_held_file(&dir.join(LOCK_FILE))
}

/// Whether some process holds the lock file at `path`.
pub fn lock_held_file(path: &Path) -> bool {
    let Ok(file) = crate::files::open_read(path) else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

fn first_event(path: &Path) -> Option<Event> {
    let file = crate::files::open_read(path).ok()?;
    let mut line = String::new();
    std::io::BufReader::new(file).read_line(&mut line).ok()?;
    serde_json::from_str(&line).ok()
}

/// The preset part of an id `DATE-TIME-PRESET-SUFFIX`, for runs whose start names none.
/// A finished run's `set` events: only their lines are parsed (a whole run's events are not
/// needed for the listing).
fn set_events(path: &Path) -> Vec<Event> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|line| line.contains("\"event\":\"set\""))
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

fn preset_from_id(id: &str) -> String {
    let parts: Vec<&str> = id.split('-').collect();
    if parts.len() >= 4 {
        parts[2..parts.len() - 1].join("-")
    } else {
        String::new()
    }
}

/// Whether `dir` holds a run: a folder with any of a run's own files (events, settings, lock).
fn is_run_folder(dir: &Path) -> bool {
    [EVENTS_FILE, CONFIG_FILE, LOCK_FILE]
        .iter()
        .any(|f| std::fs::symlink_metadata(dir.join(f)).is_ok())
}

/// What is wrong with a run folder's events file, if anything: missing, a link, not a file.
fn events_problem(dir: &Path) -> Option<String> {
    match std::fs::symlink_metadata(dir.join(EVENTS_FILE)) {
        Err(_) => Some(format!("{EVENTS_FILE} is missing")),
        Ok(m) if m.file_type().is_symlink() => Some(format!("{EVENTS_FILE} is a link")),
        Ok(m) if !m.is_file() => Some(format!("{EVENTS_FILE} is not a file")),
        Ok(_) => None,
    }
}

/// Reads one run folder's record: an ended run from its first event and its summary, any
/// other from all its events, each through the one fold (`RunState`). A folder whose events
/// cannot be read is listed as crashed with the reason.
pub fn run_record(dir: &Path) -> Result<RunRecord> {
    let run_id = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Other(format!("{}: not a run folder", dir.display())))?
        .to_string();
    let events_path = dir.join(EVENTS_FILE);
    let mut state = RunState::new(&run_id, RunConfig::default());
    let problem = events_problem(dir);
    if problem.is_none() {
        let summary: Option<Event> = crate::files::open_read(&dir.join(SUMMARY_FILE))
            .ok()
            .and_then(|f| serde_json::from_reader(std::io::BufReader::new(f)).ok())
            .filter(|e: &Event| matches!(e.kind, EventKind::Done { .. }));
        let events: Vec<Event> = match summary {
            // The start, the live changes (read from their lines alone) and the end.
            Some(done) => first_event(&events_path)
                .into_iter()
                .chain(set_events(&events_path))
                .chain([done])
                .collect(),
            None => {
                let mut bytes = Vec::new();
                crate::files::open_read(&events_path)?
                    .read_to_end(&mut bytes)
                    .map_err(|e| Error::io(&events_path, e))?;
                parse_events(&String::from_utf8_lossy(&bytes)).0
            }
        };
        for e in &events {
            state.apply(e);
        }
    }
    let status = match &state.ended {
        Some(end) => ListedStatus::Ended(end.status),
        None if lock_held(dir) => ListedStatus::Running,
        None => ListedStatus::Crashed,
    };
    let preset = match state.preset() {
        "" => preset_from_id(&run_id),
        p => p.to_string(),
    };
    let config = state.start.as_ref().map(|s| s.config.clone());
    Ok(RunRecord {
        preset,
        net: config
            .as_ref()
            .and_then(crate::model::described)
            .map(|n| n.name)
            .unwrap_or_default(),
        status,
        step: state.step,
        final_test_acc: state.final_test_acc(),
        best_test_acc: state.best_test_acc(),
        seconds: match &state.ended {
            Some(end) => end.seconds,
            None => state.elapsed(state.last_time),
        },
        started: state.started,
        changed: state
            .start
            .as_ref()
            .map(|s| s.changed.clone())
            .unwrap_or_default(),
        parent: state.parent().cloned(),
        sweep: state.sweep().cloned(),
        reason: problem.or_else(|| state.ended.as_ref().and_then(|e| e.reason.clone())),
        warnings: state.warning_names(),
        live_changes: state.live_changes(),
        time_to: state
            .ended
            .as_ref()
            .map(|e| e.time_to.clone())
            .unwrap_or_default(),
        config,
        labels: RunLabels::read(dir),
        dir: dir.to_path_buf(),
        run_id,
    })
}

/// The run folders of `runs_dir`; a missing runs folder has none, and one that is not a
/// folder is an error that says so.
fn run_folders(runs_dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(runs_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(_) if runs_dir.exists() && !runs_dir.is_dir() => {
            return Err(Error::Other(format!(
                "{}: not a folder (--runs-dir names the folder that holds run folders)",
                runs_dir.display()
            )))
        }
        Err(e) => return Err(Error::io(runs_dir, e)),
    };
    Ok(entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| is_run_folder(p))
        .collect())
}

fn newest_first(records: &mut [RunRecord]) {
    records.sort_by(|a, b| {
        b.started
            .total_cmp(&a.started)
            .then_with(|| b.run_id.cmp(&a.run_id))
    });
}

/// Every run in `runs_dir`, newest first.
pub fn list_runs(runs_dir: &Path) -> Result<Vec<RunRecord>> {
    let mut records: Vec<RunRecord> = run_folders(runs_dir)?
        .iter()
        .filter_map(|p| run_record(p).ok())
        .collect();
    newest_first(&mut records);
    Ok(records)
}

/// What a run folder's files looked like when it was last read: its events file's length
/// and time, whether it has a summary, its labels' time.
type Stamp = (
    Option<(u64, std::time::SystemTime)>,
    bool,
    Option<std::time::SystemTime>,
);

fn stamp(dir: &Path) -> Stamp {
    let events = std::fs::symlink_metadata(dir.join(EVENTS_FILE))
        .ok()
        .and_then(|m| Some((m.len(), m.modified().ok()?)));
    let summary = std::fs::symlink_metadata(dir.join(SUMMARY_FILE)).is_ok();
    let labels = std::fs::symlink_metadata(dir.join(LABELS_FILE))
        .ok()
        .and_then(|m| m.modified().ok());
    (events, summary, labels)
}

/// A listing kept between scans: a run folder is read again only when its events file,
/// summary or labels changed; unfinished runs have their lock checked every scan, so a process that died
/// shows as `crashed` at once.
#[derive(Debug, Default)]
pub struct ListingCache {
    entries: std::collections::HashMap<PathBuf, (Stamp, RunRecord)>,
}

impl ListingCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every run in `runs_dir`, newest first, reading only what changed since the last scan;
    /// `None` when nothing changed.
    pub fn scan(&mut self, runs_dir: &Path) -> Result<Option<Vec<RunRecord>>> {
        let folders = match run_folders(runs_dir) {
            Ok(f) => f,
            Err(e) => {
                self.entries.clear();
                return Err(e);
            }
        };
        let mut changed = folders.len() != self.entries.len();
        let mut seen = std::collections::HashSet::new();
        for dir in folders {
            let now = stamp(&dir);
            seen.insert(dir.clone());
            match self.entries.get_mut(&dir) {
                Some((was, record)) if *was == now => {
                    if !matches!(record.status, ListedStatus::Ended(_)) {
                        let status = if lock_held(&dir) {
                            ListedStatus::Running
                        } else {
                            ListedStatus::Crashed
                        };
                        changed |= status != record.status;
                        record.status = status;
                    }
                }
                _ => {
                    if let Ok(record) = run_record(&dir) {
                        self.entries.insert(dir, (now, record));
                        changed = true;
                    }
                }
            }
        }
        let before = self.entries.len();
        self.entries.retain(|dir, _| seen.contains(dir));
        changed |= before != self.entries.len();
        if !changed {
            return Ok(None);
        }
        let mut records: Vec<RunRecord> = self.entries.values().map(|e| e.1.clone()).collect();
        newest_first(&mut records);
        Ok(Some(records))
    }
}
