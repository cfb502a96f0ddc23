//! gradboard's training engine: CIFAR-10 data, section 1's hand-written MLP, the autograd
//! networks, optimizers, training sessions, the runner that starts runs, events and the run
//! store. No terminal code here.
//!
//! Data flows one way: `data` -> `nn` / `manual` (networks, on `model`'s traits and `kernels`)
//! -> `train` (factory, trainer, session) -> `events` -> `runs` (the store) and whatever
//! observes a `runner` run. Imports go the same way: `model`, `kernels`, `config`, `files`
//! and `events` are leaves that import none of the layers above them.

pub mod analysis;
pub mod config;
pub mod data;
pub mod diag;
pub mod error;
pub mod events;
pub mod files;
pub mod gradcheck;
pub mod kernels;
pub mod logs;
pub mod manual;
pub mod model;
pub mod nn;
pub mod optim;
pub mod runner;
pub mod runs;
pub mod search;
pub mod threads;
pub mod train;

pub use error::{Error, Result};

/// Sets the number of CPU threads for matrix products (candle's gemm runs on rayon). Call
/// once, at start, before any other thread exists: it sets the environment variables candle
/// reads on every matmul.
///
/// candle's element-wise ops get a pool of their own (`CANDLE_NUM_THREADS`) whose workers
/// spin between ops; next to gemm's rayon workers on a 2-core machine they compete for the
/// cores, so that pool is kept to the calling thread unless `CANDLE_NUM_THREADS` is set
/// (section 1's run: 10.0 s with it at 1 against 11.9 s at 2, same minute).
pub fn set_threads(threads: usize) {
    let threads = threads.max(1);
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
}

/// Keeps freed large blocks in the heap instead of returning them to the kernel: training
/// allocates the same megabyte-sized tensors every step, and with glibc's defaults each is a
/// fresh mmap whose pages fault in again. Blocks past glibc's largest mmap threshold (32 MiB:
/// the speedrun's Winograd buffers at batch 64) come from the heap too, since mmap is turned
/// off (their page faults and zeroing took 40% of a speedrun step's CPU time in the kernel).
/// One arena for all threads, because tensors are allocated on one rayon worker and freed on
/// another. Call it first thing in `main`.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator thresholds; it is called before any allocation
    // from another thread.
    unsafe {
        // 32 MiB is the largest threshold glibc accepts on 64-bit (HEAP_MAX_SIZE / 2).
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// The most threads a run may use: past a few per core they only contend (thousands of
/// threads make no step at all).
pub const MAX_THREADS: usize = 256;

/// Checks a thread count before any pool is built: from 1 to `MAX_THREADS`.
pub fn check_threads(threads: usize) -> Result<()> {
    if threads == 0 || threads > MAX_THREADS {
        return Err(Error::Config(format!(
            "--threads {threads}: from 1 to {MAX_THREADS} (this machine has {} cores)",
            default_threads()
        )));
    }
    Ok(())
}

/// The default thread count: the machine's available parallelism.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Runs `f` on one of rayon's worker threads. Training runs there so that gemm's parallel
/// work is shared between this thread and the other workers instead of waking them all while
/// this thread sleeps: on 2 cores that leaves no third thread competing for a core.
pub fn on_compute_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| f())
}
