//! The one retry rule of the library: how a request to the server is retried, and when the
//! server is given up on for a while.
//!
//! Every request that can fail for a passing reason (the network, an overloaded server) goes
//! through [`RetryPolicy::run`]: batches of metrics and events on the network thread, run and
//! folder updates, artifact creation and the upload of its bytes to storage. Past the attempts,
//! a retryable failure marks the destination degraded ([`Health`]), so that what follows goes
//! to the offline cache at once instead of waiting out the retries again; a probe is allowed
//! [`RetryPolicy::probe_after`] later.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::{Error, ErrorKind};

/// A failure that may or may not be worth another attempt.
pub trait Retryable {
    /// True for the network or an overloaded server (502, 503, 504, timeouts, refused
    /// connections): the same request may succeed later.
    fn retryable(&self) -> bool;
}

impl Retryable for Error {
    fn retryable(&self) -> bool {
        self.kind == ErrorKind::Network
    }
}

/// How requests are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// How long after giving up the server is tried again.
    pub probe_after: Duration,
}

impl RetryPolicy {
    /// From `SIMVUE_HTTP_RETRIES` (default 5 attempts) and `SIMVUE_HTTP_BACKOFF` (seconds before
    /// the first retry, default 0.5; then 1, 2, 4 ...).
    pub fn from_env() -> RetryPolicy {
        let attempts = std::env::var("SIMVUE_HTTP_RETRIES")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|v| *v >= 1)
            .unwrap_or(5);
        let backoff = std::env::var("SIMVUE_HTTP_BACKOFF")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| *v >= 0.0 && v.is_finite())
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::from_millis(500));
        RetryPolicy {
            attempts,
            backoff,
            max_backoff: Duration::from_secs(10),
            probe_after: Duration::from_secs(15),
        }
    }

    /// The wait after attempt number `attempt` (1-based) failed.
    pub fn wait_after(&self, attempt: u32) -> Duration {
        self.backoff
            .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16))
            .min(self.max_backoff)
    }

    /// Runs `op` until it succeeds, fails for good, or has used up the attempts, waiting with
    /// backoff between attempts. When it gives up on a retryable failure, `health` is marked
    /// degraded. The caller decides what to do while `health` is already degraded (fail at
    /// once, or spill), since that depends on what it holds.
    pub fn run<T, F: Retryable>(
        &self,
        health: &Health,
        mut op: impl FnMut() -> Result<T, F>,
    ) -> Result<T, F> {
        let mut attempt = 1;
        loop {
            match op() {
                Ok(v) => return Ok(v),
                Err(f) if f.retryable() && attempt < self.attempts => {
                    std::thread::sleep(self.wait_after(attempt));
                    attempt += 1;
                }
                Err(f) => {
                    if f.retryable() {
                        health.mark_degraded(self.probe_after);
                    }
                    return Err(f);
                }
            }
        }
    }
}

/// Whether a remote destination is reachable, as far as the last requests tell.
#[derive(Debug, Default)]
pub struct Health {
    /// Until when requests are not attempted (the server failed recently).
    degraded_until: Mutex<Option<Instant>>,
}

impl Health {
    /// True while the destination is considered unreachable. Once the probe time has come,
    /// returns false (once), so that the next request probes the server.
    pub fn degraded(&self) -> bool {
        let mut d = self.degraded_until.lock();
        match *d {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                *d = None;
                false
            }
            None => false,
        }
    }

    /// Records that the destination stayed unreachable past the retries; requests are not
    /// attempted for `probe_after`.
    pub fn mark_degraded(&self, probe_after: Duration) {
        *self.degraded_until.lock() = Some(Instant::now() + probe_after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn policy(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            attempts,
            backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
            probe_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            attempts: 5,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            probe_after: Duration::from_secs(15),
        };
        let waits: Vec<u128> = (1..=7).map(|a| p.wait_after(a).as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 10000, 10000]);
    }

    #[test]
    fn retryable_failures_are_retried_then_degrade() {
        let health = Health::default();
        let calls = Cell::new(0);
        let r: Result<(), Error> = policy(3).run(&health, || {
            calls.set(calls.get() + 1);
            Err(Error::new(ErrorKind::Network, "down"))
        });
        assert!(r.is_err());
        assert_eq!(calls.get(), 3, "every attempt is used");
        assert!(health.degraded(), "giving up on the network degrades");
    }

    #[test]
    fn final_failures_are_not_retried_and_do_not_degrade() {
        let health = Health::default();
        let calls = Cell::new(0);
        let r: Result<(), Error> = policy(3).run(&health, || {
            calls.set(calls.get() + 1);
            Err(Error::new(ErrorKind::Server, "422"))
        });
        assert!(r.is_err());
        assert_eq!(calls.get(), 1);
        assert!(!health.degraded());
    }

    #[test]
    fn a_later_success_is_returned() {
        let health = Health::default();
        let calls = Cell::new(0);
        let r = policy(5).run(&health, || {
            calls.set(calls.get() + 1);
            if calls.get() < 3 {
                Err(Error::new(ErrorKind::Network, "blip"))
            } else {
                Ok(calls.get())
            }
        });
        assert_eq!(r.unwrap(), 3);
        assert!(!health.degraded());
    }

    #[test]
    fn degraded_health_lets_a_probe_through_after_the_delay() {
        let health = Health::default();
        health.mark_degraded(Duration::ZERO);
        assert!(!health.degraded(), "probe time has come");
        health.mark_degraded(Duration::from_secs(60));
        assert!(health.degraded());
    }
}
