//! Runs the program forgets to close are closed at process exit (flushed, marked `completed`);
//! [`terminate`] ends every open run with a status of its own and exits (an abort under the
//! `terminate` policy; the signal handling reuses it).

use std::sync::{Arc, Weak};

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use super::active::Active;
use crate::model::Status;

/// Runs not yet closed.
static LIVE: Lazy<Mutex<Vec<Weak<Active>>>> = Lazy::new(|| Mutex::new(Vec::new()));
static EXIT_HOOK: std::sync::Once = std::sync::Once::new();

extern "C" fn close_live_runs_at_exit() {
    let live: Vec<Weak<Active>> = std::mem::take(&mut *LIVE.lock());
    for run in live.iter().filter_map(Weak::upgrade) {
        if let Err(e) = run.finish() {
            eprintln!("[simvue] closing run at exit: {}", e.message);
        }
    }
}

/// Ends every open run with `status` (what was logged is flushed and saved files attached
/// first, then the status, then the run is closed) and exits the process with `code`,
/// running the process's exit handlers (so that the program's buffered output is written).
/// Call it from any thread but a run's own background threads, which it waits for.
pub fn terminate(status: Status, code: i32) -> ! {
    let live: Vec<Weak<Active>> = std::mem::take(&mut *LIVE.lock());
    for run in live.iter().filter_map(Weak::upgrade) {
        if let Err(e) = run.end_as(status).and_then(|()| run.finish()) {
            eprintln!("[simvue] closing run: {}", e.message);
        }
    }
    std::process::exit(code)
}

/// Registers an active run to be closed at exit (the hook is installed by the first run).
pub(super) fn register(active: &Arc<Active>) {
    EXIT_HOOK.call_once(|| {
        // SAFETY: registering a plain extern "C" fn with no arguments. In a shared library
        // glibc ties it to this object, so it also runs if the library is unloaded.
        unsafe {
            libc::atexit(close_live_runs_at_exit);
        }
    });
    let mut live = LIVE.lock();
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(active));
}
