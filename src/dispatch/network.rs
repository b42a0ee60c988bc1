//! The network thread of a remote sink and the bounded outbox that feeds it. Batches are sent
//! with retries here, with heartbeats and abort polls, so that none of them ever holds up the
//! queues for long; when the server does not keep up, the oldest data batch is spilled to the
//! offline cache.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::delivery::{unreachable, Batch, Delivery};
use crate::error::{Error, ErrorKind};

/// Bytes of logged data waiting for the network thread (besides the batch it is sending) at
/// most. Half of [`super::MAX_HELD_BYTES`], so that the queue keeps room while the network
/// catches up; batches are at most 5 MiB, so at least two are always in flight (the one sent
/// and one waiting; twice as much, tried, sent no faster).
const OUTBOX_BYTES: usize = super::MAX_HELD_BYTES / 2;

/// With `queue_blocking`, how long the dispatcher waits for the network thread to make room
/// before it decides the server is not keeping up and spills instead (so a hanging server
/// stalls the solver once, for this long, and not for every batch).
const MAX_STALL: Duration = Duration::from_secs(10);

/// Without `queue_blocking`, how long the dispatcher waits for room (the queue meanwhile
/// drops what it cannot hold, as the user asked) before it calls the server really slow and
/// spills the oldest waiting batch; then it spills at once until a batch is delivered again.
const LAG_STALL: Duration = Duration::from_secs(2);

#[derive(Default)]
struct OutboxState {
    batches: VecDeque<Batch>,
    /// Bytes of the batches waiting.
    bytes: usize,
    /// The server was found really slow; cleared when the network thread delivers a batch.
    lagging: bool,
    stop: bool,
}

impl OutboxState {
    /// Over budget, with more than the one batch the network thread takes next.
    fn over(&self) -> bool {
        self.bytes > OUTBOX_BYTES && self.batches.len() > 1
    }
}

/// Batches handed from the dispatcher to the network thread, at most [`OUTBOX_BYTES`] of
/// them. While the network thread delivers, a server that keeps up never causes a spill; past
/// the budget for [`MAX_STALL`] (blocking) or [`LAG_STALL`] the oldest batch is spilled to the
/// offline cache, so a slow, hanging or vanished server never makes the solver wait for long.
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
    /// once; when the outbox is over its budget, the oldest data batch is spilled after up to
    /// [`MAX_STALL`] (with `queue_blocking`) or [`LAG_STALL`] of waiting for room.
    pub(super) fn hand_over(&self, b: Batch) {
        let remote = self.delivery.remote();
        if remote.health().degraded() {
            return self.delivery.spill(b, &unreachable());
        }
        let outbox = &*self.outbox;
        let stall = if self.blocking { MAX_STALL } else { LAG_STALL };
        let overflow = {
            let mut st = outbox.state.lock();
            st.bytes += b.bytes();
            st.batches.push_back(b);
            outbox.ready.notify_one();
            if st.over() && !st.lagging {
                // Wait while the network thread catches up: a server that answers in time
                // makes room; with blocking, the queue fills up and the solver waits.
                let deadline = Instant::now() + stall;
                while st.over() && Instant::now() < deadline {
                    outbox.room.wait_until(&mut st, deadline);
                }
                if st.over() {
                    if self.blocking {
                        remote
                            .health()
                            .mark_degraded(remote.retry_policy().probe_after);
                    } else {
                        st.lagging = true;
                    }
                }
            }
            if st.over() {
                // The oldest data batch goes to the cache; run updates stay, in order.
                let at = st
                    .batches
                    .iter()
                    .position(|b| !matches!(b, Batch::Update(..)));
                let old = at.and_then(|i| st.batches.remove(i));
                st.bytes -= old.as_ref().map_or(0, Batch::bytes);
                old.map(|old| (old, st.bytes))
            } else {
                None
            }
        };
        if let Some((old, waiting)) = overflow {
            self.delivery.spill(
                old,
                &Error::new(
                    ErrorKind::Network,
                    format!(
                        "the server is not keeping up: no batch was delivered for {} s while {:.1} MB more waited",
                        stall.as_secs(),
                        waiting as f64 / 1e6
                    ),
                ),
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
    let mut had_batch = false;
    loop {
        let (batch, stop) = {
            let mut st = outbox.state.lock();
            if had_batch {
                // A batch was delivered (or spilled by the retries): the server answers.
                st.lagging = false;
            }
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
            st.bytes -= b.as_ref().map_or(0, Batch::bytes);
            outbox.room.notify_all();
            (b, st.stop)
        };
        had_batch = batch.is_some();
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
