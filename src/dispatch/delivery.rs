//! What happens to one batch on its way to the sink: sent and counted; for a remote sink,
//! retried under the sink's policy and spilled to the offline cache when the server cannot
//! take it; held in memory while it cannot be written anywhere (a full disk) and written when
//! that works again; reported and counted when it is finally lost.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Shared, Tally};
use crate::error::{Error, ErrorKind, Result};
use crate::json::Json;
use crate::model::{EventSet, MetricSet, RunRecord};
use crate::sink::{RemoteSink, Sink};

/// How much memory the batches that could not be written anywhere (the cache's disk full or
/// unwritable, and no server to take them) may hold, estimated from their items: 64 MiB, about
/// half a million metric sets of three values. Past it the oldest held batches are lost (and
/// counted), so that a disk that never comes back cannot take the solver's memory.
pub const HOLD_BUDGET_BYTES: usize = 64 << 20;

/// A batch on its way to the sink.
pub(super) enum Batch {
    Metrics(Vec<MetricSet>),
    Events(Vec<EventSet>),
    /// A run update: the whole state and the changed fields.
    Update(Box<RunRecord>, Json),
}

impl Batch {
    fn len(&self) -> u64 {
        match self {
            Batch::Metrics(m) => m.len() as u64,
            Batch::Events(e) => e.len() as u64,
            Batch::Update(..) => 1,
        }
    }

    fn is_metrics(&self) -> bool {
        matches!(self, Batch::Metrics(_))
    }

    /// What the items are called in messages.
    fn what(&self) -> &'static str {
        match self {
            Batch::Metrics(_) => "metric sets",
            Batch::Events(_) | Batch::Update(..) => "events",
        }
    }

    /// The memory the batch holds, roughly (for [`HOLD_BUDGET_BYTES`]).
    fn approx_bytes(&self) -> usize {
        match self {
            Batch::Metrics(m) => m
                .iter()
                .map(|s| {
                    std::mem::size_of::<MetricSet>()
                        + s.values.len() * std::mem::size_of::<(Arc<str>, f64)>()
                })
                .sum(),
            Batch::Events(e) => e
                .iter()
                .map(|ev| std::mem::size_of::<EventSet>() + ev.message.len())
                .sum(),
            Batch::Update(..) => 0,
        }
    }
}

/// The error a batch is spilled with while the server is known to be unreachable.
pub(super) fn unreachable() -> Error {
    Error::new(ErrorKind::Network, "the server is unreachable")
}

/// Batches that could not be written anywhere yet, oldest first, one queue per kind (a metrics
/// directory that cannot be written says nothing of the events one), within one budget.
struct Held {
    metrics: VecDeque<Batch>,
    events: VecDeque<Batch>,
    bytes: usize,
    budget: usize,
}

impl Held {
    fn queue(&mut self, metrics: bool) -> &mut VecDeque<Batch> {
        if metrics {
            &mut self.metrics
        } else {
            &mut self.events
        }
    }
}

/// Delivers batches to a sink: counts, retries, spills, holds and reports. Shared by the
/// dispatcher thread (local sinks, overflow) and the network thread (remote sinks).
#[derive(Clone)]
pub(super) struct Delivery {
    pub(super) shared: Arc<Shared>,
    pub(super) sink: Arc<dyn Sink>,
    pub(super) run_id: String,
    pub(super) on_error: Arc<dyn Fn(Error) + Send + Sync>,
    held: Arc<Mutex<Held>>,
}

impl Delivery {
    /// Delivery of run `run_id`'s batches to `sink`; failures go to `on_error`.
    pub(super) fn new(
        shared: Arc<Shared>,
        sink: Arc<dyn Sink>,
        run_id: String,
        on_error: Arc<dyn Fn(Error) + Send + Sync>,
    ) -> Delivery {
        Delivery {
            shared,
            sink,
            run_id,
            on_error,
            held: Arc::new(Mutex::new(Held {
                metrics: VecDeque::new(),
                events: VecDeque::new(),
                bytes: 0,
                budget: HOLD_BUDGET_BYTES,
            })),
        }
    }

    /// Changes the memory budget of held batches (tests).
    #[cfg(test)]
    pub(super) fn set_hold_budget(&self, bytes: usize) {
        self.held.lock().budget = bytes;
    }

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

    /// Writes a batch to the cache a remote sink spills into; counts it spilled.
    fn write_spill(&self, b: &Batch) -> Result<std::path::PathBuf> {
        let remote = self.remote();
        let r = match b {
            Batch::Metrics(m) => remote.spill_metrics(&self.run_id, m),
            Batch::Events(e) => remote.spill_events(&self.run_id, e),
            Batch::Update(..) => unreachable!("updates go through Delivery::update"),
        };
        if r.is_ok() {
            Tally::add(&self.tally(b).spilled, b.len());
        }
        r
    }

    /// The one write that keeps a batch for good: to the sink itself when it is local, to the
    /// spill cache when it is remote.
    fn write_locally(&self, b: &Batch) -> Result<()> {
        if self.sink.remote().is_some() {
            self.write_spill(b).map(|_| ())
        } else {
            self.send(b)
        }
    }

    /// Puts an undeliverable batch into the offline cache (or holds it in memory if even that
    /// fails) and reports where it went.
    pub(super) fn spill(&self, b: Batch, cause: &Error) {
        if matches!(b, Batch::Update(..)) {
            // The sink keeps an undeliverable update for simvue-sender itself.
            return self.update(b);
        }
        if let Err(e) = self.retry_held(b.is_metrics()) {
            return self.hold(b, &e);
        }
        match self.write_spill(&b) {
            Ok(path) => (self.on_error)(Error::new(
                cause.kind,
                format!(
                    "{}; {} {} were written to {} for simvue-sender to upload",
                    cause.message,
                    b.len(),
                    b.what(),
                    path.display()
                ),
            )),
            Err(e) => self.hold(
                b,
                &Error::new(e.kind, format!("{}; {}", cause.message, e.message)),
            ),
        }
    }

    /// Delivers a batch to a local sink (no retries). A batch that cannot be written is held
    /// and written again with the next ones.
    pub(super) fn deliver_once(&self, b: Batch) {
        if let Err(e) = self.retry_held(b.is_metrics()) {
            return self.hold(b, &e);
        }
        if let Err(e) = self.send(&b) {
            self.hold(b, &e);
        }
    }

    /// Keeps a batch that could not be written anywhere, to be written when that works again;
    /// past the memory budget the oldest held batches are lost. Reports the start of an
    /// episode (the first batch held) and every loss.
    fn hold(&self, b: Batch, cause: &Error) {
        let mut held = self.held.lock();
        let queue = held.queue(b.is_metrics());
        if queue.is_empty() {
            (self.on_error)(Error::new(
                cause.kind,
                format!(
                    "{}; {} {} are kept in memory (up to {} MiB in all) and written when that works again",
                    cause.message,
                    b.len(),
                    b.what(),
                    HOLD_BUDGET_BYTES >> 20
                ),
            ));
        }
        let bytes = b.approx_bytes();
        queue.push_back(b);
        held.bytes += bytes;
        while held.bytes > held.budget {
            // The oldest of the longer queue goes first; the batch just held is kept.
            let metrics = held.metrics.len() > held.events.len();
            let queue = held.queue(metrics);
            if queue.len() <= 1 {
                break;
            }
            let old = queue.pop_front().expect("more than one");
            held.bytes -= old.approx_bytes();
            self.lose(&old, "the memory kept for unwritten data is full", cause);
        }
    }

    /// Counts a batch lost and reports it.
    fn lose(&self, b: &Batch, why: &str, cause: &Error) {
        Tally::add(&self.tally(b).failed, b.len());
        (self.on_error)(Error::new(
            cause.kind,
            format!(
                "{}; {why}: {} {} were lost",
                cause.message,
                b.len(),
                b.what()
            ),
        ));
    }

    /// Writes the held batches of one kind again, oldest first, stopping at the first that
    /// still fails (whose error is returned).
    fn retry_held(&self, metrics: bool) -> Result<()> {
        let mut guard = self.held.lock();
        let held = &mut *guard;
        let queue = if metrics {
            &mut held.metrics
        } else {
            &mut held.events
        };
        while let Some(b) = queue.pop_front() {
            if let Err(e) = self.write_locally(&b) {
                queue.push_front(b);
                return Err(e);
            }
            held.bytes -= b.approx_bytes();
        }
        Ok(())
    }

    /// At the end of the run: a last attempt at writing what is held; what still cannot be
    /// written is counted lost and reported.
    pub(super) fn finish(&self) {
        for metrics in [true, false] {
            let Err(cause) = self.retry_held(metrics) else {
                continue;
            };
            let mut held = self.held.lock();
            for b in std::mem::take(held.queue(metrics)) {
                held.bytes -= b.approx_bytes();
                self.lose(&b, "still not written when the run closed", &cause);
            }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    use super::*;
    use crate::artifact::{Artifact, Category};
    use crate::model::{Alert, Folder};
    use crate::time::Timestamp;

    /// A local sink whose metric writes fail while `broken` is set.
    #[derive(Default)]
    struct Disk {
        broken: AtomicBool,
        written: Mutex<Vec<u64>>,
    }

    impl Sink for Disk {
        fn create_folder(&self, _: &Folder) -> Result<String> {
            unreachable!()
        }
        fn update_folder(&self, _: &str, _: &Folder) -> Result<()> {
            unreachable!()
        }
        fn create_run(&self, _: &mut RunRecord) -> Result<String> {
            unreachable!()
        }
        fn load_run(&self, _: &str) -> Result<RunRecord> {
            unreachable!()
        }
        fn update_run(&self, _: &str, _: &RunRecord, _: &Json) -> Result<()> {
            unreachable!()
        }
        fn create_alert(&self, _: &Alert) -> Result<String> {
            unreachable!()
        }
        fn send_metrics(&self, _: &str, batch: &[MetricSet]) -> Result<()> {
            if self.broken.load(Ordering::Relaxed) {
                return Err(Error::new(ErrorKind::Io, "No space left on device"));
            }
            self.written.lock().extend(batch.iter().map(|m| m.step));
            Ok(())
        }
        fn send_events(&self, _: &str, _: &[EventSet]) -> Result<()> {
            Ok(())
        }
        fn save_artifact(&self, _: &str, _: &Artifact, _: Category) -> Result<()> {
            unreachable!()
        }
        fn heartbeat(&self, _: &str) -> Result<()> {
            Ok(())
        }
        fn close_run(&self, _: &str, _: bool) -> Result<()> {
            Ok(())
        }
    }

    fn shared() -> Arc<Shared> {
        Arc::new(Shared {
            q: Default::default(),
            work: Default::default(),
            space: Default::default(),
            capacity: 10,
            threshold: 5,
            blocking: true,
            pid: AtomicU32::new(0),
            metrics: Tally::default(),
            events: Tally::default(),
        })
    }

    fn batch(steps: std::ops::Range<u64>) -> Batch {
        Batch::Metrics(
            steps
                .map(|step| MetricSet {
                    time: 0.0,
                    timestamp: Timestamp::now(),
                    step,
                    values: vec![(Arc::from("x"), 1.0)],
                })
                .collect(),
        )
    }

    fn delivery(disk: &Arc<Disk>) -> (Delivery, Arc<Mutex<Vec<String>>>) {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let r = reports.clone();
        let d = Delivery::new(
            shared(),
            disk.clone(),
            "run".into(),
            Arc::new(move |e: Error| r.lock().push(e.message)),
        );
        (d, reports)
    }

    #[test]
    fn batches_that_cannot_be_written_are_held_and_written_in_order_later() {
        let disk = Arc::new(Disk::default());
        let (d, reports) = delivery(&disk);
        disk.broken.store(true, Ordering::Relaxed);
        d.deliver_once(batch(0..10));
        d.deliver_once(batch(10..20));
        assert!(disk.written.lock().is_empty());
        assert_eq!(reports.lock().len(), 1, "one report per episode");
        disk.broken.store(false, Ordering::Relaxed);
        d.deliver_once(batch(20..30));
        d.finish();
        assert_eq!(*disk.written.lock(), (0..30).collect::<Vec<_>>());
        assert_eq!(d.shared.metrics.failed.load(Ordering::Relaxed), 0);
        assert_eq!(d.shared.metrics.sent.load(Ordering::Relaxed), 30);
    }

    #[test]
    fn past_the_memory_budget_the_oldest_held_batches_are_counted_lost() {
        let disk = Arc::new(Disk::default());
        let (d, reports) = delivery(&disk);
        // Room for two batches of ten sets.
        d.set_hold_budget(2 * batch(0..10).approx_bytes());
        disk.broken.store(true, Ordering::Relaxed);
        for i in 0..5 {
            d.deliver_once(batch(i * 10..i * 10 + 10));
        }
        assert_eq!(d.shared.metrics.failed.load(Ordering::Relaxed), 30);
        assert!(reports.lock()[1].contains("10 metric sets were lost"));
        disk.broken.store(false, Ordering::Relaxed);
        d.finish();
        assert_eq!(*disk.written.lock(), (30..50).collect::<Vec<_>>());
    }

    #[test]
    fn what_is_still_held_at_the_end_is_counted_lost() {
        let disk = Arc::new(Disk::default());
        let (d, reports) = delivery(&disk);
        disk.broken.store(true, Ordering::Relaxed);
        d.deliver_once(batch(0..7));
        d.deliver_once(batch(7..10));
        d.finish();
        assert_eq!(d.shared.metrics.failed.load(Ordering::Relaxed), 10);
        let r = reports.lock();
        assert!(r
            .last()
            .unwrap()
            .contains("still not written when the run closed"));
        assert!(r.last().unwrap().contains("No space left on device"));
    }
}
