//! Ending a run at once because the process is about to end: the one routine for a signal
//! from the batch system ([`super::signals`]) and for anything else that must stop the process
//! the way signals do (an alert set to terminate it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::active::Active;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{LogLevel, Status};

/// The share of the deadline a server gets to take what is queued; the rest is for spilling
/// what it did not take to the cache and closing the run.
const NETWORK_SHARE: f64 = 0.75;

impl Active {
    /// Terminates the run within `deadline`: logs `why` (if given) as a warning event, writes out
    /// everything queued (offline: to the cache; online: sent, and what the server has not
    /// taken by three quarters of the deadline spilled to the cache for `simvue-sender`),
    /// waits for saved files, marks a still-running run `terminated` (a status the program set
    /// is kept) and closes it (offline: `.closed`).
    ///
    /// Returns once that is done, or with an error when the deadline passes first: the work
    /// goes on in the background, but a caller about to end the process need not wait longer.
    pub(super) fn terminate(self: &Arc<Self>, why: Option<&str>, deadline: Duration) -> Result<()> {
        let start = Instant::now();
        if let Some(why) = why {
            self.note(why);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let me = self.clone();
        let network_until = start + deadline.mul_f64(NETWORK_SHARE);
        std::thread::Builder::new()
            .name("simvue-terminate".into())
            .spawn(move || {
                let _ = tx.send(me.finish_as(Status::Terminated, Some(network_until)));
            })
            .map_err(|e| Error::io("cannot start the thread that closes the run", e))?;
        rx.recv_timeout(deadline.saturating_sub(start.elapsed()))
            .unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Io,
                    format!(
                        "not closed within {:.1} s (what was written by then is kept)",
                        deadline.as_secs_f64()
                    ),
                ))
            })
    }

    /// Logs `why` as a warning event of a run that is still writing (after it stopped, the
    /// event is refused and lost, as it is too late to record it).
    pub(super) fn note(&self, why: &str) {
        if let Some(d) = &self.dispatcher {
            let _ = d.log_event(why, LogLevel::Warning, None);
        }
    }
}
