//! Where a run's objects go. The run and the dispatcher build wire objects ([`crate::model`]) and
//! hand them to a sink: the offline sink writes them as cache files; an online sink posts them.
//! Falling back from one to the other is a change of sink, not a second code path.

use crate::error::Result;
use crate::json::Json;
use crate::model::{Alert, EventSet, Folder, MetricSet, RunRecord};

/// A destination for a run's objects. Implementations are shared between the caller's thread
/// (run updates) and the dispatcher thread (batches), hence `Send + Sync` and `&self`.
pub trait Sink: Send + Sync {
    /// Creates a folder and returns its id.
    fn create_folder(&self, folder: &Folder) -> Result<String>;
    /// Replaces what is known of folder `id` with `folder`.
    fn update_folder(&self, id: &str, folder: &Folder) -> Result<()>;
    /// Creates a run and returns its id.
    fn create_run(&self, run: &RunRecord) -> Result<String>;
    /// Updates run `id`. `full` is the whole new state; `patch` holds only the changed fields
    /// (what a partial `PUT /api/runs/{id}` carries).
    fn update_run(&self, id: &str, full: &RunRecord, patch: &Json) -> Result<()>;
    /// Creates an alert definition and returns its id.
    fn create_alert(&self, alert: &Alert) -> Result<String>;
    /// Stores one batch of metrics for run `run_id`.
    fn send_metrics(&self, run_id: &str, batch: &[MetricSet]) -> Result<()>;
    /// Stores one batch of events for run `run_id`.
    fn send_events(&self, run_id: &str, batch: &[EventSet]) -> Result<()>;
    /// Tells the server the run is alive.
    fn heartbeat(&self, run_id: &str) -> Result<()>;
    /// Records that the run has ended and nothing more will be written for it. Called after the
    /// final `update_run`.
    fn close_run(&self, run_id: &str, final_status_written: bool) -> Result<()>;
}
