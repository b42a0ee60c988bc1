//! The caller's side of the dispatcher: recognising names, stamping and enqueueing one
//! `log_metrics` or `log_event` call, with no allocation in the steady state. A thread's
//! metric sets go to its lane ([`super::lane`]), without a lock in the common case; the full
//! path, events, arrays and the threads past [`MAX_LANES`] take the queue's mutex.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use parking_lot::MutexGuard;

use std::sync::atomic::{AtomicUsize, Ordering};

use super::lane::{self, bump, pack, unpack, Lane, LaneOwn, MAX_LANES, RESERVE_AHEAD};
use super::{Dispatcher, MetricOptions, Shared, Updates, MAX_HELD_BYTES};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{
    EventSet, LogLevel, MetricBatch, MetricColumns, MetricName, NameTable, TensorSet,
};
use crate::time::Timestamp;
use crate::validate;

/// Metric names as a caller hands them over. The queue recognises names it has seen lately
/// in place, by comparing bytes with its own copy, so that a solver logging the same names
/// every step pays neither validation, nor UTF-8 checks, nor hashing; a caller whose names are
/// not plain text (C strings) converts them only when they are new.
pub trait MetricNames {
    /// How many names there are.
    fn count(&self) -> usize;
    /// Whether the names are exactly `known`, in order (validated metric names): every byte
    /// is compared, so a caller that rewrote its strings in place is never mistaken for the
    /// set it logged before.
    fn are(&self, known: &KnownNames) -> bool;
    /// The names as text, if the caller holds them so; `None` when they must be converted
    /// first (then [`Dispatcher::log_metrics_from`] asks for them by returning `false`).
    fn texts(&self) -> Option<&[&str]>;
    /// Where the caller keeps its names (the address of its array): a hint that tells call
    /// sites apart at once; the names are compared all the same.
    fn site(&self) -> usize;
}

impl MetricNames for [&str] {
    fn count(&self) -> usize {
        self.len()
    }
    fn site(&self) -> usize {
        self.as_ptr() as usize
    }
    #[inline]
    fn are(&self, known: &KnownNames) -> bool {
        self.len() == known.len() && self.iter().enumerate().all(|(i, n)| *n == known.text(i))
    }
    fn texts(&self) -> Option<&[&str]> {
        Some(self)
    }
}

/// The names of one set, in one buffer, each NUL-terminated: what callers' names are compared
/// with, as text or in place as C strings, touching no reference count and following no
/// pointer per name.
#[derive(Clone)]
pub struct KnownNames {
    /// `name0\0<padding>name1\0...`.
    bytes: Box<[u8]>,
    /// Where each name starts in `bytes`.
    starts: Box<[u32]>,
    /// Each name's length in bytes.
    lens: Box<[u32]>,
}

impl KnownNames {
    /// The names, validated (none holds a NUL).
    fn new(names: &[&str]) -> KnownNames {
        let mut bytes = Vec::with_capacity(names.iter().map(|n| n.len() + 16).sum());
        let mut starts = Vec::with_capacity(names.len());
        let lens = names.iter().map(|n| n.len() as u32).collect();
        for n in names {
            debug_assert!(!n.contains('\0'));
            // Each name starts 16 bytes apart from the buffer's start (which the allocator
            // aligns so): strcmp does less work on an aligned string.
            bytes.resize(bytes.len().next_multiple_of(16), 0);
            starts.push(bytes.len() as u32);
            bytes.extend_from_slice(n.as_bytes());
            bytes.push(0);
        }
        KnownNames {
            bytes: bytes.into(),
            starts: starts.into(),
            lens,
        }
    }

    /// How many names there are.
    #[inline]
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether there is none (never, for a logged set).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Name `i` as text.
    #[inline]
    pub fn text(&self, i: usize) -> &str {
        let a = self.starts[i] as usize;
        let b = a + self.lens[i] as usize;
        // SAFETY: the `lens[i]` bytes from `starts[i]` are one name (valid UTF-8).
        unsafe { std::str::from_utf8_unchecked(self.bytes.get_unchecked(a..b)) }
    }

    /// Name `i` as a NUL-terminated C string (`i < len()`).
    #[inline]
    pub fn c_str(&self, i: usize) -> *const std::ffi::c_char {
        // SAFETY: `starts[i]` lies within `bytes` for every `i < len()`.
        unsafe { self.bytes.as_ptr().add(self.starts[i] as usize).cast() }
    }
}

/// Name sets remembered, for solvers that log from several places (each with its own names).
const RECENT_SETS: usize = 8;

/// Slots of the table from call sites to name sets.
const SITE_SLOTS: usize = 16;

/// One set of names logged together, validated (and without duplicates).
#[derive(Clone)]
pub(super) struct NameSet {
    /// Their numbers in the name table.
    pub(super) ids: Box<[u32]>,
    /// The names, in the same order (what callers' names are compared with).
    names: KnownNames,
}

/// The name sets logged lately (at most [`RECENT_SETS`]), recognised without hashing: the
/// queue's, and each lane's own copies of those its thread logs ([`super::lane`]).
#[derive(Default)]
pub(super) struct RecentSets {
    pub(super) sets: Vec<NameSet>,
    /// Call site ([`MetricNames::site`]) -> index in `sets` of the set logged there last,
    /// so that call sites that take turns each find their set first time, the same way.
    sites: [(usize, usize); SITE_SLOTS],
    /// The set to forget next when a new one comes.
    victim: usize,
}

fn site_slot(site: usize) -> usize {
    // Arrays of pointers are 8-aligned; neighbouring ones land in different slots.
    (site >> 3) % SITE_SLOTS
}

impl RecentSets {
    /// The index in `sets` of the set `names` are, if they were logged lately.
    #[inline]
    pub(super) fn recognise<N: MetricNames + ?Sized>(&mut self, names: &N) -> Option<usize> {
        let site = names.site();
        let (known_site, i) = self.sites[site_slot(site)];
        match self.sets.get(i) {
            Some(set) if known_site == site && names.are(&set.names) => Some(i),
            _ => self.recognise_other(names, site),
        }
    }

    #[inline(never)]
    fn recognise_other<N: MetricNames + ?Sized>(
        &mut self,
        names: &N,
        site: usize,
    ) -> Option<usize> {
        let i = self.sets.iter().position(|set| names.are(&set.names))?;
        self.sites[site_slot(site)] = (site, i);
        Some(i)
    }

    /// Remembers `set` (logged at `site`) and returns its index.
    pub(super) fn remember(&mut self, set: NameSet, site: usize) -> usize {
        let at = if self.sets.len() < RECENT_SETS {
            self.sets.push(set);
            self.sets.len() - 1
        } else {
            // Round robin: a solver with more call sites than this pays the slow path.
            let at = self.victim;
            self.victim = (at + 1) % RECENT_SETS;
            self.sets[at] = set;
            at
        };
        self.sites[site_slot(site)] = (site, at);
        at
    }
}

/// Metric names already validated and numbered. The queue stores numbers, so logging touches
/// no reference counts shared with the dispatcher thread; the sets of names logged lately are
/// recognised without hashing.
#[derive(Default)]
pub(super) struct NameCache {
    /// Every name seen, by number (append-only).
    pub(super) table: NameTable,
    known: HashMap<Box<str>, u32>,
    pub(super) recent: RecentSets,
}

impl NameCache {
    /// The index in `recent` of the set `names` are, if they were logged lately.
    #[inline]
    pub(super) fn recognise<N: MetricNames + ?Sized>(&mut self, names: &N) -> Option<usize> {
        self.recent.recognise(names)
    }

    /// Validates and numbers new `names` (given at `site`), remembers them as a set and
    /// returns its index.
    #[cold]
    pub(super) fn learn(&mut self, names: &[&str], site: usize) -> Result<usize> {
        for &name in names {
            if !self.known.contains_key(name) {
                validate::metric_name(name)?;
            }
        }
        let mut seen = HashSet::with_capacity(names.len());
        if let Some(dup) = names.iter().find(|n| !seen.insert(**n)) {
            return Err(Error::invalid(format!(
                "metric name {dup:?} is given twice in one call"
            )));
        }
        let ids: Box<[u32]> = names.iter().map(|n| self.intern(n)).collect();
        let set = NameSet {
            names: KnownNames::new(names),
            ids,
        };
        Ok(self.recent.remember(set, site))
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

/// Metric sets taken from the queue, on their way to the sink. They count against
/// [`MAX_HELD_BYTES`] (the dispatcher added them to `Shared::held` when it took them) until
/// their fate is decided (sent, spilled or lost); then the memory of their columns goes back
/// to the queue's spares, so that in the steady state neither logging nor batching allocates,
/// and callers waiting for room are woken.
pub(super) struct TakenMetrics {
    batch: Option<MetricBatch>,
    pub(super) shared: Arc<Shared>,
    /// Its bytes still counted in `shared.held` (fewer as a write goes on, see
    /// [`TakenMetrics::written`]).
    bytes: AtomicUsize,
}

impl TakenMetrics {
    /// Wraps a batch whose bytes are already counted in `shared.held`.
    pub(super) fn new(batch: MetricBatch, shared: Arc<Shared>) -> TakenMetrics {
        let bytes = AtomicUsize::new(batch.bytes());
        TakenMetrics {
            batch: Some(batch),
            shared,
            bytes,
        }
    }

    /// Bytes of metric data held (counted against [`MAX_HELD_BYTES`]).
    pub(super) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The first `done` sets are written (a local sink's write going on): their share of the
    /// bytes stops counting against [`MAX_HELD_BYTES`], and callers waiting for room are
    /// woken. The memory itself is freed with the batch: what is held may pass the budget by
    /// the written part of the batch being written, at most [`super::MAX_BATCH_BYTES`].
    pub(super) fn written(&self, done: usize) {
        let Some(batch) = self.batch.as_ref() else {
            return;
        };
        let (len, total) = (batch.len().max(1), batch.bytes());
        let left = total - total * done.min(len) / len;
        let before = self.bytes.load(Ordering::Relaxed);
        if left < before {
            self.bytes.store(left, Ordering::Relaxed);
            self.shared.held.fetch_sub(before - left, Ordering::Relaxed);
            self.wake_waiters();
        }
    }

    /// Stops counting the batch against [`MAX_HELD_BYTES`]: delivery keeps a batch that
    /// cannot be written anywhere within its own budget, and callers waiting for room must not
    /// wait for a disk to come back. Its columns still return to the spares when it is dropped.
    pub(super) fn leave_queue_budget(&mut self) {
        let bytes = std::mem::take(self.bytes.get_mut());
        if bytes > 0 {
            self.shared.held.fetch_sub(bytes, Ordering::Relaxed);
            self.wake_waiters();
        }
    }

    /// Wakes callers waiting for room in a blocking queue.
    fn wake_waiters(&self) {
        let s = &*self.shared;
        if s.blocking {
            // Taking the lock orders this with a caller between its check and its wait.
            drop(s.q.lock());
            s.space.notify_all();
        }
    }
}

impl std::ops::Deref for TakenMetrics {
    type Target = MetricBatch;
    fn deref(&self) -> &MetricBatch {
        self.batch
            .as_ref()
            .unwrap_or_else(|| unreachable!("taken only in drop"))
    }
}

impl Drop for TakenMetrics {
    fn drop(&mut self) {
        let s = &*self.shared;
        // The last batch of a block gives the block back, when it is a queue's block.
        if let Some(cols) = self.batch.take().and_then(MetricBatch::into_columns) {
            put_back(s, cols);
        }
        let bytes = *self.bytes.get_mut();
        if bytes > 0 {
            s.held.fetch_sub(bytes, Ordering::Relaxed);
        }
        self.wake_waiters();
    }
}

/// Columns for the queue to fill, large enough for all it may hold (`capacity` sets, or
/// [`MAX_HELD_BYTES`]), reserved once: callers then never wait for a reallocation, and memory
/// never written stays virtual.
pub(super) fn queue_columns(capacity: usize) -> MetricColumns {
    // Twice the sets: a lane's block keeps the sets copied out until it starts over.
    MetricColumns::with_capacity(
        2 * capacity.min(MAX_HELD_BYTES / MetricColumns::set_bytes(0)),
        queue_values(capacity),
    )
}

/// Takes the metric queue's block, leaving a spare (or a new one) in its place, with its bytes
/// counted as held before the caller releases the lock, so that callers never see them in
/// neither place: the dispatcher's take, and a caller's hand-off.
pub(super) fn take_block(s: &Shared, q: &mut Queues) -> MetricColumns {
    let mut cols = spare_block(s);
    std::mem::swap(&mut cols, &mut q.metrics);
    s.held.fetch_add(cols.bytes(), Ordering::Relaxed);
    cols
}

/// Gives `cols` back to the spares, emptied, when it is a queue's block and the spares have
/// room for it ([`keeps`]).
pub(super) fn put_back(s: &Shared, mut cols: MetricColumns) {
    if cols.holds(queue_values(s.capacity)) {
        cols.clear();
        let mut spares = s.spares.lock();
        if keeps(&spares, &cols) {
            spares.push(cols);
        }
    }
}

/// Whether `spares` keep `cols` too: at most [`MAX_SPARES`] blocks whose memory made resident
/// comes to at most [`SPARE_BYTES`] with its. Blocks come back from the writer in bursts (when
/// it catches up, every block in flight); freeing them, to allocate and fault in new ones at
/// the next burst of logging, cost the dispatcher and the logging threads page faults and
/// the process unmaps; kept, the memory the process holds stays what it held at its busiest.
fn keeps(spares: &[MetricColumns], cols: &MetricColumns) -> bool {
    let bytes = |c: &MetricColumns| {
        let (sets, values) = c.resident();
        MetricColumns::bytes_of(sets, values)
    };
    spares.len() < MAX_SPARES
        && spares.iter().map(bytes).sum::<usize>() + bytes(cols) <= SPARE_BYTES
}

/// A spare block, or a new one.
pub(super) fn spare_block(s: &Shared) -> MetricColumns {
    s.spares
        .lock()
        .pop()
        .unwrap_or_else(|| queue_columns(s.capacity))
}

/// Gets [`WARM_SPARES`] spare blocks ready for the queue, each with the memory that `sets`
/// sets of `values` values in all will fill made resident ([`MetricColumns::touch`]): the
/// dispatcher calls it after a take, outside the queue's lock, so that the calling threads do
/// not take the page faults of fresh blocks (while the blocks in flight grow to the bound on
/// held data, a block the writer returns is not there yet to be reused), nor of blocks fuller
/// than their memory was before.
pub(super) fn warm_spares(s: &Shared, sets: usize, values: usize) {
    // At most what a take on time holds, and a quarter more (a dispatcher that came late does
    // not make the next blocks larger), and at most [`WARM_BYTES`] (wide sets, whose calls
    // the page faults cost little more, do not hold that much more memory in spares).
    let mut need = (
        sets.min(first_sets(s.capacity, s.threshold)),
        values.min(queue_values(s.capacity)),
    );
    let bytes = need.0 * MetricColumns::set_bytes(0) + need.1 * MetricColumns::VALUE_BYTES;
    if bytes > WARM_BYTES {
        need = (need.0 * WARM_BYTES / bytes, need.1 * WARM_BYTES / bytes);
    }
    let short = |c: &MetricColumns| c.resident().0 < need.0 || c.resident().1 < need.1;
    // Those short of it are taken out to be touched without the lock (meanwhile a take that
    // finds no spare allocates one, as it would anyway).
    let mut ready: Vec<MetricColumns> = {
        let mut spares = s.spares.lock();
        let mut ready = Vec::new();
        let mut i = 0;
        while i < spares.len() {
            if short(&spares[i]) {
                ready.push(spares.swap_remove(i));
            } else {
                i += 1;
            }
        }
        let missing = WARM_SPARES.saturating_sub(spares.len() + ready.len());
        ready.extend((0..missing).map(|_| queue_columns(s.capacity)));
        ready
    };
    for cols in &mut ready {
        cols.touch(need.0, need.1);
    }
    let mut spares = s.spares.lock();
    for cols in ready {
        if keeps(&spares, &cols) {
            spares.push(cols);
        }
    }
}

/// Values per set the blocks made ready before anything was logged are prepared for.
pub(super) const FIRST_WIDTH: usize = 4;

/// Sets the blocks made ready before anything was logged are prepared for: what wakes the
/// dispatcher (`threshold`) and a quarter more, as it may come late, within the queue's
/// `capacity`.
pub(super) fn first_sets(capacity: usize, threshold: usize) -> usize {
    (threshold + threshold / 4).min(capacity)
}

/// The queue's first block, with the memory that [`first_sets`] sets of [`FIRST_WIDTH`]
/// values will fill made resident, as the dispatcher makes its spares ready
/// ([`warm_spares`]): the run's start pays the page faults (a fraction of a millisecond),
/// rather than the first calls.
pub(super) fn first_block(capacity: usize, threshold: usize) -> MetricColumns {
    let mut cols = queue_columns(capacity);
    let sets = first_sets(capacity, threshold);
    cols.touch(sets, sets * FIRST_WIDTH);
    cols
}

/// Gets the spares ready when the dispatcher starts, as [`first_block`] the queue's block.
pub(super) fn warm_start(s: &Shared) {
    let sets = first_sets(s.capacity, s.threshold);
    warm_spares(s, sets, sets * FIRST_WIDTH);
}

/// The values a queue's block has room for.
fn queue_values(_capacity: usize) -> usize {
    MAX_HELD_BYTES / MetricColumns::VALUE_BYTES
}

/// Bytes of sets copied out of a lane's block past which the sets left move to the front
/// when they are at most a quarter of that (see [`Dispatcher::lane_room`]).
const COMPACT_BYTES: usize = 1 << 20;

/// What [`Dispatcher::lane_room`] found.
enum Room {
    /// There is room, reserved.
    Made,
    /// The lane is full.
    Full,
    /// Room needs the block's memory moved, and the dispatcher is copying out of it.
    Copying,
}

/// Blocks the logging threads may hand over themselves before the dispatcher takes them: a
/// lane's as it reaches the threshold (`capacity / 2` sets, see [`Dispatcher::lane_log`]), the
/// queue's own when full ([`Dispatcher::hand_off`]), all within [`MAX_HELD_BYTES`]. With the
/// lane's own block, up to `3 × capacity` sets of a lane wait for the dispatcher, which at the
/// default 10 000 absorbs a dispatcher held up for 10 ms at 3 M sets/s (on a busy machine a
/// background thread may wait a scheduler tick, 4 ms, or more for a core). More keeps more
/// sets at the defaults, but on two cores the writer, with more to write, then takes the
/// logging thread's core more often.
pub(super) const MAX_READY: usize = 4;

/// Spare blocks the dispatcher keeps ready ([`warm_spares`]): as many as are taken between
/// two of its takes when it is on time (a few hand-overs, and its own take); a dispatcher
/// that came late finds more blocks taken, and new ones made on the logging threads.
pub(super) const WARM_SPARES: usize = 5;

/// The most memory of each spare block [`warm_spares`] makes resident.
pub(super) const WARM_BYTES: usize = 1 << 20;

/// Emptied queue blocks kept for reuse at most (see [`keeps`]): the bound on held data keeps
/// a number of blocks in use at a time, and reusing them (rather than freeing and allocating)
/// keeps the process's memory from spreading over new pages.
pub(super) const MAX_SPARES: usize = 64;

/// The memory made resident of the spare blocks kept, at most: twice the bound on held data
/// ([`MAX_HELD_BYTES`]). The blocks in flight hold at most that bound (and the part of their
/// memory a set never filled), so the spares keep what the busiest moment made resident,
/// rather than giving it back to make it again at the next.
pub(super) const SPARE_BYTES: usize = 2 * MAX_HELD_BYTES;

/// Everything queued for the dispatcher, behind the one mutex of [`super::Shared`].
#[derive(Default)]
pub(super) struct Queues {
    pub(super) metrics: MetricColumns,
    /// Full metric blocks a logging thread handed over itself because the dispatcher had not
    /// taken them yet (see `Dispatcher::hand_off`), oldest first, each with the sets and
    /// values at its start that were copied out before (a lane's); the bytes of the rest are
    /// counted in `Shared::held`.
    pub(super) ready: Vec<(MetricColumns, (usize, usize))>,
    /// The threads' lanes ([`super::lane`]); boxed, so that a lane stays where its thread
    /// found it. Never removed while the dispatcher lives.
    #[allow(clippy::vec_box)] // a lane must not move when the vector grows
    pub(super) lanes: Vec<Box<Lane>>,
    pub(super) events: VecDeque<EventSet>,
    /// Arrays of tensor metrics (counted as metric sets).
    pub(super) tensors: VecDeque<TensorSet>,
    /// Run updates for a remote sink, sent after what was logged before them.
    pub(super) updates: Updates,
    pub(super) names: NameCache,
    pub(super) stop: bool,
    /// Counted here for the queue's own block, under the lock its callers take anyway (the
    /// lanes count their own).
    pub(super) metrics_queued: u64,
    pub(super) metrics_dropped: u64,
    pub(super) events_queued: u64,
    pub(super) events_dropped: u64,
    /// Bytes of the queued events (see [`event_bytes`]).
    pub(super) events_bytes: usize,
    /// Bytes of the queued tensor arrays.
    pub(super) tensors_bytes: usize,
}

/// What a queued event counts against [`MAX_HELD_BYTES`].
pub(super) fn event_bytes(e: &EventSet) -> usize {
    std::mem::size_of::<EventSet>() + e.message.len()
}

#[cold]
fn bad_count(n: usize) -> Error {
    if n == 0 {
        Error::invalid("log_metrics needs at least one metric")
    } else {
        Error::invalid("log_metrics takes at most 2^32 - 1 metrics a call")
    }
}

impl Dispatcher {
    /// Queues one metric set. `names` and `values` have the same length.
    pub fn log_metrics(&self, names: &[&str], values: &[f64], opts: MetricOptions) -> Result<()> {
        self.log_metrics_from(names, values, opts).map(|_| ())
    }

    /// As [`Dispatcher::log_metrics`], with names recognised in place ([`MetricNames`]).
    /// Returns false, having done nothing, when the names were not logged lately and the
    /// caller has no text for them: convert them and call again.
    #[inline]
    pub fn log_metrics_from<N: MetricNames + ?Sized>(
        &self,
        names: &N,
        values: &[f64],
        opts: MetricOptions,
    ) -> Result<bool> {
        let n = names.count();
        debug_assert_eq!(n, values.len());
        if n == 0 || n > u32::MAX as usize {
            return Err(bad_count(n));
        }
        if let Some(t) = opts.time {
            validate::finite("metric time", t)?;
        }
        if opts.step.is_some_and(|s| s > i64::MAX as u64) {
            // The wire model (and the server's database) holds steps as 64-bit signed integers.
            return Err(Error::invalid("step must be at most 2^63 - 1"));
        }
        // One clock read serves both the timestamp and the time since start.
        let now = Timestamp::now_fast();
        let s = &*self.shared;
        let mut q = s.q.lock();
        if let Some(lane) = self.lane(&mut q) {
            let logged = self.lane_log(&mut q, lane, names, values, opts, now, true)?;
            return Ok(logged.unwrap_or_else(|| unreachable!("the full path waits")));
        }
        let mut set = match (q.names.recognise(names), names.texts()) {
            (Some(set), _) => set,
            (None, Some(texts)) => q.names.learn(texts, names.site())?,
            (None, None) => return Ok(false),
        };
        if self.metrics_full(&q) && !self.hand_off(&mut q) {
            if !self.wait_for_room(&mut q, |d, q| d.metrics_full(q) && !d.hand_off(q))? {
                q.metrics_dropped += 1;
                s.step.fetch_add(1, Ordering::Relaxed);
                return Ok(true);
            }
            // The lock was released while waiting: other threads may have logged other names.
            set = match q.names.recognise(names) {
                Some(set) => set,
                None => return Ok(false),
            };
        }
        let time = opts.time.unwrap_or_else(|| self.seconds_since_start(now));
        self.enqueue(
            &mut q,
            set,
            time,
            opts.timestamp.unwrap_or(now),
            opts.step,
            values,
        );
        Ok(true)
    }

    /// The common case of [`Dispatcher::log_metrics_from`], with no options: names logged
    /// lately, and room in the queue (or a non-blocking queue to drop from). Returns false,
    /// having changed nothing, for anything else (new names, a count out of range, a
    /// blocking queue that is full): the full path deals with it. No `Result` travels and
    /// nothing is validated twice: one clock read, one lock, the names compared in place.
    #[inline]
    pub fn try_log_metrics<N: MetricNames + ?Sized>(&self, names: &N, values: &[f64]) -> bool {
        let n = values.len();
        if n == 0 || n > u32::MAX as usize || names.count() != n {
            return false;
        }
        let now = Timestamp::now_fast();
        let s = &*self.shared;
        if let Some(lane) = lane::cached(s.number) {
            // SAFETY: the lane is this thread's (its cache is), and the dispatcher that owns
            // it is alive (its number is never given again).
            if unsafe { (*lane).try_push(s, names, values, self.seconds_since_start(now), now) } {
                return true;
            }
        }
        let mut q = s.q.lock();
        if let Some(lane) = self.lane(&mut q) {
            let opts = MetricOptions::default();
            return matches!(
                self.lane_log(&mut q, lane, names, values, opts, now, false),
                Ok(Some(true))
            );
        }
        let Some(set) = q.names.recognise(names) else {
            return false;
        };
        if self.metrics_full(&q) && !self.hand_off(&mut q) {
            if s.blocking {
                return false;
            }
            q.metrics_dropped += 1;
            s.step.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        self.enqueue(
            &mut q,
            set,
            self.seconds_since_start(now),
            now,
            None,
            values,
        );
        true
    }

    /// Seconds from the run's start to `now` (a metric's automatic time).
    #[inline]
    fn seconds_since_start(&self, now: Timestamp) -> f64 {
        (now.0 - self.start.0) as f64 / 1e6
    }

    /// Appends one set of name set `set` (an index in the recent sets) to the queue, which has
    /// room, numbered with the automatic step unless `step` is given, and wakes the dispatcher
    /// when due.
    #[inline(always)]
    fn enqueue(
        &self,
        q: &mut Queues,
        set: usize,
        time: f64,
        timestamp: Timestamp,
        step: Option<u64>,
        values: &[f64],
    ) {
        let auto = self.shared.step.fetch_add(1, Ordering::Relaxed);
        let step = step.unwrap_or(auto);
        q.metrics_queued += 1;
        let before = q.metrics.bytes();
        q.metrics
            .push(time, timestamp, step, &q.names.recent.sets[set].ids, values);
        self.wake(q.metrics.len(), before, q.metrics.bytes());
    }

    /// Whether the metric queue is full: `capacity` sets, or [`MAX_HELD_BYTES`] of metric data
    /// queued and held (a set alone larger than that is let in when there is any room).
    #[inline]
    fn metrics_full(&self, q: &Queues) -> bool {
        let s = &*self.shared;
        q.metrics.len() >= s.capacity
            || q.metrics.bytes() + s.held.load(Ordering::Relaxed) >= MAX_HELD_BYTES
    }

    /// With a metric queue full in items but not in bytes, hands the full block over to the
    /// dispatcher (as its next take would) and starts a spare one, so that logging goes on
    /// while the dispatcher is still to be scheduled or busy: a queue of `capacity` items does
    /// not drop or wait only because the dispatcher came late. At most [`MAX_READY`] blocks
    /// wait so, within [`MAX_HELD_BYTES`] in all. Returns whether there is room now.
    #[cold]
    fn hand_off(&self, q: &mut Queues) -> bool {
        let s = &*self.shared;
        if q.metrics.len() < s.capacity
            || q.ready.len() >= MAX_READY
            || q.metrics.bytes() + s.held.load(Ordering::Relaxed) >= MAX_HELD_BYTES
        {
            return false;
        }
        let cols = take_block(s, q);
        q.ready.push((cols, (0, 0)));
        s.ready.store(q.ready.len(), Ordering::Relaxed);
        s.work.notify_one();
        true
    }

    /// The calling thread's lane, found or given under the queue's lock (and remembered for
    /// its fast path); `None` when every lane is taken: the thread uses the queue's block.
    fn lane<'a>(&'a self, q: &mut Queues) -> Option<&'a Lane> {
        let s = &*self.shared;
        let key = lane::thread_key();
        if key == 0 {
            return None;
        }
        let found = match q.lanes.iter().position(|l| l.owner == key) {
            Some(i) => i,
            None if q.lanes.len() < MAX_LANES => {
                q.lanes.push(Box::new(Lane::new(key, spare_block(s))));
                q.lanes.len() - 1
            }
            None => return None,
        };
        let lane: *const Lane = &*q.lanes[found];
        lane::remember(s.number, lane);
        // SAFETY: a lane is boxed and stays in `lanes` as long as the dispatcher lives.
        Some(unsafe { &*lane })
    }

    /// Queues one set through the calling thread's `lane`, under the queue's lock: the
    /// names are recognised (or, when `full`, learnt), room is made, and the dispatcher is
    /// woken as the queue's block would wake it. Returns `Some(false)` when the names are new
    /// and have no text (or `full` is false), `None` when the set would have to wait for
    /// room and `full` is false.
    #[allow(clippy::too_many_arguments)]
    fn lane_log<N: MetricNames + ?Sized>(
        &self,
        q: &mut MutexGuard<'_, Queues>,
        lane: &Lane,
        names: &N,
        values: &[f64],
        opts: MetricOptions,
        now: Timestamp,
        full: bool,
    ) -> Result<Option<bool>> {
        let s = &*self.shared;
        // SAFETY: the lane is this thread's.
        let own = unsafe { &mut *lane.own.get() };
        let set = match own.names.recognise(names) {
            Some(i) => i,
            None => {
                let shared = match (q.names.recognise(names), names.texts()) {
                    (Some(j), _) => j,
                    (None, Some(texts)) if full => q.names.learn(texts, names.site())?,
                    _ => return Ok(Some(false)),
                };
                let copy = q.names.recent.sets[shared].clone();
                own.names.remember(copy, names.site())
            }
        };
        let n = values.len();
        loop {
            match self.lane_room(q, lane, own, n) {
                Room::Made => break,
                Room::Copying if full => {
                    // The dispatcher is copying out of the block: it says when it is done.
                    s.space.wait(q);
                    continue;
                }
                Room::Copying => return Ok(None),
                Room::Full => {}
            }
            if !s.blocking {
                bump(&lane.dropped);
                s.step.fetch_add(1, Ordering::Relaxed);
                return Ok(Some(true));
            }
            if !full {
                return Ok(None);
            }
            self.wait_for_space(q)?;
        }
        let auto = s.step.fetch_add(1, Ordering::Relaxed);
        let time = opts.time.unwrap_or_else(|| self.seconds_since_start(now));
        let (len, values_len) = (own.block.len(), own.block.values_len());
        let (c, cv) = unpack(lane.consumed.load(Ordering::Relaxed));
        own.block.push(
            time,
            opts.timestamp.unwrap_or(now),
            opts.step.unwrap_or(auto),
            &own.names.sets[set].ids,
            values,
        );
        lane.published
            .store(pack(len + 1, values_len + n), Ordering::Release);
        bump(&lane.queued);
        // Woken as for the queue's block (the fast path leaves these calls to this one).
        let before = MetricColumns::bytes_of(len - c, values_len - cv);
        let after = before + MetricColumns::set_bytes(n);
        let sets = len + 1 - c;
        if s.reaches_threshold(sets, before, after) && q.ready.len() < MAX_READY {
            // At the threshold the block itself goes to the dispatcher (it moves no memory):
            // the dispatcher then cuts it into batches, rather than copying it out later, and
            // leaves the cores to the caller and the writer.
            self.lane_hand_over(q, lane, own);
        } else {
            self.wake(sets, before, after);
        }
        Ok(Some(true))
    }

    /// Makes room in `lane` (its owner's `own`) for one set of `n` values, under the
    /// queue's lock, reserving its bytes of the memory bound; returns false when the lane
    /// is full: `capacity` sets, or [`MAX_HELD_BYTES`] held with the others' (a set alone
    /// larger than that is let in when there is any room), with no block to hand over.
    fn lane_room(&self, q: &mut Queues, lane: &Lane, own: &mut LaneOwn, n: usize) -> Room {
        let s = &*self.shared;
        loop {
            let (len, values_len) = (own.block.len(), own.block.values_len());
            let (c, cv) = unpack(lane.consumed.load(Ordering::Relaxed));
            let limit = if len == 0 {
                usize::MAX
            } else {
                lane::lane_values()
            };
            let fits = own.block.fits(n, limit);
            // What follows moves the block's memory, which a copy going on reads.
            let still = !lane.copying.load(Ordering::Relaxed);
            if len > 0 && len == c && still {
                // All copied out: the block starts over, its memory resident already.
                own.block.clear();
                lane.published.store(0, Ordering::Release);
                lane.consumed.store(0, Ordering::Release);
                continue;
            }
            let gone = MetricColumns::bytes_of(c, cv);
            let mine = MetricColumns::bytes_of(len - c, values_len - cv);
            if c > 0 && still && (!fits || (gone >= COMPACT_BYTES && mine <= gone / 4)) {
                // The block's memory ran out, or the sets copied out take much of it and few
                // are left: those left move to the front (a small copy), and the memory the
                // block keeps resident is what its thread holds at a time, not a multiple.
                own.block.drain_front(c, cv);
                lane.published
                    .store(pack(len - c, values_len - cv), Ordering::Release);
                lane.consumed.store(0, Ordering::Release);
                continue;
            }
            let reserved = lane.reserved.load(Ordering::Relaxed);
            let others = s.held.load(Ordering::Relaxed).saturating_sub(reserved);
            if fits && len - c < s.capacity && others + mine < MAX_HELD_BYTES {
                let need = mine + MetricColumns::set_bytes(n);
                if need > reserved {
                    // A quarter of what is left at most: when the bound is near, a few
                    // lanes waiting for room all get some of what a write frees.
                    let left = MAX_HELD_BYTES.saturating_sub(others + need);
                    let ahead = RESERVE_AHEAD.min(left / 4);
                    lane.reserved.store(need + ahead, Ordering::Relaxed);
                    s.held.fetch_add(need + ahead - reserved, Ordering::Relaxed);
                }
                return Room::Made;
            }
            // (A block being copied out of may be handed over: its memory does not move.)
            let hand_over = len > c && (!fits || len - c >= s.capacity);
            if hand_over && q.ready.len() < MAX_READY {
                self.lane_hand_over(q, lane, own);
                continue;
            }
            if !fits && !still {
                // Room may come of moving the sets copied out, once the copy is done.
                return Room::Copying;
            }
            if len == 0 && !fits {
                // One set larger than a block: a block of its own size.
                let big = MetricColumns::with_capacity(own.block.sets_capacity(), n);
                put_back(s, std::mem::replace(&mut own.block, big));
                // SAFETY: under the queue's lock.
                unsafe { *lane.at.get() = own.block.at() };
                continue;
            }
            return Room::Full;
        }
    }

    /// Hands `lane`'s block over to the dispatcher as a full block (the part not copied out
    /// yet), under the queue's lock, and gives the lane a spare one.
    #[cold]
    fn lane_hand_over(&self, q: &mut Queues, lane: &Lane, own: &mut LaneOwn) {
        let s = &*self.shared;
        let (c, cv) = unpack(lane.consumed.load(Ordering::Relaxed));
        let block = std::mem::replace(&mut own.block, spare_block(s));
        // SAFETY: under the queue's lock.
        unsafe { *lane.at.get() = own.block.at() };
        // The block's sets stay counted in `held` (as a ready block's); the rest of the
        // reservation is given back.
        let handed = MetricColumns::bytes_of(block.len() - c, block.values_len() - cv);
        let reserved = lane.reserved.load(Ordering::Relaxed);
        s.held.fetch_sub(reserved - handed, Ordering::Relaxed);
        lane.reserved.store(0, Ordering::Relaxed);
        lane.published.store(0, Ordering::Release);
        lane.consumed.store(0, Ordering::Release);
        q.ready.push((block, (c, cv)));
        if lane.copying.load(Ordering::Relaxed) {
            // The dispatcher is copying sets of it: where its batches start is known when
            // the copy is done (`Copy::finish`); the new block's copy state starts afresh.
            // SAFETY: under the queue's lock.
            unsafe { *lane.handed.get() = Some(q.ready.len() - 1) };
            lane.copying.store(false, Ordering::Relaxed);
        }
        s.ready.store(q.ready.len(), Ordering::Relaxed);
        s.work.notify_one();
    }

    /// Whether the event queue is full (as [`Dispatcher::metrics_full`], for messages).
    fn events_full(&self, q: &Queues) -> bool {
        q.events.len() >= self.shared.capacity || q.events_bytes >= MAX_HELD_BYTES
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
        let now = Timestamp::now_fast();
        let s = &*self.shared;
        let mut q = s.q.lock();
        if self.tensors_full(&q) && !self.wait_for_room(&mut q, |d, q| d.tensors_full(q))? {
            q.metrics_dropped += 1;
            s.step.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let auto = s.step.fetch_add(1, Ordering::Relaxed);
        let step = opts.step.unwrap_or(auto);
        let item = TensorSet {
            time: opts.time.unwrap_or_else(|| self.seconds_since_start(now)),
            timestamp: opts.timestamp.unwrap_or(now),
            step,
            metric,
            grid,
            shape,
            values,
        };
        let before = q.tensors_bytes;
        q.tensors_bytes += super::delivery::tensor_bytes(&item);
        q.tensors.push_back(item);
        q.metrics_queued += 1;
        self.wake(q.tensors.len(), before, q.tensors_bytes);
        Ok(())
    }

    /// Whether the tensor queue is full (as [`Dispatcher::metrics_full`], for arrays).
    fn tensors_full(&self, q: &Queues) -> bool {
        q.tensors.len() >= self.shared.capacity || q.tensors_bytes >= MAX_HELD_BYTES
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
            timestamp: timestamp.unwrap_or_else(Timestamp::now_fast),
        };
        let s = &*self.shared;
        let mut q = s.q.lock();
        if self.events_full(&q) && !self.wait_for_room(&mut q, |d, q| d.events_full(q))? {
            q.events_dropped += 1;
            return Ok(());
        }
        let before = q.events_bytes;
        q.events_bytes += event_bytes(&item);
        q.events.push_back(item);
        q.events_queued += 1;
        self.wake(q.events.len(), before, q.events_bytes);
        Ok(())
    }

    /// Wakes the dispatcher when a queue stops being empty (it then sleeps until the flush
    /// deadline) and when it reaches the threshold in items or bytes (it writes at once).
    #[inline]
    fn wake(&self, len: usize, bytes_before: usize, bytes: usize) {
        let s = &*self.shared;
        if len == 1 || s.reaches_threshold(len, bytes_before, bytes) {
            s.work.notify_one();
        }
    }

    /// Called with a full queue: waits for room when blocking and returns true once there is
    /// some; returns false when the item must be dropped.
    #[cold]
    fn wait_for_room(
        &self,
        q: &mut MutexGuard<'_, Queues>,
        mut full: impl FnMut(&Self, &mut Queues) -> bool,
    ) -> Result<bool> {
        let s = &*self.shared;
        if !s.blocking {
            return Ok(false);
        }
        while full(self, &mut *q) {
            self.wait_for_space(q)?;
        }
        Ok(true)
    }

    /// Waits once for the dispatcher or the writer to make room (a blocking queue that is
    /// full), waking the dispatcher first; an error once the run is closed.
    fn wait_for_space(&self, q: &mut MutexGuard<'_, Queues>) -> Result<()> {
        if q.stop {
            return Err(Error::new(ErrorKind::Closed, "the run was closed"));
        }
        let s = &*self.shared;
        s.work.notify_one();
        s.space.wait(q);
        Ok(())
    }
}
