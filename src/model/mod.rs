//! The model's leaf: what every network and trainer is (traits, named parameters, the settings
//! of a step), where it computes, and the data's shape (inputs, classes). Everything that
//! builds or trains a network imports this; this imports none of them.

mod architecture;
mod compute;
pub mod flops;
pub mod memory;
mod network;
mod params;
pub mod summary;
mod trainer;

pub use architecture::{convnet_convs, convnet_maps, described, ConvShape, CONVNET};
pub use compute::{Compute, DEVICES};
pub use network::{load_weights, mlp_widths, Network, CLASSES, INPUTS};
pub use params::{read_safetensors, write_safetensors, Param, Params};
pub use trainer::{Hyper, StepReport, Trainer};
