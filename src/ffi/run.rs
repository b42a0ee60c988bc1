//! `simvue_run`: the C face of [`crate::run::Run`].

use std::ffi::c_char;

use super::{cstr, guard, opt_cstr, simvue_result, str_array, write_str};
use std::path::Path;

use crate::artifact::{Category, SaveOptions};
use crate::config::Mode;
use crate::dispatch::MetricOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::json::Json;
use crate::model::{LogLevel, Status};
use crate::run::{AlertOptions, AlertRuleKind, ConfigOptions, InitOptions, Run};
use crate::time::Timestamp;

/// Track the run live on a Simvue server.
pub const SIMVUE_MODE_ONLINE: i32 = 0;
/// Write the run to the offline cache for `simvue-sender` to upload later.
pub const SIMVUE_MODE_OFFLINE: i32 = 1;
/// Record nothing; every call succeeds at once.
pub const SIMVUE_MODE_DISABLED: i32 = 2;

/// Final status `completed`.
pub const SIMVUE_STATUS_COMPLETED: i32 = 0;
/// Final status `failed`.
pub const SIMVUE_STATUS_FAILED: i32 = 1;
/// Final status `terminated`.
pub const SIMVUE_STATUS_TERMINATED: i32 = 2;

/// Alert on metric values.
pub const SIMVUE_ALERT_SOURCE_METRICS: i32 = 0;
/// Alert on event messages.
pub const SIMVUE_ALERT_SOURCE_EVENTS: i32 = 1;

/// Metrics rule `is above` (uses `threshold`).
pub const SIMVUE_ALERT_RULE_IS_ABOVE: i32 = 0;
/// Metrics rule `is below` (uses `threshold`).
pub const SIMVUE_ALERT_RULE_IS_BELOW: i32 = 1;
/// Metrics rule `is outside range` (uses `range_low`, `range_high`).
pub const SIMVUE_ALERT_RULE_IS_OUTSIDE_RANGE: i32 = 2;
/// Metrics rule `is inside range` (uses `range_low`, `range_high`).
pub const SIMVUE_ALERT_RULE_IS_INSIDE_RANGE: i32 = 3;

/// No notification when the alert fires.
pub const SIMVUE_NOTIFICATION_NONE: i32 = 0;
/// E-mail notification when the alert fires.
pub const SIMVUE_NOTIFICATION_EMAIL: i32 = 1;

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

/// In `simvue_run_config`: leave this setting as it is.
pub const SIMVUE_KEEP: i64 = -1;

const MAGIC: u64 = 0x5349_4D56_5545_5255; // "SIMVUERU"

/// An opaque run handle. Create it with `simvue_run_new`, release it with `simvue_run_free`.
pub struct simvue_run {
    magic: u64,
    run: Run,
}

/// Runs `f` on the run behind a handle, inside the panic boundary. An error found here (a bad
/// argument) is reported through the run as its own errors are (logged once when
/// `suppress_errors` is on).
///
/// # Safety
/// As [`run_ref`].
unsafe fn with_run(p: *const simvue_run, f: impl FnOnce(&Run) -> Result<()>) -> simvue_result {
    guard(|| {
        let run = run_ref(p)?;
        run.report(f(run))
    })
}

/// Turns a handle into a reference, checking for NULL and for pointers that are not (or no
/// longer) run handles.
///
/// # Safety
/// `p` is NULL or a pointer returned by `simvue_run_new` and not yet freed.
unsafe fn run_ref<'a>(p: *const simvue_run) -> Result<&'a Run> {
    if p.is_null() {
        return Err(Error::new(ErrorKind::NullArgument, "run handle is NULL"));
    }
    let h = &*p;
    if h.magic != MAGIC {
        return Err(Error::new(
            ErrorKind::InvalidHandle,
            "not a simvue run handle (already freed?)",
        ));
    }
    Ok(&h.run)
}

fn flag(v: i32, what: &str) -> Result<Option<bool>> {
    match v {
        -1 => Ok(None),
        0 => Ok(Some(false)),
        1 => Ok(Some(true)),
        _ => Err(Error::new(
            ErrorKind::UnknownEnum,
            format!("{what} must be 0, 1 or -1 (keep), got {v}"),
        )),
    }
}

fn count(v: i64, what: &str) -> Result<Option<u64>> {
    match v {
        SIMVUE_KEEP => Ok(None),
        v if v > 0 => Ok(Some(v as u64)),
        v => Err(Error::invalid(format!(
            "{what} must be positive or SIMVUE_KEEP (-1), got {v}"
        ))),
    }
}

fn parse_json_object(text: &str, what: &str) -> Result<Json> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::invalid(format!("{what} is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(Error::invalid(format!("{what} must be a JSON object")));
    }
    Ok(Json::from_serde(&v))
}

fn parse_timestamp(ts: Option<&str>) -> Result<Option<Timestamp>> {
    ts.map(|s| {
        Timestamp::parse(s).ok_or_else(|| {
            Error::invalid(format!(
                "timestamp {s:?} is not of the form YYYY-MM-DD hh:mm:ss[.ffffff]"
            ))
        })
    })
    .transpose()
}

/// Copies a string the run knows once initialised (its name, its id) into a caller buffer.
///
/// # Safety
/// As `simvue_run_name`.
unsafe fn copy_out(
    run: *const simvue_run,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
    get: fn(&Run) -> Option<String>,
) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return disabled_empty_string(buf, len, needed);
        }
        let s =
            get(run).ok_or_else(|| Error::state("the run is not initialised: call init first"))?;
        write_str(&s, buf, len, needed)
    })
}

/// Writes a yes/no property of the run to `*out` as 1 or 0.
///
/// # Safety
/// `run` is NULL or a live handle; `out` is NULL or writable.
unsafe fn write_flag(
    run: *const simvue_run,
    out: *mut i32,
    get: fn(&Run) -> bool,
) -> simvue_result {
    with_run(run, |run| {
        if out.is_null() {
            return Err(Error::new(ErrorKind::NullArgument, "out is NULL"));
        }
        *out = i32::from(get(run));
        Ok(())
    })
}

/// A disabled run's name and id are empty; the call succeeds whatever the buffer.
unsafe fn disabled_empty_string(buf: *mut c_char, len: usize, needed: *mut usize) -> Result<()> {
    if !needed.is_null() {
        *needed = 0;
    }
    if !buf.is_null() && len > 0 {
        *buf = 0;
    }
    Ok(())
}

/// Size of a buffer that holds any run or alert id with its NUL.
pub const SIMVUE_ID_BUFFER_SIZE: usize = 64;

/// Creates a run handle in `mode` (`SIMVUE_MODE_ONLINE`, `SIMVUE_MODE_OFFLINE` or
/// `SIMVUE_MODE_DISABLED`) and stores it in `*out`. In disabled mode every later call on the
/// handle returns `SIMVUE_OK` without looking at its arguments (only a NULL handle is an error). The environment variable `SIMVUE_MODE`
/// (`online`, `offline` or `disabled`) overrides `mode`, so a job script can switch a compiled
/// solver. Configuration (simvue.toml, `SIMVUE_*`) is read here; problems with it are reported
/// by `simvue_run_init`.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_new(mode: i32, out: *mut *mut simvue_run) -> simvue_result {
    guard(|| {
        if out.is_null() {
            return Err(Error::new(ErrorKind::NullArgument, "out is NULL"));
        }
        let mode = match mode {
            SIMVUE_MODE_ONLINE => Mode::Online,
            SIMVUE_MODE_OFFLINE => Mode::Offline,
            SIMVUE_MODE_DISABLED => Mode::Disabled,
            m => {
                return Err(Error::new(
                    ErrorKind::UnknownEnum,
                    format!("{m} is not a SIMVUE_MODE_* value"),
                ))
            }
        };
        *out = Box::into_raw(Box::new(simvue_run {
            magic: MAGIC,
            run: Run::new(mode),
        }));
        Ok(())
    })
}

/// Closes the run if it is still open (status `completed` if it was running), then releases
/// the handle. NULL is ignored. The handle must not be used afterwards.
///
/// # Safety
/// `run` is NULL or a handle from `simvue_run_new` that was not freed yet.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_free(run: *mut simvue_run) {
    let _ = guard(|| {
        if run_ref(run).is_ok() {
            (*run).magic = 0;
            drop(Box::from_raw(run));
        }
        Ok(())
    });
}

/// Configures the run; call it before `simvue_run_init`. Pass -1 (`SIMVUE_KEEP`) for any
/// setting to leave it at its default. Flags are 0 or 1.
///
/// - `suppress_errors` (default 1): errors are printed to stderr and the solver goes on; with
///   0 nothing is printed and background failures are returned by the next call.
/// - `queue_blocking` (default 0): wait when a queue is full instead of dropping the item.
/// - `queue_size` (default 10000): items each of the metrics and events queues holds.
/// - `disable_resources_metrics` (default 0): turn off CPU and memory sampling.
/// - `resources_metrics_interval` (default 30): seconds between resource samples.
///
/// # Safety
/// `run` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_config(
    run: *mut simvue_run,
    suppress_errors: i32,
    queue_blocking: i32,
    queue_size: i64,
    disable_resources_metrics: i32,
    resources_metrics_interval: i64,
) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        run.config(ConfigOptions {
            suppress_errors: flag(suppress_errors, "suppress_errors")?,
            queue_blocking: flag(queue_blocking, "queue_blocking")?,
            queue_size: count(queue_size, "queue_size")?.map(|v| v as usize),
            disable_resources_metrics: flag(
                disable_resources_metrics,
                "disable_resources_metrics",
            )?,
            resources_metrics_interval: count(
                resources_metrics_interval,
                "resources_metrics_interval",
            )?,
        })
    })
}

/// Initialises the run. Every pointer argument may be NULL for "not given":
///
/// - `name`: the run name; a random `<adjective>-<noun>` when NULL.
/// - `metadata_json`: a JSON object of metadata (`{"nx": 64, "scheme": "ftcs"}`); keys set with
///   `simvue_run_set_metadata_*` before init are added to it.
/// - `tags`, `n_tags`: an array of tag strings.
/// - `description`: free text.
/// - `folder`: folder path starting with `/` (default `/`).
/// - `running`: 1 to start the run now, 0 to only create it (`created`; start it later with
///   `simvue_run_reconnect` on a new handle).
///
/// # Safety
/// `run` is NULL or a live handle; strings are NULL or NUL-terminated; `tags` is NULL or holds
/// `n_tags` string pointers.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_init(
    run: *mut simvue_run,
    name: *const c_char,
    metadata_json: *const c_char,
    tags: *const *const c_char,
    n_tags: usize,
    description: *const c_char,
    folder: *const c_char,
    running: i32,
) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        let name = opt_cstr(name, "name")?;
        let metadata = opt_cstr(metadata_json, "metadata_json")?
            .map(|m| parse_json_object(m, "metadata_json"))
            .transpose()?;
        let tags = str_array(tags, n_tags, "tags")?;
        let description = opt_cstr(description, "description")?;
        let folder = opt_cstr(folder, "folder")?;
        let running = flag(running, "running")?
            .ok_or_else(|| Error::new(ErrorKind::UnknownEnum, "running must be 0 or 1"))?;
        run.init(InitOptions {
            name,
            metadata,
            tags: &tags,
            description,
            folder,
            running,
        })
    })
}

/// Copies the run's name into `buf` (`len` bytes, NUL-terminated). `*needed` (if not NULL)
/// receives the name's length without the NUL, also when the buffer is too small
/// (`SIMVUE_ERROR_BUFFER_TOO_SMALL`). Before init: `SIMVUE_ERROR_STATE`. A disabled run's
/// name is empty.
///
/// # Safety
/// `run` is NULL or a live handle; `buf` is NULL or holds `len` bytes; `needed` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_name(
    run: *const simvue_run,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> simvue_result {
    copy_out(run, buf, len, needed, Run::name)
}

/// Copies the run's id into `buf`, as `simvue_run_name` does. Offline ids look like
/// `offline_<uuid>`; keep the id to reconnect to the run later.
///
/// # Safety
/// As `simvue_run_name`.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_id(
    run: *const simvue_run,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> simvue_result {
    copy_out(run, buf, len, needed, Run::id)
}

/// Sets the process whose tree (the process and its children) is sampled for resource
/// metrics; by default the calling process.
///
/// # Safety
/// `run` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_pid(run: *mut simvue_run, pid: i64) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        let pid =
            u32::try_from(pid).map_err(|_| Error::invalid(format!("{pid} is not a process id")))?;
        run.set_pid(pid)
    })
}

/// Reconnects a new, uninitialised handle to an existing run that is `created` (or was left
/// `running`), and starts it. Offline, `run_id` is the `offline_...` id of a run in the cache.
///
/// # Safety
/// `run` is NULL or a live handle; `run_id` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_reconnect(
    run: *mut simvue_run,
    run_id: *const c_char,
) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        run.reconnect(cstr(run_id, "run_id")?)
    })
}

/// Adds or replaces metadata from a JSON object. Before init the keys are kept for init.
///
/// # Safety
/// `run` is NULL or a live handle; `metadata_json` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_update_metadata(
    run: *mut simvue_run,
    metadata_json: *const c_char,
) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        let md = parse_json_object(cstr(metadata_json, "metadata_json")?, "metadata_json")?;
        run.update_metadata(md)
    })
}

unsafe fn set_metadata(
    run: *mut simvue_run,
    key: *const c_char,
    value: impl FnOnce() -> Result<Json>,
) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        let key = cstr(key, "key")?;
        run.set_metadata(key, value()?)
    })
}

/// Sets one metadata key to a string value (before init: kept for init; after: updated).
///
/// # Safety
/// `run` is NULL or a live handle; `key` and `value` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_metadata_string(
    run: *mut simvue_run,
    key: *const c_char,
    value: *const c_char,
) -> simvue_result {
    set_metadata(run, key, || Ok(Json::Str(cstr(value, "value")?.to_owned())))
}

/// Sets one metadata key to an integer value.
///
/// # Safety
/// `run` is NULL or a live handle; `key` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_metadata_int(
    run: *mut simvue_run,
    key: *const c_char,
    value: i64,
) -> simvue_result {
    set_metadata(run, key, || Ok(Json::Int(value)))
}

/// Sets one metadata key to a floating-point value; NaN and infinities are refused.
///
/// # Safety
/// `run` is NULL or a live handle; `key` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_metadata_double(
    run: *mut simvue_run,
    key: *const c_char,
    value: f64,
) -> simvue_result {
    set_metadata(run, key, || Ok(Json::Float(value)))
}

/// Sets one metadata key to a boolean value (0 or 1).
///
/// # Safety
/// `run` is NULL or a live handle; `key` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_metadata_bool(
    run: *mut simvue_run,
    key: *const c_char,
    value: i32,
) -> simvue_result {
    set_metadata(run, key, || match value {
        0 | 1 => Ok(Json::Bool(value == 1)),
        v => Err(Error::new(
            ErrorKind::UnknownEnum,
            format!("a boolean must be 0 or 1, got {v}"),
        )),
    })
}

/// Adds tags to the run (keeping the ones it has).
///
/// # Safety
/// `run` is NULL or a live handle; `tags` is NULL or holds `n_tags` string pointers.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_update_tags(
    run: *mut simvue_run,
    tags: *const *const c_char,
    n_tags: usize,
) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        let tags = str_array(tags, n_tags, "tags")?;
        run.update_tags(&tags)
    })
}

/// Converts `n` C strings for the hot path without a heap allocation for up to 128 names.
unsafe fn with_names<R>(
    names: *const *const c_char,
    n: usize,
    f: impl FnOnce(&[&str]) -> Result<R>,
) -> Result<R> {
    if n == 0 || names.is_null() {
        return if n == 0 {
            f(&[])
        } else {
            Err(Error::new(
                ErrorKind::NullArgument,
                format!("names is NULL but n is {n}"),
            ))
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

unsafe fn log_metrics_impl(
    run: *mut simvue_run,
    names: *const *const c_char,
    values: *const f64,
    n: usize,
    opts: impl FnOnce() -> Result<MetricOptions>,
) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        if values.is_null() && n > 0 {
            return Err(Error::new(
                ErrorKind::NullArgument,
                format!("values is NULL but n is {n}"),
            ));
        }
        let values = if n == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(values, n)
        };
        let opts = opts()?;
        with_names(names, n, |names| run.log_metrics(names, values, opts))
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
    log_metrics_impl(run, names, values, n, || Ok(MetricOptions::default()))
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
    log_metrics_impl(run, &name, &value, 1, || Ok(MetricOptions::default()))
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
        if flags & !(SIMVUE_METRICS_STEP | SIMVUE_METRICS_TIME) != 0 {
            return Err(Error::new(
                ErrorKind::UnknownEnum,
                format!("flags {flags:#x} has bits other than SIMVUE_METRICS_STEP and SIMVUE_METRICS_TIME"),
            ));
        }
        let step = if flags & SIMVUE_METRICS_STEP != 0 {
            Some(
                u64::try_from(step)
                    .map_err(|_| Error::invalid(format!("step must be >= 0, got {step}")))?,
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
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        let message = cstr(message, "message")?;
        let level = match level {
            SIMVUE_LOG_DEBUG => LogLevel::Debug,
            SIMVUE_LOG_INFO => LogLevel::Info,
            SIMVUE_LOG_WARNING => LogLevel::Warning,
            SIMVUE_LOG_ERROR => LogLevel::Error,
            SIMVUE_LOG_CRITICAL => LogLevel::Critical,
            l => {
                return Err(Error::new(
                    ErrorKind::UnknownEnum,
                    format!("{l} is not a SIMVUE_LOG_* level"),
                ))
            }
        };
        let ts = parse_timestamp(opt_cstr(timestamp, "timestamp")?)?;
        run.log_event_level(message, level, ts)
    })
}

/// Sets the run's final status: `SIMVUE_STATUS_COMPLETED`, `SIMVUE_STATUS_FAILED` or
/// `SIMVUE_STATUS_TERMINATED`. Metrics and events are refused afterwards. Called again, the
/// last status wins, as in the Python client; `simvue_run_close` never overrides it.
///
/// # Safety
/// `run` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_status(run: *mut simvue_run, status: i32) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        let status = match status {
            SIMVUE_STATUS_COMPLETED => Status::Completed,
            SIMVUE_STATUS_FAILED => Status::Failed,
            SIMVUE_STATUS_TERMINATED => Status::Terminated,
            s => {
                return Err(Error::new(
                    ErrorKind::UnknownEnum,
                    format!("{s} is not a SIMVUE_STATUS_* value"),
                ))
            }
        };
        run.set_status(status)
    })
}

/// Closes the run: writes everything still queued, sets a running run `completed` and ends
/// it. Later calls that would record something return `SIMVUE_ERROR_CLOSED`; queries
/// (`simvue_run_name`, `simvue_run_id`, `simvue_run_dropped`, ...) keep working. Release the
/// handle with `simvue_run_free`. A run never closed is closed at process exit.
///
/// # Safety
/// `run` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_close(run: *mut simvue_run) -> simvue_result {
    guard(|| run_ref(run)?.close())
}

/// Sets metadata (a JSON object), tags and a description on a folder: the run's folder when
/// `path` is NULL (or equal to it), otherwise the folder at `path`. NULL leaves a field as it
/// is; `tags` NULL with `n_tags` 0 leaves the tags, non-NULL with 0 clears them.
///
/// # Safety
/// `run` is NULL or a live handle; strings are NULL or NUL-terminated; `tags` is NULL or holds
/// `n_tags` string pointers.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_folder_details(
    run: *mut simvue_run,
    path: *const c_char,
    metadata_json: *const c_char,
    tags: *const *const c_char,
    n_tags: usize,
    description: *const c_char,
) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        let path = opt_cstr(path, "path")?;
        let metadata = opt_cstr(metadata_json, "metadata_json")?
            .map(|m| parse_json_object(m, "metadata_json"))
            .transpose()?;
        let tags = if tags.is_null() && n_tags == 0 {
            None
        } else {
            Some(str_array(tags, n_tags, "tags")?)
        };
        let description = opt_cstr(description, "description")?;
        run.set_folder_details(path, metadata, tags.as_deref(), description)
    })
}

/// Defines an alert and attaches it to the run (the seed's `add_alert`).
///
/// - `source`: `SIMVUE_ALERT_SOURCE_METRICS` or `SIMVUE_ALERT_SOURCE_EVENTS`.
/// - `frequency`: seconds between evaluations (> 0). `window`: averaging window in seconds;
///   0 or less means the same as `frequency`.
/// - Metrics alerts: `rule` (`SIMVUE_ALERT_RULE_*`), `metric`, and `threshold` for
///   above/below or `range_low` < `range_high` for the range rules; the numbers a rule does not
///   use are ignored.
/// - Events alerts: `pattern`; `rule`, `metric` and the numbers are ignored.
/// - `notification`: `SIMVUE_NOTIFICATION_NONE` or `SIMVUE_NOTIFICATION_EMAIL`.
///
/// The alert's id is copied into `id_buf` when it is not NULL; `id_len` must then be at least
/// `SIMVUE_ID_BUFFER_SIZE`. Adding the same alert twice attaches it once.
///
/// # Safety
/// `run` is NULL or a live handle; strings are NULL or NUL-terminated; `id_buf` is NULL or
/// holds `id_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_add_alert(
    run: *mut simvue_run,
    name: *const c_char,
    source: i32,
    frequency: i64,
    window: i64,
    rule: i32,
    metric: *const c_char,
    threshold: f64,
    range_low: f64,
    range_high: f64,
    notification: i32,
    pattern: *const c_char,
    id_buf: *mut c_char,
    id_len: usize,
) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        if !id_buf.is_null() && id_len < SIMVUE_ID_BUFFER_SIZE {
            // Checked first, so that a too small buffer creates no alert.
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!("id_buf must hold SIMVUE_ID_BUFFER_SIZE ({SIMVUE_ID_BUFFER_SIZE}) bytes, got {id_len}"),
            ));
        }
        let name = cstr(name, "name")?;
        let source_events = match source {
            SIMVUE_ALERT_SOURCE_METRICS => false,
            SIMVUE_ALERT_SOURCE_EVENTS => true,
            s => {
                return Err(Error::new(
                    ErrorKind::UnknownEnum,
                    format!("{s} is not a SIMVUE_ALERT_SOURCE_* value"),
                ))
            }
        };
        let notify_email = match notification {
            SIMVUE_NOTIFICATION_NONE => false,
            SIMVUE_NOTIFICATION_EMAIL => true,
            n => {
                return Err(Error::new(
                    ErrorKind::UnknownEnum,
                    format!("{n} is not a SIMVUE_NOTIFICATION_* value"),
                ))
            }
        };
        let frequency = u64::try_from(frequency)
            .ok()
            .filter(|&f| f > 0)
            .ok_or_else(|| {
                Error::invalid(format!("frequency must be positive, got {frequency}"))
            })?;
        let (rule, metric, pattern) = if source_events {
            (None, None, Some(cstr(pattern, "pattern")?))
        } else {
            let rule = match rule {
                SIMVUE_ALERT_RULE_IS_ABOVE => AlertRuleKind::IsAbove,
                SIMVUE_ALERT_RULE_IS_BELOW => AlertRuleKind::IsBelow,
                SIMVUE_ALERT_RULE_IS_OUTSIDE_RANGE => AlertRuleKind::IsOutsideRange,
                SIMVUE_ALERT_RULE_IS_INSIDE_RANGE => AlertRuleKind::IsInsideRange,
                r => {
                    return Err(Error::new(
                        ErrorKind::UnknownEnum,
                        format!("{r} is not a SIMVUE_ALERT_RULE_* value"),
                    ))
                }
            };
            (Some(rule), Some(cstr(metric, "metric")?), None)
        };
        let id = run.add_alert(AlertOptions {
            name,
            source_events,
            frequency,
            window: (window > 0).then_some(window as u64),
            rule,
            metric,
            threshold: Some(threshold),
            range_low: Some(range_low),
            range_high: Some(range_high),
            notify_email,
            pattern,
        })?;
        if !id_buf.is_null() {
            write_str(&id, id_buf, id_len, std::ptr::null_mut())?;
        }
        Ok(())
    })
}

/// Reads how many metric sets and events were dropped so far because a queue was full
/// (only without `queue_blocking`). Either out-pointer may be NULL.
///
/// # Safety
/// `run` is NULL or a live handle; the out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_dropped(
    run: *const simvue_run,
    metrics: *mut u64,
    events: *mut u64,
) -> simvue_result {
    guard(|| {
        let st = run_ref(run)?.stats();
        if !metrics.is_null() {
            *metrics = st.metrics_dropped;
        }
        if !events.is_null() {
            *events = st.events_dropped;
        }
        Ok(())
    })
}

/// Writes 1 to `*out` when the run suppresses errors (the default) and 0 otherwise. Language
/// bindings use it to decide whether an error without a status argument stops the program.
///
/// # Safety
/// `run` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_suppress_errors(
    run: *const simvue_run,
    out: *mut i32,
) -> simvue_result {
    write_flag(run, out, Run::suppress_errors)
}

/// A function the library calls once, on its background thread, when an abort of the run is
/// requested from the Simvue web UI. `user_data` is what was registered with it.
pub type simvue_abort_callback = Option<unsafe extern "C" fn(user_data: *mut std::ffi::c_void)>;

struct CallbackData(*mut std::ffi::c_void);
// SAFETY: the pointer is only handed back to the caller's own callback; making that safe to
// call from another thread is the caller's contract, as documented.
unsafe impl Send for CallbackData {}

/// Registers `callback` (or removes it, with NULL), called once with `user_data` on the
/// library's background thread when an abort is requested from the web UI (online runs). The
/// callback should only set a flag or similar; it must not call into the run. The library
/// never stops the process itself; see also `simvue_run_abort_requested`.
///
/// # Safety
/// `run` is NULL or a live handle; `callback` must be safe to call from another thread with
/// `user_data` for as long as the run is open.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_abort_callback(
    run: *mut simvue_run,
    callback: simvue_abort_callback,
    user_data: *mut std::ffi::c_void,
) -> simvue_result {
    with_run(run, |run| {
        let data = CallbackData(user_data);
        run.set_abort_callback(callback.map(|cb| {
            Box::new(move || {
                let d = &data;
                // SAFETY: per this function's contract.
                unsafe { cb(d.0) }
            }) as Box<dyn Fn() + Send>
        }));
        Ok(())
    })
}

/// Writes 1 to `*out` if an abort of the run was requested from the web UI, else 0. Cheap
/// enough to call every time step.
///
/// # Safety
/// `run` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_abort_requested(
    run: *const simvue_run,
    out: *mut i32,
) -> simvue_result {
    write_flag(run, out, Run::abort_requested)
}

/// Sets how often (in seconds, > 0) an online run asks the server whether an abort was
/// requested; default 30, at least 1 (shorter intervals are raised to 1 s so that the server is
/// not flooded). Before `simvue_run_init`.
///
/// # Safety
/// `run` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_abort_poll_interval(
    run: *mut simvue_run,
    seconds: f64,
) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(Error::invalid(format!(
                "the interval must be a positive number of seconds, got {seconds}"
            )));
        }
        run.set_abort_poll_interval(std::time::Duration::from_secs_f64(seconds))
    })
}

/// Category `input`: something the run reads (an input deck).
pub const SIMVUE_CATEGORY_INPUT: i32 = 0;
/// Category `output`: something the run produced (refused while the run is only created).
pub const SIMVUE_CATEGORY_OUTPUT: i32 = 1;
/// Category `code`: source code.
pub const SIMVUE_CATEGORY_CODE: i32 = 2;

/// Save flag: copy the file into the offline cache now and save the copy, so that later
/// changes to the file are not saved.
pub const SIMVUE_SAVE_SNAPSHOT: u32 = 1;
/// Save flag: return only once the save is complete (uploaded online, recorded offline), with
/// its outcome; otherwise saving happens on a background thread and `close` waits for it.
pub const SIMVUE_SAVE_WAIT: u32 = 2;

fn category(c: i32) -> Result<Category> {
    match c {
        SIMVUE_CATEGORY_INPUT => Ok(Category::Input),
        SIMVUE_CATEGORY_OUTPUT => Ok(Category::Output),
        SIMVUE_CATEGORY_CODE => Ok(Category::Code),
        c => Err(Error::new(
            ErrorKind::UnknownEnum,
            format!("{c} is not a SIMVUE_CATEGORY_* value"),
        )),
    }
}

fn save_flags(flags: u32) -> Result<(bool, bool)> {
    if flags & !(SIMVUE_SAVE_SNAPSHOT | SIMVUE_SAVE_WAIT) != 0 {
        return Err(Error::new(
            ErrorKind::UnknownEnum,
            format!(
                "flags {flags:#x} has bits other than SIMVUE_SAVE_SNAPSHOT and SIMVUE_SAVE_WAIT"
            ),
        ));
    }
    Ok((
        flags & SIMVUE_SAVE_SNAPSHOT != 0,
        flags & SIMVUE_SAVE_WAIT != 0,
    ))
}

/// The arguments the save functions share: category, options, and whether to wait.
///
/// # Safety
/// `filetype` and `name` are NULL or NUL-terminated.
unsafe fn save_args<'a>(
    category: i32,
    filetype: *const c_char,
    preserve_path: i32,
    name: *const c_char,
    flags: u32,
) -> Result<(Category, SaveOptions<'a>, bool)> {
    let cat = self::category(category)?;
    let (snapshot, wait) = save_flags(flags)?;
    let opts = SaveOptions {
        mime_type: opt_cstr(filetype, "filetype")?,
        preserve_path: preserve(preserve_path)?,
        name: opt_cstr(name, "name")?,
        snapshot,
    };
    Ok((cat, opts, wait))
}

fn preserve(v: i32) -> Result<bool> {
    flag(v, "preserve_path")?
        .ok_or_else(|| Error::new(ErrorKind::UnknownEnum, "preserve_path must be 0 or 1"))
}

/// Saves a file with the run (the seed's `save`).
///
/// - `category`: `SIMVUE_CATEGORY_INPUT`, `_OUTPUT` or `_CODE`.
/// - `filetype`: a MIME type, or NULL to guess it from the file name as Python's `mimetypes`
///   does; it must be one the Python client accepts.
/// - `preserve_path`: 1 to name the artifact by its path relative to the working directory
///   (a file outside it is refused), 0 for its base name.
/// - `name`: the artifact's name, or NULL for the derived one.
/// - `flags`: `SIMVUE_SAVE_SNAPSHOT`, `SIMVUE_SAVE_WAIT`, or 0.
///
/// The file is checked now (missing, a directory, unreadable: an error); it is hashed and
/// saved on a background thread, streamed in chunks, so large files never sit in memory.
///
/// # Safety
/// `run` is NULL or a live handle; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_save(
    run: *mut simvue_run,
    filename: *const c_char,
    category: i32,
    filetype: *const c_char,
    preserve_path: i32,
    name: *const c_char,
    flags: u32,
) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        let path = cstr(filename, "filename")?;
        let (cat, opts, wait) = save_args(category, filetype, preserve_path, name, flags)?;
        run.save_file(Path::new(path), cat, opts, wait)
    })
}

/// Saves every regular file below `directory` (the seed's `save_directory`); arguments as
/// `simvue_run_save`. A file that cannot be saved is reported and does not stop the others;
/// the result then is the first failure's code and the message says how many failed.
///
/// # Safety
/// `run` is NULL or a live handle; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_save_directory(
    run: *mut simvue_run,
    directory: *const c_char,
    category: i32,
    filetype: *const c_char,
    preserve_path: i32,
    flags: u32,
) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        let dir = cstr(directory, "directory")?;
        let (cat, opts, wait) =
            save_args(category, filetype, preserve_path, std::ptr::null(), flags)?;
        run.save_directory(Path::new(dir), cat, opts, wait)
    })
}

/// Saves `n` files and directories (the seed's `save_all`); as `simvue_run_save_directory`.
///
/// # Safety
/// `run` is NULL or a live handle; `paths` is NULL or holds `n` string pointers.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_save_all(
    run: *mut simvue_run,
    paths: *const *const c_char,
    n: usize,
    category: i32,
    filetype: *const c_char,
    preserve_path: i32,
    flags: u32,
) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        let paths = str_array(paths, n, "paths")?;
        let (cat, opts, wait) =
            save_args(category, filetype, preserve_path, std::ptr::null(), flags)?;
        let paths: Vec<&Path> = paths.iter().map(Path::new).collect();
        run.save_all(&paths, cat, opts, wait)
    })
}

/// Saves `size` bytes from memory as an artifact called `name` (the C counterpart of saving
/// a Python object): a field the solver holds, a JSON summary. The bytes are copied before the
/// call returns. `filetype` is a MIME type or NULL (`application/octet-stream`); `flags` may
/// hold `SIMVUE_SAVE_WAIT`.
///
/// # Safety
/// `run` is NULL or a live handle; `data` is NULL (only with `size` 0) or holds `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_save_bytes(
    run: *mut simvue_run,
    name: *const c_char,
    data: *const std::ffi::c_void,
    size: usize,
    category: i32,
    filetype: *const c_char,
    flags: u32,
) -> simvue_result {
    with_run(run, |run| {
        if run.is_disabled() {
            return Ok(());
        }
        let name = cstr(name, "name")?;
        if data.is_null() && size > 0 {
            return Err(Error::new(
                ErrorKind::NullArgument,
                format!("data is NULL but size is {size}"),
            ));
        }
        let cat = self::category(category)?;
        let (snapshot, wait) = save_flags(flags)?;
        if snapshot {
            return Err(Error::invalid(
                "SIMVUE_SAVE_SNAPSHOT does not apply to bytes (they are copied anyway)",
            ));
        }
        let bytes = if size == 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(data.cast::<u8>(), size).to_vec()
        };
        run.save_bytes(name, bytes, cat, opt_cstr(filetype, "filetype")?, wait)
    })
}
