//! The run store: `runs/<run-id>/` with config.toml, events.jsonl (appended and flushed as the
//! run goes), summary.json, model.safetensors and checkpoints. A folder belongs to one run:
//! it is created exclusively and locked while its run trains. Files other than events.jsonl
//! are written under a temporary name and renamed.

pub mod curves;
pub mod export;
pub mod figure_style;
mod follow;
pub mod groups;
mod ids;
pub mod labels;
mod layers_export;
mod listing;
pub mod query;
mod reader;
pub mod series;
pub mod state;
mod weights;
mod writer;

pub use follow::{new_lines, Follower};
pub use ids::new_run_id;
pub use labels::{edit_labels, trash_run, LabelEdit, RunLabels};
pub use listing::{
    list_runs, lock_held, lock_held_file, run_record, ListedStatus, ListingCache, RunRecord,
};
pub use reader::StoredRun;
pub use state::{Ending, LiveChange, RunState, SetMark};
pub use weights::{run_weights, Prefer};
pub use writer::RunWriter;

pub use crate::files::{
    write_atomically, write_text_atomically, CONFIG_FILE, EVENTS_FILE, LOCK_FILE, SUMMARY_FILE,
    WEIGHTS_FILE,
};

/// A test accuracy as the tables show it: four decimals, `-` when there is none.
pub fn accuracy_text(v: Option<f64>) -> String {
    v.map(|a| format!("{a:.4}")).unwrap_or_else(|| "-".into())
}
