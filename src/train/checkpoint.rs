//! Checkpoints: a run's whole training state in one safetensors file (weights as `model/NAME`,
//! optimizer state as `optim/NAME`, the rest as JSON in the file's metadata), written under a
//! temporary name and renamed, so a checkpoint is either whole or absent.

use crate::config::RunConfig;
use crate::data::SamplerPosition;
use crate::{Error, Result};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The file of the last checkpoint in a run folder.
pub const LAST: &str = "checkpoint-last.safetensors";
/// The file of the best evaluation's weights (no optimizer state) in a run folder.
pub const BEST: &str = "checkpoint-best.safetensors";

const META_KEY: &str = "gradboard";

/// Everything of a run's state that is not a tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// The run that wrote it.
    pub run_id: String,
    /// Steps done.
    pub step: usize,
    /// The step the run started from (a fork's parent step; 0 otherwise).
    #[serde(default)]
    pub first_step: usize,
    /// The configuration with every live change applied so far.
    pub config: RunConfig,
    /// Where the batch sampler stands.
    pub sampler: SamplerPosition,
    /// The optimizer's update count (Adam's bias correction).
    pub optimizer_steps: u64,
    /// Test accuracy of the last evaluation; `None` before the first.
    #[serde(default)]
    pub final_test_acc: Option<f64>,
    /// Best test accuracy so far; `None` before the first evaluation.
    #[serde(default)]
    pub best_test_acc: Option<f64>,
    /// Validation accuracy of the last evaluation (with a `val_split`).
    #[serde(default)]
    pub final_val_acc: Option<f64>,
    /// Best validation accuracy so far (with a `val_split`).
    #[serde(default)]
    pub best_val_acc: Option<f64>,
    /// Step of the best evaluation (by validation accuracy with a split, else test).
    #[serde(default)]
    pub best_step: usize,
    /// Whether the evaluation of `step` is due and not done (the run stopped during it): a
    /// resume does it first.
    #[serde(default)]
    pub pending_eval: bool,
    /// Training seconds so far.
    pub seconds: f64,
    /// The per-layer warnings given so far (kind, layer): a resumed run gives none twice.
    #[serde(default)]
    pub warned: Vec<(String, String)>,
    /// When the evaluated accuracy first reached each level so far (`done`'s `time_to`).
    #[serde(default)]
    pub time_to: std::collections::BTreeMap<String, f64>,
}

/// A network's tensors read from a run folder, and where and at which step they were saved.
#[derive(Debug, Clone)]
pub struct Weights {
    /// The tensors by name.
    pub tensors: HashMap<String, Tensor>,
    /// The file they came from, for messages.
    pub origin: PathBuf,
    /// The step they were saved at.
    pub step: usize,
}

/// A checkpoint read back.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The non-tensor state.
    pub state: CheckpointState,
    /// The network's tensors by name.
    pub model: HashMap<String, Tensor>,
    /// The optimizer's state tensors by name.
    pub optimizer: Vec<(String, Tensor)>,
}

/// Writes a checkpoint to `path` atomically.
pub fn write(
    path: &Path,
    state: &CheckpointState,
    model: &[(String, Tensor)],
    optimizer: &[(String, Tensor)],
) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = Vec::with_capacity(model.len() + optimizer.len());
    for (n, t) in model {
        tensors.push((format!("model/{n}"), t.to_device(&Device::Cpu)?));
    }
    for (n, t) in optimizer {
        tensors.push((format!("optim/{n}"), t.to_device(&Device::Cpu)?));
    }
    let meta = HashMap::from([(
        META_KEY.to_string(),
        serde_json::to_string(state).expect("checkpoint state serialises"),
    )]);
    crate::files::write_atomically(path, |tmp| {
        safetensors::serialize_to_file(
            tensors.iter().map(|(n, t)| (n.as_str(), t)),
            Some(meta),
            tmp,
        )
        .map_err(|e| Error::Other(format!("{}: {e}", tmp.display())))
    })
}

/// Reads a checkpoint; a file that is not a whole checkpoint is an error naming it.
pub fn read(path: &Path) -> Result<Checkpoint> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |what: String| Error::data(path, format!("not a usable checkpoint: {what}"));
    let (_, meta) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let text = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| bad("no gradboard state in its metadata".into()))?;
    let state: CheckpointState = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
        .map_err(|e| bad(e.to_string().lines().next().unwrap_or("").to_string()))?;
    let mut model = HashMap::new();
    let mut optimizer = Vec::new();
    for (name, t) in tensors {
        if let Some(n) = name.strip_prefix("model/") {
            model.insert(n.to_string(), t);
        } else if let Some(n) = name.strip_prefix("optim/") {
            optimizer.push((n.to_string(), t));
        }
    }
    Ok(Checkpoint {
        state,
        model,
        optimizer,
    })
}
