//! The gate a run's settings pass before anything is allocated or any folder made, and the
//! network and the trainer settings that passed it describe.

use super::AutogradTrainer;
use crate::config::{Engine, ModelKind, RunConfig};
use crate::data::DataShape;
use crate::manual::{ManualMlp, ManualTrainer};
use crate::model::{Compute, Network, Trainer};
use crate::nn::{AutogradMlp, ConvNet, NetModel};
use crate::{Error, Result};
use rand::rngs::SmallRng;

/// The one gate for train, sweeps, the dashboard, the LR finder and bench: settings that fit
/// together (and a network that takes `data`'s shape), a held-out split a training set of `train_len` images can give (`None`: no data
/// set, as bench's random batches), a device that runs them as their keys mean, and the
/// memory they need.
pub fn check(
    config: &RunConfig,
    data: DataShape,
    train_len: Option<usize>,
    compute: &Compute,
) -> Result<()> {
    check_settings(config, data, train_len)?;
    compute.check(config)?;
    crate::model::memory::check_fits(config, data, crate::model::memory::available())
}

/// The first half of `check`, which needs no device: settings that fit together, a network
/// that takes `data`'s shape and a held-out split a training set of `train_len` images can
/// give (a sweep's plan is checked this way before its runs' devices are known, its memory
/// counted together).
pub fn check_settings(config: &RunConfig, data: DataShape, train_len: Option<usize>) -> Result<()> {
    config.validate()?;
    crate::model::summary::check_net(config, data).map_err(|e| Error::Config(e.to_string()))?;
    match train_len {
        Some(n) => crate::data::Holdout::check(n, config.val_split, config.batch_size),
        None => Ok(()),
    }
}

/// The network settings that passed `check` describe (any engine), initial weights drawn
/// from `rng`.
///
/// The lab's models train on their own code on CIFAR-10's shape (3 x 32 x 32, 10 classes);
/// on any other data their shorthand's net (`model::described`) takes the data's shape.
pub fn build_network(
    config: &RunConfig,
    data: DataShape,
    rng: &mut SmallRng,
    compute: &Compute,
) -> Result<Box<dyn Network>> {
    let lab_shape = data == DataShape::CIFAR10;
    Ok(match (config.engine, config.model) {
        (Engine::Manual, _) => Box::new(ManualMlp::from_config(config, data, rng, compute)?),
        (Engine::Autograd, ModelKind::Mlp) if lab_shape => {
            Box::new(AutogradMlp::new(config, rng, compute)?)
        }
        (Engine::Autograd, ModelKind::Convnet) if lab_shape => {
            Box::new(ConvNet::new(config, rng, compute)?)
        }
        (Engine::Autograd, _) => {
            let net = crate::model::described(config)
                .ok_or_else(|| Error::Config("model = net needs a net".into()))?;
            Box::new(NetModel::new(&net, config, data, rng, compute)?)
        }
    })
}

/// The trainer settings that passed `check` describe, initial weights drawn from `rng`.
pub fn build_trainer(
    config: &RunConfig,
    data: DataShape,
    rng: &mut SmallRng,
    compute: &Compute,
) -> Result<Box<dyn Trainer>> {
    Ok(match config.engine {
        Engine::Manual => Box::new(ManualTrainer::new(ManualMlp::from_config(
            config, data, rng, compute,
        )?)),
        Engine::Autograd => Box::new(AutogradTrainer::new(
            build_network(config, data, rng, compute)?,
            config,
            compute,
        )?),
    })
}
