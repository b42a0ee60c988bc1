//! The dispatcher thread: waits for work, takes everything queued at once, adds resource
//! samples, and hands the batches on (written here for a local sink, through the network
//! thread for a remote one); heartbeats a local sink.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::delivery::{Batch, Delivery};
use super::network::Network;
use super::queue::MetricBlock;
use super::{DispatchSettings, Shared, Updates, MAX_BATCH};
use crate::error::{Error, ErrorKind};
use crate::model::{EventSet, MetricSet};
use crate::monitor::Monitor;
use crate::sink::Sink;
use crate::time::Timestamp;

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
    metrics: Vec<Vec<MetricSet>>,
    events: Vec<EventSet>,
    /// Stop was asked for and nothing is left behind.
    done: bool,
}

/// When the dispatcher must wake up next, besides a queue reaching its threshold.
struct Deadlines {
    heartbeat: Instant,
    sample: Instant,
    last_flush: Instant,
}

/// Resource samples on the dispatcher thread, logged as metric sets of their own step count.
struct Sampler {
    monitor: Monitor,
    interval: Duration,
    step: u64,
}

impl Sampler {
    /// Takes a sample and appends it to the last batch (or a new one).
    fn sample_into(
        &mut self,
        shared: &Shared,
        start: Timestamp,
        batches: &mut Vec<Vec<MetricSet>>,
    ) {
        self.monitor.set_pid(shared.pid.load(Ordering::Relaxed));
        let Some(values) = self.monitor.sample() else {
            return;
        };
        let timestamp = Timestamp::now();
        if batches.is_empty() {
            batches.push(Vec::new());
        }
        let last = batches.len() - 1;
        batches[last].push(MetricSet {
            time: (timestamp.0 - start.0) as f64 / 1e6,
            timestamp,
            step: self.step,
            values,
        });
        self.step += 1;
    }
}

/// Where the dispatcher hands batches.
enum Route {
    /// Written from the dispatcher thread; failures are final.
    Local(Delivery),
    /// Sent by the network thread.
    Remote(Network),
}

impl Worker {
    /// The thread's body; `on_abort` goes to the network thread (only a remote sink polls).
    pub(super) fn run(self, on_abort: Box<dyn Fn() + Send>) {
        let delivery = Delivery {
            shared: self.shared.clone(),
            sink: self.sink.clone(),
            run_id: self.run_id.clone(),
            on_error: self.on_error.clone(),
        };
        let route = self.route(delivery, on_abort);
        let remote = matches!(route, Route::Remote(_));
        let s = &*self.shared;
        let now = Instant::now();
        let far = now + Duration::from_secs(86_400 * 365);
        let mut sampler = self.settings.resources_interval.map(|interval| Sampler {
            monitor: Monitor::new(s.pid.load(Ordering::Relaxed), &self.settings.monitor),
            interval,
            step: 0,
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
        };
        let mut spare = MetricBlock::default();
        let mut names: Vec<Arc<str>> = Vec::new();
        let mut updates = Updates::new();
        loop {
            let mut taken = self.take(&mut spare, &mut names, &mut updates, &at);
            if !taken.metrics.is_empty() || !taken.events.is_empty() {
                s.space.notify_all();
                at.last_flush = Instant::now();
            }
            let now = Instant::now();
            if let Some(sm) = sampler.as_mut() {
                if now >= at.sample {
                    at.sample = now + sm.interval;
                    sm.sample_into(s, self.start, &mut taken.metrics);
                }
            }
            let hand_over = |b: Batch| match &route {
                Route::Local(d) => d.deliver_once(b),
                Route::Remote(n) => n.hand_over(b),
            };
            for batch in taken.metrics {
                hand_over(Batch::Metrics(batch));
            }
            if !taken.events.is_empty() {
                hand_over(Batch::Events(taken.events));
            }
            for (full, patch) in updates.drain(..) {
                hand_over(Batch::Update(Box::new(full), patch));
            }
            if taken.done {
                break;
            }
            if now >= at.heartbeat {
                at.heartbeat = now + self.settings.heartbeat_interval;
                if let Err(e) = self.sink.heartbeat(&self.run_id) {
                    (self.on_error)(e);
                }
            }
        }
        if let Route::Remote(net) = route {
            net.finish();
        }
    }

    /// A remote sink gets its own network thread; a local one is written from here (and so
    /// is a remote one whose network thread could not start).
    fn route(&self, delivery: Delivery, on_abort: Box<dyn Fn() + Send>) -> Route {
        if self.sink.remote().is_none() {
            return Route::Local(delivery);
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

    /// Waits until there is something to do, then takes every queued metric set (swapping
    /// the block with `spare`, which keeps its capacity), up to [`MAX_BATCH`] events and every
    /// run update. `names` is kept in step with the queue's name table.
    fn take(
        &self,
        spare: &mut MetricBlock,
        names: &mut Vec<Arc<str>>,
        updates: &mut Updates,
        at: &Deadlines,
    ) -> Taken {
        let s = &*self.shared;
        let mut q = s.q.lock();
        loop {
            let now = Instant::now();
            let queued = q.metrics.len() > 0 || !q.events.is_empty();
            let flush_due = at.last_flush + self.settings.flush_interval;
            if q.stop
                || !q.updates.is_empty()
                || q.metrics.len() >= s.threshold
                || q.events.len() >= s.threshold
                || (queued && now >= flush_due)
                || now >= at.heartbeat
                || now >= at.sample
            {
                break;
            }
            let mut deadline = at.heartbeat.min(at.sample);
            if queued {
                deadline = deadline.min(flush_due);
            }
            s.work.wait_until(&mut q, deadline);
        }
        spare.clear();
        std::mem::swap(spare, &mut q.metrics);
        if names.len() < q.names.table.len() {
            names.extend_from_slice(&q.names.table[names.len()..]);
        }
        let n = q.events.len().min(MAX_BATCH);
        let events = q.events.drain(..n).collect();
        updates.extend(q.updates.drain(..));
        let done = q.stop && q.events.is_empty();
        drop(q);
        Taken {
            metrics: spare.to_batches(names),
            events,
            done,
        }
    }
}
