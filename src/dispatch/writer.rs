//! The writer thread of a local sink (the offline cache): it writes the batches the
//! dispatcher hands it, so that the dispatcher goes back to the queues at once. Without it the
//! dispatcher wrote each batch itself, and a caller of a blocking queue that filled up meanwhile
//! waited for everything the dispatcher had taken to be written; now the dispatcher empties
//! the queue while earlier batches are written, and on a machine with a second core writing
//! and logging run side by side.
//!
//! The hand-over rarely makes the dispatcher wait for metric batches: their bytes stay
//! counted against [`super::MAX_HELD_BYTES`] until they are written (`queue::TakenMetrics`),
//! so a writer that falls behind fills that budget, and then a caller waits (blocking) or drops
//! only until the writer has written its next chunk of the current batch (the written part
//! stops counting as it goes: `TakenMetrics::written`), a short wait. Metric batches are also
//! counted ([`METRIC_DEPTH`]), which bounds the queue blocks in use when a stuck writer is
//! handed small batches. Other batches (events,
//! arrays, run updates), which that budget does not count once taken, wait at most
//! `writer_depth` at a time ([`super::WRITER_DEPTH`] for a run). Past either, the dispatcher
//! waits for the writer.

use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};

use super::delivery::{Batch, Delivery};

/// Metric batches that may wait for the writer. The bytes of metric data waiting are bounded
/// by [`super::MAX_HELD_BYTES`], so this only binds for small batches on a writer that is
/// stuck (a hung file system, a trickle of sets taken at each flush): it bounds the queue
/// blocks in use.
const METRIC_DEPTH: usize = 256;

/// Metric batches waiting for the writer from which on it counts as behind
/// ([`Writer::behind`]).
const FLUSH_BACKLOG: usize = 8;

/// Batches handed to the writer and not yet written (metric sets, and others), and the
/// wake-up of a dispatcher waiting for one of them to be written.
#[derive(Default)]
struct Waiting {
    counts: Mutex<[usize; 2]>,
    written: Condvar,
}

/// The slot of `Waiting::counts` that counts batches like `b`.
fn slot(b: &Batch) -> usize {
    usize::from(!b.is_metrics())
}

/// The dispatcher's handle on the writer thread.
pub(super) struct Writer {
    /// `None` once finished.
    tx: Option<Sender<Batch>>,
    waiting: Arc<Waiting>,
    /// Batches other than metric sets that may wait.
    depth: usize,
    thread: Option<JoinHandle<()>>,
    /// For a batch the writer can no longer take (its thread is gone): written here instead.
    delivery: Delivery,
}

impl Writer {
    /// Starts the writer thread for the local sink of `delivery`; `depth` batches other than
    /// metric sets may wait for it (and [`METRIC_DEPTH`] metric batches).
    pub(super) fn start(delivery: Delivery, depth: usize) -> std::io::Result<Writer> {
        let (tx, rx) = channel::<Batch>();
        let waiting = Arc::new(Waiting::default());
        let (d, w) = (delivery.clone(), waiting.clone());
        let thread = std::thread::Builder::new()
            .name("simvue-writer".into())
            .spawn(move || {
                super::background_thread();
                // Batches in the order they were handed over: metrics, events and run updates
                // keep the order the dispatcher gave them.
                for b in rx {
                    let slot = slot(&b);
                    d.deliver_once(b);
                    w.counts.lock()[slot] -= 1;
                    w.written.notify_one();
                }
            })?;
        Ok(Writer {
            tx: Some(tx),
            waiting,
            depth: depth.max(1),
            thread: Some(thread),
            delivery,
        })
    }

    /// Whether the writer is behind: [`FLUSH_BACKLOG`] metric batches or more wait for it.
    /// The dispatcher then leaves a queue that is not filling up where it is rather than
    /// taking it at the flush interval, so a stuck writer (a hung file system) and a trickle
    /// of sets do not turn every flush into one more small batch and queue block.
    pub(super) fn behind(&self) -> bool {
        self.waiting.counts.lock()[0] >= FLUSH_BACKLOG
    }

    /// Waits while `depth` batches of slot `slot` wait for the writer (or its thread ended).
    fn wait_below(&self, slot: usize, depth: usize) {
        let mut counts = self.waiting.counts.lock();
        while counts[slot] >= depth && self.thread.as_ref().is_some_and(|t| !t.is_finished()) {
            // Timed, in case the thread ended (short of a panic in a sink, it cannot).
            self.waiting
                .written
                .wait_for(&mut counts, std::time::Duration::from_millis(100));
        }
    }

    /// Hands a batch to the writer, waiting while [`METRIC_DEPTH`] metric batches, or `depth`
    /// others, already wait.
    pub(super) fn hand_over(&self, b: Batch) {
        let Some(tx) = &self.tx else {
            return self.delivery.deliver_once(b);
        };
        let slot = slot(&b);
        self.wait_below(slot, [METRIC_DEPTH, self.depth][slot]);
        self.waiting.counts.lock()[slot] += 1;
        if let Err(std::sync::mpsc::SendError(b)) = tx.send(b) {
            // The thread ended: write it here.
            self.waiting.counts.lock()[slot] -= 1;
            self.delivery.deliver_once(b);
        }
    }

    /// Lets the writer write what it was handed, then waits for it.
    pub(super) fn finish(mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
