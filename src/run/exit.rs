//! Runs the program forgets to close are closed at process exit: flushed and marked
//! `completed` when the process exits with status 0, `failed` (with an event giving the status)
//! when it exits with another (`exit(1)`, Fortran's `error stop`). glibc's `on_exit` tells the
//! status; elsewhere `atexit` is used and every exit counts as 0.
//!
//! The list of open runs kept here is also what a signal ([`super::signals`]), a C++
//! `std::terminate` ([`close_all`]) and an abort under the `terminate` policy ([`terminate`])
//! act on.

use std::sync::{Arc, Weak};

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use super::active::Active;
use crate::model::{LogLevel, Status};

/// Runs not yet closed.
static LIVE: Lazy<Mutex<Vec<Weak<Active>>>> = Lazy::new(|| Mutex::new(Vec::new()));
static EXIT_HOOK: std::sync::Once = std::sync::Once::new();

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn on_exit(
        f: extern "C" fn(libc::c_int, *mut libc::c_void),
        arg: *mut libc::c_void,
    ) -> libc::c_int;
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" fn closing_hook(status: libc::c_int, _: *mut libc::c_void) {
    close_live_runs_at_exit(status);
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
extern "C" fn closing_hook() {
    close_live_runs_at_exit(0);
}

fn close_live_runs_at_exit(status: i32) {
    if status == 0 {
        for run in live_runs() {
            if let Err(e) = run.finish() {
                eprintln!("[simvue] closing run at exit: {}", e.message);
            }
        }
    } else {
        close_all(
            Status::Failed,
            Some(&format!("the process exited with status {status}")),
        );
    }
}

/// Closes every open run of the process: `message`, if any, is logged as an error event of
/// each run that is still running, which then ends with `status` (a status the program set is
/// kept). For the end of a process that did not succeed: a non-zero exit, a C++
/// `std::terminate`.
pub fn close_all(status: Status, message: Option<&str>) {
    for run in live_runs() {
        if let (Some(d), Some(m)) = (&run.dispatcher, message) {
            if run.record.lock().status == Status::Running {
                let _ = d.log_event(m, LogLevel::Error, None);
            }
        }
        if let Err(e) = run.finish_as(status, None) {
            eprintln!("[simvue] closing run: {}", e.message);
        }
    }
}

/// The runs of the process that are not yet closed (or being closed), oldest first.
pub(super) fn live_runs() -> Vec<Arc<Active>> {
    LIVE.lock().iter().filter_map(Weak::upgrade).collect()
}

/// Takes a closed run off the list; returns whether any run is left open.
pub(super) fn forget(active: &Active) -> bool {
    let mut live = LIVE.lock();
    live.retain(|w| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), active));
    !live.is_empty()
}

/// Ends every open run the way a signal does (`Active::terminate`: `why` logged as a warning
/// event, what was logged written out within the run's signal deadline, saved files attached,
/// status `terminated`, closed) and exits the process with `code`, running the process's exit
/// handlers (so that the program's buffered output is written). Call it from any thread but a
/// run's own background threads, which it waits for.
pub fn terminate(why: &str, code: i32) -> ! {
    for run in live_runs() {
        let deadline = run.signals.settings().deadline;
        if let Err(e) = run.terminate(Some(why), deadline) {
            eprintln!("[simvue] closing run: {}", e.message);
        }
    }
    hold_stdout();
    std::process::exit(code)
}

/// Takes C's `stdout` lock for good, waiting up to a second for a thread that holds it: glibc's
/// `exit` flushes stdio buffers without their locks, "underneath" threads that still print,
/// and a solver thread printing meanwhile lost part of its buffered output (seen in a test:
/// lines 9 to 179 of 196 gone). With the lock held here, such a thread waits in its next
/// `printf` until the process ends, and `exit`, on this thread, flushes what it wrote before.
fn hold_stdout() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            static mut stdout: *mut libc::FILE;
            fn ftrylockfile(file: *mut libc::FILE) -> libc::c_int;
        }
        // SAFETY: glibc's `stdout` points to its static stream object, valid for the life of
        // the process (also after `fclose`); `ftrylockfile` never blocks, and the lock is
        // never given back: the process is ending.
        unsafe {
            let out = std::ptr::addr_of!(stdout).read();
            if out.is_null() {
                return;
            }
            // A thread printing in a loop holds the lock most of the time: try again at once
            // (yielding the core), within the second.
            let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
            while ftrylockfile(out) != 0 {
                if std::time::Instant::now() >= until {
                    return;
                }
                std::thread::yield_now();
            }
        }
    }
}

/// Registers an active run to be closed at exit (the hook is installed by the first run).
pub(super) fn register(active: &Arc<Active>) {
    EXIT_HOOK.call_once(|| {
        // SAFETY: registering a plain extern "C" fn. In a shared library glibc ties it to this
        // object, so it also runs if the library is unloaded.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        unsafe {
            on_exit(closing_hook, std::ptr::null_mut());
        }
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        unsafe {
            libc::atexit(closing_hook);
        }
    });
    let mut live = LIVE.lock();
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(active));
}
