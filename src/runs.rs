//! The run store: `runs/<run-id>/` with config.toml, events.jsonl (appended and flushed as the
//! run goes), summary.json and model.safetensors.

use crate::config::RunConfig;
use crate::events::{Event, EventSink};
use crate::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file names inside a run folder.
pub const CONFIG_FILE: &str = "config.toml";
/// Events, one JSON line each.
pub const EVENTS_FILE: &str = "events.jsonl";
/// The final `done` event with the run's figures.
pub const SUMMARY_FILE: &str = "summary.json";
/// Trained weights.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// A new run id: UTC time to the second plus a short random suffix, sortable by start.
pub fn new_run_id(preset: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let suffix = now.subsec_nanos() ^ std::process::id().rotate_left(16);
    let clean: String = preset
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{clean}-{:04x}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        suffix & 0xffff
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Writes one run's folder as its events arrive.
#[derive(Debug)]
pub struct RunWriter {
    dir: PathBuf,
    events: std::io::BufWriter<std::fs::File>,
}

impl RunWriter {
    /// Creates `runs_dir/run_id/` with its config.toml and an empty events.jsonl.
    pub fn create(runs_dir: &Path, run_id: &str, config: &RunConfig) -> Result<Self> {
        let dir = runs_dir.join(run_id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let config_path = dir.join(CONFIG_FILE);
        std::fs::write(&config_path, config.to_toml(None))
            .map_err(|e| Error::io(&config_path, e))?;
        let events_path = dir.join(EVENTS_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&events_path)
            .map_err(|e| Error::io(&events_path, e))?;
        Ok(RunWriter {
            dir,
            events: std::io::BufWriter::new(file),
        })
    }

    /// The run folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of the weights file.
    pub fn weights_path(&self) -> PathBuf {
        self.dir.join(WEIGHTS_FILE)
    }
}

impl EventSink for RunWriter {
    fn emit(&mut self, event: &Event) -> Result<()> {
        let path = self.dir.join(EVENTS_FILE);
        writeln!(self.events, "{}", event.to_json())
            .and_then(|_| self.events.flush())
            .map_err(|e| Error::io(&path, e))?;
        if let Event::Done { .. } = event {
            let summary = self.dir.join(SUMMARY_FILE);
            let text = serde_json::to_string_pretty(event).expect("events always serialise");
            std::fs::write(&summary, text + "\n").map_err(|e| Error::io(&summary, e))?;
        }
        Ok(())
    }
}

/// A run read back from its folder.
#[derive(Debug, Clone)]
pub struct StoredRun {
    /// The folder.
    pub dir: PathBuf,
    /// Its configuration.
    pub config: RunConfig,
    /// Every event in order (a line cut short by a kill is skipped).
    pub events: Vec<Event>,
}

impl StoredRun {
    /// Reads a run folder.
    pub fn load(dir: &Path) -> Result<Self> {
        let config_path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let config = RunConfig::from_toml(&text, &config_path.display().to_string())?;
        let events_path = dir.join(EVENTS_FILE);
        let text = std::fs::read_to_string(&events_path).map_err(|e| Error::io(&events_path, e))?;
        let events = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        Ok(StoredRun {
            dir: dir.to_path_buf(),
            config,
            events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_603), (2026, 5, 30));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
