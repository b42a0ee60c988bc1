//! Metrics and events of a `simvue_run` (the hot path).

use std::ffi::c_char;

use super::super::convert::{cstr, opt_cstr, str_array};
use super::super::result::{panicked, simvue_result, FfiError, FfiResult};
use super::{is_disabled_handle, parse_timestamp, run_ref, simvue_run, with_enabled_run};

use crate::dispatch::MetricOptions;
use crate::model::LogLevel;
use crate::run::{KnownNames, MetricNames};

/// Event level `debug`.
pub const SIMVUE_LOG_DEBUG: i32 = 0;
/// Event level `info` (the default of `simvue_run_log_event`).
pub const SIMVUE_LOG_INFO: i32 = 1;
/// Event level `warning`.
pub const SIMVUE_LOG_WARNING: i32 = 2;
/// Event level `error`.
pub const SIMVUE_LOG_ERROR: i32 = 3;
/// Event level `critical`.
pub const SIMVUE_LOG_CRITICAL: i32 = 4;

/// `simvue_run_log_metrics_ex` flag: record the given `step` instead of the automatic one.
pub const SIMVUE_METRICS_STEP: u32 = 1;
/// `simvue_run_log_metrics_ex` flag: record the given `time` instead of seconds since init.
pub const SIMVUE_METRICS_TIME: u32 = 2;

/// Converts `n` C strings for the hot path without a heap allocation for up to 128 names.
#[inline(always)]
unsafe fn with_names<R>(
    names: *const *const c_char,
    n: usize,
    f: impl FnOnce(&[&str]) -> FfiResult<R>,
) -> FfiResult<R> {
    if n == 0 || names.is_null() {
        return if n == 0 {
            f(&[])
        } else {
            Err(FfiError::null(format!("names is NULL but n is {n}")))
        };
    }
    let ptrs = std::slice::from_raw_parts(names, n);
    if n <= 128 {
        // Not zeroed: only the first `n` entries are written and read.
        let mut buf = [std::mem::MaybeUninit::<&str>::uninit(); 128];
        for (slot, &p) in buf.iter_mut().zip(ptrs) {
            slot.write(cstr(p, "metric name")?);
        }
        // SAFETY: the loop initialised the first `n` entries (it returns early otherwise).
        let names = std::slice::from_raw_parts(buf.as_ptr().cast::<&str>(), n);
        f(names)
    } else {
        let v = str_array(names, n, "names")?;
        f(&v)
    }
}

/// A caller's array of C strings, compared in place with names the run already knows (one
/// `strcmp` each): no `strlen`, no UTF-8 check, until a name is new.
struct CNames<'a>(&'a [*const c_char]);

impl MetricNames for CNames<'_> {
    fn count(&self) -> usize {
        self.0.len()
    }

    #[inline]
    fn are(&self, known: &KnownNames) -> bool {
        self.0.len() == known.len()
            && self.0.iter().enumerate().all(|(i, &p)| {
                // SAFETY: `p` is a NUL-terminated string (the caller's contract), and so is the
                // known name: strcmp reads neither past its terminator.
                !p.is_null() && unsafe { libc::strcmp(p, known.c_str(i)) == 0 }
            })
    }

    fn texts(&self) -> Option<&[&str]> {
        None
    }

    fn site(&self) -> usize {
        self.0.as_ptr() as usize
    }
}

/// The common case of `simvue_run_log_metrics` (a live run, names logged lately, room in the
/// queue): the set is queued without the frames of the full path, its `Result`s and closures.
/// Returns `None` when the full path must deal with the call (having done nothing).
///
/// # Safety
/// As `simvue_run_log_metrics`.
#[inline(always)]
unsafe fn try_log_metrics(
    run: *mut simvue_run,
    names: *const *const c_char,
    values: *const f64,
    n: usize,
) -> Option<simvue_result> {
    if n == 0 || names.is_null() || values.is_null() {
        return None;
    }
    let run = run_ref(run).ok()?;
    let known = CNames(std::slice::from_raw_parts(names, n));
    let values = std::slice::from_raw_parts(values, n);
    // The panic boundary of every export (nothing here is expected to panic).
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run.try_log_metrics(&known, values)
    })) {
        Ok(true) => Some(simvue_result::SIMVUE_OK),
        Ok(false) => None,
        Err(p) => Some(panicked(p)),
    }
}

/// The full path of `simvue_run_log_metrics` (every check, new names, a full blocking queue,
/// errors), out of line so that the common case stays small.
///
/// # Safety
/// As `simvue_run_log_metrics`.
#[inline(never)]
unsafe fn log_metrics_slow(
    run: *mut simvue_run,
    names: *const *const c_char,
    values: *const f64,
    n: usize,
) -> simvue_result {
    log_metrics_impl(run, names, values, n, || Ok(MetricOptions::default()))
}

#[inline(always)]
unsafe fn log_metrics_impl(
    run: *mut simvue_run,
    names: *const *const c_char,
    values: *const f64,
    n: usize,
    opts: impl FnOnce() -> FfiResult<MetricOptions>,
) -> simvue_result {
    with_enabled_run(run, |run| {
        if values.is_null() && n > 0 {
            return Err(FfiError::null(format!("values is NULL but n is {n}")));
        }
        let values = if n == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(values, n)
        };
        let opts = opts()?;
        if n > 0 && !names.is_null() {
            // Names logged lately are recognised where they are; new ones are converted.
            let known = CNames(std::slice::from_raw_parts(names, n));
            if run.log_metrics_from(&known, values, opts)? {
                return Ok(());
            }
        }
        with_names(names, n, |names| Ok(run.log_metrics(names, values, opts)?))
    })
}

/// Logs one set of metrics: `names[i]` has the value `values[i]`, for `n` metrics. The step
/// counts up by one each call, the time is seconds since init and the timestamp is now (UTC).
/// Values may be NaN or infinite. Names may use letters, digits, whitespace and `-_/.:=><+()%`.
/// The call only queues the values; a background thread writes them.
///
/// # Safety
/// `run` is NULL or a live handle; `names` and `values` are NULL or hold `n` elements.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_log_metrics(
    run: *mut simvue_run,
    names: *const *const c_char,
    values: *const f64,
    n: usize,
) -> simvue_result {
    if is_disabled_handle(run) {
        return simvue_result::SIMVUE_OK;
    }
    // Out of line, so that a disabled run's call returns before any register is saved.
    log_metrics_enabled(run, names, values, n)
}

/// Logs one metric (a shorthand for `simvue_run_log_metrics` with `n = 1`).
///
/// # Safety
/// `run` is NULL or a live handle; `name` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_log_metric(
    run: *mut simvue_run,
    name: *const c_char,
    value: f64,
) -> simvue_result {
    if is_disabled_handle(run) {
        return simvue_result::SIMVUE_OK;
    }
    log_metrics_enabled(run, &name, &value, 1)
}

/// `simvue_run_log_metrics` on a run that is not disabled: the common case inline, the rest
/// through [`log_metrics_slow`].
///
/// # Safety
/// As `simvue_run_log_metrics`.
#[inline(never)]
unsafe fn log_metrics_enabled(
    run: *mut simvue_run,
    names: *const *const c_char,
    values: *const f64,
    n: usize,
) -> simvue_result {
    if let Some(r) = try_log_metrics(run, names, values, n) {
        return r;
    }
    log_metrics_slow(run, names, values, n)
}

/// Logs one set of metrics with overrides. `flags` is a combination of `SIMVUE_METRICS_STEP`
/// (record `step`, which must be >= 0, instead of the automatic step) and `SIMVUE_METRICS_TIME`
/// (record `time`, which must be finite, instead of seconds since init); `timestamp`, when not
/// NULL, replaces now: `YYYY-MM-DD hh:mm:ss.ffffff` (or with `T`), UTC. The automatic step
/// counter advances either way, as in the Python client.
///
/// # Safety
/// As `simvue_run_log_metrics`; `timestamp` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_log_metrics_ex(
    run: *mut simvue_run,
    names: *const *const c_char,
    values: *const f64,
    n: usize,
    flags: u32,
    step: i64,
    time: f64,
    timestamp: *const c_char,
) -> simvue_result {
    log_metrics_impl(run, names, values, n, || {
        metric_options(flags, step, time, timestamp)
    })
}

/// The overrides of `simvue_run_log_metrics_ex` (and `simvue_run_log_metric_array`).
///
/// # Safety
/// `timestamp` is NULL or NUL-terminated.
pub(super) unsafe fn metric_options(
    flags: u32,
    step: i64,
    time: f64,
    timestamp: *const c_char,
) -> FfiResult<MetricOptions> {
    if flags & !(SIMVUE_METRICS_STEP | SIMVUE_METRICS_TIME) != 0 {
        return Err(FfiError::unknown_enum(format!(
            "flags {flags:#x} has bits other than SIMVUE_METRICS_STEP and SIMVUE_METRICS_TIME"
        )));
    }
    let step = if flags & SIMVUE_METRICS_STEP != 0 {
        Some(
            u64::try_from(step)
                .map_err(|_| FfiError::invalid(format!("step must be >= 0, got {step}")))?,
        )
    } else {
        None
    };
    let time = (flags & SIMVUE_METRICS_TIME != 0).then_some(time);
    Ok(MetricOptions {
        step,
        time,
        timestamp: parse_timestamp(opt_cstr(timestamp, "timestamp")?)?,
    })
}

/// Records the units of metric `name` (`set_metric_units`): `units` is the unit symbol
/// (`"km"`, `"J/kg"`, `"degC"`); `mks_unit` (NULL: worked out) and `*mks_conversion` (NULL:
/// worked out) are the MKS unit and the factor to it. They are worked out as the Python client
/// does with unyt, for the SI units with their prefixes and the common others combined with
/// `*`, `/` and `**n`; for a unit it does not know they are `null` unless given. The units go
/// to the server as run metadata `simvue.metrics.<name>` with the next `log_metrics`, as in
/// Python. Allowed before `simvue_run_init`.
///
/// # Safety
/// `run` is NULL or a live handle; strings are NULL or NUL-terminated; `mks_conversion` is
/// NULL or points to a double.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_metric_units(
    run: *mut simvue_run,
    name: *const c_char,
    units: *const c_char,
    mks_unit: *const c_char,
    mks_conversion: *const f64,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let name = cstr(name, "name")?;
        let units = cstr(units, "units")?;
        let mks_unit = opt_cstr(mks_unit, "mks_unit")?;
        let conversion = (!mks_conversion.is_null()).then(|| *mks_conversion);
        Ok(run.set_metric_units(name, units, mks_unit, conversion)?)
    })
}

/// Logs an event message at level `info`. `timestamp` is NULL for now, or
/// `YYYY-MM-DD hh:mm:ss.ffffff` (UTC).
///
/// # Safety
/// `run` is NULL or a live handle; `message` and `timestamp` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_log_event(
    run: *mut simvue_run,
    message: *const c_char,
    timestamp: *const c_char,
) -> simvue_result {
    simvue_run_log_event_level(run, message, SIMVUE_LOG_INFO, timestamp)
}

/// Logs an event message at a level (`SIMVUE_LOG_DEBUG` ... `SIMVUE_LOG_CRITICAL`).
///
/// # Safety
/// As `simvue_run_log_event`.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_log_event_level(
    run: *mut simvue_run,
    message: *const c_char,
    level: i32,
    timestamp: *const c_char,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let message = cstr(message, "message")?;
        let level = match level {
            SIMVUE_LOG_DEBUG => LogLevel::Debug,
            SIMVUE_LOG_INFO => LogLevel::Info,
            SIMVUE_LOG_WARNING => LogLevel::Warning,
            SIMVUE_LOG_ERROR => LogLevel::Error,
            SIMVUE_LOG_CRITICAL => LogLevel::Critical,
            l => {
                return Err(FfiError::unknown_enum(format!(
                    "{l} is not a SIMVUE_LOG_* level"
                )))
            }
        };
        let ts = parse_timestamp(opt_cstr(timestamp, "timestamp")?)?;
        Ok(run.log_event_level(message, level, ts)?)
    })
}
