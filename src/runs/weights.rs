//! A run folder's weights: its newest (the last checkpoint, written at each evaluation and
//! when the run stops) or its saved model, whichever a reader wants first.

use super::{StoredRun, WEIGHTS_FILE};
use crate::model::read_safetensors;
use crate::train::checkpoint::{self, Weights};
use crate::{Error, Result};
use std::path::Path;

/// Which file a reader takes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefer {
    /// The last checkpoint (a copy of a run still training), else the saved model.
    Newest,
    /// The saved model (what the run ended with), else the last checkpoint.
    Saved,
}

fn from_checkpoint(dir: &Path) -> Option<Result<Weights>> {
    let path = dir.join(checkpoint::LAST);
    path.is_file().then(|| {
        let cp = checkpoint::read(&path)?;
        Ok(Weights {
            tensors: cp.model,
            step: cp.state.step,
            origin: path,
        })
    })
}

fn from_model(dir: &Path) -> Option<Result<Weights>> {
    let path = dir.join(WEIGHTS_FILE);
    path.is_file().then(|| {
        let tensors = read_safetensors(&path)?;
        let stored = StoredRun::load(dir)?;
        Ok(Weights {
            tensors,
            step: stored.state().step,
            origin: path,
        })
    })
}

/// The weights of the run in `dir`, the file `prefer` names first; an error when it has
/// neither (a run writes its first checkpoint at its first evaluation or when it stops).
pub fn run_weights(dir: &Path, prefer: Prefer) -> Result<Weights> {
    let found = match prefer {
        Prefer::Newest => from_checkpoint(dir).or_else(|| from_model(dir)),
        Prefer::Saved => from_model(dir).or_else(|| from_checkpoint(dir)),
    };
    found.unwrap_or_else(|| {
        Err(Error::Other(format!(
            "{}: no saved weights and no checkpoint yet (a run writes one at each evaluation and when it stops)",
            dir.display()
        )))
    })
}
