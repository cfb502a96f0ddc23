//! The network and the trainer a configuration describes, on a device that can run it as its
//! keys mean it.

use super::AutogradTrainer;
use crate::config::{Engine, ModelKind, RunConfig};
use crate::manual::{ManualMlp, ManualTrainer};
use crate::model::{Compute, Network, Trainer};
use crate::nn::{AutogradMlp, ConvNet, NetModel};
use crate::Result;
use rand::rngs::SmallRng;

/// The network a configuration describes (any engine), initial weights drawn from `rng`.
pub fn build_network(
    config: &RunConfig,
    rng: &mut SmallRng,
    compute: &Compute,
) -> Result<Box<dyn Network>> {
    config.validate()?;
    compute.check(config)?;
    crate::model::memory::check_fits(config, crate::model::memory::available())?;
    Ok(match (config.engine, config.model) {
        (Engine::Manual, _) => Box::new(ManualMlp::from_config(config, rng, compute)?),
        (Engine::Autograd, ModelKind::Mlp) => Box::new(AutogradMlp::new(config, rng, compute)?),
        (Engine::Autograd, ModelKind::Convnet) => Box::new(ConvNet::new(config, rng, compute)?),
        (Engine::Autograd, ModelKind::Net) => Box::new(NetModel::new(config, rng, compute)?),
    })
}

/// The trainer a configuration describes, initial weights drawn from `rng`.
pub fn build_trainer(
    config: &RunConfig,
    rng: &mut SmallRng,
    compute: &Compute,
) -> Result<Box<dyn Trainer>> {
    config.validate()?;
    compute.check(config)?;
    crate::model::memory::check_fits(config, crate::model::memory::available())?;
    Ok(match config.engine {
        Engine::Manual => Box::new(ManualTrainer::new(ManualMlp::from_config(
            config, rng, compute,
        )?)),
        Engine::Autograd => Box::new(AutogradTrainer::new(
            build_network(config, rng, compute)?,
            config,
            compute,
        )),
    })
}
