//! Threads whose failures are reported: each engine thread (a run's, a sweep's worker, a
//! dashboard helper) is started here, so that a panic on it ends as a message in its join
//! result for whoever waits on it, never as a silent exit, and a panic hook can tell such
//! threads from the rest (`is_reported`).

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::thread::JoinHandle;

thread_local! {
    static REPORTED: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread's panics are caught and reported by the code that started it.
pub fn is_reported() -> bool {
    REPORTED.with(Cell::get)
}

/// Marks the current thread as one whose panics are caught and reported (a compute pool's
/// workers, whose panics reach the thread that waits on the pool).
pub fn mark_reported() {
    REPORTED.with(|r| r.set(true));
}

/// Starts `work` on a thread named `name`; its join result is the value, or the panic's
/// message (`"panic: ..."`) when it panicked.
pub fn spawn<T: Send + 'static>(
    name: String,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<JoinHandle<Result<T, String>>> {
    std::thread::Builder::new().name(name).spawn(move || {
        mark_reported();
        catch(work)
    })
}

/// Runs `work`, turning a panic into its message (`"panic: ..."`).
pub fn catch<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(AssertUnwindSafe(work))
        .map_err(|panic| format!("panic: {}", panic_message(panic.as_ref())))
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_on_a_spawned_thread_is_its_join_result() {
        let handle = spawn("gradboard-test".into(), || -> u32 { panic!("boom {}", 7) }).unwrap();
        assert_eq!(handle.join().unwrap(), Err("panic: boom 7".to_string()));
        let handle = spawn("gradboard-test".into(), is_reported).unwrap();
        assert_eq!(handle.join().unwrap(), Ok(true));
        assert!(!is_reported(), "the test's own thread is not marked");
    }
}
