//! gradboard's training engine: CIFAR-10 data, section 1's hand-written MLP, the autograd
//! networks, optimizers, training sessions, events and the run store. No terminal code here.

pub mod config;
pub mod data;
pub mod error;
pub mod events;
pub mod gradcheck;
pub mod manual;
pub mod model;
pub mod runs;
pub mod session;

pub use error::{Error, Result};

/// Sets the number of CPU threads candle and rayon use. Call once, at start, before any
/// other thread exists (it sets the environment variables candle reads on every matmul).
pub fn set_threads(threads: usize) {
    let threads = threads.max(1);
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
}

/// The default thread count: the machine's available parallelism.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
