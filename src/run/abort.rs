//! An abort of the run requested from the server (the web UI, or an alert with
//! `trigger_abort`): a flag the solver can poll, an optional callback, and then what the run's
//! [`AbortPolicy`] says (the Python client's `abort_on_alert`).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::active::Active;
use super::{exit, AbortPolicy, ABORT_EXIT_CODE};
use crate::model::Status;

/// The abort state of one run, shared with the network thread that polls the server.
#[derive(Default)]
pub(super) struct Abort {
    triggered: AtomicBool,
    requested: AtomicBool,
    callback: Mutex<Option<Box<dyn Fn() + Send>>>,
    policy: AtomicU8,
    /// The run it belongs to, once initialised.
    active: Mutex<Weak<Active>>,
}

impl Abort {
    /// Handles the request once, on a thread of its own (the network thread that saw it must
    /// not wait for itself to finish): the callback, then the flag (so that a solver that
    /// sees the flag knows the callback has run), then the policy.
    pub(super) fn trigger(self: &Arc<Self>) {
        if self.triggered.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        let spawned = std::thread::Builder::new()
            .name("simvue-abort".into())
            .spawn(move || this.handle());
        if spawned.is_err() {
            self.handle();
        }
    }

    fn handle(&self) {
        if let Some(cb) = self.callback.lock().as_ref() {
            cb();
        }
        self.requested.store(true, Ordering::Release);
        let Some(active) = self.active.lock().upgrade() else {
            return;
        };
        match self.policy() {
            AbortPolicy::Ignore => {}
            AbortPolicy::Run => {
                eprintln!(
                    "[simvue] run {} was aborted from the server: it is now terminated and records nothing more",
                    active.record.lock().name
                );
                if let Err(e) = active.end_as(Status::Terminated) {
                    active.reporter.background(e);
                }
            }
            AbortPolicy::Terminate => {
                eprintln!(
                    "[simvue] run {} was aborted from the server: closing the runs and exiting with code {ABORT_EXIT_CODE}",
                    active.record.lock().name
                );
                drop(active);
                exit::terminate("the run was aborted from the server", ABORT_EXIT_CODE);
            }
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

    /// The policy applied to an abort.
    pub(super) fn policy(&self) -> AbortPolicy {
        match self.policy.load(Ordering::Acquire) {
            1 => AbortPolicy::Terminate,
            2 => AbortPolicy::Ignore,
            _ => AbortPolicy::Run,
        }
    }

    /// Sets the policy applied to an abort.
    pub(super) fn set_policy(&self, policy: AbortPolicy) {
        let v = match policy {
            AbortPolicy::Run => 0,
            AbortPolicy::Terminate => 1,
            AbortPolicy::Ignore => 2,
        };
        self.policy.store(v, Ordering::Release);
    }

    /// Ties the abort to the run once it is initialised.
    pub(super) fn attach(&self, active: &Arc<Active>) {
        *self.active.lock() = Arc::downgrade(active);
    }
}
