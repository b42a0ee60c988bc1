//! What happens to one batch on its way to the sink: sent and counted; for a remote sink,
//! retried under the sink's policy and spilled to the offline cache when the server cannot
//! take it; reported when it is lost.

use std::sync::Arc;

use super::queue::TakenMetrics;
use super::{Shared, Tally};
use crate::error::{Error, ErrorKind, Result};
use crate::json::Json;
use crate::model::{EventSet, RunRecord};
use crate::sink::{RemoteSink, Sink};

/// A batch on its way to the sink.
pub(super) enum Batch {
    /// Metric sets in columns; their memory returns to the queue when the batch is dropped.
    Metrics(TakenMetrics),
    Events(Vec<EventSet>),
    /// A run update: the whole state and the changed fields.
    Update(Box<RunRecord>, Json),
}

impl Batch {
    /// Bytes of logged data it holds (what the outbox's budget counts).
    pub(super) fn bytes(&self) -> usize {
        match self {
            Batch::Metrics(m) => m.bytes(),
            Batch::Events(e) => e.iter().map(super::queue::event_bytes).sum(),
            Batch::Update(..) => 0,
        }
    }

    fn len(&self) -> u64 {
        match self {
            Batch::Metrics(m) => m.len() as u64,
            Batch::Events(e) => e.len() as u64,
            Batch::Update(..) => 1,
        }
    }
}

/// The error a batch is spilled with while the server is known to be unreachable.
pub(super) fn unreachable() -> Error {
    Error::new(ErrorKind::Network, "the server is unreachable")
}

/// Delivers batches to a sink: counts, retries, spills and reports. Shared by the dispatcher
/// thread (local sinks, overflow) and the network thread (remote sinks).
#[derive(Clone)]
pub(super) struct Delivery {
    pub(super) shared: Arc<Shared>,
    pub(super) sink: Arc<dyn Sink>,
    pub(super) run_id: String,
    pub(super) on_error: Arc<dyn Fn(Error) + Send + Sync>,
}

impl Delivery {
    fn tally(&self, b: &Batch) -> &Tally {
        match b {
            Batch::Metrics(_) => &self.shared.metrics,
            Batch::Events(_) | Batch::Update(..) => &self.shared.events,
        }
    }

    /// The remote side of the sink; only called for batches of a remote sink.
    pub(super) fn remote(&self) -> &dyn RemoteSink {
        self.sink
            .remote()
            .expect("remote delivery needs a remote sink")
    }

    /// One attempt; counts the batch as sent when it succeeds.
    fn send(&self, b: &Batch) -> Result<()> {
        let r = match b {
            Batch::Metrics(m) => self.sink.send_metrics(&self.run_id, m),
            Batch::Events(e) => self.sink.send_events(&self.run_id, e),
            Batch::Update(..) => unreachable!("updates go through Delivery::update"),
        };
        if r.is_ok() {
            Tally::add(&self.tally(b).sent, b.len());
        }
        r
    }

    /// Puts an undeliverable batch into the offline cache (or counts it lost if even that
    /// fails) and reports where it went.
    pub(super) fn spill(&self, b: Batch, cause: &Error) {
        let remote = self.remote();
        let (what, r) = match &b {
            Batch::Metrics(m) => ("metric sets", remote.spill_metrics(&self.run_id, m)),
            Batch::Events(e) => ("events", remote.spill_events(&self.run_id, e)),
            // The sink keeps an undeliverable update for simvue-sender itself.
            Batch::Update(..) => return self.update(b),
        };
        let tally = self.tally(&b);
        let message = match r {
            Ok(path) => {
                Tally::add(&tally.spilled, b.len());
                format!(
                    "{}; {} {what} were written to {} for simvue-sender to upload",
                    cause.message,
                    b.len(),
                    path.display()
                )
            }
            Err(e) => {
                Tally::add(&tally.failed, b.len());
                format!(
                    "{}; {} {what} were lost: {}",
                    cause.message,
                    b.len(),
                    e.message
                )
            }
        };
        (self.on_error)(Error::new(cause.kind, message));
    }

    /// Delivers a batch to a local sink (no retries): a failure is final.
    pub(super) fn deliver_once(&self, b: Batch) {
        if let Err(e) = self.send(&b) {
            Tally::add(&self.tally(&b).failed, b.len());
            (self.on_error)(e);
        }
    }

    /// Sends a run update; the sink retries it and keeps it for simvue-sender when the server
    /// stays unreachable, so only the outcome is left to report.
    fn update(&self, b: Batch) {
        if let Batch::Update(full, patch) = b {
            if let Err(e) = self.sink.update_run(&self.run_id, &full, &patch) {
                (self.on_error)(e);
            }
        }
    }

    /// Delivers a batch to a remote sink under its retry policy; a batch that cannot be
    /// delivered is spilled (and the sink is then degraded, so that what follows is spilled
    /// at once until the server answers again).
    pub(super) fn deliver_with_retries(&self, b: Batch) {
        if matches!(b, Batch::Update(..)) {
            return self.update(b);
        }
        let remote = self.remote();
        if remote.health().degraded() {
            return self.spill(b, &unreachable());
        }
        if let Err(e) = remote.retry_policy().run(remote.health(), || self.send(&b)) {
            self.spill(b, &e);
        }
    }
}
