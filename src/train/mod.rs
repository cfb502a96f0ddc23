//! Training: networks with named parameters, trainers that take one step, the session that
//! runs a whole run, its checkpoints, and the commands it takes while it runs.

pub mod checkpoint;
mod compute;
mod control;
pub mod inference;
pub mod lr_find;
mod network;
mod params;
pub mod session;
mod trainer;

pub use compute::{Compute, DEVICES};
pub use control::{Command, Control};
pub use inference::{evaluate, load_network, predict, EvalStats, Prediction};
pub use network::{build_network, load_weights, mlp_widths, Network, CLASSES, INPUTS};
pub use params::{read_safetensors, write_safetensors, Param, Params};
pub use session::{Fault, Origin, Session, Summary};
pub use trainer::{build_trainer, AutogradTrainer, StepReport, Trainer};
