//! Other programs' runs: every folder under a log folder that holds TensorBoard event files
//! (`events.out.tfevents.*`, TensorBoard's rule) or a `metrics.jsonl`, and gradboard's own run
//! folders, read into one shape: settings and scalars by tag.

pub mod export;
pub mod jsonl;
pub mod scan;
pub mod tensorboard;
pub mod tfrecord;

pub use scan::{scan, LogRun, Source, TagSummary};
pub use tensorboard::Point;
