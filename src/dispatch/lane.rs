//! Lanes: each thread that logs metrics gets a block of its own to append to, so that the
//! common `log_metrics` call takes no lock shared with other threads or the dispatcher.
//!
//! A lane is a single-producer block read by one consumer. Its owning thread appends sets
//! to its block and publishes how many there are with a release store ([`Lane::published`]).
//! When the lane reaches the threshold (half of `queue_size` sets, or 4 MiB), its thread hands
//! the whole block over to the dispatcher under the queue's lock and goes on in a spare one:
//! nothing is copied. Below the threshold (a thread that logs slowly, at the flush interval),
//! or past it when the dispatcher has not taken the blocks handed over yet, the dispatcher
//! copies the sets published since its last take into a block of its own (starting and
//! finishing the copy under the queue's lock, copying without it) and records how far it went
//! ([`Lane::consumed`]). Nothing the dispatcher reads is written again until the owner, under
//! the same lock and with no copy going on, starts the block over (all of it copied) or moves
//! what is left to the front (the block's memory ran out); it may hand the whole block over
//! at any time, as that moves no memory. The block never grows while it is a lane's, so the
//! memory the dispatcher copies from stays put.
//!
//! The common call ([`Lane::try_push`]) reads two words the dispatcher writes (what it
//! consumed, and the bytes reserved), compares the names with the lane's own copy of the sets
//! its thread logs, appends, and stores one word; the automatic step is the one atomic
//! read-modify-write, as it counts the calls of every thread. Everything else goes through
//! the full path under the queue's lock ([`super::Dispatcher`]): a lane that was empty (the
//! dispatcher is told, for the flush interval), that reaches the threshold (its block is
//! handed over),
//! whose reservation of the memory bound ran out ([`super::MAX_HELD_BYTES`] is shared by all
//! lanes and the queue), or that is full.
//!
//! A thread finds its lane through a thread-local cache keyed by the dispatcher's number; it
//! remembers the lanes of the last 4 runs it logged to. A run has at most
//! [`MAX_LANES`] lanes; threads past them share the queue's own block under the lock.

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::queue::{MetricNames, RecentSets};
use super::Shared;
use crate::model::{ColumnsAt, MetricColumns};
use crate::time::Timestamp;

/// Lanes a run gives out at most (threads past them log under the queue's lock).
pub(super) const MAX_LANES: usize = 16;

/// Bytes a lane reserves of the memory bound ahead of what it holds, so that the calls in
/// between take the fast path (some 960 sets of 3 values). A lane whose thread stopped
/// logging keeps it until the run ends: at most [`MAX_LANES`] times this (1 MiB) of the bound.
pub(super) const RESERVE_AHEAD: usize = 64 << 10;

/// Sets and values in one word: `sets << 32 | values` (a block holds fewer than 2^32 of
/// each).
#[inline]
pub(super) fn pack(sets: usize, values: usize) -> u64 {
    ((sets as u64) << 32) | values as u64
}

/// The sets and values of [`pack`].
#[inline]
pub(super) fn unpack(w: u64) -> (usize, usize) {
    ((w >> 32) as usize, (w & 0xffff_ffff) as usize)
}

/// What only the owning thread touches: without the lock on the fast path, under it on the
/// full path.
pub(super) struct LaneOwn {
    pub(super) block: MetricColumns,
    /// Copies of the name sets this thread logged lately.
    pub(super) names: RecentSets,
}

/// One thread's lane (see the module's documentation). Aligned so that no two lanes share
/// a cache line.
#[repr(align(128))]
pub(super) struct Lane {
    /// The owning thread ([`thread_key`]).
    pub(super) owner: u64,
    pub(super) own: UnsafeCell<LaneOwn>,
    /// Sets and values of the block the owner has filled ([`pack`]): stored by the owner
    /// after each set (release), read by the dispatcher.
    pub(super) published: AtomicU64,
    /// Sets and values at the start of the block the dispatcher has copied out ([`pack`]).
    /// Written under the queue's lock (by the dispatcher copying, by the owner starting the
    /// block over), after `reserved`; read by the owner's fast path before `reserved`.
    pub(super) consumed: AtomicU64,
    /// Bytes counted in `Shared::held` for this lane: its sets not copied out yet, and some
    /// ahead ([`RESERVE_AHEAD`]). Written under the queue's lock.
    pub(super) reserved: AtomicUsize,
    /// Where the block's columns are, for the dispatcher's copies. Written and read under
    /// the queue's lock.
    pub(super) at: UnsafeCell<ColumnsAt>,
    /// The dispatcher is copying sets out of the block without the lock: the owner must not
    /// start it over or move its sets meanwhile; it may hand it over (the block's memory stays
    /// where it is), and then records where in the ready blocks it is (`handed`), for
    /// [`Copy::finish`]. Under the queue's lock.
    pub(super) copying: AtomicBool,
    pub(super) handed: UnsafeCell<Option<usize>>,
    /// Sets this lane queued, and dropped (written by the owner only).
    pub(super) queued: AtomicU64,
    pub(super) dropped: AtomicU64,
}

// SAFETY: `own` is touched by the owning thread only; `at` under the queue's lock only; the
// block's sets below `published` are read by the dispatcher while the owner appends past
// them (see the module's documentation).
unsafe impl Sync for Lane {}
unsafe impl Send for Lane {}

/// Adds one to a counter only one thread writes (no read-modify-write needed).
#[inline]
pub(super) fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl Lane {
    /// A lane for thread `owner` filling `block`.
    pub(super) fn new(owner: u64, block: MetricColumns) -> Lane {
        let at = block.at();
        Lane {
            owner,
            own: UnsafeCell::new(LaneOwn {
                block,
                names: RecentSets::default(),
            }),
            published: AtomicU64::new(0),
            consumed: AtomicU64::new(0),
            reserved: AtomicUsize::new(0),
            at: UnsafeCell::new(at),
            copying: AtomicBool::new(false),
            handed: UnsafeCell::new(None),
            queued: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Appends one set whose names were logged lately by this thread, when it needs nothing
    /// of the full path (see the module's documentation); returns false, having changed
    /// nothing, otherwise.
    ///
    /// # Safety
    /// Called on the owning thread only.
    #[inline]
    pub(super) unsafe fn try_push<N: MetricNames + ?Sized>(
        &self,
        s: &Shared,
        names: &N,
        values: &[f64],
        time: f64,
        now: Timestamp,
    ) -> bool {
        let own = &mut *self.own.get();
        let n = values.len();
        let (len, values_len) = (own.block.len(), own.block.values_len());
        // `consumed` before `reserved`: a reservation that shrank with a copy is seen with
        // it (and an older `consumed` only makes the check stricter).
        let (c, cv) = unpack(self.consumed.load(Ordering::Acquire));
        if len == c {
            return false;
        }
        let sets = len + 1 - c;
        if sets > s.capacity {
            // Full in items: dropped here when the full path could not hand a block over.
            let ready = s.ready.load(Ordering::Relaxed) >= super::queue::MAX_READY;
            return ready && self.try_drop(s, own, names);
        }
        let before = MetricColumns::bytes_of(len - c, values_len - cv);
        let after = before + MetricColumns::set_bytes(n);
        let reserved = self.reserved.load(Ordering::Relaxed);
        if after > reserved {
            // Full in bytes, with what the others hold: dropped here.
            let others = s.held.load(Ordering::Relaxed).saturating_sub(reserved);
            return others + before >= super::MAX_HELD_BYTES && self.try_drop(s, own, names);
        }
        if s.reaches_threshold(sets, before, after) || !own.block.fits(n, lane_values()) {
            return false;
        }
        let Some(i) = own.names.recognise(names) else {
            return false;
        };
        let step = s.step.fetch_add(1, Ordering::Relaxed);
        own.block
            .push(time, now, step, &own.names.sets[i].ids, values);
        self.published
            .store(pack(len + 1, values_len + n), Ordering::Release);
        bump(&self.queued);
        true
    }

    /// Counts a set dropped, on the owner's fast path, when the queue does not block and the
    /// names were logged lately (new ones go to the full path, which validates them).
    #[cold]
    fn try_drop<N: MetricNames + ?Sized>(&self, s: &Shared, own: &mut LaneOwn, names: &N) -> bool {
        if s.blocking || own.names.recognise(names).is_none() {
            return false;
        }
        bump(&self.dropped);
        s.step.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Sets published and not copied out yet, and their bytes (read by the dispatcher).
    pub(super) fn pending(&self) -> (usize, usize) {
        let (p, pv) = unpack(self.published.load(Ordering::Acquire));
        let (c, cv) = unpack(self.consumed.load(Ordering::Relaxed));
        (p - c, MetricColumns::bytes_of(p - c, pv - cv))
    }

    /// Starts a copy of the sets published since the last one (the dispatcher, under the
    /// queue's lock), if there are any: until [`Copy::finish`], the owner leaves the block's
    /// memory where it is ([`Lane::copying`]), so that the copy itself runs without the lock.
    pub(super) fn start_copy(&self) -> Option<Copy> {
        let (p, pv) = unpack(self.published.load(Ordering::Acquire));
        let (c, cv) = unpack(self.consumed.load(Ordering::Relaxed));
        if p == c {
            return None;
        }
        self.copying.store(true, Ordering::Relaxed);
        Some(Copy {
            lane: self,
            // SAFETY: under the queue's lock.
            at: unsafe { *self.at.get() },
            from: (c, cv),
            to: (p, pv),
        })
    }
}

/// A copy of sets a lane published, made by the dispatcher outside the queue's lock
/// ([`Lane::start_copy`]).
pub(super) struct Copy {
    lane: *const Lane,
    at: ColumnsAt,
    from: (usize, usize),
    to: (usize, usize),
}

impl Copy {
    /// Copies the sets into `into`.
    pub(super) fn run(&self, into: &mut MetricColumns) {
        // SAFETY: the sets were published with a release store that `start_copy` acquired;
        // the owner writes only past them, and moves none of the block's memory while
        // `copying` is set (`at` is still the block's).
        let copied = unsafe { into.extend_copied(self.at, self.from, self.to.0) };
        debug_assert_eq!(copied, self.to.1 - self.from.1);
    }

    /// Records the copy made (under the queue's lock, `ready` the queue's ready blocks): the
    /// sets' bytes move from the lane's reservation to the copy, and the owner may move the
    /// block's memory again. When the owner handed the block over during the copy, the block
    /// waits in `ready` (its bytes, these sets' included, counted as held) and its batches
    /// start after the sets copied.
    pub(super) fn finish(self, ready: &mut [(MetricColumns, (usize, usize))]) {
        // SAFETY: lanes live as long as their dispatcher, which made this copy.
        let lane = unsafe { &*self.lane };
        // SAFETY: under the queue's lock.
        if let Some(i) = unsafe { (*lane.handed.get()).take() } {
            ready[i].1 = self.to;
        } else {
            let moved = MetricColumns::bytes_of(self.to.0 - self.from.0, self.to.1 - self.from.1);
            let reserved = lane.reserved.load(Ordering::Relaxed);
            lane.reserved.store(reserved - moved, Ordering::Release);
            lane.consumed
                .store(pack(self.to.0, self.to.1), Ordering::Release);
        }
        lane.copying.store(false, Ordering::Relaxed);
    }
}

/// Gives back the reservations of all `lanes` (the dispatcher, under the queue's lock, once
/// it has stopped: nothing is logged any more).
pub(super) fn release_all(s: &Shared, lanes: &[Box<Lane>]) {
    for lane in lanes {
        let reserved = lane.reserved.swap(0, Ordering::Relaxed);
        s.held.fetch_sub(reserved, Ordering::Relaxed);
    }
}

/// Values a lane's block holds at most unless one set needs more: half of what a queue's
/// block can (the sets copied out stay in it until it starts over).
#[inline]
pub(super) fn lane_values() -> usize {
    super::MAX_HELD_BYTES / MetricColumns::VALUE_BYTES / 2
}

/// Lanes a thread remembers: of the runs it logged to last, so that a thread logging to a
/// few runs in turn finds each lane without the lock.
const REMEMBERED: usize = 4;

thread_local! {
    /// The lanes this thread used last, the latest first: the number of the dispatcher each
    /// belongs to (0: none), and where it is.
    static LANES: [Cell<(u64, *const Lane)>; REMEMBERED] =
        const { [const { Cell::new((0, std::ptr::null())) }; REMEMBERED] };
    /// This thread's number for lanes.
    static KEY: Cell<u64> = const { Cell::new(0) };
}

/// Numbers of dispatchers and threads (0: none).
static NEXT_DISPATCHER: AtomicU64 = AtomicU64::new(1);
static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

/// A number for a new dispatcher, never given again.
pub(super) fn dispatcher_number() -> u64 {
    NEXT_DISPATCHER.fetch_add(1, Ordering::Relaxed)
}

/// The calling thread's number, never given to another thread; 0 while its thread-locals
/// are being destroyed.
pub(super) fn thread_key() -> u64 {
    KEY.try_with(|k| {
        if k.get() == 0 {
            k.set(NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
        }
        k.get()
    })
    .unwrap_or(0)
}

/// The calling thread's lane of dispatcher `dispatcher`, if it is among those it used last.
#[inline]
pub(super) fn cached(dispatcher: u64) -> Option<*const Lane> {
    LANES
        .try_with(|lanes| {
            lanes.iter().find_map(|c| match c.get() {
                (d, lane) if d == dispatcher => Some(lane),
                _ => None,
            })
        })
        .ok()
        .flatten()
}

/// Remembers `lane` of dispatcher `dispatcher` as the calling thread's, first; the lane used
/// least lately is forgotten when all are taken.
pub(super) fn remember(dispatcher: u64, lane: *const Lane) {
    let _ = LANES.try_with(|lanes| {
        let at = lanes
            .iter()
            .position(|c| c.get().0 == dispatcher)
            .unwrap_or(REMEMBERED - 1);
        for i in (1..=at).rev() {
            lanes[i].set(lanes[i - 1].get());
        }
        lanes[0].set((dispatcher, lane));
    });
}
