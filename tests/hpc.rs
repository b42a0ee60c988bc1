//! Abnormal ends of a process through the safe Rust API: a signal from the batch system, a
//! non-zero exit, a program with its own signal handler. Each case runs in a child process
//! (this test binary started again for one test), since signals act on the whole process.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{all_metric_sets, files, offline_run, read_json, temp_cache};
use simvue::run::{InitOptions, MetricOptions, SignalAction};

const CHILD_CACHE: &str = "SIMVUE_IT_CHILD_CACHE";

/// Runs the test `name` of this binary as a child process writing to `cache`.
fn run_child(name: &str, cache: &Path, env: &[(&str, &str)]) -> ExitStatus {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_CACHE, cache)
        .envs(env.iter().copied())
        .status()
        .unwrap()
}

fn child_cache() -> Option<std::path::PathBuf> {
    std::env::var_os(CHILD_CACHE).map(Into::into)
}

/// The run of a cache holding one run: its JSON and whether it was closed.
fn the_run(cache: &Path) -> (serde_json::Value, bool) {
    let runs = files(&cache.join("runs"));
    let json = runs.iter().find(|f| f.ends_with(".json")).expect("a run");
    let closed = runs.iter().any(|f| f.ends_with(".closed"));
    (read_json(&cache.join("runs").join(json)), closed)
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

fn log_n(run: &simvue::Run, n: usize) {
    for i in 0..n {
        run.log_metrics(&["x"], &[i as f64], MetricOptions::default())
            .unwrap();
    }
}

fn raise(sig: i32) {
    // SAFETY: raising a signal at this process.
    unsafe {
        libc::raise(sig);
    }
}

#[test]
fn child_is_terminated() {
    let Some(cache) = child_cache() else { return };
    let run = offline_run(&cache);
    run.init(InitOptions::default()).unwrap();
    log_n(&run, 20_000);
    raise(libc::SIGTERM);
    std::thread::sleep(Duration::from_secs(60));
    panic!("still alive after SIGTERM");
}

#[test]
fn sigterm_flushes_the_run_marks_it_terminated_and_the_process_ends_by_it() {
    let cache = temp_cache("sigterm");
    let status = run_child("child_is_terminated", &cache, &[]);
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    let (run, closed) = the_run(&cache);
    assert_eq!(run["status"], "terminated");
    assert!(closed, "the run has its .closed marker");
    assert_eq!(
        all_metric_sets(&cache).len(),
        20_000,
        "every set logged before"
    );
    let events = event_messages(&cache);
    assert!(
        events.iter().any(|m| m.contains("SIGTERM")),
        "an event names the signal: {events:?}"
    );
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn child_exits_with_status_3() {
    let Some(cache) = child_cache() else { return };
    let run = offline_run(&cache);
    run.init(InitOptions::default()).unwrap();
    log_n(&run, 100);
    std::mem::forget(run);
    std::process::exit(3);
}

#[test]
fn a_non_zero_exit_marks_the_run_failed() {
    let cache = temp_cache("exit3");
    let status = run_child("child_exits_with_status_3", &cache, &[]);
    assert_eq!(status.code(), Some(3));
    let (run, closed) = the_run(&cache);
    assert_eq!(run["status"], "failed");
    assert!(closed);
    assert_eq!(all_metric_sets(&cache).len(), 100);
    let events = event_messages(&cache);
    assert!(
        events.iter().any(|m| m.contains("exited with status 3")),
        "{events:?}"
    );
    let _ = std::fs::remove_dir_all(&cache);
}

static OWN_HANDLER_RAN: AtomicBool = AtomicBool::new(false);

extern "C" fn own_handler(_: libc::c_int) {
    OWN_HANDLER_RAN.store(true, Ordering::SeqCst);
}

#[test]
fn child_has_its_own_sigterm_handler() {
    let Some(cache) = child_cache() else { return };
    // SAFETY: installing a plain handler before the run starts.
    unsafe {
        libc::signal(
            libc::SIGTERM,
            own_handler as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    let run = offline_run(&cache);
    run.init(InitOptions::default()).unwrap();
    assert!(!simvue::signals::handled(libc::SIGTERM));
    assert!(simvue::signals::handled(libc::SIGUSR1));
    log_n(&run, 10);
    raise(libc::SIGTERM);
    assert!(OWN_HANDLER_RAN.load(Ordering::SeqCst));
    assert_eq!(run.signal_received(), 0);
    log_n(&run, 10);
    run.close().unwrap();
    // Closed: the library's handlers are gone, and the program's is still there.
    assert!(!simvue::signals::handled(libc::SIGUSR1));
    OWN_HANDLER_RAN.store(false, Ordering::SeqCst);
    raise(libc::SIGTERM);
    assert!(OWN_HANDLER_RAN.load(Ordering::SeqCst));
}

#[test]
fn a_handler_the_program_installed_is_left_alone() {
    let cache = temp_cache("ownhandler");
    let status = run_child("child_has_its_own_sigterm_handler", &cache, &[]);
    assert!(status.success(), "{status:?}");
    let (run, _) = the_run(&cache);
    assert_eq!(run["status"], "completed");
    assert_eq!(all_metric_sets(&cache).len(), 20);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn child_is_notified() {
    let Some(cache) = child_cache() else { return };
    let run = offline_run(&cache);
    run.set_signals(Some(&[libc::SIGUSR1]), Some(SignalAction::Notify), None)
        .unwrap();
    let seen = Arc::new(AtomicI32::new(0));
    let s = seen.clone();
    run.set_signal_callback(Some(Arc::new(move |sig| s.store(sig, Ordering::SeqCst))));
    run.init(InitOptions::default()).unwrap();
    assert!(!simvue::signals::handled(libc::SIGTERM), "not in the set");
    log_n(&run, 10);
    raise(libc::SIGUSR1);
    let start = Instant::now();
    while run.signal_received() == 0 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(run.signal_received(), libc::SIGUSR1);
    while seen.load(Ordering::SeqCst) == 0 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(seen.load(Ordering::SeqCst), libc::SIGUSR1);
    // The solver writes its checkpoint and stops by itself.
    log_n(&run, 10);
    run.log_event("checkpoint written", None).unwrap();
    run.close().unwrap();
}

#[test]
fn notify_tells_the_solver_and_closing_marks_the_run_terminated() {
    let cache = temp_cache("notify");
    let status = run_child("child_is_notified", &cache, &[]);
    assert!(status.success(), "{status:?}");
    let (run, closed) = the_run(&cache);
    assert_eq!(run["status"], "terminated");
    assert!(closed);
    assert_eq!(all_metric_sets(&cache).len(), 20);
    let events = event_messages(&cache);
    assert!(events.iter().any(|m| m.contains("SIGUSR1")), "{events:?}");
    assert!(events.iter().any(|m| m == "checkpoint written"));
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn child_without_signal_handling() {
    let Some(cache) = child_cache() else { return };
    let run = offline_run(&cache);
    run.init(InitOptions::default()).unwrap();
    assert!(!simvue::signals::handled(libc::SIGTERM));
    log_n(&run, 10);
    raise(libc::SIGTERM);
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn simvue_signals_none_leaves_every_signal_to_the_program() {
    let cache = temp_cache("nosignals");
    let status = run_child(
        "child_without_signal_handling",
        &cache,
        &[("SIMVUE_SIGNALS", "none")],
    );
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    let (run, closed) = the_run(&cache);
    assert_eq!(run["status"], "running", "killed as without the library");
    assert!(!closed);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_bad_simvue_signals_fails_init_clearly() {
    let cache = temp_cache("badsignals");
    let status = run_child(
        "child_with_bad_signals",
        &cache,
        &[("SIMVUE_SIGNALS", "TERM,KILL")],
    );
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn child_with_bad_signals() {
    let Some(cache) = child_cache() else { return };
    let run = offline_run(&cache);
    let e = run.init(InitOptions::default()).unwrap_err();
    assert_eq!(e.kind, simvue::ErrorKind::Config);
    assert!(e.message.contains("SIMVUE_SIGNALS") && e.message.contains("KILL"));
}
