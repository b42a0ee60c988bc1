//! The caller's side of the dispatcher: validating, stamping and enqueueing one `log_metrics`
//! or `log_event` call, under one mutex, with no allocation in the steady state.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use parking_lot::MutexGuard;

use super::{Dispatcher, MetricOptions, Shared, Tally, Updates};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{EventSet, LogLevel, MetricBatch, MetricColumns, MetricName, NameTable};
use crate::time::Timestamp;
use crate::validate;

/// Metric names already validated, so that a solver logging the same names every step pays a
/// byte comparison per name instead of validation and hashing. Names are numbered; the queue
/// stores numbers, so logging touches no reference counts shared with the dispatcher thread.
#[derive(Default)]
pub(super) struct NameCache {
    /// Every name seen, by number (append-only).
    pub(super) table: NameTable,
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
                .all(|(a, &b)| a.as_bytes() == self.table[b as usize].as_str().as_bytes())
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
                    self.intern(name)
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

    /// The number of `name`, added to the table if new (not validated: the caller's rule).
    pub(super) fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.known.get(name) {
            return id;
        }
        let id = self.table.len() as u32;
        self.table.push(Arc::new(MetricName::new(name)));
        self.known.insert(name.into(), id);
        id
    }
}

/// Metric sets taken from the queue, on their way to the sink. The memory of its columns goes
/// back to the queue's spares when the batch's fate is decided (sent, spilled or lost), so
/// that in the steady state neither logging nor batching allocates.
pub(super) struct TakenMetrics {
    batch: MetricBatch,
    shared: Arc<Shared>,
}

impl TakenMetrics {
    pub(super) fn new(batch: MetricBatch, shared: Arc<Shared>) -> TakenMetrics {
        TakenMetrics { batch, shared }
    }
}

impl std::ops::Deref for TakenMetrics {
    type Target = MetricBatch;
    fn deref(&self) -> &MetricBatch {
        &self.batch
    }
}

impl Drop for TakenMetrics {
    fn drop(&mut self) {
        let mut cols = std::mem::take(&mut self.batch.sets);
        cols.clear();
        let mut spares = self.shared.spares.lock();
        if spares.len() < MAX_SPARES {
            spares.push(cols);
        }
    }
}

/// Emptied columns kept for reuse at most.
const MAX_SPARES: usize = 2;

/// Everything queued for the dispatcher, behind the one mutex of [`super::Shared`].
#[derive(Default)]
pub(super) struct Queues {
    pub(super) metrics: MetricColumns,
    pub(super) events: VecDeque<EventSet>,
    /// Run updates for a remote sink, sent after what was logged before them.
    pub(super) updates: Updates,
    pub(super) names: NameCache,
    step: u64,
    pub(super) stop: bool,
}

impl Dispatcher {
    /// Queues one metric set. `names` and `values` have the same length.
    pub fn log_metrics(&self, names: &[&str], values: &[f64], opts: MetricOptions) -> Result<()> {
        debug_assert_eq!(names.len(), values.len());
        if names.is_empty() {
            return Err(Error::invalid("log_metrics needs at least one metric"));
        }
        if names.len() > u32::MAX as usize {
            return Err(Error::invalid(
                "log_metrics takes at most 2^32 - 1 metrics a call",
            ));
        }
        if let Some(t) = opts.time {
            validate::finite("metric time", t)?;
        }
        if opts.step.is_some_and(|s| s > i64::MAX as u64) {
            // The wire model (and the server's database) holds steps as 64-bit signed integers.
            return Err(Error::invalid("step must be at most 2^63 - 1"));
        }
        // One clock read serves both the timestamp and the time since start.
        let now = Timestamp::now();
        let s = &*self.shared;
        let mut q = s.q.lock();
        q.names.resolve(names)?;
        if q.metrics.len() >= s.capacity {
            if !self.wait_for_room(&mut q, |q| q.metrics.len())? {
                Tally::add(&s.metrics.dropped, 1);
                q.step += 1;
                return Ok(());
            }
            // The lock was released while waiting: another thread may have logged other names.
            q.names.resolve(names)?;
        }
        let step = opts.step.unwrap_or(q.step);
        q.step += 1;
        let q = &mut *q;
        q.metrics.push(
            opts.time
                .unwrap_or_else(|| (now.0 - self.start.0) as f64 / 1e6),
            opts.timestamp.unwrap_or(now),
            step,
            &q.names.last,
            values,
        );
        Tally::add(&s.metrics.queued, 1);
        self.wake(q.metrics.len());
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
            Tally::add(&s.events.dropped, 1);
            return Ok(());
        }
        q.events.push_back(item);
        Tally::add(&s.events.queued, 1);
        self.wake(q.events.len());
        Ok(())
    }

    /// Wakes the dispatcher when a queue stops being empty (it then sleeps until the flush
    /// deadline) and when it reaches the threshold (it writes at once).
    #[inline]
    fn wake(&self, len: usize) {
        if len == 1 || len == self.shared.threshold {
            self.shared.work.notify_one();
        }
    }

    /// Called with a full queue: waits for room when blocking and returns true once there is
    /// some; returns false when the item must be dropped.
    #[cold]
    fn wait_for_room(
        &self,
        q: &mut MutexGuard<'_, Queues>,
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
}
