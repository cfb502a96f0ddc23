//! Commands to a running run, from any thread: a stop flag that long loops (evaluation) poll,
//! and a queue for the rest that the session drains between steps.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// What can be told to a running run.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Pause after the current step and wait for Resume or Stop.
    Pause,
    /// Go on after a pause.
    Resume,
    /// End the run after the current step or evaluation chunk (status `stopped`).
    Stop,
    /// Set a live key (`lr`, `momentum`, `weight_decay`, `dropout`) from the next step on.
    Set {
        /// The key.
        key: String,
        /// Its new value, as text.
        value: String,
    },
    /// End the run now because a sweep's pruner said so (status `pruned`).
    Prune {
        /// Why.
        reason: String,
    },
}

/// The shared end of a run's command channel.
#[derive(Debug, Default)]
pub struct Control {
    stop: AtomicBool,
    queue: Mutex<VecDeque<Command>>,
    wake: Condvar,
}

impl Control {
    /// A control with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a command; `Stop` and `Prune` also raise the stop flag at once.
    pub fn send(&self, command: Command) {
        if matches!(command, Command::Stop | Command::Prune { .. }) {
            self.stop.store(true, Ordering::SeqCst);
        }
        self.queue.lock().expect("control queue").push_back(command);
        self.wake.notify_all();
    }

    /// Whether a stop was asked for.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Every pending command, oldest first.
    pub fn drain(&self) -> Vec<Command> {
        self.queue
            .lock()
            .expect("control queue")
            .drain(..)
            .collect()
    }

    /// Waits for the next command (while paused); `None` after `timeout` without one.
    pub fn wait(&self, timeout: Duration) -> Option<Command> {
        let mut queue = self.queue.lock().expect("control queue");
        if queue.is_empty() {
            queue = self
                .wake
                .wait_timeout(queue, timeout)
                .expect("control queue")
                .0;
        }
        queue.pop_front()
    }
}
