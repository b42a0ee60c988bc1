//! The dispatcher thread: waits for work, takes everything queued at once, adds resource
//! samples, and hands the batches on (to the writer thread for a local sink, the network
//! thread for a remote one); heartbeats a local sink.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::delivery::{Batch, Delivery};
use super::lane::Copy;
use super::network::Network;
use super::queue::{event_bytes, spare_block, take_block, warm_spares, warm_start, TakenMetrics};
use super::writer::Writer;
use super::{DispatchSettings, Shared, Updates, MAX_BATCH, MAX_BATCH_BYTES};
use crate::error::{Error, ErrorKind};
use crate::model::{EventSet, MetricBatch, NameTable, TensorSet};
use crate::monitor::Monitor;
use crate::sink::Sink;
use crate::time::Timestamp;

/// The most values in one batch of tensor metrics (`TOTAL_GRID_METRIC_SIZE` of the Python
/// client, its dispatcher's `object_size` threshold).
const MAX_TENSOR_VALUES: usize = 1_000_000;

/// Tensor metrics in batches of at most [`MAX_BATCH`] arrays and [`MAX_TENSOR_VALUES`] values
/// (a single larger array cannot happen: arrays hold at most 50000 values).
fn tensor_batches(items: Vec<TensorSet>) -> Vec<Vec<TensorSet>> {
    let mut out: Vec<Vec<TensorSet>> = Vec::new();
    let mut values = 0;
    for t in items {
        match out.last_mut() {
            Some(b) if b.len() < MAX_BATCH && values + t.values.len() <= MAX_TENSOR_VALUES => {
                values += t.values.len();
                b.push(t);
            }
            _ => {
                values = t.values.len();
                out.push(vec![t]);
            }
        }
    }
    out
}

pub(super) struct Worker {
    pub(super) shared: Arc<Shared>,
    pub(super) sink: Arc<dyn Sink>,
    pub(super) run_id: String,
    pub(super) settings: DispatchSettings,
    pub(super) start: Timestamp,
    pub(super) on_error: Arc<dyn Fn(Error) + Send + Sync>,
}

/// What one wake-up took from the queues.
struct Taken {
    metrics: Vec<MetricBatch>,
    /// The most sets, and the most values, of the metric blocks taken.
    fullest: (usize, usize),
    events: Vec<EventSet>,
    tensors: Vec<Vec<TensorSet>>,
    /// Stop was asked for and nothing is left behind.
    done: bool,
    /// Every lane was copied out (the flush of the lanes).
    lanes_flushed: bool,
}

/// When the dispatcher must wake up next, besides a queue reaching its threshold.
struct Deadlines {
    heartbeat: Instant,
    sample: Instant,
    last_flush: Instant,
    /// When every lane was last copied out: a lane below the threshold is copied out at the
    /// flush interval even while other lanes' blocks keep the dispatcher taking.
    lanes_flushed: Instant,
}

/// Resource samples on the dispatcher thread, logged as metric sets of their own step count.
struct Sampler {
    monitor: Monitor,
    interval: Duration,
    step: u64,
    /// The numbers of the sample's names in the queue's name table, and its values (kept
    /// between samples; how many there are depends on the GPUs and energy meters found).
    ids: Vec<u32>,
    values: Vec<f64>,
}

impl Sampler {
    /// Takes a sample and queues it as a metric set, with its own step, after what the caller
    /// queued so far. Sampling (which reads /proc, NVML, RAPL) happens outside the queue's lock.
    fn sample_into(&mut self, shared: &Shared, start: Timestamp) {
        self.monitor.set_pid(shared.pid.load(Ordering::Relaxed));
        let Some(sample) = self.monitor.sample() else {
            return;
        };
        let timestamp = Timestamp::now();
        let mut q = shared.q.lock();
        let q = &mut *q;
        self.ids.clear();
        self.values.clear();
        for (name, v) in &sample {
            self.ids.push(q.names.intern(name));
            self.values.push(*v);
        }
        q.metrics.push(
            (timestamp.0 - start.0) as f64 / 1e6,
            timestamp,
            self.step,
            &self.ids,
            &self.values,
        );
        self.step += 1;
    }
}

/// Where the dispatcher hands batches.
enum Route {
    /// Written by the writer thread; failures are final.
    Writer(Writer),
    /// Written from the dispatcher thread (no writer thread asked for, or it could not start).
    Local(Delivery),
    /// Sent by the network thread.
    Remote(Network),
}

impl Worker {
    /// The thread's body; `on_abort` goes to the network thread (only a remote sink polls).
    pub(super) fn run(self, on_abort: Box<dyn Fn() + Send>) {
        let delivery = Delivery::new(
            self.shared.clone(),
            self.sink.clone(),
            self.run_id.clone(),
            self.on_error.clone(),
        );
        let route = self.route(delivery.clone(), on_abort);
        let remote = matches!(route, Route::Remote(_));
        let s = &*self.shared;
        let now = Instant::now();
        let far = now + Duration::from_secs(86_400 * 365);
        let mut sampler = self.settings.resources_interval.map(|interval| Sampler {
            monitor: Monitor::new(s.pid.load(Ordering::Relaxed), &self.settings.monitor),
            interval,
            step: 0,
            ids: Vec::new(),
            values: Vec::new(),
        });
        let mut at = Deadlines {
            // The run sent the first heartbeat when it started; a remote sink's network
            // thread sends the next ones.
            heartbeat: if remote {
                far
            } else {
                now + self.settings.heartbeat_interval
            },
            // Like the Python client, the first sample comes about a second after the start.
            sample: sampler
                .as_ref()
                .map_or(far, |sm| now + sm.interval.min(Duration::from_secs(1))),
            last_flush: now,
            lanes_flushed: now,
        };
        let mut names: Arc<NameTable> = Arc::default();
        let mut updates = Updates::new();
        warm_start(s);
        loop {
            self.wait(&at, &|| matches!(&route, Route::Writer(w) if w.behind()));
            let now = Instant::now();
            if let Some(sm) = sampler.as_mut() {
                if now >= at.sample {
                    at.sample = now + sm.interval;
                    sm.sample_into(s, self.start);
                }
            }
            let lanes_due = now >= at.lanes_flushed + self.settings.flush_interval;
            let taken = self.take(&mut names, &mut updates, lanes_due);
            if taken.lanes_flushed {
                at.lanes_flushed = now;
            }
            if !taken.metrics.is_empty() || !taken.events.is_empty() || !taken.tensors.is_empty() {
                s.space.notify_all();
                at.last_flush = Instant::now();
            }
            let hand_over = |b: Batch| match &route {
                Route::Writer(w) => w.hand_over(b),
                Route::Local(d) => d.deliver_once(b),
                Route::Remote(n) => n.hand_over(b),
            };
            for batch in taken.metrics {
                hand_over(Batch::Metrics(TakenMetrics::new(
                    batch,
                    self.shared.clone(),
                )));
            }
            for batch in taken.tensors {
                hand_over(Batch::Tensors(batch));
            }
            if !taken.events.is_empty() {
                hand_over(Batch::Events(taken.events));
            }
            for (full, patch) in updates.drain(..) {
                hand_over(Batch::Update(Box::new(full), patch));
            }
            if taken.done {
                let q = s.q.lock();
                super::lane::release_all(s, &q.lanes);
                break;
            }
            // With the batches on their way, the next spares are made ready for blocks a
            // quarter fuller than the fullest taken now (the next take may come later).
            let (sets, values) = taken.fullest;
            if sets > 0 {
                warm_spares(s, sets + sets / 4, values + values / 4);
            }
            if now >= at.heartbeat {
                at.heartbeat = now + self.settings.heartbeat_interval;
                if let Err(e) = self.sink.heartbeat(&self.run_id) {
                    (self.on_error)(e);
                }
            }
        }
        match route {
            Route::Remote(net) => net.finish(),
            Route::Writer(w) => w.finish(),
            Route::Local(_) => {}
        }
        // What could not be written anywhere gets a last chance, then is counted lost.
        delivery.finish();
    }

    /// A remote sink gets its own network thread, a local one a writer thread; either is
    /// written from here if its thread could not start.
    fn route(&self, delivery: Delivery, on_abort: Box<dyn Fn() + Send>) -> Route {
        if self.sink.remote().is_none() {
            if self.settings.writer_depth == 0 {
                return Route::Local(delivery);
            }
            return match Writer::start(delivery.clone(), self.settings.writer_depth) {
                Ok(w) => Route::Writer(w),
                Err(e) => {
                    (self.on_error)(Error::new(
                        ErrorKind::Io,
                        format!("cannot start the writer thread: {e}"),
                    ));
                    Route::Local(delivery)
                }
            };
        }
        match Network::start(
            delivery.clone(),
            self.shared.blocking,
            self.settings.heartbeat_interval,
            self.settings.abort_interval,
            on_abort,
        ) {
            Ok(n) => Route::Remote(n),
            Err(e) => {
                (self.on_error)(Error::new(
                    ErrorKind::Io,
                    format!("cannot start the network thread: {e}"),
                ));
                Route::Local(delivery)
            }
        }
    }

    /// Waits until there is something to do: a queue at its threshold, the flush interval
    /// passed with something queued (unless `behind` says the writer is behind: then the
    /// flush waits, looked at again each flush interval), a run update, stop, a heartbeat or a
    /// sample due.
    fn wait(&self, at: &Deadlines, behind: &dyn Fn() -> bool) {
        let s = &*self.shared;
        let mut q = s.q.lock();
        let mut flush_due = at.last_flush + self.settings.flush_interval;
        loop {
            let now = Instant::now();
            // What the lanes hold (published, not copied out yet): sets, and whether one of
            // them is past the threshold.
            let (lane_sets, lane_past) = q
                .lanes
                .iter()
                .map(|l| l.pending())
                .fold((0, false), |(n, past), (sets, bytes)| {
                    (n + sets, past || s.past_threshold(sets, bytes))
                });
            let queued = !q.metrics.is_empty()
                || !q.events.is_empty()
                || !q.tensors.is_empty()
                || lane_sets > 0;
            if queued && now >= flush_due && behind() {
                flush_due = now + self.settings.flush_interval;
            }
            if q.stop
                || !q.updates.is_empty()
                || !q.ready.is_empty()
                || s.past_threshold(q.metrics.len(), q.metrics.bytes())
                || lane_past
                || s.past_threshold(q.events.len(), q.events_bytes)
                || s.past_threshold(q.tensors.len(), q.tensors_bytes)
                || (queued && now >= flush_due)
                || now >= at.heartbeat
                || now >= at.sample
            {
                return;
            }
            let mut deadline = at.heartbeat.min(at.sample);
            if queued {
                deadline = deadline.min(flush_due);
            }
            if !q.lanes.is_empty() {
                // A lane's thread wakes the dispatcher when it stops being empty, but may
                // find it not empty while a copy empties it: looked at each flush interval.
                deadline = deadline.min(now + self.settings.flush_interval);
            }
            s.work.wait_until(&mut q, deadline);
        }
    }

    /// Takes every queued metric set (the queue's block moved, not copied, and cut into
    /// batches of at most [`MAX_BATCH`] sets and [`MAX_BATCH_BYTES`] that share it; the
    /// queue gets a spare block, and the blocks callers handed over come first), up to
    /// [`MAX_BATCH`] events and every run update. `names` is kept in step with the queue's
    /// name table.
    fn take(&self, names: &mut Arc<NameTable>, updates: &mut Updates, lanes_due: bool) -> Taken {
        let s = &*self.shared;
        let mut q = s.q.lock();
        // Blocks the logging threads handed over first (their bytes are held already), then
        // the queue's.
        let mut blocks = std::mem::take(&mut q.ready);
        s.ready.store(0, Ordering::Relaxed);
        if !q.metrics.is_empty() {
            blocks.push((take_block(s, &mut q), (0, 0)));
        }
        // Then what each lane published since the last take, copied below without the lock
        // (the lanes' threads go on filling their blocks meanwhile): when `lanes_due` (the
        // flush interval passed since every lane was last copied out, whatever other takes
        // came between), the run stops, or an update is to go after what was logged before
        // it; else only from a lane past the threshold (whose thread could not hand its block
        // over). A lane handed its block over as it reached the threshold, and what it logged
        // since is not cut into a batch (a file) of its own at each take.
        let flush = lanes_due || q.stop || !q.updates.is_empty();
        let copies: Vec<Copy> = q
            .lanes
            .iter()
            .filter(|l| {
                flush || {
                    let (sets, bytes) = l.pending();
                    s.past_threshold(sets, bytes)
                }
            })
            .filter_map(|l| l.start_copy())
            .collect();
        if names.len() < q.names.table.len() {
            let new = &q.names.table[names.len()..];
            Arc::make_mut(names).extend_from_slice(new);
        }
        let n = q.events.len().min(MAX_BATCH);
        let events: Vec<EventSet> = q.events.drain(..n).collect();
        q.events_bytes -= events.iter().map(event_bytes).sum::<usize>();
        let tensors: Vec<TensorSet> = q.tensors.drain(..).collect();
        q.tensors_bytes = 0;
        updates.extend(q.updates.drain(..));
        let done = q.stop && q.events.is_empty();
        drop(q);
        if !copies.is_empty() {
            // Into one block (fewer blocks in flight, each with memory resident).
            let mut cols = spare_block(s);
            #[cfg(test)]
            if let Some(gate) = s.copy_gate.lock().take() {
                gate.wait(); // the test knows a copy is going on
                gate.wait(); // ... until it lets it go
            }
            for copy in &copies {
                copy.run(&mut cols);
            }
            blocks.push((cols, (0, 0)));
            let mut q = s.q.lock();
            for copy in copies {
                copy.finish(&mut q.ready);
            }
        }
        let mut metrics = Vec::new();
        let fullest = blocks.iter().fold((0, 0), |(s, v), (b, first)| {
            (s.max(b.len() - first.0), v.max(b.values_len() - first.1))
        });
        for (cols, first) in blocks {
            let cuts = cols.cuts_from(first, MAX_BATCH, MAX_BATCH_BYTES);
            metrics.extend(MetricBatch::cut_from(names, cols, first, &cuts));
        }
        Taken {
            fullest,
            metrics,
            events,
            tensors: tensor_batches(tensors),
            done,
            lanes_flushed: flush,
        }
    }
}
