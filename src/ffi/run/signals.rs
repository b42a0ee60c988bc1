//! Signals that stop the process (a batch system's walltime, ^C) and other abnormal ends.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use super::super::convert::opt_cstr;
use super::super::result::{guard, simvue_result, FfiError};
use super::{final_status, flag, simvue_run, with_enabled_run, with_run};

use crate::run::SignalAction;

/// `simvue_run_set_signals` action: flush, mark the run `terminated`, close it, and end the
/// process by the signal (the default).
pub const SIMVUE_SIGNALS_EXIT: i32 = 0;
/// `simvue_run_set_signals` action: log an event, set the flag and call the callback, and let
/// the solver stop by itself (closing the run marks it `terminated`); a second signal acts as
/// `SIMVUE_SIGNALS_EXIT`.
pub const SIMVUE_SIGNALS_NOTIFY: i32 = 1;

/// Chooses how the run treats the signals that ask a job to stop. Before `simvue_run_init`.
///
/// - `signals`: the signals handled, as names separated by commas (`"TERM,USR2"`; `SIG` may be
///   added; from TERM, INT, XCPU, USR1, USR2, HUP, ALRM), or `"none"`; NULL keeps the default,
///   `"TERM,INT,XCPU,USR1,USR2"`. A handler is installed only for a signal whose disposition is
///   still the default when the run starts: one the program or its MPI runtime handles, or
///   ignores, is left alone.
/// - `action`: `SIMVUE_SIGNALS_EXIT` (default) or `SIMVUE_SIGNALS_NOTIFY`; -1 keeps it.
/// - `deadline_seconds`: how long flushing and closing may take before the process ends
///   anyway (default 10); -1 keeps it.
///
/// With `SIMVUE_SIGNALS_EXIT`, when a signal arrives: an event names it, everything queued is
/// written (offline) or sent (online; what the server has not taken in time is written to the
/// cache for `simvue-sender`), the run is marked `terminated` and closed, and then the previous
/// disposition is put back and the signal raised again, so the process ends by it, as it would
/// have without the library. The environment overrides these settings: `SIMVUE_SIGNALS`,
/// `SIMVUE_SIGNAL_ACTION` (`exit` or `notify`), `SIMVUE_SIGNAL_TIMEOUT` (seconds).
///
/// # Safety
/// `run` is NULL or a live handle; `signals` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_signals(
    run: *mut simvue_run,
    signals: *const c_char,
    action: i32,
    deadline_seconds: f64,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let set = opt_cstr(signals, "signals")?
            .map(crate::signals::parse_set)
            .transpose()?;
        // SIMVUE_SIGNALS_EXIT is 0 and SIMVUE_SIGNALS_NOTIFY 1.
        let action = flag(action, "action")?.map(|notify| {
            if notify {
                SignalAction::Notify
            } else {
                SignalAction::Exit
            }
        });
        let deadline = if deadline_seconds == -1.0 {
            None
        } else if deadline_seconds.is_finite() && deadline_seconds > 0.0 {
            Some(Duration::from_secs_f64(deadline_seconds))
        } else {
            return Err(FfiError::invalid(format!(
                "deadline_seconds must be a positive number of seconds or -1 (keep), got {deadline_seconds}"
            )));
        };
        Ok(run.set_signals(set.as_deref(), action, deadline)?)
    })
}

/// A function the library calls, on its signal thread, with the signal number when one of the
/// run's signals arrives. `user_data` is what was registered with it.
pub type simvue_signal_callback =
    Option<unsafe extern "C" fn(signum: i32, user_data: *mut std::ffi::c_void)>;

struct CallbackData(*mut std::ffi::c_void);
// SAFETY: the pointer is only handed back to the caller's own callback; making that safe to
// call from another thread is the caller's contract, as documented.
unsafe impl Send for CallbackData {}
unsafe impl Sync for CallbackData {}

/// Registers `callback` (or removes it, with NULL), called with the signal number and
/// `user_data` on the library's signal thread when one of the run's signals arrives, before
/// the library acts on it. With `SIMVUE_SIGNALS_EXIT` the library flushes and ends the
/// process once the callback returns, so the callback may write a checkpoint first (the time
/// it takes comes before the deadline of `simvue_run_set_signals`; the batch system's own
/// grace period still applies). It may log metrics and events; it must not close or free the
/// run.
///
/// # Safety
/// `run` is NULL or a live handle; `callback` must be safe to call from another thread with
/// `user_data` for as long as the run is open.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_signal_callback(
    run: *mut simvue_run,
    callback: simvue_signal_callback,
    user_data: *mut std::ffi::c_void,
) -> simvue_result {
    with_run(run, |run| {
        let data = CallbackData(user_data);
        run.set_signal_callback(callback.map(|cb| {
            Arc::new(move |sig: i32| {
                let d = &data;
                // SAFETY: per this function's contract.
                unsafe { cb(sig, d.0) }
            }) as Arc<dyn Fn(i32) + Send + Sync>
        }));
        Ok(())
    })
}

/// Writes to `*signum` the number of the first of the run's signals that arrived (for
/// example 10 for SIGUSR1), or 0 when none has. Cheap enough to call every time step: a
/// solver running with `SIMVUE_SIGNALS_NOTIFY` checks it to stop in time.
///
/// # Safety
/// `run` is NULL or a live handle; `signum` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_signal_received(
    run: *const simvue_run,
    signum: *mut i32,
) -> simvue_result {
    with_run(run, |run| {
        if signum.is_null() {
            return Err(FfiError::null("signum is NULL"));
        }
        *signum = run.signal_received();
        Ok(())
    })
}

/// Closes every open run of the process now, for a program that is about to end abnormally:
/// `message` (NULL: none) is logged as an error event of each running run, which then ends
/// with `status` (`SIMVUE_STATUS_FAILED` or `SIMVUE_STATUS_TERMINATED`; a status the program
/// set is kept). The C++ header calls it from its `std::terminate` handler. A process that
/// exits with a non-zero status has its open runs closed as `failed` without it.
///
/// # Safety
/// `message` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_close_open_runs(
    status: i32,
    message: *const c_char,
) -> simvue_result {
    guard(|| {
        let status = final_status(status)?;
        let message = opt_cstr(message, "message")?;
        crate::run::close_all(status, message);
        Ok(())
    })
}
