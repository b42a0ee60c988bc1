//! Where a run's objects go. The run and the dispatcher build wire objects ([`crate::model`]) and
//! hand them to a sink: the offline sink writes them as cache files; an online sink posts them.
//! Falling back from one to the other is a change of sink, not a second code path.
//!
//! [`Sink`] is what every sink does; [`RemoteSink`] is what only a sink that talks to a server
//! adds (retries, health, spilling, abort polls).

use std::path::PathBuf;

use crate::artifact::{Artifact, Category};
use crate::error::Result;
use crate::error::{Error, ErrorKind};
use crate::json::Json;
use crate::model::{Alert, AlertState, EventSet, Folder, Grid, MetricBatch, RunRecord, TensorSet};
pub use crate::retry::{Health, RetryPolicy};

/// A list of a run that items are added to, keeping what is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListField {
    /// `tags`
    Tags,
    /// `alerts` (alert ids)
    Alerts,
}

impl ListField {
    /// The run field's name.
    pub fn key(self) -> &'static str {
        match self {
            ListField::Tags => "tags",
            ListField::Alerts => "alerts",
        }
    }
}

/// A change to a run: what a partial `PUT /api/runs/{id}` carries.
#[derive(Debug, Clone, PartialEq)]
pub enum RunPatch {
    /// These fields, as given (the server merges `metadata` and replaces the others).
    Fields(Json),
    /// Items added to the run's tags or alerts. A server sink reads the run's current list first
    /// and sends the union, as the Python client does (protocol doc §3.2, §7.4), so that what
    /// the web UI changed meanwhile is kept; a local sink writes the whole state anyway.
    Add(ListField, Vec<String>),
}

/// An alert as a server lists it: what a lookup by name needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertInfo {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `metrics`, `events` or `user`.
    pub source: String,
}

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
    fn update_run(&self, id: &str, full: &RunRecord, patch: &RunPatch) -> Result<()>;
    /// Creates an alert definition and returns its id.
    fn create_alert(&self, alert: &Alert) -> Result<String>;
    /// Sets the state of the user alert `alert_id` for run `run_id` (`log_alert`). `known` is
    /// the alert's definition when this process created it.
    fn set_alert_status(
        &self,
        alert_id: &str,
        run_id: &str,
        state: AlertState,
        known: Option<&Alert>,
    ) -> Result<()>;
    /// Every alert the server knows, for looking alerts up by name. Only a server has such a
    /// list; the Python client refuses names offline too (run.py `add_alerts`, `log_alert`).
    fn list_alerts(&self) -> Result<Vec<AlertInfo>> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "alerts cannot be looked up by name offline (as in the Python client): use their ids",
        ))
    }
    /// Creates a grid for tensor metrics and returns its id.
    fn create_grid(&self, grid: &Grid) -> Result<String>;
    /// Attaches `metric` of run `run_id` to grid `grid_id`; `grid` is the grid with every
    /// attachment so far, this one included.
    fn attach_grid(&self, grid_id: &str, grid: &Grid, run_id: &str, metric: &str) -> Result<()>;
    /// Stores one batch of metrics for run `run_id`.
    fn send_metrics(&self, run_id: &str, batch: &MetricBatch) -> Result<()>;
    /// As [`Sink::send_metrics`], calling `progress` with the number of the batch's first
    /// sets stored so far as a long write goes on (a local sink, so that the memory the
    /// written part holds can be counted free before the whole batch is done).
    fn send_metrics_with_progress(
        &self,
        run_id: &str,
        batch: &MetricBatch,
        progress: &mut dyn FnMut(usize),
    ) -> Result<()> {
        let _ = progress;
        self.send_metrics(run_id, batch)
    }
    /// Stores one batch of tensor metrics for run `run_id`.
    fn send_tensors(&self, run_id: &str, batch: &[TensorSet]) -> Result<()>;
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

    /// As [`RemoteSink::spill_metrics`], for tensor metrics.
    fn spill_tensors(&self, run_id: &str, batch: &[TensorSet]) -> Result<PathBuf>;

    /// Whether an abort of the run was requested (from the web UI).
    fn abort_requested(&self, run_id: &str) -> Result<bool>;

    /// How many metric values (the counts of every metric, summed) the server holds for run
    /// `run_id`, less what it held when this process reconnected to the run: what a request
    /// whose outcome is unknown is checked against (protocol doc §4.7). One attempt.
    fn stored_metric_values(&self, run_id: &str) -> Result<u64>;

    /// As [`RemoteSink::stored_metric_values`], for events.
    fn stored_events(&self, run_id: &str) -> Result<u64>;
}
