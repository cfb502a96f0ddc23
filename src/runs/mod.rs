//! The run store: `runs/<run-id>/` with config.toml, events.jsonl (appended and flushed as the
//! run goes), summary.json, model.safetensors and checkpoints. A folder belongs to one run:
//! it is created exclusively and locked while its run trains. Files other than events.jsonl
//! are written under a temporary name and renamed.

pub mod curves;
pub mod export;
mod follow;
mod ids;
mod listing;
mod reader;
mod writer;

pub use follow::Follower;
pub use ids::new_run_id;
pub use listing::{list_runs, run_record, ListedStatus, ListingCache, RunRecord};
pub use reader::StoredRun;
pub use writer::RunWriter;

use crate::{Error, Result};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The configuration the run started with.
pub const CONFIG_FILE: &str = "config.toml";
/// Events, one JSON line each.
pub const EVENTS_FILE: &str = "events.jsonl";
/// The final `done` event with the run's figures.
pub const SUMMARY_FILE: &str = "summary.json";
/// Trained weights.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Held locked by the process that trains the run.
pub const LOCK_FILE: &str = "run.lock";

/// A test accuracy as the tables show it: four decimals, `-` when there is none.
pub fn accuracy_text(v: Option<f64>) -> String {
    v.map(|a| format!("{a:.4}")).unwrap_or_else(|| "-".into())
}

/// Writes `path` by letting `write` fill a temporary file beside it, then renaming it into
/// place: readers see the old file or the whole new one.
pub fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // The temporary keeps the extension: some writers pick the format by it.
    let stem = path.file_stem().and_then(|n| n.to_str()).unwrap_or("file");
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| format!(".{e}"))
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(
        ".{stem}.tmp-{}-{}{ext}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result =
        write(&tmp).and_then(|_| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `write_atomically` for text.
pub fn write_text_atomically(path: &Path, text: &str) -> Result<()> {
    write_atomically(path, |tmp| {
        std::fs::write(tmp, text).map_err(|e| Error::io(tmp, e))
    })
}
