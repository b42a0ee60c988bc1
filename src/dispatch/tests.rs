//! Unit tests of the dispatcher with a recording sink.

use super::queue::MAX_READY;
use super::*;
use crate::error::{ErrorKind, Result};
use crate::model::{EventSet, LogLevel, MetricSet};
use crate::monitor;
use crate::sink::Sink;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::Barrier;
use std::time::Duration;

/// A sink that records batches and can be held shut to make the queue fill up.
#[derive(Default)]
struct Recorder {
    metrics: Mutex<Vec<MetricSet>>,
    events: Mutex<Vec<EventSet>>,
    heartbeats: AtomicU64,
    gate: Mutex<Option<Arc<Barrier>>>,
    first_batch: AtomicU64,
    batch_sizes: Mutex<Vec<usize>>,
}

impl Recorder {
    /// Makes the next metric batch wait in the sink: the returned barrier is met once when
    /// the batch is there (the dispatcher is busy), and once more to let it go.
    fn hold_first_batch(&self) -> Arc<Barrier> {
        let gate = Arc::new(Barrier::new(2));
        *self.gate.lock() = Some(gate.clone());
        gate
    }
}

impl Sink for Recorder {
    unused_sink_methods!();
    fn send_metrics(&self, _: &str, batch: &crate::model::MetricBatch) -> Result<()> {
        let gate = self.gate.lock().take();
        if let Some(g) = gate {
            self.first_batch
                .store(batch.len() as u64, Ordering::Relaxed);
            g.wait(); // the test knows the dispatcher is now busy
            g.wait(); // ... until the test lets it go
        }
        self.batch_sizes.lock().push(batch.len());
        self.metrics.lock().extend(batch.to_sets());
        Ok(())
    }
    fn send_events(&self, _: &str, batch: &[EventSet]) -> Result<()> {
        self.events.lock().extend_from_slice(batch);
        Ok(())
    }
    fn save_artifact(
        &self,
        _: &str,
        _: &crate::artifact::Artifact,
        _: crate::artifact::Category,
    ) -> Result<()> {
        unreachable!()
    }
    fn heartbeat(&self, _: &str) -> Result<()> {
        self.heartbeats.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    fn close_run(&self, _: &str, _: bool) -> Result<()> {
        Ok(())
    }
}

fn settings(capacity: usize, blocking: bool) -> DispatchSettings {
    DispatchSettings {
        capacity,
        blocking,
        flush_interval: Duration::from_millis(50),
        heartbeat_interval: Duration::from_secs(3600),
        resources_interval: None,
        pid: std::process::id(),
        abort_interval: None,
        monitor: Default::default(),
        // The dispatcher writes itself: the tests that stop the sink stop the dispatcher, and
        // what fits in the queue meanwhile is exact. The writer thread has its own tests.
        writer_depth: 0,
    }
}

/// Metric sets queued and not taken by the dispatcher yet: in the queue's block and the
/// lanes.
fn queued(d: &Dispatcher) -> usize {
    let q = d.shared.q.lock();
    q.metrics.len() + q.lanes.iter().map(|l| l.pending().0).sum::<usize>()
}

fn start(sink: Arc<Recorder>, capacity: usize, blocking: bool) -> Dispatcher {
    start_with(sink, settings(capacity, blocking))
}

/// A blocking dispatcher as [`start`] makes, with flush interval `flush`.
fn start_flushing(sink: Arc<Recorder>, capacity: usize, flush: Duration) -> Dispatcher {
    start_with(
        sink,
        DispatchSettings {
            flush_interval: flush,
            ..settings(capacity, true)
        },
    )
}

fn start_with(sink: Arc<Recorder>, settings: DispatchSettings) -> Dispatcher {
    Dispatcher::start(
        "run".into(),
        sink,
        settings,
        Timestamp::now(),
        Box::new(|e| panic!("sink error {e}")),
        Box::new(|| {}),
    )
    .unwrap()
}

/// With the writer thread (a run's local sink), a sink that is slow to write a batch does not
/// stop the dispatcher: it goes on emptying the queue into the writer's hand-over, up to its
/// depth, so a blocking caller does not wait for the batch being written. Everything arrives,
/// in order, once the sink goes on.
#[test]
fn a_slow_local_sink_does_not_stop_the_dispatcher_emptying_the_queue() {
    let sink = Arc::new(Recorder::default());
    let gate = sink.hold_first_batch();
    let capacity = 10;
    let depth = 2;
    let d = start_with(
        sink.clone(),
        DispatchSettings {
            writer_depth: depth,
            ..settings(capacity, true)
        },
    );
    let mut step = 0u64;
    let mut log = |n: usize| {
        for _ in 0..n {
            d.log_metrics(&["x"], &[step as f64], MetricOptions::default())
                .unwrap();
            step += 1;
        }
    };
    log(capacity / 2);
    gate.wait(); // the writer holds the first batch in the sink, and stays there

    // Twice (the writer's depth) the queue fills to its threshold and the dispatcher takes it
    // while the writer is still stuck: before the writer thread, it stayed full.
    let mut emptied = Vec::new();
    for _ in 0..depth {
        log(capacity / 2);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while queued(&d) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        emptied.push(queued(&d) == 0);
    }
    gate.wait(); // (let the writer go before any assertion, so a failure cannot hang the test)
    d.finish();
    assert_eq!(
        emptied,
        vec![true; depth],
        "the queue was emptied while the writer was busy, each round"
    );
    let got = sink.metrics.lock();
    assert_eq!(got.len(), capacity / 2 * (depth + 1));
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, m)| m.step == i as u64 && m.values[0].1 == i as f64));
    assert_eq!(d.stats().metrics_dropped, 0);
}

/// A writer that is behind (stuck here) is not handed one more small batch at every flush
/// interval: with 8 metric batches waiting, a trickle of sets stays in the queue (one block)
/// until the writer catches up, then everything arrives, in order.
#[test]
fn a_writer_that_is_behind_is_not_handed_a_batch_every_flush() {
    let sink = Arc::new(Recorder::default());
    let gate = sink.hold_first_batch();
    let d = start_with(
        sink.clone(),
        DispatchSettings {
            writer_depth: 4,
            ..settings(1000, true)
        },
    );
    let n = 14;
    for i in 0..n {
        d.log_metrics(&["x"], &[i as f64], MetricOptions::default())
            .unwrap();
        if i == 0 {
            gate.wait(); // the writer holds the first set's batch in the sink, and stays there
        }
        // Past the flush interval (50 ms): each set is a batch of its own while the writer
        // is not behind.
        std::thread::sleep(Duration::from_millis(80));
    }
    let left = queued(&d);
    gate.wait(); // (let the writer go before any assertion, so a failure cannot hang the test)
    d.finish();
    // 1 batch in the sink, 8 waiting, the rest left queued (timing may move one either way).
    assert!(left >= n - 10, "{left} sets left in the queue");
    let got = sink.metrics.lock();
    assert_eq!(got.len(), n);
    assert!(got.iter().enumerate().all(|(i, m)| m.step == i as u64));
}

#[test]
fn blocking_queue_loses_nothing_under_pressure() {
    let sink = Arc::new(Recorder::default());
    let d = start(sink.clone(), 16, true);
    let n = 20_000u64;
    for i in 0..n {
        d.log_metrics(
            &["x", "y"],
            &[i as f64, -(i as f64)],
            MetricOptions::default(),
        )
        .unwrap();
        if i % 7 == 0 {
            d.log_event(&format!("e{i}"), LogLevel::Info, None).unwrap();
        }
    }
    d.finish();
    let got = sink.metrics.lock();
    assert_eq!(got.len() as u64, n);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.step, i as u64);
        assert_eq!(m.values[0].1, i as f64);
        assert_eq!(&*m.values[1].0, "y");
    }
    assert_eq!(sink.events.lock().len() as u64, n.div_ceil(7));
    let st = d.stats();
    assert_eq!((st.metrics_dropped, st.events_dropped), (0, 0));
    assert_eq!(st.metrics_sent, n);
}

#[test]
fn non_blocking_queue_counts_exactly_what_it_drops() {
    let sink = Arc::new(Recorder::default());
    let gate = sink.hold_first_batch();
    let capacity = 10;
    let d = start(sink.clone(), capacity, false);
    // Fill to the threshold so the dispatcher takes a first batch and then hangs in the sink.
    for _ in 0..capacity / 2 {
        d.log_metrics(&["x"], &[1.0], MetricOptions::default())
            .unwrap();
    }
    gate.wait();
    // The dispatcher is stuck in the sink holding its first batch of `k` items (the lane's
    // block handed over at the threshold, or what a flush copied out); the lane holds the
    // other 5 - k. Of the next 100, the lane takes `k` to the threshold and hands its block
    // over, then [`MAX_READY`] - 1 blocks more of `threshold` sets, and then fills up to
    // `capacity`.
    let k = sink.first_batch.load(Ordering::Relaxed);
    assert!((1..=5).contains(&k));
    for _ in 0..100 {
        d.log_metrics(&["x"], &[2.0], MetricOptions::default())
            .unwrap();
    }
    let threshold = capacity as u64 / 2;
    let fitted = k + (MAX_READY as u64 - 1) * threshold + capacity as u64;
    assert_eq!(d.stats().metrics_dropped, 100 - fitted);
    gate.wait();
    d.finish();
    let st = d.stats();
    let written = sink.metrics.lock().len() as u64;
    assert_eq!(written, 5 + fitted);
    assert_eq!(written + st.metrics_dropped, 105);
    assert_eq!(st.metrics_queued, written);
    // The automatic step counts dropped calls too, so gaps show where data was lost.
    assert_eq!(sink.metrics.lock().last().unwrap().step, 5 + fitted - 1);
}

#[test]
fn the_fast_path_takes_only_what_it_can_finish_and_changes_nothing_otherwise() {
    let sink = Arc::new(Recorder::default());
    let gate = sink.hold_first_batch();
    let capacity = 10;
    let d = start(sink.clone(), capacity, false);
    // Names never logged: left to the full path, with no step taken.
    assert!(!d.try_log_metrics(&["x", "y"][..], &[0.0, 0.0]));
    assert!(!d.try_log_metrics(&[][..], &[]));
    assert_eq!(d.stats().metrics_queued, 0);
    d.log_metrics(&["x", "y"], &[0.0, 0.0], MetricOptions::default())
        .unwrap();
    // Known now; another order, another count or other bytes are not the same set.
    assert!(!d.try_log_metrics(&["y", "x"][..], &[1.0, 1.0]));
    assert!(!d.try_log_metrics(&["x"][..], &[1.0]));
    assert!(!d.try_log_metrics(&["x", "yy"][..], &[1.0, 1.0]));
    assert!(!d.try_log_metrics(&["x", "y"][..], &[1.0]));
    for i in 1..capacity / 2 {
        assert!(d.try_log_metrics(&["x", "y"][..], &[i as f64, -(i as f64)]));
    }
    gate.wait();
    // The dispatcher holds its first batch of k in the sink: the lane fits k more to the
    // threshold, hands its block over, [`MAX_READY`] - 1 blocks more of `threshold` sets, and
    // then `capacity`; the fast path counts the rest dropped (with their steps), as the full
    // path does.
    let k = sink.first_batch.load(Ordering::Relaxed);
    for _ in 0..100 {
        assert!(d.try_log_metrics(&["x", "y"][..], &[7.0, 7.0]));
    }
    let threshold = capacity as u64 / 2;
    let fitted = k + (MAX_READY as u64 - 1) * threshold + capacity as u64;
    assert_eq!(d.stats().metrics_dropped, 100 - fitted);
    gate.wait();
    d.finish();
    let got = sink.metrics.lock();
    assert_eq!(got.len() as u64, 5 + fitted);
    for (i, m) in got.iter().take(5).enumerate() {
        assert_eq!(m.step, i as u64);
        assert_eq!(
            m.values,
            vec![("x".into(), i as f64), ("y".into(), -(i as f64))]
        );
    }
    assert_eq!(got.last().unwrap().step, 5 + fitted - 1);
}

#[test]
fn the_fast_path_leaves_a_full_blocking_queue_to_the_full_path() {
    let sink = Arc::new(Recorder::default());
    let gate = sink.hold_first_batch();
    let capacity = 4;
    let d = start(sink.clone(), capacity, true);
    for i in 0..capacity / 2 {
        d.log_metrics(&["x"], &[i as f64], MetricOptions::default())
            .unwrap();
    }
    gate.wait();
    let k = sink.first_batch.load(Ordering::Relaxed) as usize;
    // Fill the queue; then the fast path declines (the full path would wait), taking no step.
    let mut logged = capacity / 2;
    while d.try_log_metrics(&["x"][..], &[logged as f64]) {
        logged += 1;
    }
    // (k more to the threshold, [`MAX_READY`] - 1 blocks more of `threshold` sets handed
    // over, then `capacity`.)
    let threshold = capacity / 2;
    assert_eq!(
        logged,
        capacity / 2 + k + (MAX_READY - 1) * threshold + capacity
    );
    assert_eq!(d.stats().metrics_dropped, 0);
    gate.wait();
    d.log_metrics(&["x"], &[logged as f64], MetricOptions::default())
        .unwrap();
    d.finish();
    let got = sink.metrics.lock();
    assert_eq!(got.len(), logged + 1);
    for (i, m) in got.iter().enumerate() {
        assert_eq!((m.step, m.values[0].1), (i as u64, i as f64));
    }
}

#[test]
fn options_override_step_time_and_timestamp_but_the_counter_still_advances() {
    let sink = Arc::new(Recorder::default());
    let d = start(sink.clone(), 100, true);
    let ts = Timestamp::parse("2024-05-01 12:00:00.25").unwrap();
    d.log_metrics(
        &["a"],
        &[1.0],
        MetricOptions {
            step: Some(10),
            time: Some(2.5),
            timestamp: Some(ts),
        },
    )
    .unwrap();
    d.log_metrics(&["a"], &[2.0], MetricOptions::default())
        .unwrap();
    d.finish();
    let got = sink.metrics.lock();
    assert_eq!((got[0].step, got[0].time, got[0].timestamp), (10, 2.5, ts));
    assert_eq!(got[1].step, 1);
    assert!(got[1].time >= 0.0 && got[1].time < 60.0);
}

#[test]
fn bad_metric_input_is_refused_and_nothing_is_queued() {
    let sink = Arc::new(Recorder::default());
    let d = start(sink.clone(), 100, true);
    let opts = MetricOptions::default();
    assert_eq!(
        d.log_metrics(&["bad,name"], &[1.0], opts).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        d.log_metrics(&[""], &[1.0], opts).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        d.log_metrics(&["a", "a"], &[1.0, 2.0], opts)
            .unwrap_err()
            .kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        d.log_metrics(&[], &[], opts).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    let nan_time = MetricOptions {
        time: Some(f64::NAN),
        ..opts
    };
    assert_eq!(
        d.log_metrics(&["a"], &[1.0], nan_time).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    let huge_step = MetricOptions {
        step: Some(i64::MAX as u64 + 1),
        ..opts
    };
    assert_eq!(
        d.log_metrics(&["a"], &[1.0], huge_step).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    // Values may be non-finite, as in the Python client.
    d.log_metrics(&["a", "b"], &[f64::NAN, f64::INFINITY], opts)
        .unwrap();
    d.finish();
    assert_eq!(sink.metrics.lock().len(), 1);
    assert_eq!(d.stats().metrics_queued, 1);
}

#[test]
fn heartbeats_and_resource_samples_come_from_the_dispatcher() {
    let sink = Arc::new(Recorder::default());
    let mut st = settings(100, true);
    st.heartbeat_interval = Duration::from_millis(100);
    st.resources_interval = Some(Duration::from_millis(200));
    let d = start_with(sink.clone(), st);
    std::thread::sleep(Duration::from_millis(750));
    d.finish();
    assert!(sink.heartbeats.load(Ordering::Relaxed) >= 3);
    let m = sink.metrics.lock();
    assert!(m.len() >= 2, "{} samples", m.len());
    for (i, s) in m.iter().enumerate() {
        assert_eq!(s.step, i as u64);
        assert_eq!(&*s.values[0].0, monitor::CPU_PERCENT);
        assert_eq!(&*s.values[1].0, monitor::MEMORY_MIB);
        assert!(s.values[1].1 > 0.5);
    }
}

/// `n` names for wide sets.
fn wide_names(n: usize) -> Vec<String> {
    (0..n).map(|k| format!("w{k}")).collect()
}

#[test]
fn wide_sets_are_bounded_in_bytes_not_only_in_items() {
    // 1000 values a set: the item capacity (a million) is never reached; the byte bound is.
    let sink = Arc::new(Recorder::default());
    let gate = sink.hold_first_batch();
    let d = start(sink.clone(), 1_000_000, false);
    let names = wide_names(1000);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let values = vec![1.5; 1000];
    let set = crate::model::MetricColumns::set_bytes(1000);
    // The first set wakes the dispatcher, which takes it and hangs in the sink holding it.
    d.log_metrics(&names, &values, MetricOptions::default())
        .unwrap();
    gate.wait();
    let calls = 3 * MAX_HELD_BYTES / set;
    for _ in 0..calls {
        d.log_metrics(&names, &values, MetricOptions::default())
            .unwrap();
    }
    let st = d.stats();
    let kept = st.metrics_queued; // the one held by the sink included
    assert_eq!(st.metrics_queued + st.metrics_dropped, calls as u64 + 1);
    assert!(st.metrics_dropped > 0);
    // Held and queued together stay within the bound (the last set let in may pass it).
    assert!(
        kept as usize * set <= MAX_HELD_BYTES + set,
        "{kept} sets of {set} bytes kept"
    );
    assert!(
        kept as usize * set > MAX_HELD_BYTES - set,
        "{kept} sets kept"
    );
    gate.wait();
    d.finish();
    let st = d.stats();
    assert_eq!(sink.metrics.lock().len() as u64, kept);
    assert_eq!((st.metrics_sent, st.metrics_failed), (kept, 0));
}

#[test]
fn wide_sets_with_blocking_lose_nothing_and_batches_stay_small() {
    let sink = Arc::new(Recorder::default());
    let d = start(sink.clone(), 1_000_000, true);
    let names = wide_names(3000);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let n = 2 * MAX_HELD_BYTES / crate::model::MetricColumns::set_bytes(3000);
    for i in 0..n {
        d.log_metrics(&names, &vec![i as f64; 3000], MetricOptions::default())
            .unwrap();
    }
    d.finish();
    let got = sink.metrics.lock();
    assert_eq!(got.len(), n);
    for (i, m) in got.iter().enumerate() {
        assert_eq!((m.step, m.values[2999].1), (i as u64, i as f64));
    }
    let st = d.stats();
    assert_eq!((st.metrics_dropped, st.metrics_sent), (0, n as u64));
    let biggest = *sink.batch_sizes.lock().iter().max().unwrap();
    assert!(
        biggest * crate::model::MetricColumns::set_bytes(3000) <= MAX_BATCH_BYTES,
        "a batch of {biggest} sets"
    );
}

/// The queue's first block, and the spares the dispatcher makes ready after each take, have
/// the memory the next sets will fill resident already, so that the logging thread does not
/// take the page faults; within bounds, and without growing the number of spares.
#[test]
fn queue_blocks_come_with_their_memory_resident() {
    use super::queue::{first_sets, warm_spares, FIRST_WIDTH, MAX_SPARES, WARM_BYTES, WARM_SPARES};
    let sink = Arc::new(Recorder::default());
    let capacity = 1000;
    let d = start(sink.clone(), capacity, false);
    let s = &*d.shared;
    let first = first_sets(capacity, s.threshold);
    assert_eq!(first, 625);
    // The first set's lane gets a block whose first sets are resident.
    d.log_metrics(&["a"], &[0.0], MetricOptions::default())
        .unwrap();
    {
        let q = s.q.lock();
        assert_eq!(q.lanes.len(), 1);
        // SAFETY: this thread is the lane's.
        let own = unsafe { &*q.lanes[0].own.get() };
        assert_eq!(own.block.resident(), (first, first * FIRST_WIDTH));
    }
    // A take of 600 sets of 3 values: the dispatcher then makes spares ready for a quarter
    // more (750 sets, but at most `first`, and 2250 values).
    for i in 0..600 {
        d.log_metrics(&["a", "b", "c"], &[i as f64; 3], MetricOptions::default())
            .unwrap();
    }
    let ready = |need: (usize, usize)| {
        let spares = s.spares.lock();
        spares.len() >= WARM_SPARES
            && spares.len() <= MAX_SPARES
            && spares.iter().all(|c| {
                let (sets, values) = c.resident();
                sets >= need.0 && values >= need.1 && c.is_empty()
            })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ready((first, 2250)) {
        assert!(
            std::time::Instant::now() < deadline,
            "spares not made ready"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    d.finish();
    assert_eq!(sink.metrics.lock().len(), 601);
    // Asked again for more, the same spares are made ready for it: no more of them.
    let before = s.spares.lock().len();
    warm_spares(s, 600, 30_000);
    assert!(ready((600, 30_000)));
    assert_eq!(s.spares.lock().len(), before);
    // Each spare holds at most `WARM_BYTES` made resident for wide sets.
    warm_spares(s, 600, 10_000_000);
    for c in s.spares.lock().iter() {
        let (sets, values) = c.resident();
        assert!(values >= 30_000);
        assert!(
            values <= 30_000.max(WARM_BYTES / crate::model::MetricColumns::VALUE_BYTES),
            "{sets} sets, {values} values resident"
        );
    }
}

/// The dispatcher and writer threads run as `SCHED_BATCH`: woken, they do not preempt the
/// solver on its core.
#[test]
#[cfg(target_os = "linux")]
fn background_threads_do_not_preempt_the_solver() {
    if std::env::var_os("SIMVUE_SCHED").is_some() {
        return; // the policy was chosen outside
    }
    let sink = Arc::new(Recorder::default());
    let d = Dispatcher::start(
        "run".into(),
        sink,
        DispatchSettings {
            writer_depth: WRITER_DEPTH,
            ..settings(100, false)
        },
        Timestamp::now(),
        Box::new(|e| panic!("sink error {e}")),
        Box::new(|| {}),
    )
    .unwrap();
    d.log_metrics(&["x"], &[1.0], MetricOptions::default())
        .unwrap();
    // The policies of the live threads named `name` (other tests' threads share the names;
    // one that ended meanwhile does not answer).
    let policies = |name: &str| -> Vec<i32> {
        let mut found = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let task = task.path();
            let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
            let tid = task
                .file_name()
                .and_then(|t| t.to_str()?.parse::<i32>().ok());
            if let (true, Some(tid)) = (comm.trim_end() == name, tid) {
                // SAFETY: a plain query of a thread of this process.
                let policy = unsafe { libc::sched_getscheduler(tid) };
                if policy >= 0 {
                    found.push(policy);
                }
            }
        }
        found
    };
    // The writer starts with the dispatcher's first take.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while policies("simvue-writer").is_empty() {
        assert!(std::time::Instant::now() < deadline, "no writer thread");
        std::thread::sleep(Duration::from_millis(5));
    }
    for name in ["simvue-dispatch", "simvue-writer"] {
        let found = policies(name);
        assert!(!found.is_empty(), "no {name} thread");
        assert!(
            found.iter().all(|p| *p == libc::SCHED_BATCH),
            "{name}: {found:?}"
        );
    }
    d.finish();
}

/// The common call takes no lock shared with other threads: with the queue's lock held by
/// another thread, a thread whose lane has room logs on.
#[test]
fn a_thread_with_a_lane_logs_while_the_queues_lock_is_held() {
    let sink = Arc::new(Recorder::default());
    let d = start_flushing(sink.clone(), 100_000, Duration::from_secs(30));
    // The first call gets the lane, learns the names and reserves room.
    d.log_metrics(&["a", "b"], &[0.0, 0.0], MetricOptions::default())
        .unwrap();
    runs_while_the_locks_are_held(&[&d], || {
        for i in 1..1000 {
            assert!(d.try_log_metrics(&["a", "b"][..], &[i as f64, 1.0]));
        }
    });
    d.finish();
    assert_numbered(&sink, 1000);
}

/// Holds the queue locks of `runs` on another thread for half a second while `calls` runs,
/// and checks that `calls` did not wait for them (it was over before they were released).
fn runs_while_the_locks_are_held(runs: &[&Dispatcher], calls: impl FnOnce()) {
    let held = Arc::new(Barrier::new(2));
    let released = Arc::new(std::sync::atomic::AtomicBool::new(false));
    std::thread::scope(|scope| {
        let (holder, done) = (held.clone(), released.clone());
        let shared: Vec<&super::Shared> = runs.iter().map(|d| &*d.shared).collect();
        scope.spawn(move || {
            let locks: Vec<_> = shared.iter().map(|s| s.q.lock()).collect();
            holder.wait();
            std::thread::sleep(Duration::from_millis(500));
            done.store(true, Ordering::SeqCst);
            drop(locks);
        });
        held.wait();
        calls();
        assert!(
            !released.load(Ordering::SeqCst),
            "the calls waited for a lock"
        );
    });
}

/// Checks that `sink` got `n` sets, their steps and first values 0, 1, 2, ...
fn assert_numbered(sink: &Recorder, n: usize) {
    let got = sink.metrics.lock();
    assert_eq!(got.len(), n);
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, m)| m.step == i as u64 && m.values[0].1 == i as f64));
}

/// A dispatcher for tests of several logging threads: with the writer thread (as a run has),
/// and a flush interval of 1 ms, so that the dispatcher copies out of lanes often.
fn start_threaded(sink: Arc<Recorder>, capacity: usize, blocking: bool) -> Dispatcher {
    start_with(
        sink,
        DispatchSettings {
            flush_interval: Duration::from_millis(1),
            writer_depth: 2,
            ..settings(capacity, blocking)
        },
    )
}

/// Steps of the sets `got` logged by threads that log `(thread, i)` as values 0 and 1:
/// checks that each thread's sets came in the order logged, and returns the steps, sorted.
fn per_thread_in_order(got: &[MetricSet], threads: usize) -> Vec<u64> {
    let mut next = vec![0.0; threads];
    let mut steps = Vec::with_capacity(got.len());
    for m in got {
        let t = m.values[0].1 as usize;
        assert!(
            m.values[1].1 >= next[t],
            "thread {t}: {} after {}",
            m.values[1].1,
            next[t]
        );
        next[t] = m.values[1].1 + 1.0;
        steps.push(m.step);
    }
    steps.sort_unstable();
    steps
}

/// More threads than lanes log at once, through lanes and the queue's block: with a blocking
/// queue every set arrives once, each thread's in the order it logged them, and the steps
/// number the calls of all threads.
#[test]
fn many_threads_lose_nothing_and_keep_their_order() {
    let sink = Arc::new(Recorder::default());
    let d = start_threaded(sink.clone(), 64, true);
    let threads = super::lane::MAX_LANES + 4;
    let per = 5_000;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let d = &d;
            scope.spawn(move || {
                let names: [&str; 2] = ["thread", "i"];
                for i in 0..per {
                    if i % 500 == 0 {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    d.log_metrics(&names, &[t as f64, i as f64], MetricOptions::default())
                        .unwrap();
                }
            });
        }
    });
    d.finish();
    assert_eq!(d.shared.q.lock().lanes.len(), super::lane::MAX_LANES);
    let got = sink.metrics.lock();
    assert_eq!(got.len(), threads * per);
    let steps = per_thread_in_order(&got, threads);
    assert!(steps.iter().enumerate().all(|(i, &s)| s == i as u64));
    let st = d.stats();
    assert_eq!(
        (st.metrics_queued, st.metrics_sent, st.metrics_dropped),
        ((threads * per) as u64, (threads * per) as u64, 0)
    );
}

/// Threads that log in bursts, with pauses around the flush interval, through a small
/// non-blocking queue: the dispatcher copies what lanes published while they go on, lanes
/// start over, move what is left to the front and hand blocks over; the counts stay exact and
/// what was kept arrives once, in order.
#[test]
fn lanes_in_bursts_count_exactly_and_keep_their_order() {
    let sink = Arc::new(Recorder::default());
    let d = start_threaded(sink.clone(), 32, false);
    let threads = 3;
    let calls = 20_000;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let d = &d;
            scope.spawn(move || {
                let names: [&str; 3] = ["thread", "i", "w"];
                // A cheap generator of burst lengths and pauses.
                let mut r = 0x9e37_79b9_u32.wrapping_mul(t as u32 + 1);
                let mut i = 0;
                while i < calls {
                    r ^= r << 13;
                    r ^= r >> 17;
                    r ^= r << 5;
                    let burst = (r % 97) as usize + 1;
                    for _ in 0..burst.min(calls - i) {
                        let v = [t as f64, i as f64, (r % 7) as f64];
                        // The fast path and the full path take turns.
                        let fast = i % 3 != 0 && d.try_log_metrics(&names[..], &v);
                        if !fast {
                            d.log_metrics(&names, &v, MetricOptions::default()).unwrap();
                        }
                        i += 1;
                    }
                    if r % 5 == 0 {
                        std::thread::sleep(Duration::from_micros((r % 1500) as u64));
                    }
                }
            });
        }
    });
    d.finish();
    let st = d.stats();
    let got = sink.metrics.lock();
    assert_eq!(
        st.metrics_queued + st.metrics_dropped,
        (threads * calls) as u64
    );
    assert_eq!(st.metrics_queued, got.len() as u64);
    assert_eq!((st.metrics_sent, st.metrics_failed), (st.metrics_queued, 0));
    let steps = per_thread_in_order(&got, threads);
    // Dropped calls take steps too: the kept ones are distinct steps below the calls.
    assert!(steps.windows(2).all(|w| w[0] < w[1]));
    assert!(steps.last().is_some_and(|&s| s < (threads * calls) as u64));
}

/// The memory bound holds for all lanes together: threads logging wide sets while the sink
/// is stuck keep at most [`MAX_HELD_BYTES`] (each lane may pass it by the set it let in).
#[test]
fn lanes_share_the_bound_on_held_bytes() {
    let sink = Arc::new(Recorder::default());
    let gate = sink.hold_first_batch();
    let d = start(sink.clone(), 1_000_000, false);
    let names = wide_names(500);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let set = crate::model::MetricColumns::set_bytes(500);
    d.log_metrics(&names, &[0.5; 500], MetricOptions::default())
        .unwrap();
    gate.wait(); // the dispatcher holds the first set in the sink
    let threads = 4;
    let calls = 2 * MAX_HELD_BYTES / set;
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (d, names) = (&d, &names);
            scope.spawn(move || {
                for _ in 0..calls {
                    d.log_metrics(names, &[1.5; 500], MetricOptions::default())
                        .unwrap();
                }
            });
        }
    });
    let st = d.stats();
    assert_eq!(
        st.metrics_queued + st.metrics_dropped,
        (threads * calls + 1) as u64
    );
    let kept = st.metrics_queued as usize;
    assert!(
        kept * set <= MAX_HELD_BYTES + threads * set,
        "{kept} sets of {set} bytes kept"
    );
    assert!(
        kept * set > MAX_HELD_BYTES - (threads + 1) * (set + super::lane::RESERVE_AHEAD),
        "{kept} sets kept"
    );
    assert!(d.shared.held.load(Ordering::Relaxed) <= MAX_HELD_BYTES + threads * set);
    gate.wait();
    d.finish();
    assert_eq!(sink.metrics.lock().len(), kept);
    assert_eq!(d.stats().metrics_sent, kept as u64);
    assert_eq!(d.shared.held.load(Ordering::Relaxed), 0);
}

/// Sets wider than half a lane's block, and wider than a whole block (past the memory
/// bound: let in alone), between narrow ones: each arrives once, in order.
#[test]
fn sets_wider_than_a_block_come_through_in_order() {
    let sink = Arc::new(Recorder::default());
    let d = start(sink.clone(), 100, true);
    let widths = [1, 800_000, 2, 800_000, 1_500_000, 3, 1];
    let names: Vec<String> = wide_names(1_500_000);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    for (i, &w) in widths.iter().enumerate() {
        d.log_metrics(&names[..w], &vec![i as f64; w], MetricOptions::default())
            .unwrap();
    }
    d.finish();
    let got = sink.metrics.lock();
    assert_eq!(got.len(), widths.len());
    for (i, (m, &w)) in got.iter().zip(&widths).enumerate() {
        assert_eq!((m.step, m.values.len()), (i as u64, w));
        assert!(m.values.iter().all(|v| v.1 == i as f64));
    }
    assert_eq!(d.stats().metrics_sent, widths.len() as u64);
    assert_eq!(d.shared.held.load(Ordering::Relaxed), 0);
}

/// A lane's thread that fills its block while the dispatcher copies out of it hands the
/// block over without waiting for the copy (its memory does not move): the sets being copied
/// are written once, from the copy, and the block's batches start after them.
#[test]
fn a_block_handed_over_during_a_copy_is_written_once_in_order() {
    let sink = Arc::new(Recorder::default());
    let capacity = 10;
    let d = start(sink.clone(), capacity, true);
    let gate = Arc::new(Barrier::new(2));
    *d.shared.copy_gate.lock() = Some(gate.clone());
    let mut i = 0;
    let mut log = |n: usize| {
        for _ in 0..n {
            assert!(
                d.try_log_metrics(&["x"][..], &[i as f64]) || {
                    d.log_metrics(&["x"], &[i as f64], MetricOptions::default())
                        .unwrap();
                    true
                }
            );
            i += 1;
        }
    };
    // Below the threshold: the flush interval wakes the dispatcher, which starts copying
    // what the lane holds and waits at the gate.
    log(3);
    gate.wait();
    // The lane reaches the threshold with no set copied out yet, hands its block over
    // (during the copy) and goes on in a new one.
    let threshold = capacity / 2;
    log(threshold - 3 + 3);
    {
        let q = d.shared.q.lock();
        assert_eq!(q.ready.len(), 1);
        assert_eq!(q.ready[0].0.len(), threshold);
    }
    gate.wait();
    d.finish();
    let got = sink.metrics.lock();
    assert_eq!(got.len(), threshold + 3);
    for (k, m) in got.iter().enumerate() {
        assert_eq!((m.step, m.values[0].1), (k as u64, k as f64));
    }
    let st = d.stats();
    assert_eq!((st.metrics_queued, st.metrics_sent), (8, 8));
    assert_eq!(d.shared.held.load(Ordering::Relaxed), 0);
}

/// A lane that reaches the threshold hands its block over whole; the dispatcher's take of it
/// leaves another lane's few sets where they are until the flush is due (or the run stops),
/// rather than copying them into a batch (a file) of their own at every take.
#[test]
fn a_lane_below_the_threshold_waits_for_the_flush_while_another_hands_its_block_over() {
    let sink = Arc::new(Recorder::default());
    let capacity = 10;
    let d = start_flushing(sink.clone(), capacity, Duration::from_secs(30));
    let log = |name: &str, n: usize| {
        for i in 0..n {
            d.log_metrics(&[name], &[i as f64], MetricOptions::default())
                .unwrap();
        }
    };
    // A thread of its own logs 2 sets (its lane stays below the threshold), then another
    // reaches the threshold: its block goes to the dispatcher as it is.
    std::thread::scope(|s| {
        s.spawn(|| log("slow", 2));
    });
    std::thread::scope(|s| {
        s.spawn(|| log("fast", capacity / 2));
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sink.metrics.lock().len() < capacity / 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the block was not taken"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(*sink.batch_sizes.lock(), vec![capacity / 2]);
    assert_eq!(queued(&d), 2);
    {
        let q = d.shared.q.lock();
        assert!(q.lanes.iter().all(|l| !l.copying.load(Ordering::Relaxed)));
    }
    d.finish();
    assert_eq!(*sink.batch_sizes.lock(), vec![capacity / 2, 2]);
    let got = sink.metrics.lock();
    assert!(got[..5].iter().all(|m| &*m.values[0].0 == "fast"));
    assert!(got[5..].iter().all(|m| &*m.values[0].0 == "slow"));
}

/// A thread that logs slowly is not starved by one that hands blocks over all the time: its
/// lane is copied out at the flush interval, counted from the last time every lane was, not
/// from the last take.
#[test]
fn a_slow_lane_is_flushed_while_a_fast_one_keeps_handing_blocks_over() {
    let sink = Arc::new(Recorder::default());
    let capacity = 10;
    let d = start_flushing(sink.clone(), capacity, Duration::from_millis(100));
    std::thread::scope(|s| {
        s.spawn(|| {
            d.log_metrics(&["slow"], &[1.0], MetricOptions::default())
                .unwrap()
        });
    });
    let arrived = || {
        sink.metrics
            .lock()
            .iter()
            .any(|m| &*m.values[0].0 == "slow")
    };
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            // A block handed over every 10 ms: the dispatcher takes every 10 ms.
            while !arrived() && start.elapsed() < Duration::from_secs(5) {
                for i in 0..capacity / 2 {
                    d.log_metrics(&["fast"], &[i as f64], MetricOptions::default())
                        .unwrap();
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
    });
    assert!(arrived(), "the slow lane was not flushed in 5 s");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    d.finish();
}

/// A thread logging to two runs in turn finds both lanes without the lock: with both queues'
/// locks held by another thread, it logs on to each.
#[test]
fn a_thread_logging_to_two_runs_in_turn_takes_no_lock_for_either() {
    let start_one =
        |sink: &Arc<Recorder>| start_flushing(sink.clone(), 100_000, Duration::from_secs(30));
    let sinks = [Arc::new(Recorder::default()), Arc::new(Recorder::default())];
    let runs = [start_one(&sinks[0]), start_one(&sinks[1])];
    for d in &runs {
        d.log_metrics(&["a"], &[0.0], MetricOptions::default())
            .unwrap();
    }
    runs_while_the_locks_are_held(&[&runs[0], &runs[1]], || {
        for i in 1..1000 {
            for d in &runs {
                assert!(d.try_log_metrics(&["a"][..], &[i as f64]));
            }
        }
    });
    for (d, sink) in runs.iter().zip(&sinks) {
        d.finish();
        assert_numbered(sink, 1000);
    }
}
