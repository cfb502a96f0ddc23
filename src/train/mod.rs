//! Training: the factory that builds a configuration's network and trainer (above `nn` and
//! `manual`), the autograd trainer, the session that runs a whole run, its checkpoints,
//! inference, the learning-rate finder, the commands a run takes while it runs, and each
//! layer's products timed alone (`layer_time`).

pub mod checkpoint;
mod control;
pub mod diag;
mod factory;
pub mod inference;
pub mod layer_time;
pub mod lr_find;
pub mod session;
mod trainer;

pub use control::{Command, Control};
pub use factory::{build_network, build_trainer, check, check_settings};
pub use inference::{evaluate, load_network, predict, EvalStats, Prediction};
pub use session::{Fault, Origin, Session, Summary, FAULT_ENV};
pub use trainer::AutogradTrainer;
