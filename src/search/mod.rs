//! Search over settings, free of files and threads: the space of swept keys and its random
//! draws, the tree-structured Parzen estimator (TPE), the pruners (median, successive
//! halving), what mattered (PED-ANOVA importance) and the figures of groups of runs. The
//! sweep runner (`runner::sweep`) reads a sweep's state from its folder and asks these.

pub mod asha;
pub mod fanova;
pub mod importance;
pub mod median;
pub mod space;
pub mod stats;
pub mod tpe;
mod truncnorm;

pub use space::{Domain, Param, Point, Space};
