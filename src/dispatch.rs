//! Bounded metric and event queues and the background thread that drains them into a sink.
//!
//! The caller's thread only validates, stamps and enqueues; everything else (formatting,
//! writing files, heartbeats, resource sampling) happens on the dispatcher thread. Each queue
//! holds at most `capacity` items (one item is one `log_metrics` or `log_event` call). When a
//! queue is full, a blocking queue makes the caller wait for the dispatcher; a non-blocking
//! queue drops the item and counts it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, ErrorKind, Result};
use crate::json::Json;
use crate::model::{EventSet, LogLevel, MetricSet, RunRecord};
use crate::monitor::{self, Monitor};
use crate::sink::{retryable, RetryPolicy, Sink};
use crate::time::Timestamp;
use crate::validate;

/// The most items sent in one batch (`MAX_BUFFER_SIZE` of the Python client).
pub const MAX_BATCH: usize = 16_000;

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
}

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

/// Metric names already validated, so that a solver logging the same names every step pays a
/// byte comparison per name instead of validation and hashing. Names are numbered; the queue
/// stores numbers, so logging touches no reference counts shared with the dispatcher thread.
#[derive(Default)]
struct NameCache {
    /// Every name seen, by number (append-only).
    table: Vec<Arc<str>>,
    /// The numbers of the names of the last call.
    last: Vec<u32>,
    known: HashMap<Box<str>, u32>,
}

impl NameCache {
    /// Makes `self.last` the numbers of the validated `names`, in order.
    #[inline]
    fn resolve(&mut self, names: &[&str]) -> Result<()> {
        if names.len() == self.last.len()
            && names
                .iter()
                .zip(&self.last)
                .all(|(a, &b)| a.as_bytes() == self.table[b as usize].as_bytes())
        {
            return Ok(());
        }
        self.resolve_slow(names)
    }

    #[cold]
    fn resolve_slow(&mut self, names: &[&str]) -> Result<()> {
        let mut resolved = Vec::with_capacity(names.len());
        for &name in names {
            let id = match self.known.get(name) {
                Some(&id) => id,
                None => {
                    validate::metric_name(name)?;
                    let id = self.table.len() as u32;
                    self.table.push(Arc::from(name));
                    self.known.insert(name.into(), id);
                    id
                }
            };
            resolved.push(id);
        }
        let mut seen = HashSet::with_capacity(names.len());
        if let Some(dup) = names.iter().find(|n| !seen.insert(**n)) {
            return Err(Error::invalid(format!(
                "metric name {dup:?} is given twice in one call"
            )));
        }
        self.last = resolved;
        Ok(())
    }
}

/// One queued `log_metrics` call; its values are `values[previous end..end]` of its block.
struct SetHeader {
    time: f64,
    timestamp: Timestamp,
    step: u64,
    end: usize,
}

/// Queued metric sets: headers and all values in two flat arrays. The dispatcher swaps the
/// whole block for an empty one that keeps its capacity, so that in the steady state logging
/// allocates nothing.
#[derive(Default)]
struct MetricBlock {
    sets: Vec<SetHeader>,
    values: Vec<(u32, f64)>,
}

impl MetricBlock {
    fn clear(&mut self) {
        self.sets.clear();
        self.values.clear();
    }

    /// The sets as wire objects, in batches of at most [`MAX_BATCH`].
    fn to_batches(&self, names: &[Arc<str>]) -> Vec<Vec<MetricSet>> {
        let mut start = 0;
        self.sets
            .chunks(MAX_BATCH)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|h| {
                        let values = self.values[start..h.end]
                            .iter()
                            .map(|&(id, v)| (names[id as usize].clone(), v))
                            .collect();
                        start = h.end;
                        MetricSet {
                            time: h.time,
                            timestamp: h.timestamp,
                            step: h.step,
                            values,
                        }
                    })
                    .collect()
            })
            .collect()
    }
}

struct Queues {
    metrics: MetricBlock,
    events: VecDeque<EventSet>,
    /// Run updates for a remote sink, sent after what was logged before them.
    updates: VecDeque<(RunRecord, Json)>,
    names: NameCache,
    step: u64,
    stop: bool,
}

struct Shared {
    q: Mutex<Queues>,
    /// Wakes the dispatcher (a queue reached its threshold, or stop).
    work: Condvar,
    /// Wakes callers waiting for room in a blocking queue.
    space: Condvar,
    capacity: usize,
    threshold: usize,
    blocking: bool,
    pid: AtomicU32,
    metrics_queued: AtomicU64,
    metrics_dropped: AtomicU64,
    metrics_sent: AtomicU64,
    metrics_spilled: AtomicU64,
    metrics_failed: AtomicU64,
    events_queued: AtomicU64,
    events_dropped: AtomicU64,
    events_sent: AtomicU64,
    events_spilled: AtomicU64,
    events_failed: AtomicU64,
}

/// The queues of one run and their dispatcher thread.
pub struct Dispatcher {
    remote: bool,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    start: Timestamp,
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

impl Dispatcher {
    /// Starts the dispatcher thread for run `run_id`, writing into `sink`. Metric times count
    /// from `start`. Failures of the sink are passed to `on_error` on the dispatcher thread.
    pub fn start(
        run_id: String,
        sink: Arc<dyn Sink>,
        settings: DispatchSettings,
        start: Timestamp,
        on_error: Box<dyn Fn(Error) + Send + Sync>,
        on_abort: Box<dyn Fn() + Send>,
    ) -> Result<Dispatcher> {
        let capacity = settings.capacity.max(1);
        let shared = Arc::new(Shared {
            q: Mutex::new(Queues {
                metrics: MetricBlock::default(),
                events: VecDeque::new(),
                updates: VecDeque::new(),
                names: NameCache::default(),
                step: 0,
                stop: false,
            }),
            work: Condvar::new(),
            space: Condvar::new(),
            capacity,
            threshold: (capacity / 2).clamp(1, MAX_BATCH),
            blocking: settings.blocking,
            pid: AtomicU32::new(settings.pid),
            metrics_queued: AtomicU64::new(0),
            metrics_dropped: AtomicU64::new(0),
            metrics_sent: AtomicU64::new(0),
            metrics_spilled: AtomicU64::new(0),
            metrics_failed: AtomicU64::new(0),
            events_queued: AtomicU64::new(0),
            events_dropped: AtomicU64::new(0),
            events_sent: AtomicU64::new(0),
            events_spilled: AtomicU64::new(0),
            events_failed: AtomicU64::new(0),
        });
        let remote = sink.retry_policy().is_some();
        let worker = Worker {
            shared: shared.clone(),
            sink,
            run_id,
            settings,
            start,
            on_error: Arc::from(on_error),
            on_abort,
        };
        let thread = std::thread::Builder::new()
            .name("simvue-dispatch".into())
            .spawn(move || worker.run())
            .map_err(|e| Error::io("cannot start the dispatcher thread", e))?;
        Ok(Dispatcher {
            remote,
            shared,
            thread: Mutex::new(Some(thread)),
            start,
        })
    }

    /// Queues one metric set. `names` and `values` have the same length.
    pub fn log_metrics(&self, names: &[&str], values: &[f64], opts: MetricOptions) -> Result<()> {
        debug_assert_eq!(names.len(), values.len());
        if names.is_empty() {
            return Err(Error::invalid("log_metrics needs at least one metric"));
        }
        if let Some(t) = opts.time {
            validate::finite("metric time", t)?;
        }
        // One clock read serves both the timestamp and the time since start.
        let now = Timestamp::now();
        let s = &*self.shared;
        let mut q = s.q.lock();
        q.names.resolve(names)?;
        if q.metrics.sets.len() >= s.capacity {
            if !self.wait_for_room(&mut q, |q| q.metrics.sets.len())? {
                s.metrics_dropped.fetch_add(1, Ordering::Relaxed);
                q.step += 1;
                return Ok(());
            }
            // The lock was released while waiting: another thread may have logged other names.
            q.names.resolve(names)?;
        }
        let step = opts.step.unwrap_or(q.step);
        q.step += 1;
        let q = &mut *q;
        let block = &mut q.metrics;
        block
            .values
            .extend(q.names.last.iter().copied().zip(values.iter().copied()));
        block.sets.push(SetHeader {
            time: opts
                .time
                .unwrap_or_else(|| (now.0 - self.start.0) as f64 / 1e6),
            timestamp: opts.timestamp.unwrap_or(now),
            step,
            end: block.values.len(),
        });
        s.metrics_queued.fetch_add(1, Ordering::Relaxed);
        // Wake the dispatcher when the queue stops being empty (it then sleeps until the flush
        // deadline) and when it reaches the threshold (it writes at once).
        let len = block.sets.len();
        if len == 1 || len == s.threshold {
            s.work.notify_one();
        }
        Ok(())
    }

    /// Queues one event.
    pub fn log_event(
        &self,
        message: &str,
        level: LogLevel,
        timestamp: Option<Timestamp>,
    ) -> Result<()> {
        let item = EventSet {
            message: message.to_owned(),
            log_level: level,
            timestamp: timestamp.unwrap_or_else(Timestamp::now),
        };
        let s = &*self.shared;
        let mut q = s.q.lock();
        if q.events.len() >= s.capacity && !self.wait_for_room(&mut q, |q| q.events.len())? {
            s.events_dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        q.events.push_back(item);
        s.events_queued.fetch_add(1, Ordering::Relaxed);
        let len = q.events.len();
        if len == 1 || len == s.threshold {
            s.work.notify_one();
        }
        Ok(())
    }

    /// Called with a full queue: waits for room when blocking and returns true once there is
    /// some; returns false when the item must be dropped.
    #[cold]
    fn wait_for_room(
        &self,
        q: &mut parking_lot::MutexGuard<'_, Queues>,
        len: impl Fn(&Queues) -> usize,
    ) -> Result<bool> {
        let s = &*self.shared;
        if !s.blocking {
            return Ok(false);
        }
        while len(q) >= s.capacity {
            if q.stop {
                return Err(Error::new(ErrorKind::Closed, "the run was closed"));
            }
            s.work.notify_one();
            s.space.wait(q);
        }
        Ok(true)
    }

    /// Whether run updates should go through [`Dispatcher::submit_update`]: the sink is
    /// remote, and the network must not hold up the caller.
    pub fn remote(&self) -> bool {
        self.remote
    }

    /// Queues a run update (the whole state and the changed fields) for the network thread,
    /// after everything logged before it; its failure is reported as background work's is.
    pub fn submit_update(&self, full: RunRecord, patch: Json) -> Result<()> {
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
        Stats {
            metrics_queued: get(&s.metrics_queued),
            metrics_dropped: get(&s.metrics_dropped),
            metrics_sent: get(&s.metrics_sent),
            metrics_spilled: get(&s.metrics_spilled),
            metrics_failed: get(&s.metrics_failed),
            events_queued: get(&s.events_queued),
            events_dropped: get(&s.events_dropped),
            events_sent: get(&s.events_sent),
            events_spilled: get(&s.events_spilled),
            events_failed: get(&s.events_failed),
        }
    }

    /// Writes everything still queued, stops the thread and waits for it. Idempotent.
    pub fn finish(&self) {
        {
            let mut q = self.shared.q.lock();
            q.stop = true;
        }
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

struct Worker {
    shared: Arc<Shared>,
    sink: Arc<dyn Sink>,
    run_id: String,
    settings: DispatchSettings,
    start: Timestamp,
    on_error: Arc<dyn Fn(Error) + Send + Sync>,
    on_abort: Box<dyn Fn() + Send>,
}

/// A batch on its way to the sink.
enum Batch {
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
}

/// Batches handed from the dispatcher to the network thread, at most [`MAX_PENDING`]; beyond
/// that the oldest is spilled to the offline cache, so a slow, hanging or vanished server never
/// makes the queues (and so the solver) wait.
#[derive(Default)]
struct OutboxState {
    batches: VecDeque<Batch>,
    stop: bool,
}

struct Outbox {
    state: Mutex<OutboxState>,
    /// Wakes the network thread.
    ready: Condvar,
    /// Wakes the dispatcher waiting for room.
    room: Condvar,
}

/// Batches waiting for the network at most.
const MAX_PENDING: usize = 8;

/// With `queue_blocking`, how long the dispatcher waits for the network thread to make room
/// before it decides the server is not keeping up and spills instead (so a hanging server
/// stalls the solver once, for this long, and not for every batch).
const MAX_STALL: Duration = Duration::from_secs(10);

/// Delivers batches to a sink: counts, spills and reports. Shared by the dispatcher thread
/// (local sinks, overflow) and the network thread (remote sinks).
struct Delivery {
    shared: Arc<Shared>,
    sink: Arc<dyn Sink>,
    run_id: String,
    on_error: Arc<dyn Fn(Error) + Send + Sync>,
}

impl Delivery {
    fn counters(&self, b: &Batch) -> (&AtomicU64, &AtomicU64, &AtomicU64) {
        let s = &*self.shared;
        match b {
            Batch::Metrics(_) => (&s.metrics_sent, &s.metrics_spilled, &s.metrics_failed),
            Batch::Events(_) | Batch::Update(..) => {
                (&s.events_sent, &s.events_spilled, &s.events_failed)
            }
        }
    }

    fn send(&self, b: &Batch) -> Result<()> {
        let r = match b {
            Batch::Metrics(m) => self.sink.send_metrics(&self.run_id, m),
            Batch::Events(e) => self.sink.send_events(&self.run_id, e),
            Batch::Update(..) => unreachable!("updates go through Delivery::update"),
        };
        if r.is_ok() {
            self.counters(b).0.fetch_add(b.len(), Ordering::Relaxed);
        }
        r
    }

    /// Puts an undeliverable batch into the offline cache (or counts it lost if even that
    /// fails) and reports where it went.
    fn spill(&self, b: Batch, cause: &Error) {
        let (_, spilled, failed) = self.counters(&b);
        let (what, r) = match &b {
            Batch::Metrics(m) => ("metric sets", self.sink.spill_metrics(&self.run_id, m)),
            Batch::Events(e) => ("events", self.sink.spill_events(&self.run_id, e)),
            // The sink keeps an undeliverable update for simvue-sender itself.
            Batch::Update(..) => return self.update(b),
        };
        let message = match r {
            Ok(path) => {
                spilled.fetch_add(b.len(), Ordering::Relaxed);
                format!(
                    "{}; {} {what} were written to {} for simvue-sender to upload",
                    cause.message,
                    b.len(),
                    path.display()
                )
            }
            Err(e) => {
                failed.fetch_add(b.len(), Ordering::Relaxed);
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
    fn deliver_once(&self, b: Batch) {
        if let Err(e) = self.send(&b) {
            self.counters(&b).2.fetch_add(b.len(), Ordering::Relaxed);
            (self.on_error)(e);
        }
    }

    /// Delivers a batch to a remote sink: retried with backoff while the failure is
    /// retryable, then spilled (and the sink marked degraded, so that what follows is spilled
    /// at once until the server answers again).
    /// Sends a run update; the sink retries it and keeps it for simvue-sender when the server
    /// stays unreachable, so only the outcome is left to report.
    fn update(&self, b: Batch) {
        if let Batch::Update(full, patch) = b {
            if let Err(e) = self.sink.update_run(&self.run_id, &full, &patch) {
                (self.on_error)(e);
            }
        }
    }

    fn deliver_with_retries(&self, b: Batch, policy: RetryPolicy) {
        if matches!(b, Batch::Update(..)) {
            return self.update(b);
        }
        let unreachable = || Error::new(ErrorKind::Network, "the server is unreachable");
        if self.sink.degraded() {
            return self.spill(b, &unreachable());
        }
        let mut attempt = 1;
        loop {
            match self.send(&b) {
                Ok(()) => return,
                Err(e) if retryable(&e) && attempt < policy.attempts => {
                    std::thread::sleep(policy.wait_after(attempt));
                    attempt += 1;
                }
                Err(e) => {
                    if retryable(&e) {
                        self.sink.mark_degraded();
                    }
                    return self.spill(b, &e);
                }
            }
        }
    }
}

/// The network thread of a remote sink: sends batches from the outbox (with retries),
/// heartbeats and abort polls, so that none of them ever holds up the queues.
fn network_thread(
    delivery: Delivery,
    outbox: Arc<Outbox>,
    policy: RetryPolicy,
    heartbeat_interval: Duration,
    abort_interval: Option<Duration>,
    on_abort: Box<dyn Fn() + Send>,
) {
    let now = Instant::now();
    let far = now + Duration::from_secs(86_400 * 365);
    // The run sent the first heartbeat when it started.
    let mut next_heartbeat = now + heartbeat_interval;
    let mut next_poll = abort_interval.map_or(far, |_| now);
    let mut aborted = false;
    loop {
        let (batch, stop) = {
            let mut st = outbox.state.lock();
            loop {
                let now = Instant::now();
                if !st.batches.is_empty() || st.stop || now >= next_heartbeat || now >= next_poll {
                    break;
                }
                outbox
                    .ready
                    .wait_until(&mut st, next_heartbeat.min(next_poll));
            }
            let b = st.batches.pop_front();
            outbox.room.notify_all();
            (b, st.stop)
        };
        let had_batch = batch.is_some();
        if let Some(b) = batch {
            delivery.deliver_with_retries(b, policy);
        }
        let now = Instant::now();
        if now >= next_heartbeat {
            next_heartbeat = now + heartbeat_interval;
            if !delivery.sink.degraded() {
                if let Err(e) = delivery.sink.heartbeat(&delivery.run_id) {
                    (delivery.on_error)(e);
                }
            }
        }
        if let Some(interval) = abort_interval {
            if now >= next_poll {
                next_poll = now + interval;
                // A failed poll is not worth a message: the heartbeat reports outages.
                if !aborted
                    && !delivery.sink.degraded()
                    && delivery
                        .sink
                        .abort_requested(&delivery.run_id)
                        .unwrap_or(false)
                {
                    aborted = true;
                    on_abort();
                }
            }
        }
        if stop && !had_batch && outbox.state.lock().batches.is_empty() {
            break;
        }
    }
}

impl Worker {
    fn run(mut self) {
        let on_abort = std::mem::replace(&mut self.on_abort, Box::new(|| {}));
        let s = &*self.shared;
        let delivery = || Delivery {
            shared: self.shared.clone(),
            sink: self.sink.clone(),
            run_id: self.run_id.clone(),
            on_error: self.on_error.clone(),
        };
        let local = delivery();
        // A remote sink gets its own network thread; a local one is written from here.
        let outbox = Arc::new(Outbox {
            state: Mutex::new(OutboxState::default()),
            ready: Condvar::new(),
            room: Condvar::new(),
        });
        let mut net = self.sink.retry_policy().map(|policy| {
            let (d, o) = (delivery(), outbox.clone());
            let (hb, ab) = (
                self.settings.heartbeat_interval,
                self.settings.abort_interval,
            );
            std::thread::Builder::new()
                .name("simvue-network".into())
                .spawn(move || network_thread(d, o, policy, hb, ab, on_abort))
        });
        if let Some(Err(e)) = &net {
            (self.on_error)(Error::new(
                ErrorKind::Io,
                format!("cannot start the network thread: {e}"),
            ));
        }
        let remote = matches!(net, Some(Ok(_)));
        let blocking = s.blocking;
        let hand_over = |b: Batch| {
            if !remote {
                return local.deliver_once(b);
            }
            let unreachable = || Error::new(ErrorKind::Network, "the server is unreachable");
            if self.sink.degraded() {
                return local.spill(b, &unreachable());
            }
            let overflow = {
                let mut st = outbox.state.lock();
                st.batches.push_back(b);
                outbox.ready.notify_one();
                if blocking && st.batches.len() > MAX_PENDING {
                    // The user asked for nothing to be dropped: let the queue fill up (and the
                    // solver wait) while the server is merely slow.
                    let deadline = Instant::now() + MAX_STALL;
                    while st.batches.len() > MAX_PENDING && Instant::now() < deadline {
                        outbox.room.wait_until(&mut st, deadline);
                    }
                    if st.batches.len() > MAX_PENDING {
                        self.sink.mark_degraded();
                    }
                }
                if st.batches.len() > MAX_PENDING {
                    // The oldest data batch goes to the cache; run updates stay, in order.
                    let at = st
                        .batches
                        .iter()
                        .position(|b| !matches!(b, Batch::Update(..)));
                    at.and_then(|i| st.batches.remove(i))
                } else {
                    None
                }
            };
            if let Some(old) = overflow {
                local.spill(
                    old,
                    &Error::new(ErrorKind::Network, "the server is not keeping up"),
                );
            }
        };
        let mut monitor = self
            .settings
            .resources_interval
            .map(|_| Monitor::new(s.pid.load(Ordering::Relaxed)));
        let mut resource_step = 0u64;
        let now = Instant::now();
        let far = now + Duration::from_secs(86_400 * 365);
        // The run sent the first heartbeat when it started; a remote sink's network thread
        // sends the next ones.
        let mut next_heartbeat = if remote {
            far
        } else {
            now + self.settings.heartbeat_interval
        };
        // Like the Python client, the first sample comes about a second after the start.
        let mut next_sample = self
            .settings
            .resources_interval
            .map_or(far, |i| now + i.min(Duration::from_secs(1)));
        let mut last_flush = now;
        let mut spare = MetricBlock::default();
        let mut names: Vec<Arc<str>> = Vec::new();
        let mut updates: Vec<(RunRecord, Json)> = Vec::new();
        loop {
            let (events, done) = {
                let mut q = s.q.lock();
                loop {
                    let now = Instant::now();
                    let queued = !q.metrics.sets.is_empty() || !q.events.is_empty();
                    let flush_due = last_flush + self.settings.flush_interval;
                    if q.stop
                        || !q.updates.is_empty()
                        || q.metrics.sets.len() >= s.threshold
                        || q.events.len() >= s.threshold
                        || (queued && now >= flush_due)
                        || now >= next_heartbeat
                        || now >= next_sample
                    {
                        break;
                    }
                    let mut deadline = next_heartbeat.min(next_sample);
                    if queued {
                        deadline = deadline.min(flush_due);
                    }
                    s.work.wait_until(&mut q, deadline);
                }
                // Take every queued metric set at once, leaving an empty block with capacity.
                spare.clear();
                std::mem::swap(&mut spare, &mut q.metrics);
                if names.len() < q.names.table.len() {
                    names.extend_from_slice(&q.names.table[names.len()..]);
                }
                let e: Vec<EventSet> = {
                    let n = q.events.len().min(MAX_BATCH);
                    q.events.drain(..n).collect()
                };
                updates.extend(q.updates.drain(..));
                (e, q.stop && q.events.is_empty())
            };
            let mut batches = spare.to_batches(&names);
            if !batches.is_empty() || !events.is_empty() {
                s.space.notify_all();
                last_flush = Instant::now();
            }

            let now = Instant::now();
            if let (Some(m), Some(interval)) = (monitor.as_mut(), self.settings.resources_interval)
            {
                if now >= next_sample {
                    next_sample = now + interval;
                    m.set_pid(s.pid.load(Ordering::Relaxed));
                    if let Some((cpu, mem)) = m.sample() {
                        let timestamp = Timestamp::now();
                        if batches.is_empty() {
                            batches.push(Vec::new());
                        }
                        let last = batches.len() - 1;
                        batches[last].push(MetricSet {
                            time: (timestamp.0 - self.start.0) as f64 / 1e6,
                            timestamp,
                            step: resource_step,
                            values: vec![
                                (Arc::from(monitor::CPU_PERCENT), cpu),
                                (Arc::from(monitor::MEMORY_MIB), mem),
                            ],
                        });
                        resource_step += 1;
                    }
                }
            }
            for batch in batches {
                hand_over(Batch::Metrics(batch));
            }
            if !events.is_empty() {
                hand_over(Batch::Events(events));
            }
            for (full, patch) in updates.drain(..) {
                hand_over(Batch::Update(Box::new(full), patch));
            }
            if done {
                break;
            }
            if now >= next_heartbeat {
                next_heartbeat = now + self.settings.heartbeat_interval;
                if let Err(e) = self.sink.heartbeat(&self.run_id) {
                    (self.on_error)(e);
                }
            }
        }
        // The network thread sends what is left (with retries) before it stops.
        outbox.state.lock().stop = true;
        outbox.ready.notify_all();
        if let Some(Ok(t)) = net.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Json;
    use crate::model::{Alert, Folder, RunRecord};
    use std::sync::Barrier;

    /// A sink that records batches and can be held shut to make the queue fill up.
    #[derive(Default)]
    struct Recorder {
        metrics: Mutex<Vec<MetricSet>>,
        events: Mutex<Vec<EventSet>>,
        heartbeats: AtomicU64,
        gate: Mutex<Option<Arc<Barrier>>>,
        first_batch: AtomicU64,
    }

    impl Sink for Recorder {
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
            let gate = self.gate.lock().take();
            if let Some(g) = gate {
                self.first_batch
                    .store(batch.len() as u64, Ordering::Relaxed);
                g.wait(); // the test knows the dispatcher is now busy
                g.wait(); // ... until the test lets it go
            }
            self.metrics.lock().extend_from_slice(batch);
            Ok(())
        }
        fn send_events(&self, _: &str, batch: &[EventSet]) -> Result<()> {
            self.events.lock().extend_from_slice(batch);
            Ok(())
        }
        fn save_artifact(
            &self,
            _: &str,
            _: &crate::artifact::Artifact,
            _: crate::artifact::Category,
        ) -> Result<()> {
            unreachable!()
        }
        fn heartbeat(&self, _: &str) -> Result<()> {
            self.heartbeats.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        fn close_run(&self, _: &str, _: bool) -> Result<()> {
            Ok(())
        }
    }

    fn settings(capacity: usize, blocking: bool) -> DispatchSettings {
        DispatchSettings {
            capacity,
            blocking,
            flush_interval: Duration::from_millis(50),
            heartbeat_interval: Duration::from_secs(3600),
            resources_interval: None,
            pid: std::process::id(),
            abort_interval: None,
        }
    }

    fn start(sink: Arc<Recorder>, capacity: usize, blocking: bool) -> Dispatcher {
        Dispatcher::start(
            "run".into(),
            sink,
            settings(capacity, blocking),
            Timestamp::now(),
            Box::new(|e| panic!("sink error {e}")),
            Box::new(|| {}),
        )
        .unwrap()
    }

    #[test]
    fn blocking_queue_loses_nothing_under_pressure() {
        let sink = Arc::new(Recorder::default());
        let d = start(sink.clone(), 16, true);
        let n = 20_000u64;
        for i in 0..n {
            d.log_metrics(
                &["x", "y"],
                &[i as f64, -(i as f64)],
                MetricOptions::default(),
            )
            .unwrap();
            if i % 7 == 0 {
                d.log_event(&format!("e{i}"), LogLevel::Info, None).unwrap();
            }
        }
        d.finish();
        let got = sink.metrics.lock();
        assert_eq!(got.len() as u64, n);
        for (i, m) in got.iter().enumerate() {
            assert_eq!(m.step, i as u64);
            assert_eq!(m.values[0].1, i as f64);
            assert_eq!(&*m.values[1].0, "y");
        }
        assert_eq!(sink.events.lock().len() as u64, n.div_ceil(7));
        let st = d.stats();
        assert_eq!((st.metrics_dropped, st.events_dropped), (0, 0));
        assert_eq!(st.metrics_sent, n);
    }

    #[test]
    fn non_blocking_queue_counts_exactly_what_it_drops() {
        let sink = Arc::new(Recorder::default());
        let gate = Arc::new(Barrier::new(2));
        *sink.gate.lock() = Some(gate.clone());
        let capacity = 10;
        let d = start(sink.clone(), capacity, false);
        // Fill to the threshold so the dispatcher takes a first batch and then hangs in the sink.
        for _ in 0..capacity / 2 {
            d.log_metrics(&["x"], &[1.0], MetricOptions::default())
                .unwrap();
        }
        gate.wait();
        // The dispatcher is stuck in the sink holding its first batch of `k` items; the queue
        // holds the other 5 - k, so exactly `capacity - (5 - k)` of the next 100 fit.
        let k = sink.first_batch.load(Ordering::Relaxed);
        assert!((1..=5).contains(&k));
        for _ in 0..100 {
            d.log_metrics(&["x"], &[2.0], MetricOptions::default())
                .unwrap();
        }
        let fitted = capacity as u64 - (5 - k);
        assert_eq!(d.stats().metrics_dropped, 100 - fitted);
        gate.wait();
        d.finish();
        let st = d.stats();
        let written = sink.metrics.lock().len() as u64;
        assert_eq!(written, 5 + fitted);
        assert_eq!(written + st.metrics_dropped, 105);
        assert_eq!(st.metrics_queued, written);
        // The automatic step counts dropped calls too, so gaps show where data was lost.
        assert_eq!(sink.metrics.lock().last().unwrap().step, 5 + fitted - 1);
    }

    #[test]
    fn options_override_step_time_and_timestamp_but_the_counter_still_advances() {
        let sink = Arc::new(Recorder::default());
        let d = start(sink.clone(), 100, true);
        let ts = Timestamp::parse("2024-05-01 12:00:00.25").unwrap();
        d.log_metrics(
            &["a"],
            &[1.0],
            MetricOptions {
                step: Some(10),
                time: Some(2.5),
                timestamp: Some(ts),
            },
        )
        .unwrap();
        d.log_metrics(&["a"], &[2.0], MetricOptions::default())
            .unwrap();
        d.finish();
        let got = sink.metrics.lock();
        assert_eq!((got[0].step, got[0].time, got[0].timestamp), (10, 2.5, ts));
        assert_eq!(got[1].step, 1);
        assert!(got[1].time >= 0.0 && got[1].time < 60.0);
    }

    #[test]
    fn bad_metric_input_is_refused_and_nothing_is_queued() {
        let sink = Arc::new(Recorder::default());
        let d = start(sink.clone(), 100, true);
        let opts = MetricOptions::default();
        assert_eq!(
            d.log_metrics(&["bad,name"], &[1.0], opts).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            d.log_metrics(&[""], &[1.0], opts).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            d.log_metrics(&["a", "a"], &[1.0, 2.0], opts)
                .unwrap_err()
                .kind,
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            d.log_metrics(&[], &[], opts).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        let nan_time = MetricOptions {
            time: Some(f64::NAN),
            ..opts
        };
        assert_eq!(
            d.log_metrics(&["a"], &[1.0], nan_time).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        // Values may be non-finite, as in the Python client.
        d.log_metrics(&["a", "b"], &[f64::NAN, f64::INFINITY], opts)
            .unwrap();
        d.finish();
        assert_eq!(sink.metrics.lock().len(), 1);
        assert_eq!(d.stats().metrics_queued, 1);
    }

    #[test]
    fn heartbeats_and_resource_samples_come_from_the_dispatcher() {
        let sink = Arc::new(Recorder::default());
        let mut st = settings(100, true);
        st.heartbeat_interval = Duration::from_millis(100);
        st.resources_interval = Some(Duration::from_millis(200));
        let d = Dispatcher::start(
            "run".into(),
            sink.clone(),
            st,
            Timestamp::now(),
            Box::new(|e| panic!("{e}")),
            Box::new(|| {}),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(750));
        d.finish();
        assert!(sink.heartbeats.load(Ordering::Relaxed) >= 3);
        let m = sink.metrics.lock();
        assert!(m.len() >= 2, "{} samples", m.len());
        for (i, s) in m.iter().enumerate() {
            assert_eq!(s.step, i as u64);
            assert_eq!(&*s.values[0].0, monitor::CPU_PERCENT);
            assert_eq!(&*s.values[1].0, monitor::MEMORY_MIB);
            assert!(s.values[1].1 > 0.5);
        }
    }
}
