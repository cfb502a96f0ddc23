//! The gate a run's settings pass before anything is allocated or any folder made, and the
//! network and the trainer settings that passed it describe.

use super::AutogradTrainer;
use crate::config::{Engine, ModelKind, RunConfig};
use crate::manual::{ManualMlp, ManualTrainer};
use crate::model::{Compute, Network, Trainer};
use crate::nn::{AutogradMlp, ConvNet, NetModel};
use crate::Result;
use rand::rngs::SmallRng;

/// The one gate for train, sweeps, the dashboard, the LR finder and bench: settings that fit
/// together, a held-out split a training set of `train_len` images can give (`None`: no data
/// set, as bench's random batches), a device that runs them as their keys mean, and the
/// memory they need.
pub fn check(config: &RunConfig, train_len: Option<usize>, compute: &Compute) -> Result<()> {
    check_settings(config, train_len)?;
    compute.check(config)?;
    crate::model::memory::check_fits(config, crate::model::memory::available())
}

/// The first half of `check`, which needs no device: settings that fit together and a
/// held-out split a training set of `train_len` images can give (a sweep's plan is checked
/// this way before its runs' devices are known, its memory counted together).
pub fn check_settings(config: &RunConfig, train_len: Option<usize>) -> Result<()> {
    config.validate()?;
    match train_len {
        Some(n) => crate::data::Holdout::check(n, config.val_split, config.batch_size),
        None => Ok(()),
    }
}

/// The network settings that passed `check` describe (any engine), initial weights drawn
/// from `rng`.
pub fn build_network(
    config: &RunConfig,
    rng: &mut SmallRng,
    compute: &Compute,
) -> Result<Box<dyn Network>> {
    Ok(match (config.engine, config.model) {
        (Engine::Manual, _) => Box::new(ManualMlp::from_config(config, rng, compute)?),
        (Engine::Autograd, ModelKind::Mlp) => Box::new(AutogradMlp::new(config, rng, compute)?),
        (Engine::Autograd, ModelKind::Convnet) => Box::new(ConvNet::new(config, rng, compute)?),
        (Engine::Autograd, ModelKind::Net) => Box::new(NetModel::new(config, rng, compute)?),
    })
}

/// The trainer settings that passed `check` describe, initial weights drawn from `rng`.
pub fn build_trainer(
    config: &RunConfig,
    rng: &mut SmallRng,
    compute: &Compute,
) -> Result<Box<dyn Trainer>> {
    Ok(match config.engine {
        Engine::Manual => Box::new(ManualTrainer::new(ManualMlp::from_config(
            config, rng, compute,
        )?)),
        Engine::Autograd => Box::new(AutogradTrainer::new(
            build_network(config, rng, compute)?,
            config,
            compute,
        )?),
    })
}
