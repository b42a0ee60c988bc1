//! The one retry rule of the library: how a request to the server is retried, and when the
//! server is given up on for a while.
//!
//! Every request that can fail for a passing reason (the network, an overloaded server) goes
//! through [`RetryPolicy::run`]: batches of metrics and events on the network thread, run and
//! folder updates, artifact creation and the upload of its bytes to storage. Past the attempts,
//! a retryable failure marks the destination degraded ([`Health`]), so that what follows goes
//! to the offline cache at once instead of waiting out the retries again; a probe is allowed
//! [`RetryPolicy::probe_after`] later.
//!
//! A phase that must not wait on a hung server has a deadline ([`Health::set_deadline`]):
//! `init` ([`RetryPolicy::init_timeout`], then the run falls back offline) and `close`
//! ([`RetryPolicy::close_timeout`], then what is left is spilled). Requests are cut to the
//! time left, no retry starts past it, and once it has passed the destination is degraded.

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
    /// How long `init` may wait for the server before the run is recorded offline instead.
    pub init_timeout: Duration,
    /// How long `close` may wait for the server before the rest is spilled to the cache.
    pub close_timeout: Duration,
}

/// Seconds from the environment variable `key`, if it holds a number >= `min`.
fn env_seconds(key: &str, min: f64) -> Option<Duration> {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| *v >= min && v.is_finite())
        .map(Duration::from_secs_f64)
}

impl RetryPolicy {
    /// From `SIMVUE_HTTP_RETRIES` (default 5 attempts), `SIMVUE_HTTP_BACKOFF` (seconds before
    /// the first retry, default 0.5; then 1, 2, 4 ...), `SIMVUE_INIT_TIMEOUT` (default 10 s)
    /// and `SIMVUE_CLOSE_TIMEOUT` (default 15 s).
    pub fn from_env() -> RetryPolicy {
        let attempts = std::env::var("SIMVUE_HTTP_RETRIES")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|v| *v >= 1)
            .unwrap_or(5);
        RetryPolicy {
            attempts,
            backoff: env_seconds("SIMVUE_HTTP_BACKOFF", 0.0).unwrap_or(Duration::from_millis(500)),
            max_backoff: Duration::from_secs(10),
            probe_after: Duration::from_secs(15),
            init_timeout: env_seconds("SIMVUE_INIT_TIMEOUT", 0.1)
                .unwrap_or(Duration::from_secs(10)),
            close_timeout: env_seconds("SIMVUE_CLOSE_TIMEOUT", 0.1)
                .unwrap_or(Duration::from_secs(15)),
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
                Err(f)
                    if f.retryable()
                        && attempt < self.attempts
                        && health.allows_wait(self.wait_after(attempt)) =>
                {
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
    /// The end of the current phase (init, close): no request runs past it.
    deadline: Mutex<Option<Instant>>,
}

impl Health {
    /// Sets (or with `None` lifts) the time after which no request is attempted.
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        *self.deadline.lock() = deadline;
    }

    /// The deadline, if one is set.
    pub fn deadline(&self) -> Option<Instant> {
        *self.deadline.lock()
    }

    /// The time left before the deadline (zero once it has passed), if there is one.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .lock()
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Whether a retry after waiting `wait` could still start before the deadline.
    fn allows_wait(&self, wait: Duration) -> bool {
        self.remaining().map_or(true, |r| r > wait)
    }

    /// True while the destination is considered unreachable, or the deadline has passed.
    /// Once the probe time has come, returns false (once), so that the next request probes
    /// the server.
    pub fn degraded(&self) -> bool {
        if self.remaining() == Some(Duration::ZERO) {
            return true;
        }
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
            init_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(15),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            attempts: 5,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            probe_after: Duration::from_secs(15),
            init_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(15),
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

    #[test]
    fn no_retry_starts_past_the_deadline_and_then_everything_is_degraded() {
        let health = Health::default();
        health.set_deadline(Some(Instant::now() + Duration::from_millis(30)));
        let p = RetryPolicy {
            backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(20),
            ..policy(100)
        };
        let calls = Cell::new(0);
        let r: Result<(), Error> = p.run(&health, || {
            calls.set(calls.get() + 1);
            Err(Error::new(ErrorKind::Network, "hung"))
        });
        assert!(r.is_err());
        assert!(calls.get() <= 2, "{} attempts", calls.get());
        std::thread::sleep(Duration::from_millis(40));
        assert!(health.degraded(), "past the deadline nothing is attempted");
        health.set_deadline(None);
        assert!(health.remaining().is_none());
    }
}
