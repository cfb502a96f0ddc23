//! Warnings and errors to a log file (never to the dashboard's terminal), and the panic hook:
//! a panic on a run's thread is logged there and becomes that run's `failed` done, one on a
//! dashboard helper thread is logged and shown as one line on the screen; a panic anywhere
//! else restores the terminal first, then reports as usual.

use gradboard::runner::RUN_THREAD_PREFIX;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// Environment variable naming the log file (default: `log_path()`).
pub const LOG_ENV: &str = "GRADBOARD_LOG";

/// Set while the dashboard owns the terminal (raw mode, alternate screen).
pub static TERMINAL_ACTIVE: AtomicBool = AtomicBool::new(false);

/// The dashboard's helper threads are named with this prefix: their panics are logged and
/// reported on the screen by the thread itself, the terminal left as it is.
pub const WORKER_PREFIX: &str = "gradboard-worker";

/// Where warnings and errors are logged: `GRADBOARD_LOG`, else
/// `$XDG_STATE_HOME/gradboard/gradboard.log` (`~/.local/state/...`), else the cache folder.
pub fn log_path() -> PathBuf {
    if let Some(p) = std::env::var_os(LOG_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    dirs::state_dir()
        .or_else(dirs::cache_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("gradboard")
        .join("gradboard.log")
}

/// Sends `tracing` warnings and errors to `log_path()` (appended). When the file cannot be
/// opened, nothing is logged.
pub fn init() {
    let path = log_path();
    if let Some(dir) = path.parent() {
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .try_init();
}

type Hook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Installs the hook (again after a library replaced it, e.g. ratatui's `init`).
pub fn install_panic_hook() {
    static DEFAULT: OnceLock<Hook> = OnceLock::new();
    let previous = std::panic::take_hook();
    DEFAULT.get_or_init(|| previous);
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("");
        if name.starts_with(RUN_THREAD_PREFIX) || name.starts_with(WORKER_PREFIX) {
            tracing::error!(thread = name, "{info}");
            return;
        }
        if TERMINAL_ACTIVE.swap(false, Ordering::SeqCst) {
            ratatui::restore();
        }
        if let Some(default) = DEFAULT.get() {
            default(info);
        }
    }));
}
