//! Reading a run folder back.

use super::state::RunState;
use super::{CONFIG_FILE, EVENTS_FILE};
use crate::config::RunConfig;
use crate::events::{Event, EventKind, StartInfo};
use crate::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// A run read back from its folder.
#[derive(Debug, Clone)]
pub struct StoredRun {
    /// The folder.
    pub dir: PathBuf,
    /// Its configuration as it started.
    pub config: RunConfig,
    /// Every readable event in file order.
    pub events: Vec<Event>,
    /// Lines that could not be read (a line cut short by a kill, or damage).
    pub unreadable: usize,
}

/// Parses events.jsonl text; returns the events and the number of unreadable lines.
pub fn parse_events(text: &str) -> (Vec<Event>, usize) {
    let mut events = Vec::new();
    let mut unreadable = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(e) => events.push(e),
            Err(_) => unreadable += 1,
        }
    }
    (events, unreadable)
}

impl StoredRun {
    /// Reads a run folder: its config.toml (or, failing that, its `start` event's config)
    /// and its events.
    pub fn load(dir: &Path) -> Result<Self> {
        if dir.exists() && !dir.is_dir() {
            return Err(Error::data(dir, "is a file, not a run folder"));
        }
        let events_path = dir.join(EVENTS_FILE);
        let mut bytes = Vec::new();
        crate::files::open_read(&events_path)?
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(&events_path, e))?;
        let (events, unreadable) = parse_events(&String::from_utf8_lossy(&bytes));
        let config_path = dir.join(CONFIG_FILE);
        let from_file = std::fs::read_to_string(&config_path)
            .map_err(|e| Error::io(&config_path, e))
            .and_then(|t| RunConfig::from_toml(&t, &config_path.display().to_string()));
        let config = match (from_file, start_of(&events)) {
            (Ok(c), _) => c,
            (Err(_), Some(start)) => start.config.clone(),
            (Err(e), None) => return Err(e),
        };
        Ok(StoredRun {
            dir: dir.to_path_buf(),
            config,
            events,
            unreadable,
        })
    }

    /// The `start` event's record, if the run has one.
    pub fn start(&self) -> Option<&StartInfo> {
        start_of(&self.events)
    }

    /// The run's state after all its events: its settings with every live change applied,
    /// its curves, figures and end (`RunState`, the one fold of events).
    pub fn state(&self) -> RunState {
        let id = self
            .dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let mut state = RunState::new(id, self.config.clone());
        for e in &self.events {
            state.apply(e);
        }
        state
    }

    /// The events as the run's history reads: after a `resume` at step N, what the
    /// interrupted run wrote after N is dropped, as the resumed run replaces it.
    pub fn history(&self) -> Vec<&Event> {
        let mut out: Vec<&Event> = Vec::with_capacity(self.events.len());
        for e in &self.events {
            if let EventKind::Resume { step } = e.kind {
                out.retain(|old| {
                    matches!(old.kind, EventKind::Start(_) | EventKind::Resume { .. })
                        || old.step() <= step && !matches!(old.kind, EventKind::Done { .. })
                });
            }
            out.push(e);
        }
        out
    }
}

fn start_of(events: &[Event]) -> Option<&StartInfo> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::Start(info) => Some(info.as_ref()),
        _ => None,
    })
}
