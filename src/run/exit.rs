//! Runs the program forgets to close are closed at process exit (flushed, marked `completed`).

use std::sync::{Arc, Weak};

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use super::active::Active;

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
