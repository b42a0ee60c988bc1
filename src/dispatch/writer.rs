//! The writer thread of a local sink (the offline cache): it writes the batches the
//! dispatcher hands it, so that the dispatcher goes back to the queues at once. Without it the
//! dispatcher wrote each batch itself, and a caller of a blocking queue that filled up meanwhile
//! waited for the whole batch to be written (8-19 ms for 10 000 sets); now the dispatcher empties
//! the queue while the previous batch is written, and on a machine with a second core writing
//! and logging run side by side.
//!
//! The hand-over is bounded: at most `writer_depth` batches ([`super::WRITER_DEPTH`] for a
//! run) wait for the writer. Metric batches are
//! also bounded in bytes, as before: their bytes stay counted against
//! [`super::MAX_HELD_BYTES`] until they are written (`queue::TakenMetrics`), so a writer that
//! falls behind fills that budget and then the queue, whose policy (wait or drop) applies.

use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use super::delivery::{Batch, Delivery};

/// The dispatcher's handle on the writer thread.
pub(super) struct Writer {
    /// `None` once finished.
    tx: Option<SyncSender<Batch>>,
    thread: Option<JoinHandle<()>>,
    /// For a batch the writer can no longer take (its thread is gone): written here instead.
    delivery: Delivery,
}

impl Writer {
    /// Starts the writer thread for the local sink of `delivery`; `depth` batches may wait
    /// for it.
    pub(super) fn start(delivery: Delivery, depth: usize) -> std::io::Result<Writer> {
        let (tx, rx) = sync_channel::<Batch>(depth);
        let d = delivery.clone();
        let thread = std::thread::Builder::new()
            .name("simvue-writer".into())
            .spawn(move || {
                // Batches in the order they were handed over: metrics, events and run updates
                // keep the order the dispatcher gave them.
                for b in rx {
                    d.deliver_once(b);
                }
            })?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
            delivery,
        })
    }

    /// Hands a batch to the writer, waiting while `depth` batches already wait.
    pub(super) fn hand_over(&self, b: Batch) {
        let Some(tx) = &self.tx else {
            return self.delivery.deliver_once(b);
        };
        if let Err(std::sync::mpsc::SendError(b)) = tx.send(b) {
            // The thread ended (it cannot, short of a panic in a sink): write it here.
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
