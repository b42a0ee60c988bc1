//! Where a run's objects go. The run and the dispatcher build wire objects ([`crate::model`]) and
//! hand them to a sink: the offline sink writes them as cache files; an online sink posts them.
//! Falling back from one to the other is a change of sink, not a second code path.

use std::path::PathBuf;
use std::time::Duration;

use crate::artifact::{Artifact, Category};
use crate::error::{Error, ErrorKind, Result};
use crate::json::Json;
use crate::model::{Alert, EventSet, Folder, MetricSet, RunRecord};

/// A destination for a run's objects. Implementations are shared between the caller's thread
/// (run updates) and the dispatcher thread (batches), hence `Send + Sync` and `&self`.
pub trait Sink: Send + Sync {
    /// Creates a folder and returns its id.
    fn create_folder(&self, folder: &Folder) -> Result<String>;
    /// Replaces what is known of folder `id` with `folder`.
    fn update_folder(&self, id: &str, folder: &Folder) -> Result<()>;
    /// Creates a run and returns its id. The sink may fill in what the server chose (the name).
    fn create_run(&self, run: &mut RunRecord) -> Result<String>;
    /// Reads back the state of run `id`, for reconnecting to it.
    fn load_run(&self, id: &str) -> Result<RunRecord>;
    /// Updates run `id`. `full` is the whole new state; `patch` holds only the changed fields
    /// (what a partial `PUT /api/runs/{id}` carries).
    fn update_run(&self, id: &str, full: &RunRecord, patch: &Json) -> Result<()>;
    /// Creates an alert definition and returns its id.
    fn create_alert(&self, alert: &Alert) -> Result<String>;
    /// Stores one batch of metrics for run `run_id`.
    fn send_metrics(&self, run_id: &str, batch: &[MetricSet]) -> Result<()>;
    /// Stores one batch of events for run `run_id`.
    fn send_events(&self, run_id: &str, batch: &[EventSet]) -> Result<()>;
    /// Records an artifact (its bytes included) and attaches it to run `run_id`.
    fn save_artifact(&self, run_id: &str, artifact: &Artifact, category: Category) -> Result<()>;
    /// Tells the server the run is alive.
    fn heartbeat(&self, run_id: &str) -> Result<()>;
    /// Records that the run has ended and nothing more will be written for it. Called after the
    /// final `update_run`.
    fn close_run(&self, run_id: &str, final_status_written: bool) -> Result<()>;

    /// How failed batches are retried. `None`: failures are final (a local sink).
    fn retry_policy(&self) -> Option<RetryPolicy> {
        None
    }

    /// True while the destination is known to be unreachable: batches go straight to
    /// [`Sink::spill_metrics`] / [`Sink::spill_events`].
    fn degraded(&self) -> bool {
        false
    }

    /// Records that the destination stayed unreachable past the retries.
    fn mark_degraded(&self) {}

    /// Keeps a batch that could not be delivered somewhere `simvue-sender` will find it, and
    /// says where.
    fn spill_metrics(&self, _run_id: &str, _batch: &[MetricSet]) -> Result<PathBuf> {
        Err(Error::new(ErrorKind::Unsupported, "this sink cannot spill"))
    }

    /// As [`Sink::spill_metrics`], for events.
    fn spill_events(&self, _run_id: &str, _batch: &[EventSet]) -> Result<PathBuf> {
        Err(Error::new(ErrorKind::Unsupported, "this sink cannot spill"))
    }

    /// Whether an abort of the run was requested (from the web UI).
    fn abort_requested(&self, _run_id: &str) -> Result<bool> {
        Ok(false)
    }
}

/// Whether an error is worth another attempt: the network or an overloaded server.
pub fn retryable(e: &Error) -> bool {
    e.kind == ErrorKind::Network
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
}
