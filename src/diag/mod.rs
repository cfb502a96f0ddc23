//! Inside the network as it trains: per-layer figures of the weights, the gradients and the
//! step's change (`layers` events), and of each hidden layer's output on a fixed probe batch;
//! and the warnings they call for (`watch`). Everything is computed from one read of each
//! tensor into host memory.

pub mod scales;
pub mod stats;
pub mod watch;

pub use stats::{act_stats, param_stats, quantiles};
pub use watch::Watch;
