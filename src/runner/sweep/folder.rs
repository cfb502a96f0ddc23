//! A sweep's folder (`RUNS/sweeps/ID/`), the one record of its state that every process
//! running it shares: its spec (`sweep.toml`) and plan (`plan.json`), one file a
//! configuration (`groups/`) and a run (`trials/`) written before the run trains, successive
//! halving's rung records (`rungs.jsonl`), and the results rewritten as runs end. A short
//! lock (`folder.lock`) keeps choosing a configuration and judging a rung to one process at a
//! time; `sweep.lock` is held by a process that runs the sweep's queue.

use crate::config::sweep::{Configuration, Objective, ObjectiveAt};
use crate::files::{open_append, open_write, write_text_atomically};
use crate::runs::new_run_id;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The folder of sweeps inside a runs folder.
pub const SWEEPS_DIR: &str = "sweeps";
/// The spec, in the sweep file's format.
pub const SPEC_FILE: &str = "sweep.toml";
/// What the plan settled (`SweepMeta`).
pub const META_FILE: &str = "plan.json";
/// One file a configuration.
pub const GROUPS_DIR: &str = "groups";
/// One file a run.
pub const TRIALS_DIR: &str = "trials";
/// Successive halving's decisions, one JSON line each.
pub const RUNGS_FILE: &str = "rungs.jsonl";
/// Held locked while a process runs the sweep's queue.
pub const SWEEP_LOCK: &str = "sweep.lock";
/// Held for a moment while a configuration is chosen or a rung judged.
pub const GUARD_FILE: &str = "folder.lock";
/// The results, rewritten as runs end.
pub const RESULTS_FILE: &str = "results.json";
/// The results as Markdown.
pub const RESULTS_MD: &str = "results.md";
/// Written by `sweep cancel`: no task starts a run after it.
pub const CANCEL_FILE: &str = "cancelled";
/// One lock file a run index (`claims/NNNNNN.lock`), held by the process that trains it.
pub const CLAIMS_DIR: &str = "claims";
/// The cluster job that runs the sweep (`SlurmJob`).
pub const SLURM_FILE: &str = "slurm.json";
/// The array job's script.
pub const JOB_SCRIPT: &str = "job.sh";
/// The parallel-coordinates figure.
pub const PARALLEL_SVG: &str = "parallel.svg";
/// The same figure as PNG.
pub const PARALLEL_PNG: &str = "parallel.png";

/// What the plan settled, for readers without the presets: counts, the objective, the first
/// evaluation (successive halving's default first rung).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepMeta {
    /// The sweep's id.
    pub sweep_id: String,
    /// Its name.
    pub name: String,
    /// How many configurations it tries.
    pub groups: usize,
    /// Seeds each trains with.
    pub seeds: usize,
    /// How many runs it trains.
    pub trials: usize,
    /// The figure it chooses by.
    pub objective: Objective,
    /// Which evaluations make a run's figure (`best` for sweeps written before the choice).
    #[serde(default)]
    pub objective_at: ObjectiveAt,
    /// The step of the runs' first evaluation.
    pub first_eval: usize,
    /// Steps a run trains (the common settings').
    pub steps: usize,
    /// A note about the plan (a validation split fitted to a small data set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// The presets its runs start from (as named: their names and settings), so that a task
    /// on another machine plans the same runs without the preset files.
    #[serde(default)]
    pub bases: crate::config::sweep::Bases,
}

/// Where one run of the sweep stands in the folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    /// Its run was started: its events are in the run folder.
    Started,
    /// Taken off the queue before it started.
    Cancelled,
    /// Could not start (bad settings, a folder that could not be made).
    Refused,
}

/// One run's record (`trials/NNNNNN.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// Its place in the sweep.
    pub index: usize,
    /// Its configuration.
    pub group: usize,
    /// Its seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Its run, once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Where it stands.
    pub mark: Mark,
    /// Why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who trains it, once started: `task 1234_5@node01` for a cluster's task, else
    /// `pid 4242@host` (`worker_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

/// This process as a sweep's worker: its SLURM array task where it is one, else its pid; and
/// the machine.
pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let at = if host.is_empty() {
        String::new()
    } else {
        format!("@{host}")
    };
    match (
        std::env::var("SLURM_ARRAY_JOB_ID"),
        std::env::var("SLURM_ARRAY_TASK_ID"),
    ) {
        (Ok(job), Ok(task)) => format!("task {job}_{task}{at}"),
        _ => format!("pid {}{at}", std::process::id()),
    }
}

/// One decision of successive halving (`rungs.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RungRecord {
    /// The run.
    pub index: usize,
    /// Its configuration.
    pub group: usize,
    /// The rung.
    pub rung: usize,
    /// The rung's step.
    pub rung_step: usize,
    /// The step of the evaluation that reached it.
    pub step: usize,
    /// The figure judged there: the mean of its configuration's runs' own figures at the
    /// rung (this run's included), each run counted once.
    pub value: f64,
    /// This run's own figure at the rung (absent in folders written before it was recorded,
    /// where `value` stands in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_value: Option<f64>,
    /// The figure it had to reach.
    pub cutoff: f64,
    /// Figures at the rung, its own included.
    pub competitors: usize,
    /// How many of them the rung keeps.
    pub keep: usize,
    /// Whether it went on.
    pub promoted: bool,
}

impl RungRecord {
    /// The run's own figure at the rung.
    pub fn own_value(&self) -> f64 {
        self.run_value.unwrap_or(self.value)
    }
}

/// A sweep's folder.
#[derive(Debug, Clone)]
pub struct SweepFolder {
    dir: PathBuf,
}

impl SweepFolder {
    /// The folder at `dir`.
    pub fn at(dir: &Path) -> Self {
        SweepFolder {
            dir: dir.to_path_buf(),
        }
    }

    /// Makes `RUNS/sweeps/<time>-sweep-<name>-<4 hex>` exclusively, with its subfolders.
    pub fn create(runs_dir: &Path, name: &str) -> Result<(String, Self)> {
        let parent = runs_dir.join(SWEEPS_DIR);
        crate::files::create_folder(&parent)?;
        loop {
            let id = new_run_id(&format!("sweep-{name}"));
            let dir = parent.join(&id);
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    for sub in [GROUPS_DIR, TRIALS_DIR, CLAIMS_DIR] {
                        let p = dir.join(sub);
                        std::fs::create_dir(&p).map_err(|e| Error::io(&p, e))?;
                    }
                    return Ok((id, SweepFolder { dir }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&dir, e)),
            }
        }
    }

    /// Its path.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The runs folder the sweep's runs are in (two levels up).
    pub fn runs_dir(&self) -> PathBuf {
        self.dir
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// Takes the lock of a process that runs the queue; an error when another holds it.
    pub fn lock_running(&self) -> Result<File> {
        let path = self.dir.join(SWEEP_LOCK);
        let file = open_write(&path)?;
        file.try_lock()
            .map_err(|e| Error::Other(format!("{}: cannot lock the sweep: {e}", path.display())))?;
        Ok(file)
    }

    /// Whether a process runs the queue now.
    pub fn running(&self) -> bool {
        crate::runs::lock_held_file(&self.dir.join(SWEEP_LOCK))
    }

    /// Waits for the short lock and holds it until the file is dropped.
    pub fn guard(&self) -> Result<File> {
        let path = self.dir.join(GUARD_FILE);
        let file = open_write(&path)?;
        file.lock().map_err(|e| Error::io(&path, e))?;
        Ok(file)
    }

    /// Claims run `index` for this process: `None` when another holds it. The claim lasts as
    /// long as the file is open, so a process killed outright leaves none.
    pub fn claim(&self, index: usize) -> Result<Option<File>> {
        let dir = self.dir.join(CLAIMS_DIR);
        crate::files::create_folder(&dir)?;
        let path = dir.join(format!("{index:06}.lock"));
        let file = open_write(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }

    /// Marks the sweep cancelled.
    pub fn cancel(&self) -> Result<()> {
        write_text_atomically(&self.dir.join(CANCEL_FILE), "cancelled\n")
    }

    /// Whether it was cancelled.
    pub fn cancelled(&self) -> bool {
        self.dir.join(CANCEL_FILE).exists()
    }

    /// Writes the plan's settled facts.
    pub fn write_meta(&self, meta: &SweepMeta) -> Result<()> {
        let text = serde_json::to_string_pretty(meta).unwrap_or_default();
        write_text_atomically(&self.dir.join(META_FILE), &text)
    }

    /// Reads them; counts that no sweep could have written (a damaged file) are refused
    /// before anything is sized by them.
    pub fn read_meta(&self) -> Result<SweepMeta> {
        use crate::config::sweep::{MAX_RUNS, MAX_SEEDS};
        let meta: SweepMeta = read_json(&self.dir.join(META_FILE))?;
        let fits = (1..=MAX_RUNS).contains(&meta.trials)
            && (1..=MAX_SEEDS).contains(&meta.seeds)
            && meta.groups.checked_mul(meta.seeds) == Some(meta.trials);
        if !fits {
            return Err(crate::Error::Other(format!(
                "{}: damaged: {} trials of {} configurations x {} seeds (a sweep has 1 to {MAX_RUNS} trials, 1 to {MAX_SEEDS} seeds)",
                self.dir.join(META_FILE).display(),
                meta.trials,
                meta.groups,
                meta.seeds
            )));
        }
        Ok(meta)
    }

    fn group_path(&self, group: usize) -> PathBuf {
        self.dir.join(GROUPS_DIR).join(format!("{group:06}.json"))
    }

    fn trial_path(&self, index: usize) -> PathBuf {
        self.dir.join(TRIALS_DIR).join(format!("{index:06}.json"))
    }

    /// Writes a configuration's record.
    pub fn write_group(&self, conf: &Configuration) -> Result<()> {
        let text = serde_json::to_string(conf).unwrap_or_default();
        write_text_atomically(&self.group_path(conf.group), &text)
    }

    /// Writes a run's record.
    pub fn write_trial(&self, record: &TrialRecord) -> Result<()> {
        let text = serde_json::to_string(record).unwrap_or_default();
        write_text_atomically(&self.trial_path(record.index), &text)
    }

    /// Appends a rung decision.
    pub fn append_rung(&self, record: &RungRecord) -> Result<()> {
        let path = self.dir.join(RUNGS_FILE);
        let mut file = open_append(&path)?;
        let line = format!("{}\n", serde_json::to_string(record).unwrap_or_default());
        file.write_all(line.as_bytes())
            .and_then(|_| file.flush())
            .map_err(|e| Error::io(&path, e))
    }

    /// The records of one kind (`GROUPS_DIR` or `TRIALS_DIR`) whose file changed since
    /// `seen` (file name to modification time), with `seen` brought up to date; unreadable
    /// records are skipped (a later read retries them).
    pub fn read_changed<T: for<'de> Deserialize<'de>>(
        &self,
        sub: &str,
        seen: &mut std::collections::HashMap<String, std::time::SystemTime>,
    ) -> Vec<T> {
        let Ok(entries) = std::fs::read_dir(self.dir.join(sub)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if !name.ends_with(".json") || name.starts_with('.') {
                continue;
            }
            let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
                continue;
            };
            if seen.get(&name) == Some(&modified) {
                continue;
            }
            if let Ok(record) = read_json::<T>(&entry.path()) {
                seen.insert(name, modified);
                out.push(record);
            }
        }
        out
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::data(path, e.to_string()))
}
