//! Bounded metric and event queues and the background threads that drain them into a sink.
//!
//! The caller's thread only validates, stamps and enqueues ([`queue`]), metric sets into a
//! lane of its own ([`lane`]) with no lock in the common case; everything else happens in the
//! background. The dispatcher thread ([`worker`]) wakes when a queue fills up
//! or the flush interval passes, turns what is queued into batches, samples resources and
//! sends heartbeats. A local sink gets the batches written from there; a remote one gets them
//! through a bounded outbox drained by a network thread ([`network`]), so that a slow or
//! vanished server never holds up the queues. [`delivery`] is what happens to one batch:
//! counted, retried, spilled or reported.
//!
//! Each queue holds at most `capacity` items (one item is one `log_metrics` or `log_event`
//! call), and the logged data held in memory is bounded in bytes whatever the width of the
//! sets ([`MAX_HELD_BYTES`]). When a queue is full, a blocking queue makes the caller wait for
//! the dispatcher; a non-blocking queue drops the item and counts it.

/// The `Sink` methods that the test sinks of this module's batches never see, each
/// `unreachable!()`: one list for all of them.
#[cfg(test)]
macro_rules! unused_sink_methods {
    () => {
        fn create_folder(&self, _: &$crate::model::Folder) -> $crate::error::Result<String> {
            unreachable!()
        }
        fn update_folder(&self, _: &str, _: &$crate::model::Folder) -> $crate::error::Result<()> {
            unreachable!()
        }
        fn create_run(&self, _: &mut $crate::model::RunRecord) -> $crate::error::Result<String> {
            unreachable!()
        }
        fn load_run(&self, _: &str) -> $crate::error::Result<$crate::model::RunRecord> {
            unreachable!()
        }
        fn update_run(
            &self,
            _: &str,
            _: &$crate::model::RunRecord,
            _: &$crate::sink::RunPatch,
        ) -> $crate::error::Result<()> {
            unreachable!()
        }
        fn create_alert(&self, _: &$crate::model::Alert) -> $crate::error::Result<String> {
            unreachable!()
        }
        fn set_alert_status(
            &self,
            _: &str,
            _: &str,
            _: $crate::model::AlertState,
            _: Option<&$crate::model::Alert>,
        ) -> $crate::error::Result<()> {
            unreachable!()
        }
        fn create_grid(&self, _: &$crate::model::Grid) -> $crate::error::Result<String> {
            unreachable!()
        }
        fn attach_grid(
            &self,
            _: &str,
            _: &$crate::model::Grid,
            _: &str,
            _: &str,
        ) -> $crate::error::Result<()> {
            unreachable!()
        }
        fn send_tensors(
            &self,
            _: &str,
            _: &[$crate::model::TensorSet],
        ) -> $crate::error::Result<()> {
            unreachable!()
        }
    };
}

mod delivery;
mod lane;
mod network;
mod queue;
#[cfg(test)]
mod tests;
mod worker;
mod writer;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, ErrorKind, Result};
use crate::model::RunRecord;
use crate::sink::{RunPatch, Sink};
use crate::time::Timestamp;

use queue::Queues;
pub use queue::{KnownNames, MetricNames};
use worker::Worker;

/// The most items sent in one batch (`MAX_BUFFER_SIZE` of the Python client).
pub const MAX_BATCH: usize = 16_000;

/// The most metric data a run holds in memory, in bytes: queued, and taken by the dispatcher
/// but not yet written, sent or spilled (a set of n values counts 32 + 12 n bytes). A queue
/// this full counts as full whatever its number of items, so wide sets cannot grow memory
/// without bound. Events count their messages against the same amount, in their own queue.
pub const MAX_HELD_BYTES: usize = 16 << 20;

/// Bytes of metric data queued at which the dispatcher is woken, or a lane hands its block
/// over: a quarter of [`MAX_HELD_BYTES`].
const THRESHOLD_BYTES: usize = MAX_HELD_BYTES / 4;

/// The most metric data in one batch, in bytes (a single larger set makes a batch of its own):
/// a quarter more than [`THRESHOLD_BYTES`], so that a block taken at the threshold, with the
/// set that reached it, is one batch (one file) rather than one and a remainder.
const MAX_BATCH_BYTES: usize = THRESHOLD_BYTES + THRESHOLD_BYTES / 4;

/// How the dispatcher behaves.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// Items each queue may hold.
    pub capacity: usize,
    /// Wait for room (true) or drop (false) when a queue is full.
    pub blocking: bool,
    /// Longest time an item waits before it is written when the queue is not filling up.
    pub flush_interval: Duration,
    /// Time between heartbeats.
    pub heartbeat_interval: Duration,
    /// Time between resource samples; `None` disables them.
    pub resources_interval: Option<Duration>,
    /// Process whose tree is sampled.
    pub pid: u32,
    /// Time between polls for an abort requested from the web UI; `None`: never.
    pub abort_interval: Option<Duration>,
    /// What resource samples hold besides CPU, memory and GPUs (energy).
    pub monitor: crate::monitor::MonitorOptions,
    /// Batches other than metric sets that may wait for a local sink's writer thread
    /// ([`WRITER_DEPTH`] for a run); 0: no writer thread, the dispatcher writes each batch
    /// itself (tests that need a stuck sink to stop the dispatcher).
    pub writer_depth: usize,
}

/// Batches other than metric sets (events, arrays, run updates) that may wait for the writer
/// thread of a local sink (see [`writer`]): past it the dispatcher waits, and the queues fill
/// meanwhile. Metric batches are bounded by [`MAX_HELD_BYTES`] instead.
pub const WRITER_DEPTH: usize = 4;

/// Counters of what happened to logged items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Metric sets accepted into the queue.
    pub metrics_queued: u64,
    /// Metric sets dropped because the queue was full.
    pub metrics_dropped: u64,
    /// Metric sets written to the sink (including resource samples).
    pub metrics_sent: u64,
    /// Metric sets that could not be delivered and were written to the offline cache instead.
    pub metrics_spilled: u64,
    /// Metric sets lost (not delivered and not spilled).
    pub metrics_failed: u64,
    /// Events accepted into the queue.
    pub events_queued: u64,
    /// Events dropped because the queue was full.
    pub events_dropped: u64,
    /// Events written to the sink.
    pub events_sent: u64,
    /// Events written to the offline cache instead of the sink.
    pub events_spilled: u64,
    /// Events lost.
    pub events_failed: u64,
}

/// Optional overrides of one `log_metrics` call.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricOptions {
    /// Step to record instead of the automatic counter.
    pub step: Option<u64>,
    /// Time in seconds to record instead of the time since the run started.
    pub time: Option<f64>,
    /// Timestamp to record instead of now.
    pub timestamp: Option<Timestamp>,
}

impl MetricOptions {
    /// Whether nothing is overridden (the common case, which has a fast path).
    #[inline]
    pub fn is_default(&self) -> bool {
        self.step.is_none() && self.time.is_none() && self.timestamp.is_none()
    }
}

/// The fate of the items of one kind (metric sets or events): every item accepted into a
/// queue (counted in `queue::Queues`) ends up counted here as sent, spilled or failed.
#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    spilled: AtomicU64,
    failed: AtomicU64,
}

impl Tally {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Marks the calling thread as background work for the scheduler (`SCHED_BATCH`, allowed
/// to any user): waking up, it does not preempt the thread running on a core (the solver),
/// but waits for a free core or the end of that thread's slice; its share of the CPU is the
/// same. `SIMVUE_SCHED=normal` leaves the policy as it is.
pub(crate) fn background_thread() {
    #[cfg(target_os = "linux")]
    {
        if std::env::var_os("SIMVUE_SCHED").is_some_and(|v| v == "normal") {
            return;
        }
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: plain system call on the calling thread (pid 0) with a valid parameter.
        // A failure (a seccomp filter, say) leaves the thread as it was.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    }
}

impl Shared {
    /// Whether a queue (or a lane) of `len` items and `bytes` bytes is at its threshold or
    /// past it: the dispatcher takes it.
    #[inline]
    fn past_threshold(&self, len: usize, bytes: usize) -> bool {
        len >= self.threshold || bytes >= self.threshold_bytes
    }

    /// Whether the item that made a queue (or a lane) `len` items long and took it from
    /// `bytes_before` to `bytes` bytes brought it to its threshold (once as it fills).
    #[inline]
    fn reaches_threshold(&self, len: usize, bytes_before: usize, bytes: usize) -> bool {
        len == self.threshold
            || (bytes_before < self.threshold_bytes && bytes >= self.threshold_bytes)
    }
}

/// A value on cache lines of its own (two: the hardware prefetches lines in pairs).
#[derive(Default)]
#[repr(align(128))]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// What the caller's side and the background threads share.
struct Shared {
    q: Mutex<Queues>,
    /// Wakes the dispatcher (a queue reached its threshold, or stop).
    work: Condvar,
    /// Wakes callers waiting for room in a blocking queue.
    space: Condvar,
    capacity: usize,
    threshold: usize,
    /// Bytes of metric data queued at which the dispatcher is woken.
    threshold_bytes: usize,
    /// Bytes of metric data taken from the queue and not done with yet (see
    /// `queue::TakenMetrics`), counted against [`MAX_HELD_BYTES`].
    held: AtomicUsize,
    blocking: bool,
    pid: AtomicU32,
    metrics: Tally,
    events: Tally,
    /// Emptied metric columns, for the queue to fill again (see `queue::TakenMetrics`).
    spares: Mutex<Vec<crate::model::MetricColumns>>,
    /// Blocks waiting in `Queues::ready` (as of the last change, made under the lock), for
    /// the lanes' fast path to tell a full queue without the lock.
    ready: AtomicUsize,
    /// The automatic step: calls of every thread, dropped ones included. On a cache line of
    /// its own: written by every call, it would otherwise take the settings every call reads
    /// away from the other threads' cores.
    step: Padded<AtomicU64>,
    /// This dispatcher's number, which its lanes are found by ([`lane::cached`]).
    number: u64,
    /// Tests: a barrier the dispatcher waits at twice before its next copy out of the lanes.
    #[cfg(test)]
    copy_gate: Mutex<Option<Arc<std::sync::Barrier>>>,
}

/// The queues of one run and their dispatcher thread.
pub struct Dispatcher {
    remote: bool,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    start: Timestamp,
}

impl Dispatcher {
    /// Starts the dispatcher thread for run `run_id`, writing into `sink`. Metric times count
    /// from `start`. Failures of the sink are passed to `on_error` on a background thread.
    pub fn start(
        run_id: String,
        sink: Arc<dyn Sink>,
        settings: DispatchSettings,
        start: Timestamp,
        on_error: Box<dyn Fn(Error) + Send + Sync>,
        on_abort: Box<dyn Fn() + Send>,
    ) -> Result<Dispatcher> {
        let capacity = settings.capacity.max(1);
        let threshold = (capacity / 2).clamp(1, MAX_BATCH);
        let shared = Arc::new(Shared {
            q: Mutex::new(Queues::default()),
            work: Condvar::new(),
            space: Condvar::new(),
            capacity,
            threshold,
            threshold_bytes: THRESHOLD_BYTES,
            held: AtomicUsize::new(0),
            blocking: settings.blocking,
            pid: AtomicU32::new(settings.pid),
            metrics: Tally::default(),
            events: Tally::default(),
            // The first lane's block (or the queue's), its first pages resident.
            spares: Mutex::new(vec![queue::first_block(capacity, threshold)]),
            ready: AtomicUsize::new(0),
            step: Padded::default(),
            number: lane::dispatcher_number(),
            #[cfg(test)]
            copy_gate: Mutex::new(None),
        });
        let remote = sink.remote().is_some();
        let worker = Worker {
            shared: shared.clone(),
            sink,
            run_id,
            settings,
            start,
            on_error: Arc::from(on_error),
        };
        let thread = std::thread::Builder::new()
            .name("simvue-dispatch".into())
            .spawn(move || {
                background_thread();
                worker.run(on_abort)
            })
            .map_err(|e| Error::io("cannot start the dispatcher thread", e))?;
        Ok(Dispatcher {
            remote,
            shared,
            thread: Mutex::new(Some(thread)),
            start,
        })
    }

    /// Whether run updates should go through [`Dispatcher::submit_update`]: the sink is
    /// remote, and the network must not hold up the caller.
    pub fn remote(&self) -> bool {
        self.remote
    }

    /// Queues a run update (the whole state and the changed fields) for the network thread,
    /// after everything logged before it; its failure is reported as background work's is.
    pub fn submit_update(&self, full: RunRecord, patch: RunPatch) -> Result<()> {
        let mut q = self.shared.q.lock();
        if q.stop {
            return Err(Error::new(ErrorKind::Closed, "the run was closed"));
        }
        q.updates.push_back((full, patch));
        self.shared.work.notify_one();
        Ok(())
    }

    /// Changes the monitored process.
    pub fn set_pid(&self, pid: u32) {
        self.shared.pid.store(pid, Ordering::Relaxed);
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        let s = &*self.shared;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (m, e) = (&s.metrics, &s.events);
        let (metrics_queued, metrics_dropped, events_queued, events_dropped) = {
            let q = s.q.lock();
            let lanes = |f: fn(&lane::Lane) -> &AtomicU64| -> u64 {
                q.lanes.iter().map(|l| f(l).load(Ordering::Relaxed)).sum()
            };
            (
                q.metrics_queued + lanes(|l| &l.queued),
                q.metrics_dropped + lanes(|l| &l.dropped),
                q.events_queued,
                q.events_dropped,
            )
        };
        Stats {
            metrics_queued,
            metrics_dropped,
            metrics_sent: get(&m.sent),
            metrics_spilled: get(&m.spilled),
            metrics_failed: get(&m.failed),
            events_queued,
            events_dropped,
            events_sent: get(&e.sent),
            events_spilled: get(&e.spilled),
            events_failed: get(&e.failed),
        }
    }

    /// Writes everything still queued, stops the threads and waits for them. Idempotent.
    pub fn finish(&self) {
        self.shared.q.lock().stop = true;
        self.shared.work.notify_all();
        self.shared.space.notify_all();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Run updates queued for a remote sink, sent after what was logged before them.
type Updates = VecDeque<(RunRecord, RunPatch)>;
