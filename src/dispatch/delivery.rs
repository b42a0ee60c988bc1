//! What happens to one batch on its way to the sink: sent and counted; for a remote sink,
//! retried under the sink's policy and spilled to the offline cache when the server cannot
//! take it; held in memory while it cannot be written anywhere (a full disk) and written when
//! that works again; reported and counted when it is finally lost.
//!
//! A batch whose request failed after it was sent (a timeout, a connection lost while waiting
//! for the answer) may be on the server already: it is neither sent again nor spilled until
//! the server says whether it holds it (protocol doc §4.7), so that it is stored once. The
//! network thread sends batches one at a time and nothing after such a batch until its fate is
//! known, so what the server must hold before it is exactly what it acknowledged so far.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::queue::TakenMetrics;
use super::{Shared, Tally};
use crate::error::{Error, ErrorKind, Outcome, Result};
use crate::model::{EventSet, MetricBatch, RunRecord, TensorSet};
use crate::sink::{RemoteSink, RunPatch, Sink};

/// How much memory the batches that could not be written anywhere (the cache's disk full or
/// unwritable, and no server to take them) may hold, estimated from their items: 64 MiB, about
/// half a million metric sets of three values. Past it the oldest held batches are lost (and
/// counted), so that a disk that never comes back cannot take the solver's memory. Held metric
/// batches stop counting against the queue's `MAX_HELD_BYTES` (this is their budget).
pub const HOLD_BUDGET_BYTES: usize = 64 << 20;

/// A batch on its way to the sink.
pub(super) enum Batch {
    /// Metric sets in columns; their memory returns to the queue when the batch is dropped.
    Metrics(TakenMetrics),
    Events(Vec<EventSet>),
    Tensors(Vec<TensorSet>),
    /// A run update: the whole state and the changed fields.
    Update(Box<RunRecord>, RunPatch),
}

impl Batch {
    /// Bytes of logged data it holds (what the outbox's budget counts).
    pub(super) fn bytes(&self) -> usize {
        match self {
            Batch::Metrics(m) => m.bytes(),
            Batch::Events(e) => e.iter().map(super::queue::event_bytes).sum(),
            Batch::Tensors(t) => t.iter().map(tensor_bytes).sum(),
            Batch::Update(..) => 0,
        }
    }

    fn len(&self) -> u64 {
        match self {
            Batch::Metrics(m) => m.len() as u64,
            Batch::Events(e) => e.len() as u64,
            Batch::Tensors(t) => t.len() as u64,
            Batch::Update(..) => 1,
        }
    }

    /// Whether it is a batch of metric sets (whose bytes are bounded by the queue's budget).
    pub(super) fn is_metrics(&self) -> bool {
        matches!(self, Batch::Metrics(_))
    }

    /// The batch in the units the server counts back (protocol doc §4.7): metric values (a
    /// set of three metrics is three), or events.
    fn units(&self) -> u64 {
        match self {
            Batch::Metrics(m) => m.values_len() as u64,
            Batch::Events(e) => e.len() as u64,
            // The server's run totals count no arrays: an unknown outcome of a tensor batch
            // cannot be settled by asking (see `send_with_retries`).
            Batch::Tensors(_) | Batch::Update(..) => 0,
        }
    }

    /// What the items are called in messages.
    fn what(&self) -> &'static str {
        match self {
            Batch::Metrics(_) => "metric sets",
            Batch::Tensors(_) => "tensor metric arrays",
            Batch::Events(_) | Batch::Update(..) => "events",
        }
    }

    /// The memory the batch holds, roughly (for [`HOLD_BUDGET_BYTES`]). Not [`Batch::bytes`],
    /// which a held metric batch no longer counts (see [`TakenMetrics::leave_queue_budget`]).
    fn approx_bytes(&self) -> usize {
        match self {
            Batch::Metrics(m) => MetricBatch::bytes(m),
            _ => self.bytes(),
        }
    }
}

/// Bytes of one tensor array, as the budgets count them.
pub(super) fn tensor_bytes(a: &TensorSet) -> usize {
    std::mem::size_of::<TensorSet>() + a.values.len() * 8 + a.shape.len() * 8
}

/// After the server says it does not hold a batch whose outcome was unknown, how long to wait
/// before asking again to be sure (a server that stores what it receives a moment later must
/// not make us send it twice).
const CONFIRM_AFTER: Duration = Duration::from_secs(1);

/// How long a server may still store a request whose answer timed out (its own request
/// timeout: gunicorn's default is 30 s): until then "not stored" only means "not yet", and the
/// batch is neither sent again nor spilled.
pub const PENDING_WINDOW: Duration = Duration::from_secs(30);

/// What the server holds of a batch whose outcome was unknown.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    Stored,
    NotStored,
}

/// A batch sent with an unknown outcome, what the server held of its kind before it, and,
/// when its answer timed out, since when the server may still be storing it.
struct Doubt {
    batch: Batch,
    before: u64,
    pending_since: Option<Instant>,
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
    /// What the server acknowledged so far, in the units it counts back: metric values, events.
    acked: Arc<[AtomicU64; 2]>,
    /// The batch whose outcome is unknown, while the server has not said (remote sinks).
    doubt: Arc<Mutex<Option<Doubt>>>,
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
            acked: Arc::default(),
            doubt: Arc::default(),
        }
    }

    /// Changes the memory budget of held batches (tests).
    #[cfg(test)]
    pub(super) fn set_hold_budget(&self, bytes: usize) {
        self.held.lock().budget = bytes;
    }

    fn tally(&self, b: &Batch) -> &Tally {
        match b {
            Batch::Metrics(_) | Batch::Tensors(_) => &self.shared.metrics,
            Batch::Events(_) | Batch::Update(..) => &self.shared.events,
        }
    }

    /// The remote side of the sink; only called for batches of a remote sink.
    pub(super) fn remote(&self) -> &dyn RemoteSink {
        self.sink
            .remote()
            .expect("remote delivery needs a remote sink")
    }

    /// What the server acknowledged of the batch's kind so far.
    fn acked(&self, b: &Batch) -> &AtomicU64 {
        &self.acked[usize::from(!b.is_metrics())]
    }

    /// Counts a batch the server holds.
    fn count_sent(&self, b: &Batch) {
        Tally::add(&self.tally(b).sent, b.len());
        Tally::add(self.acked(b), b.units());
    }

    /// One attempt; counts the batch as sent when it succeeds.
    fn send(&self, b: &Batch) -> Result<()> {
        let r = match b {
            // The written part's bytes are counted free as the write goes on, so a caller
            // waiting for room waits for a chunk, not for the whole batch.
            Batch::Metrics(m) => {
                self.sink
                    .send_metrics_with_progress(&self.run_id, m, &mut |done| m.written(done))
            }
            Batch::Events(e) => self.sink.send_events(&self.run_id, e),
            Batch::Tensors(t) => self.sink.send_tensors(&self.run_id, t),
            Batch::Update(..) => unreachable!("updates go through Delivery::update"),
        };
        if r.is_ok() {
            self.count_sent(b);
        }
        r
    }

    /// Writes a batch to the cache a remote sink spills into; counts it spilled.
    fn write_spill(&self, b: &Batch) -> Result<std::path::PathBuf> {
        let remote = self.remote();
        let r = match b {
            Batch::Metrics(m) => remote.spill_metrics(&self.run_id, m),
            Batch::Events(e) => remote.spill_events(&self.run_id, e),
            Batch::Tensors(t) => remote.spill_tensors(&self.run_id, t),
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
    fn hold(&self, mut b: Batch, cause: &Error) {
        if let Batch::Metrics(m) = &mut b {
            // Its own budget from now on: a disk that stays full must not stop the solver.
            m.leave_queue_budget();
        }
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

    /// At the end of the run: the batch in doubt is settled or spilled, then a last attempt
    /// at writing what is held; what still cannot be written is counted lost and reported.
    pub(super) fn finish(&self) {
        self.finish_doubt();
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
        // Nothing is sent while an earlier batch's fate is unknown: the counts that tell it
        // would no longer add up.
        if let Err(e) = self.settle_doubt() {
            return self.spill(b, &e);
        }
        self.send_with_retries(b);
    }

    /// Sends under the retry policy. After an attempt whose outcome is unknown, the server is
    /// asked whether it holds the batch before it is sent again; when it cannot say, the batch
    /// is kept in doubt (not spilled, which could store it twice).
    fn send_with_retries(&self, b: Batch) {
        let remote = self.remote();
        // What the server held of the batch's kind before it, while its outcome is unknown,
        // and since when it may still be storing it.
        let mut doubt: Option<(u64, Option<Instant>)> = None;
        let r = remote.retry_policy().run(remote.health(), || {
            if let Some((held, pending_since)) = doubt {
                match self.ask(&b, held, pending_since)? {
                    Fate::Stored => {
                        self.count_sent(&b);
                        return Ok(());
                    }
                    Fate::NotStored => doubt = None,
                }
            }
            let held = self.acked(&b).load(Ordering::Relaxed);
            self.send(&b).inspect_err(|e| match e.outcome {
                // No total to ask for arrays: sent again (the one case that may store twice).
                _ if matches!(b, Batch::Tensors(_)) => {}
                Outcome::NotStored => {}
                Outcome::Unknown => doubt = Some((held, None)),
                Outcome::Pending => doubt = Some((held, Some(Instant::now()))),
            })
        });
        match (r, doubt) {
            (Ok(()), _) => {}
            (Err(e), None) => self.spill(b, &e),
            (Err(e), Some((held, pending_since))) => {
                (self.on_error)(Error::new(
                    e.kind,
                    format!(
                        "{}; {} {} may or may not be on the server: they are kept, and the server is asked when it answers again",
                        e.message,
                        b.len(),
                        b.what()
                    ),
                ));
                *self.doubt.lock() = Some(Doubt {
                    batch: b,
                    before: held,
                    pending_since,
                });
            }
        }
    }

    /// Asks the server whether it holds `b`, sent when it held `before` of its kind: it holds
    /// `before + units` if it stored it, `before` if not; anything else is a retryable error
    /// (asked again). "Not stored" is only believed when a second look [`CONFIRM_AFTER`] later
    /// agrees, and, for a request whose answer timed out at `pending_since`, once
    /// [`PENDING_WINDOW`] has passed: until then the server may still store it.
    fn ask(&self, b: &Batch, before: u64, pending_since: Option<Instant>) -> Result<Fate> {
        let remote = self.remote();
        let read = || match b {
            Batch::Metrics(_) => remote.stored_metric_values(&self.run_id),
            _ => remote.stored_events(&self.run_id),
        };
        let after = before + b.units();
        let mut stored = read()?;
        if stored == before && pending_since.is_some_and(|t| t.elapsed() < PENDING_WINDOW) {
            return Err(Error::new(
                ErrorKind::Network,
                "the server does not hold them yet, but it may still be storing them",
            ));
        }
        if stored == before {
            let pause = remote
                .health()
                .remaining()
                .map_or(CONFIRM_AFTER, |r| r.min(CONFIRM_AFTER));
            std::thread::sleep(pause);
            stored = read()?;
            if stored == before {
                return Ok(Fate::NotStored);
            }
        }
        if stored == after {
            return Ok(Fate::Stored);
        }
        Err(Error::new(
            ErrorKind::Network,
            format!(
                "the server holds {stored} {} of the run where {before} (without the batch) or {after} (with it) were expected",
                if b.is_metrics() { "metric values" } else { "events" }
            ),
        ))
    }

    /// Finds out the fate of the batch in doubt, if there is one: counted sent when the
    /// server holds it, sent again when it does not. An error when the server cannot say for
    /// now (the batch stays in doubt); a server that cannot count at all (no counts in its
    /// answers) gets the batch spilled, so that one timeout does not stop the run's traffic.
    fn settle_doubt(&self) -> Result<()> {
        let Some(d) = self.doubt.lock().take() else {
            return Ok(());
        };
        let remote = self.remote();
        let fate = remote.retry_policy().run(remote.health(), || {
            self.ask(&d.batch, d.before, d.pending_since)
        });
        match fate {
            Ok(Fate::Stored) => {
                self.count_sent(&d.batch);
                Ok(())
            }
            Ok(Fate::NotStored) => {
                self.send_with_retries(d.batch);
                if self.doubt.lock().is_some() {
                    Err(unreachable())
                } else {
                    Ok(())
                }
            }
            Err(e) if crate::retry::Retryable::retryable(&e) => {
                *self.doubt.lock() = Some(d);
                Err(e)
            }
            Err(e) => {
                self.spill_in_doubt(d, &e);
                Ok(())
            }
        }
    }

    /// At the end of a remote run: a last try at settling the batch in doubt, within the close
    /// deadline (with retries, or one question when the server is degraded). If the server
    /// still cannot say, the batch is spilled, since losing it for sure is worse than storing
    /// it twice, and the report says that it may arrive twice.
    fn finish_doubt(&self) {
        if self.doubt.lock().is_none() {
            return;
        }
        let cause = if self.remote().health().degraded() {
            let d = self.doubt.lock().take().expect("checked");
            match self.ask(&d.batch, d.before, d.pending_since) {
                Ok(Fate::Stored) => return self.count_sent(&d.batch),
                Ok(Fate::NotStored) => return self.spill(d.batch, &unreachable()),
                Err(e) => {
                    *self.doubt.lock() = Some(d);
                    e
                }
            }
        } else {
            match self.settle_doubt() {
                Ok(()) => return,
                Err(e) => e,
            }
        };
        if let Some(d) = self.doubt.lock().take() {
            self.spill_in_doubt(d, &cause);
        }
    }

    /// Spills a batch whose fate the server never told, saying that it may arrive twice.
    fn spill_in_doubt(&self, d: Doubt, cause: &Error) {
        let note = Error::new(
            cause.kind,
            format!(
                "{}; the server never said whether it stored these {} {}, so simvue-sender may store them twice",
                cause.message,
                d.batch.len(),
                d.batch.what()
            ),
        );
        self.spill(d.batch, &note);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    use super::*;
    use crate::artifact::{Artifact, Category};
    use crate::model::MetricSet;
    use crate::time::Timestamp;

    /// A local sink whose metric writes fail while `broken` is set.
    #[derive(Default)]
    struct Disk {
        broken: AtomicBool,
        written: Mutex<Vec<u64>>,
    }

    impl Sink for Disk {
        unused_sink_methods!();
        fn send_metrics(&self, _: &str, batch: &MetricBatch) -> Result<()> {
            if self.broken.load(Ordering::Relaxed) {
                return Err(Error::new(ErrorKind::Io, "No space left on device"));
            }
            self.written.lock().extend(steps(batch));
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
            threshold_bytes: 1 << 20,
            held: Default::default(),
            spares: Default::default(),
            ready: Default::default(),
            step: Default::default(),
            number: 0,
            copy_gate: Default::default(),
        })
    }

    /// A metric batch of one value a set, taken from a queue of its own.
    fn batch(steps: std::ops::Range<u64>) -> Batch {
        let sets: Vec<MetricSet> = steps
            .map(|step| MetricSet {
                time: 0.0,
                timestamp: Timestamp::now(),
                step,
                values: vec![(Arc::from("x"), 1.0)],
            })
            .collect();
        let b = MetricBatch::from_sets(&sets);
        let s = shared();
        s.held.fetch_add(b.bytes(), Ordering::Relaxed);
        Batch::Metrics(super::super::queue::TakenMetrics::new(b, s))
    }

    /// A metric batch being written stops counting against the queue's budget chunk by
    /// chunk (so a blocking caller waits for a chunk, not the whole batch), never more than
    /// it counted, and the rest when it is done.
    #[test]
    fn a_metric_batch_being_written_frees_its_budget_as_it_goes() {
        let Batch::Metrics(m) = batch(0..100) else {
            unreachable!()
        };
        let s = m.shared.clone();
        let total = m.bytes();
        assert!(total > 0);
        assert_eq!(s.held.load(Ordering::Relaxed), total);
        m.written(25);
        let quarter = s.held.load(Ordering::Relaxed);
        assert_eq!(quarter, total - total / 4);
        assert_eq!(m.bytes(), quarter);
        m.written(10); // an older count changes nothing
        assert_eq!(s.held.load(Ordering::Relaxed), quarter);
        m.written(500); // more than it holds: all of it
        assert_eq!((s.held.load(Ordering::Relaxed), m.bytes()), (0, 0));
        drop(m);
        assert_eq!(
            s.held.load(Ordering::Relaxed),
            0,
            "nothing subtracted twice"
        );
    }

    /// The steps of a metric batch.
    fn steps(batch: &MetricBatch) -> impl Iterator<Item = u64> + '_ {
        batch.iter().map(|(h, _, _)| h.step)
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

    /// What the scripted server does with the next metrics request.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Next {
        /// Stores it and answers.
        Ok,
        /// Stores it; the answer is lost (the connection closes).
        StoreThenDrop,
        /// Does not store it; the connection closes.
        Drop,
        /// Does not answer in time and has not stored it (it may later: `store_late`).
        Hang,
    }

    /// A server sink whose metrics requests follow a script; it counts what it stores, and
    /// can be made unable to answer questions.
    struct Server {
        script: Mutex<VecDeque<Next>>,
        stored: Mutex<Vec<u64>>,
        late: Mutex<Vec<u64>>,
        mute: AtomicBool,
        spilled: Mutex<Vec<u64>>,
        health: crate::retry::Health,
    }

    impl Server {
        fn new(script: &[Next]) -> Arc<Server> {
            Arc::new(Server {
                script: Mutex::new(script.iter().copied().collect()),
                stored: Mutex::default(),
                late: Mutex::default(),
                mute: AtomicBool::new(false),
                spilled: Mutex::default(),
                health: Default::default(),
            })
        }

        /// The hung requests are stored now.
        fn store_late(&self) {
            let late = std::mem::take(&mut *self.late.lock());
            self.stored.lock().extend(late);
        }
    }

    impl Sink for Server {
        unused_sink_methods!();
        fn send_metrics(&self, _: &str, batch: &MetricBatch) -> Result<()> {
            let steps = steps(batch);
            let lost = |o| Err(Error::new(ErrorKind::Network, "lost").with_outcome(o));
            match self.script.lock().pop_front().unwrap_or(Next::Ok) {
                Next::Ok => {
                    self.stored.lock().extend(steps);
                    Ok(())
                }
                Next::StoreThenDrop => {
                    self.stored.lock().extend(steps);
                    lost(Outcome::Unknown)
                }
                Next::Drop => lost(Outcome::Unknown),
                Next::Hang => {
                    self.late.lock().extend(steps);
                    lost(Outcome::Pending)
                }
            }
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
        fn remote(&self) -> Option<&dyn RemoteSink> {
            Some(self)
        }
    }

    impl RemoteSink for Server {
        fn spill_tensors(&self, _: &str, _: &[TensorSet]) -> Result<std::path::PathBuf> {
            unreachable!()
        }
        fn retry_policy(&self) -> crate::retry::RetryPolicy {
            crate::retry::RetryPolicy {
                attempts: 3,
                backoff: Duration::ZERO,
                max_backoff: Duration::ZERO,
                probe_after: Duration::ZERO,
                init_timeout: Duration::from_secs(10),
                close_timeout: Duration::from_secs(15),
            }
        }
        fn health(&self) -> &crate::retry::Health {
            &self.health
        }
        fn spill_metrics(&self, _: &str, batch: &MetricBatch) -> Result<std::path::PathBuf> {
            self.spilled.lock().extend(steps(batch));
            Ok("cache".into())
        }
        fn spill_events(&self, _: &str, _: &[EventSet]) -> Result<std::path::PathBuf> {
            Ok("cache".into())
        }
        fn abort_requested(&self, _: &str) -> Result<bool> {
            Ok(false)
        }
        fn stored_metric_values(&self, _: &str) -> Result<u64> {
            if self.mute.load(Ordering::Relaxed) {
                return Err(Error::new(ErrorKind::Network, "timed out"));
            }
            Ok(self.stored.lock().len() as u64)
        }
        fn stored_events(&self, _: &str) -> Result<u64> {
            Ok(0)
        }
    }

    fn online(server: &Arc<Server>) -> (Delivery, Arc<Mutex<Vec<String>>>) {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let r = reports.clone();
        let d = Delivery::new(
            shared(),
            server.clone(),
            "run".into(),
            Arc::new(move |e: Error| r.lock().push(e.message)),
        );
        (d, reports)
    }

    fn sorted(v: &Mutex<Vec<u64>>) -> Vec<u64> {
        let mut v = v.lock().clone();
        v.sort_unstable();
        v
    }

    #[test]
    fn a_batch_stored_without_an_answer_is_asked_about_and_not_sent_again() {
        let server = Server::new(&[Next::Ok, Next::StoreThenDrop, Next::Ok]);
        let (d, _) = online(&server);
        for i in 0..3 {
            d.deliver_with_retries(batch(i * 10..i * 10 + 10));
        }
        d.finish();
        assert_eq!(sorted(&server.stored), (0..30).collect::<Vec<_>>());
        assert!(server.spilled.lock().is_empty());
        assert_eq!(d.shared.metrics.sent.load(Ordering::Relaxed), 30);
    }

    #[test]
    fn a_batch_the_server_did_not_store_is_sent_again_once() {
        let server = Server::new(&[Next::Drop, Next::Ok]);
        let (d, _) = online(&server);
        d.deliver_with_retries(batch(0..10));
        d.deliver_with_retries(batch(10..20));
        d.finish();
        assert_eq!(sorted(&server.stored), (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn a_timed_out_batch_is_neither_resent_nor_spilled_while_the_server_may_store_it() {
        let server = Server::new(&[Next::Hang]);
        let (d, reports) = online(&server);
        d.deliver_with_retries(batch(0..10));
        // Asked, the server holds nothing yet: the batch waits in doubt, what follows is
        // spilled rather than sent past it.
        assert!(server.stored.lock().is_empty() && server.spilled.lock().is_empty());
        assert!(reports.lock()[0].contains("may or may not be on the server"));
        d.deliver_with_retries(batch(10..20));
        assert_eq!(sorted(&server.spilled), (10..20).collect::<Vec<_>>());
        // The server stores it late; asked again, it says so, and sending goes on.
        server.store_late();
        d.deliver_with_retries(batch(20..30));
        d.finish();
        let want: Vec<u64> = (0..10).chain(20..30).collect();
        assert_eq!(sorted(&server.stored), want);
        assert_eq!(sorted(&server.spilled), (10..20).collect::<Vec<_>>());
        assert_eq!(d.shared.metrics.sent.load(Ordering::Relaxed), 20);
    }

    #[test]
    fn a_doubt_the_server_never_settles_is_spilled_at_close_with_a_warning() {
        let server = Server::new(&[Next::StoreThenDrop]);
        server.mute.store(true, Ordering::Relaxed);
        let (d, reports) = online(&server);
        d.deliver_with_retries(batch(0..10));
        assert!(server.spilled.lock().is_empty());
        d.finish();
        assert_eq!(sorted(&server.spilled), (0..10).collect::<Vec<_>>());
        assert!(reports
            .lock()
            .last()
            .unwrap()
            .contains("may store them twice"));
    }
}
