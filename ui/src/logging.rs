//! Warnings and errors to a log file (never to the dashboard's terminal), and the panic hook:
//! a panic on a thread that the engine's `threads` started (a run's, a sweep's, a dashboard
//! helper's) is logged there and reported by whoever waits on that thread (a run's `failed`
//! done, one line on the screen); while the dashboard owns the terminal any other thread's
//! panic is logged too and reaches the thread that waits on it. Only a panic on the UI
//! thread itself restores the terminal, then reports as usual.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// Environment variable naming the log file (default: `log_path()`).
pub const LOG_ENV: &str = "GRADBOARD_LOG";

/// Set while the dashboard owns the terminal (raw mode, alternate screen).
pub static TERMINAL_ACTIVE: AtomicBool = AtomicBool::new(false);

/// The dashboard's helper threads are named with this prefix.
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

/// Installs the hook (again after a library replaced it, e.g. ratatui's `init`). The first
/// call's thread is the UI thread.
pub fn install_panic_hook() {
    static DEFAULT: OnceLock<Hook> = OnceLock::new();
    static UI_THREAD: OnceLock<std::thread::ThreadId> = OnceLock::new();
    let _ = UI_THREAD.set(std::thread::current().id());
    let previous = std::panic::take_hook();
    DEFAULT.get_or_init(|| previous);
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let on_ui = UI_THREAD.get() == Some(&thread.id());
        let reported = gradboard::threads::is_reported();
        match on_panic(on_ui, reported, TERMINAL_ACTIVE.load(Ordering::SeqCst)) {
            OnPanic::Log => {
                tracing::error!(thread = thread.name().unwrap_or(""), "{info}");
                return;
            }
            OnPanic::RestoreAndReport => {
                if TERMINAL_ACTIVE.swap(false, Ordering::SeqCst) {
                    ratatui::restore();
                }
            }
            OnPanic::Report => {}
        }
        if let Some(default) = DEFAULT.get() {
            default(info);
        }
    }));
}

/// What the hook does with a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnPanic {
    /// Log it: whoever waits on the thread reports it (the terminal stays the dashboard's).
    Log,
    /// Give the terminal back, then report as usual (the UI thread itself panicked).
    RestoreAndReport,
    /// Report as usual (no dashboard owns the terminal).
    Report,
}

/// The hook's rule: only the UI thread's own panic takes the terminal back; a thread whose
/// panic is reported by its waiter, or any other while the dashboard runs, is logged.
fn on_panic(on_ui: bool, reported: bool, terminal_active: bool) -> OnPanic {
    match (on_ui, reported || terminal_active) {
        (true, _) if terminal_active => OnPanic::RestoreAndReport,
        (true, _) => OnPanic::Report,
        (false, true) => OnPanic::Log,
        (false, false) => OnPanic::Report,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_ui_threads_panic_takes_the_terminal_back() {
        // The dashboard runs: a run's, a sweep's or a pool worker's panic is logged and the
        // screen goes on; the UI thread's own restores the terminal.
        assert_eq!(on_panic(false, true, true), OnPanic::Log);
        assert_eq!(on_panic(false, false, true), OnPanic::Log);
        assert_eq!(on_panic(true, false, true), OnPanic::RestoreAndReport);
        // Headless: a reported thread's panic is its run's done; anything else prints.
        assert_eq!(on_panic(false, true, false), OnPanic::Log);
        assert_eq!(on_panic(false, false, false), OnPanic::Report);
        assert_eq!(on_panic(true, false, false), OnPanic::Report);
    }
}
