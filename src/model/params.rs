//! A network's parameters and buffers, each registered once under its name: the optimizer
//! takes the trainable ones, checkpoints and `model.safetensors` take them all.

use crate::kernels::inplace::assign;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, Var};
use std::collections::HashMap;
use std::path::Path;

/// One named tensor of a network.
#[derive(Debug, Clone)]
pub struct Param {
    /// Its name in saved files, e.g. `fc1.weight`.
    pub name: String,
    /// The tensor; updates happen in place, so every holder sees them.
    pub tensor: Tensor,
    /// Whether the optimizer updates it (running statistics are not trainable).
    pub trainable: bool,
    /// Whether it is a batch norm's shift (beta), which `norm_bias_lr` scales the lr of.
    pub norm_shift: bool,
}

/// Every named tensor of a network, in registration order.
#[derive(Debug, Clone, Default)]
pub struct Params {
    entries: Vec<Param>,
}

impl Params {
    /// No parameters yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, name: String, tensor: Tensor, trainable: bool) {
        debug_assert!(
            self.entries.iter().all(|p| p.name != name),
            "parameter {name} registered twice"
        );
        self.entries.push(Param {
            name,
            tensor,
            trainable,
            norm_shift: false,
        });
    }

    /// Registers a trainable variable holding `init` and returns it.
    pub fn var(&mut self, name: impl Into<String>, init: &Tensor) -> Result<Var> {
        let var = Var::from_tensor(init)?;
        self.push(name.into(), var.as_tensor().clone(), true);
        Ok(var)
    }

    /// Registers a batch norm's trainable shift (beta) holding `init` and returns it.
    pub fn norm_shift(&mut self, name: impl Into<String>, init: &Tensor) -> Result<Var> {
        let var = self.var(name, init)?;
        if let Some(last) = self.entries.last_mut() {
            last.norm_shift = true;
        }
        Ok(var)
    }

    /// Registers a buffer (saved, not trained) holding `init` and returns it as a variable, so
    /// that layers can overwrite it in place.
    pub fn buffer(&mut self, name: impl Into<String>, init: &Tensor) -> Result<Var> {
        let var = Var::from_tensor(init)?;
        self.push(name.into(), var.as_tensor().clone(), false);
        Ok(var)
    }

    /// Registers a plain tensor that its owner updates in place (the manual engine's weights).
    pub fn plain(&mut self, name: impl Into<String>, tensor: &Tensor, trainable: bool) {
        self.push(name.into(), tensor.clone(), trainable);
    }

    /// Makes the entry `name` a buffer: saved, no longer trained (a batch norm whose scale
    /// is fixed).
    pub fn freeze(&mut self, name: &str) {
        if let Some(p) = self.entries.iter_mut().find(|p| p.name == name) {
            p.trainable = false;
        }
    }

    /// Every entry.
    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.entries.iter()
    }

    /// The trainable entries.
    pub fn trainable(&self) -> impl Iterator<Item = &Param> {
        self.entries.iter().filter(|p| p.trainable)
    }

    /// Number of trainable values.
    pub fn trainable_count(&self) -> usize {
        self.trainable().map(|p| p.tensor.elem_count()).sum()
    }

    /// Whether every value is finite.
    pub fn all_finite(&self) -> Result<bool> {
        for p in &self.entries {
            let t = p.tensor.to_dtype(DType::F64)?;
            let sum = t.abs()?.sum_all()?.to_scalar::<f64>()?;
            if !sum.is_finite() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Deep copies of every entry, on the CPU (a snapshot: later updates do not reach it).
    pub fn snapshot(&self) -> Result<Vec<(String, Tensor)>> {
        self.entries
            .iter()
            .map(|p| Ok((p.name.clone(), p.tensor.to_device(&Device::Cpu)?.copy()?)))
            .collect()
    }

    /// Overwrites every entry in place from named tensors, checking every name and shape.
    pub fn restore(&self, tensors: &HashMap<String, Tensor>, origin: &Path) -> Result<()> {
        for p in &self.entries {
            let saved = tensors.get(&p.name).ok_or_else(|| {
                Error::data(
                    origin,
                    format!("no tensor {}: not saved by this network", p.name),
                )
            })?;
            assign(&p.tensor, saved).map_err(|e| {
                Error::data(
                    origin,
                    format!("{}: {}", p.name, e.to_string().lines().next().unwrap_or("")),
                )
            })?;
        }
        Ok(())
    }

    /// Loads a safetensors file written by `save` into these tensors, in place.
    pub fn load(&self, path: &Path) -> Result<()> {
        let stored = read_safetensors(path)?;
        self.restore(&stored, path)
    }

    /// Writes every entry as safetensors, under a temporary name renamed into place.
    pub fn save(&self, path: &Path) -> Result<()> {
        let tensors: Vec<(String, Tensor)> = self
            .entries
            .iter()
            .map(|p| (p.name.clone(), p.tensor.clone()))
            .collect();
        write_safetensors(&tensors, path)
    }
}

/// Reads a safetensors file into named CPU tensors; errors name the file.
pub fn read_safetensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| {
        Error::data(
            path,
            format!(
                "cannot read tensors: {}",
                e.to_string().lines().next().unwrap_or("")
            ),
        )
    })
}

/// Writes named tensors as safetensors to `path` atomically: a reader sees the old file or the
/// whole new one, never half of it.
pub fn write_safetensors(tensors: &[(String, Tensor)], path: &Path) -> Result<()> {
    let map: HashMap<String, Tensor> = tensors
        .iter()
        .map(|(n, t)| Ok((n.clone(), t.to_device(&Device::Cpu)?)))
        .collect::<Result<_>>()?;
    crate::files::write_atomically(path, |tmp| {
        candle_core::safetensors::save(&map, tmp)
            .map_err(|e| Error::Other(format!("{}: {}", tmp.display(), e)))
    })
}
