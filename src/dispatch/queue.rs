//! The caller's side of the dispatcher: validating, stamping and enqueueing one `log_metrics`
//! or `log_event` call, under one mutex, with no allocation in the steady state.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use parking_lot::MutexGuard;

use super::{Dispatcher, MetricOptions, Tally, Updates, MAX_BATCH};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{EventSet, LogLevel, MetricSet, TensorSet};
use crate::time::Timestamp;
use crate::validate;

/// Metric names already validated, so that a solver logging the same names every step pays a
/// byte comparison per name instead of validation and hashing. Names are numbered; the queue
/// stores numbers, so logging touches no reference counts shared with the dispatcher thread.
#[derive(Default)]
pub(super) struct NameCache {
    /// Every name seen, by number (append-only).
    pub(super) table: Vec<Arc<str>>,
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
pub(super) struct MetricBlock {
    sets: Vec<SetHeader>,
    values: Vec<(u32, f64)>,
}

impl MetricBlock {
    /// Empties the block, keeping its capacity.
    pub(super) fn clear(&mut self) {
        self.sets.clear();
        self.values.clear();
    }

    /// Number of metric sets held.
    pub(super) fn len(&self) -> usize {
        self.sets.len()
    }

    /// The sets as wire objects, in batches of at most [`MAX_BATCH`]; `names` is the name
    /// table of the [`NameCache`] the block was filled with.
    pub(super) fn to_batches(&self, names: &[Arc<str>]) -> Vec<Vec<MetricSet>> {
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

/// Everything queued for the dispatcher, behind the one mutex of [`super::Shared`].
#[derive(Default)]
pub(super) struct Queues {
    pub(super) metrics: MetricBlock,
    pub(super) events: VecDeque<EventSet>,
    /// Arrays of tensor metrics (counted as metric sets).
    pub(super) tensors: VecDeque<TensorSet>,
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
        if q.metrics.sets.len() >= s.capacity {
            if !self.wait_for_room(&mut q, |q| q.metrics.sets.len())? {
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
        Tally::add(&s.metrics.queued, 1);
        self.wake(block.sets.len());
        Ok(())
    }

    /// Queues one array of a tensor metric on grid `grid` (`shape` axis 0 first, `values`
    /// axis 0 fastest). It takes a step as a `log_metrics` call does.
    pub fn log_tensor(
        &self,
        metric: Arc<str>,
        grid: Arc<str>,
        shape: Vec<usize>,
        values: Vec<f64>,
        opts: MetricOptions,
    ) -> Result<()> {
        if let Some(t) = opts.time {
            validate::finite("metric time", t)?;
        }
        if opts.step.is_some_and(|s| s > i64::MAX as u64) {
            return Err(Error::invalid("step must be at most 2^63 - 1"));
        }
        let now = Timestamp::now();
        let s = &*self.shared;
        let mut q = s.q.lock();
        if q.tensors.len() >= s.capacity && !self.wait_for_room(&mut q, |q| q.tensors.len())? {
            Tally::add(&s.metrics.dropped, 1);
            q.step += 1;
            return Ok(());
        }
        let step = opts.step.unwrap_or(q.step);
        q.step += 1;
        q.tensors.push_back(TensorSet {
            time: opts
                .time
                .unwrap_or_else(|| (now.0 - self.start.0) as f64 / 1e6),
            timestamp: opts.timestamp.unwrap_or(now),
            step,
            metric,
            grid,
            shape,
            values,
        });
        Tally::add(&s.metrics.queued, 1);
        self.wake(q.tensors.len());
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
