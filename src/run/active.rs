//! An initialised run: its id, its sink, its state, its dispatcher and its uploads, and how it
//! ends (`finish`, shared by `close`, process exit and dropping the `Run`; `finish_as` for an
//! end that is not a success, and `terminate` in [`super::terminate`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use super::feedback::Feedback;
use super::report::Reporter;
use super::signals::SignalWatch;
use super::uploads::Uploads;
use crate::artifact::{Artifact, Category};
use crate::dispatch::Dispatcher;
use crate::error::{Error, ErrorKind, Result};
use crate::json::Json;
use crate::model::{Alert, Folder, RunRecord, Status};
use crate::sink::{RunPatch, Sink};
use crate::time::Timestamp;

/// A run that has been initialised.
pub(super) struct Active {
    pub(super) id: String,
    pub(super) sink: Arc<dyn Sink>,
    pub(super) record: Mutex<RunRecord>,
    pub(super) folder: Mutex<Option<(String, Folder)>>,
    pub(super) alerts: Mutex<Vec<(Alert, String)>>,
    /// Grids of tensor metrics and the metrics on them.
    pub(super) grids: Mutex<super::grids::Grids>,
    pub(super) dispatcher: Option<Dispatcher>,
    /// True while metrics and events are accepted (status `running`).
    pub(super) accepting: AtomicBool,
    pub(super) finished: AtomicBool,
    /// The background thread that hashes and uploads saved files, started by the first save.
    pub(super) uploads: Uploads,
    pub(super) reporter: Arc<Reporter>,
    /// Where snapshot copies go (`<cache>/artifacts`).
    pub(super) staging: std::path::PathBuf,
    /// The run's signal settings and the signal that arrived, if any (shared with the `Run`).
    pub(super) signals: Arc<SignalWatch>,
    /// Opened when the run is closed, for callers of `finish` that found another thread
    /// closing it (the exit hook while a signal is being handled).
    pub(super) closed: Latch,
    /// The lines printed at start and close.
    pub(super) feedback: Feedback,
}

/// A one-way gate: closed until `open`, then open for good.
#[derive(Default)]
pub(super) struct Latch {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Latch {
    fn open(&self) {
        *self.open.lock() = true;
        self.opened.notify_all();
    }

    fn wait(&self) {
        let mut open = self.open.lock();
        while !*open {
            self.opened.wait(&mut open);
        }
    }
}

impl Active {
    /// Hands an artifact to the upload thread; with `wait`, returns the outcome of this save.
    pub(super) fn enqueue_save(
        &self,
        artifact: Artifact,
        category: Category,
        wait: bool,
    ) -> Result<()> {
        self.uploads.enqueue(
            &self.sink,
            &self.id,
            &self.reporter,
            artifact,
            category,
            wait,
        )
    }

    /// Applies `change` to the run record and stores it, sending `patch` as the partial update.
    /// With a remote sink and a running dispatcher, the update is queued for the network
    /// thread (after what was logged before it), so the network never holds up the caller.
    pub(super) fn update(
        &self,
        patch: RunPatch,
        change: impl FnOnce(&mut RunRecord),
    ) -> Result<()> {
        let mut rec = self.record.lock();
        change(&mut rec);
        match &self.dispatcher {
            Some(d) if d.remote() && !self.finished.load(Ordering::Acquire) => {
                d.submit_update(rec.clone(), patch)
            }
            _ => self.sink.update_run(&self.id, &rec, &patch),
        }
    }

    /// Sets a final status and the end time.
    pub(super) fn end(&self, status: Status) -> Result<()> {
        let end = Timestamp::now();
        self.update(
            RunPatch::Fields(
                Json::object()
                    .with("status", status.as_str())
                    .with("endtime", end.to_string()),
            ),
            |r| {
                r.status = status;
                r.endtime = Some(end);
            },
        )
    }

    /// Ends a running run with `status` (for an abort): refuses new metrics, waits for the files
    /// saved before, and queues the status after what was logged. Nothing for an ended run.
    pub(super) fn end_as(&self, status: Status) -> Result<()> {
        self.accepting.store(false, Ordering::Release);
        if self.finished.load(Ordering::Acquire) || self.record.lock().status != Status::Running {
            return Ok(());
        }
        self.uploads.wait_idle();
        self.end(status)
    }

    /// Flushes and stops the dispatcher, waits for uploads, marks a still-running run
    /// `completed` (`terminated` when a signal asked the process to stop; `lost`, and an error,
    /// when logged data could not be written anywhere), and closes it in the sink. Safe to call
    /// more than once; only the first call does anything, and a call made while another thread
    /// closes the run returns once it is closed.
    pub(super) fn finish(&self) -> Result<()> {
        let status = if self.signals.received() != 0 {
            Status::Terminated
        } else {
            Status::Completed
        };
        self.finish_as(status, None)
    }

    /// [`Active::finish`], ending a still-running run with `status`. A remote sink waits for
    /// the server until `deadline` (default: the close timeout from now), then spills what is
    /// left to the cache.
    pub(super) fn finish_as(&self, status: Status, deadline: Option<Instant>) -> Result<()> {
        if self.finished.swap(true, Ordering::AcqRel) {
            self.closed.wait();
            return Ok(());
        }
        let r = self.close_down(status, deadline);
        self.closed.open();
        super::signals::run_closed(self);
        r
    }

    fn close_down(&self, status: Status, deadline: Option<Instant>) -> Result<()> {
        self.accepting.store(false, Ordering::Release);
        // A hung server holds close up for at most the close timeout; what is not delivered
        // by then is spilled to the cache.
        if let Some(r) = self.sink.remote() {
            let deadline =
                deadline.unwrap_or_else(|| Instant::now() + r.retry_policy().close_timeout);
            r.health().set_deadline(Some(deadline));
        }
        let mut lost = None;
        if let Some(d) = &self.dispatcher {
            d.finish();
            let st = d.stats();
            let name = self.record.lock().name.clone();
            if st.metrics_dropped + st.events_dropped > 0 {
                eprintln!(
                    "[simvue] run {name}: {} metric sets and {} events were dropped because a queue was full (queue_blocking is off)",
                    st.metrics_dropped,
                    st.events_dropped
                );
            }
            if st.metrics_failed + st.events_failed > 0 {
                let message = format!(
                    "run {name}: {} metric sets and {} events could not be written to the server or the offline cache and are lost",
                    st.metrics_failed, st.events_failed
                );
                eprintln!("[simvue] {message}");
                lost = Some(Error::new(ErrorKind::Io, message));
            }
        }
        self.uploads.finish();
        let mut result = Ok(());
        if self.record.lock().status == Status::Running {
            // A run whose record is incomplete does not claim a clean completion: `lost` is
            // what simvue 2.6.2 sets when the client itself could not go on tracking
            // (run.py:662-669), and what `notifications: lost` subscribers hear of.
            let end = if lost.is_some() && status == Status::Completed {
                Status::Lost
            } else {
                status
            };
            result = self.end(end);
        }
        let final_status = self.record.lock().status;
        let closed = self
            .sink
            .close_run(&self.id, final_status != Status::Created);
        self.feedback.closed(
            &self.record.lock().name,
            final_status,
            self.dispatcher.as_ref().map(Dispatcher::stats),
            self.uploads.saved(),
            self.sink.remote().is_some(),
        );
        lost.map_or(Ok(()), Err).and(result).and(closed)
    }
}
