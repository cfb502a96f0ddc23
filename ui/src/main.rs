//! `gradboard`: the terminal dashboard with no arguments, headless training and tools with them.

mod cli;
mod dashboard;
mod data_setup;
mod logging;

use clap::Parser;
use std::process::ExitCode;

/// Keeps freed large blocks in the heap instead of returning them to the kernel. Training
/// allocates the same few megabyte-sized tensors every step; with glibc's defaults each one is
/// a fresh mmap, and the page faults cost 1.5 s of system time over section 1's 1500 steps.
/// One arena for all threads: tensors are allocated on one rayon worker and freed on another,
/// and each thread's own arena gave its freed pages back and faulted them in again (ConvNet
/// step 945/951 ms with per-thread arenas, 822/807 ms with one, same minute).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator thresholds; it is called before any allocation
    // from another thread.
    unsafe {
        // 32 MiB is the largest threshold glibc accepts on 64-bit (HEAP_MAX_SIZE / 2).
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = cli::Cli::parse();
    gradboard::set_threads(cli.threads.unwrap_or_else(gradboard::default_threads));
    logging::init();
    logging::install_panic_hook();
    match cli::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
