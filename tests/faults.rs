//! Faults through the safe Rust API: what a run does when its cache cannot be written, when a
//! background failure is reported, and so on. Each test names the fault it provokes.

mod common;

use std::path::Path;
use std::time::Duration;

use simvue::dispatch::MetricOptions;
use simvue::model::Status;
use simvue::run::{InitOptions, Run};
use simvue::ErrorKind;

use common::*;

fn started_run(cache: &Path) -> Run {
    let run = offline_run(cache);
    run.set_flush_interval(Duration::from_millis(50)).unwrap();
    run.init(InitOptions {
        name: Some("faults"),
        ..Default::default()
    })
    .unwrap();
    run
}

/// Makes `<cache>/<kind>` a file, so that writing there fails until [`unblock`].
fn block(cache: &Path, kind: &str) {
    let _ = std::fs::remove_dir_all(cache.join(kind));
    std::fs::write(cache.join(kind), b"not a directory").unwrap();
}

fn unblock(cache: &Path, kind: &str) {
    std::fs::remove_file(cache.join(kind)).unwrap();
}

fn steps(cache: &Path) -> Vec<u64> {
    all_metric_sets(cache)
        .iter()
        .map(|m| m["step"].as_u64().unwrap())
        .collect()
}

fn event_messages(cache: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for f in files(&cache.join("events")) {
        let j = read_json(&cache.join("events").join(f));
        for e in j["events"].as_array().unwrap() {
            out.push(e["message"].as_str().unwrap().to_owned());
        }
    }
    out
}

#[test]
fn the_call_that_reports_a_background_error_keeps_its_own_values() {
    let cache = temp_cache("bg-keeps");
    let run = started_run(&cache);
    let at = |step| MetricOptions {
        step: Some(step),
        ..Default::default()
    };

    block(&cache, "metrics");
    run.log_metrics(&["x"], &[0.0], at(0)).unwrap();
    std::thread::sleep(Duration::from_millis(500)); // the write fails in the background
    unblock(&cache, "metrics");
    let e = run.log_metrics(&["x"], &[1.0], at(1)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Background, "{}", e.message);

    block(&cache, "events");
    run.log_event("first", None).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    unblock(&cache, "events");
    let e = run.log_event("second", None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Background, "{}", e.message);

    let _ = run.close();
    assert!(steps(&cache).contains(&1), "steps {:?}", steps(&cache));
    assert!(
        event_messages(&cache).contains(&"second".to_owned()),
        "events {:?}",
        event_messages(&cache)
    );
}

#[test]
fn a_tiny_abort_poll_interval_is_raised_to_the_minimum() {
    let run = offline_run(&temp_cache("abort-poll"));
    run.set_abort_poll_interval(Duration::from_secs_f64(1e-300))
        .unwrap();
    assert_eq!(
        run.settings().abort_poll_interval,
        simvue::run::MIN_ABORT_POLL_INTERVAL
    );
}

#[test]
fn the_last_status_set_wins_as_in_the_python_client() {
    let cache = temp_cache("status-twice");
    let run = started_run(&cache);
    let id = run.id().unwrap();
    run.set_status(Status::Failed).unwrap();
    run.set_status(Status::Completed).unwrap();
    run.close().unwrap();
    let rec = read_json(&cache.join("runs").join(format!("{id}.json")));
    assert_eq!(rec["status"], "completed");
}

#[test]
fn metrics_that_could_not_be_written_are_kept_and_written_when_the_cache_works_again() {
    let cache = temp_cache("held-written");
    let run = started_run(&cache);
    block(&cache, "metrics");
    for i in 0..100u64 {
        let _ = run.log_metrics(
            &["x"],
            &[i as f64],
            MetricOptions {
                step: Some(i),
                ..Default::default()
            },
        );
    }
    std::thread::sleep(Duration::from_millis(300)); // several writes fail in the background
    unblock(&cache, "metrics");
    let _ = run.log_metrics(
        &["x"],
        &[100.0],
        MetricOptions {
            step: Some(100),
            ..Default::default()
        },
    );
    // The held sets are written with the next batch or at close; nothing is lost.
    run.close().unwrap();
    let mut got = steps(&cache);
    got.sort_unstable();
    assert_eq!(got, (0..=100).collect::<Vec<_>>());
    assert_eq!(run.stats().metrics_failed, 0);
    assert_eq!(run.status(), Some(Status::Completed));
}

#[test]
fn metrics_that_can_never_be_written_are_counted_lost_close_fails_and_the_run_ends_lost() {
    let cache = temp_cache("held-lost");
    let run = started_run(&cache);
    let id = run.id().unwrap();
    block(&cache, "metrics");
    for i in 0..40u64 {
        let _ = run.log_metrics(&["x"], &[i as f64], MetricOptions::default());
    }
    run.log_event("kept", None).ok();
    let e = run.close().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io, "{}", e.message);
    assert!(
        e.message.contains("40 metric sets and 0 events"),
        "{}",
        e.message
    );
    let st = run.stats();
    assert_eq!((st.metrics_failed, st.events_failed), (40, 0));
    let rec = read_json(&cache.join("runs").join(format!("{id}.json")));
    assert_eq!(rec["status"], "lost");
    assert_eq!(event_messages(&cache), vec!["kept".to_owned()]);
}
