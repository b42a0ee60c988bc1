//! An abort of the run requested from the web UI: a flag the solver can poll and an optional
//! callback. The library never kills the process itself.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

/// The abort state of one run, shared with the network thread that polls the server.
#[derive(Default)]
pub(super) struct Abort {
    requested: AtomicBool,
    callback: Mutex<Option<Box<dyn Fn() + Send>>>,
}

impl Abort {
    /// Records the request and calls the callback (on the calling background thread).
    pub(super) fn trigger(&self) {
        self.requested.store(true, Ordering::Release);
        if let Some(cb) = self.callback.lock().as_ref() {
            cb();
        }
    }

    /// Whether an abort was requested.
    pub(super) fn requested(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }

    /// Replaces the callback.
    pub(super) fn set_callback(&self, callback: Option<Box<dyn Fn() + Send>>) {
        *self.callback.lock() = callback;
    }
}
