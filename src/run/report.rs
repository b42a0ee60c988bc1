//! The error policy of one run, in one place: what is printed, what is handed back to the
//! caller, and what a failure of background work becomes.
//!
//! With `suppress_errors` on (the default) an error is also written to stderr (the first
//! [`MAX_LOGGED_ERRORS`] of them), so a solver that ignores return codes still leaves a trace;
//! failures on the background threads are only logged. With it off, nothing is logged by the
//! library and a background failure is returned by the next call that logs
//! ([`ErrorKind::Background`]) and by `close`. That call still does its own work first: the
//! error is news about earlier data, not a reason to lose the caller's values.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use parking_lot::Mutex;

use crate::error::{Error, ErrorKind, Result};

/// How many errors a run writes to stderr before it goes quiet.
const MAX_LOGGED_ERRORS: u32 = 20;

/// The shared error policy of one run: what to log and what to hand back.
pub(super) struct Reporter {
    /// `suppress_errors` of the run.
    pub(super) suppress: AtomicBool,
    logged: AtomicU32,
    background: Mutex<Option<Error>>,
    has_background: AtomicBool,
}

impl Reporter {
    /// A reporter that suppresses errors (the default of `config`).
    pub(super) fn new() -> Reporter {
        Reporter {
            suppress: AtomicBool::new(true),
            logged: AtomicU32::new(0),
            background: Mutex::new(None),
            has_background: AtomicBool::new(false),
        }
    }

    /// Writes `e` to stderr, unless this run has printed its share of errors already.
    pub(super) fn log(&self, what: &str, e: &Error) {
        let n = self.logged.fetch_add(1, Ordering::Relaxed);
        if n < MAX_LOGGED_ERRORS {
            eprintln!("[simvue] {what}: {}", e.message);
        } else if n == MAX_LOGGED_ERRORS {
            eprintln!("[simvue] further errors of this run are not printed");
        }
    }

    /// Passes a caller-facing result through, logging it when errors are suppressed (once:
    /// an error marked reported is not logged again).
    #[inline]
    pub(super) fn check<T>(&self, r: Result<T>) -> Result<T> {
        match r {
            Err(mut e) if !e.reported && self.suppress.load(Ordering::Relaxed) => {
                self.log("error", &e);
                e.reported = true;
                Err(e)
            }
            r => r,
        }
    }

    /// Records a failure of background work.
    pub(super) fn background(&self, e: Error) {
        if self.suppress.load(Ordering::Relaxed) {
            self.log("background error", &e);
        } else {
            let mut slot = self.background.lock();
            if slot.is_none() {
                *slot = Some(Error::new(ErrorKind::Background, e.message));
                self.has_background.store(true, Ordering::Release);
            }
        }
    }

    /// Whether a background error waits to be reported (by the next call that can).
    #[inline]
    pub(super) fn has_background(&self) -> bool {
        self.has_background.load(Ordering::Acquire)
    }

    /// Takes the pending background error, if any.
    #[inline]
    pub(super) fn take_background(&self) -> Result<()> {
        if self.has_background.load(Ordering::Acquire) {
            self.has_background.store(false, Ordering::Release);
            if let Some(e) = self.background.lock().take() {
                return Err(e);
            }
        }
        Ok(())
    }
}
