//! Where a run's objects go. The run and the dispatcher build wire objects ([`crate::model`]) and
//! hand them to a sink: the offline sink writes them as cache files; an online sink posts them.
//! Falling back from one to the other is a change of sink, not a second code path.
//!
//! [`Sink`] is what every sink does; [`RemoteSink`] is what only a sink that talks to a server
//! adds (retries, health, spilling, abort polls).

use std::path::PathBuf;

use crate::artifact::{Artifact, Category};
use crate::error::Result;
use crate::json::Json;
use crate::model::{Alert, EventSet, Folder, MetricBatch, RunRecord};
pub use crate::retry::{Health, RetryPolicy};

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
    fn send_metrics(&self, run_id: &str, batch: &MetricBatch) -> Result<()>;
    /// Stores one batch of events for run `run_id`.
    fn send_events(&self, run_id: &str, batch: &[EventSet]) -> Result<()>;
    /// Records an artifact (its bytes included) and attaches it to run `run_id`.
    fn save_artifact(&self, run_id: &str, artifact: &Artifact, category: Category) -> Result<()>;
    /// Tells the server the run is alive.
    fn heartbeat(&self, run_id: &str) -> Result<()>;
    /// Records that the run has ended and nothing more will be written for it. Called after the
    /// final `update_run`.
    fn close_run(&self, run_id: &str, final_status_written: bool) -> Result<()>;

    /// The remote side of this sink, when it is one: a sink that talks to a server, with
    /// retries, spilling and abort polls. `None` for a local sink, whose failures are final.
    fn remote(&self) -> Option<&dyn RemoteSink> {
        None
    }
}

/// What only a sink that talks to a server does, on top of [`Sink`]: its requests are retried
/// under a [`RetryPolicy`], it may be unreachable for a while ([`Health`]), what it cannot
/// deliver is spilled to the offline cache where `simvue-sender` finds it, and the server can
/// ask for the run to be aborted. The dispatcher's network thread drives it; so can any other
/// program that reads objects and hands them over (an uploader of offline caches).
pub trait RemoteSink: Send + Sync {
    /// How failed requests are retried.
    fn retry_policy(&self) -> RetryPolicy;

    /// Whether the server is reachable, as far as the last requests tell.
    fn health(&self) -> &Health;

    /// Keeps a batch that could not be delivered somewhere `simvue-sender` will find it, and
    /// says where.
    fn spill_metrics(&self, run_id: &str, batch: &MetricBatch) -> Result<PathBuf>;

    /// As [`RemoteSink::spill_metrics`], for events.
    fn spill_events(&self, run_id: &str, batch: &[EventSet]) -> Result<PathBuf>;

    /// Whether an abort of the run was requested (from the web UI).
    fn abort_requested(&self, run_id: &str) -> Result<bool>;
}
