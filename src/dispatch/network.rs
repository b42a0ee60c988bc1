//! The network thread of a remote sink and the bounded outbox that feeds it. Batches are sent
//! with retries here, with heartbeats and abort polls, so that none of them ever holds up the
//! queues; when the outbox overflows, the oldest data batch is spilled to the offline cache.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::delivery::{unreachable, Batch, Delivery};
use crate::error::{Error, ErrorKind};

/// Batches waiting for the network at most.
const MAX_PENDING: usize = 8;

/// With `queue_blocking`, how long the dispatcher waits for the network thread to make room
/// before it decides the server is not keeping up and spills instead (so a hanging server
/// stalls the solver once, for this long, and not for every batch).
const MAX_STALL: Duration = Duration::from_secs(10);

#[derive(Default)]
struct OutboxState {
    batches: VecDeque<Batch>,
    stop: bool,
}

/// Batches handed from the dispatcher to the network thread, at most [`MAX_PENDING`]; beyond
/// that the oldest is spilled to the offline cache, so a slow, hanging or vanished server never
/// makes the queues (and so the solver) wait.
#[derive(Default)]
struct Outbox {
    state: Mutex<OutboxState>,
    /// Wakes the network thread.
    ready: Condvar,
    /// Wakes the dispatcher waiting for room.
    room: Condvar,
}

/// The dispatcher's handle on the network thread.
pub(super) struct Network {
    outbox: Arc<Outbox>,
    delivery: Delivery,
    blocking: bool,
    thread: Option<JoinHandle<()>>,
}

impl Network {
    /// Starts the network thread for the remote sink of `delivery`.
    pub(super) fn start(
        delivery: Delivery,
        blocking: bool,
        heartbeat_interval: Duration,
        abort_interval: Option<Duration>,
        on_abort: Box<dyn Fn() + Send>,
    ) -> std::io::Result<Network> {
        let outbox = Arc::new(Outbox::default());
        let (d, o) = (delivery.clone(), outbox.clone());
        let thread = std::thread::Builder::new()
            .name("simvue-network".into())
            .spawn(move || run(d, o, heartbeat_interval, abort_interval, on_abort))?;
        Ok(Network {
            outbox,
            delivery,
            blocking,
            thread: Some(thread),
        })
    }

    /// Hands a batch to the network thread. While the server is degraded it is spilled at
    /// once; when the outbox is over its bound, the oldest data batch is spilled (after up to
    /// [`MAX_STALL`] of waiting with `queue_blocking`).
    pub(super) fn hand_over(&self, b: Batch) {
        let remote = self.delivery.remote();
        if remote.health().degraded() {
            return self.delivery.spill(b, &unreachable());
        }
        let outbox = &*self.outbox;
        let overflow = {
            let mut st = outbox.state.lock();
            st.batches.push_back(b);
            outbox.ready.notify_one();
            if self.blocking && st.batches.len() > MAX_PENDING {
                // The user asked for nothing to be dropped: let the queue fill up (and the
                // solver wait) while the server is merely slow.
                let deadline = Instant::now() + MAX_STALL;
                while st.batches.len() > MAX_PENDING && Instant::now() < deadline {
                    outbox.room.wait_until(&mut st, deadline);
                }
                if st.batches.len() > MAX_PENDING {
                    remote
                        .health()
                        .mark_degraded(remote.retry_policy().probe_after);
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
            self.delivery.spill(
                old,
                &Error::new(ErrorKind::Network, "the server is not keeping up"),
            );
        }
    }

    /// Lets the network thread send what is left (with retries), then waits for it.
    pub(super) fn finish(mut self) {
        self.outbox.state.lock().stop = true;
        self.outbox.ready.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The network thread: sends outbox batches (with retries), heartbeats and abort polls.
fn run(
    delivery: Delivery,
    outbox: Arc<Outbox>,
    heartbeat_interval: Duration,
    abort_interval: Option<Duration>,
    on_abort: Box<dyn Fn() + Send>,
) {
    let remote = delivery.remote();
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
            delivery.deliver_with_retries(b);
        }
        let now = Instant::now();
        if now >= next_heartbeat {
            next_heartbeat = now + heartbeat_interval;
            if !remote.health().degraded() {
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
                    && !remote.health().degraded()
                    && remote.abort_requested(&delivery.run_id).unwrap_or(false)
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
