//! `simvue_run`: the C face of [`crate::run::Run`].

//!
//! Modules by part of the API: `log` (metrics and events), `grid` (tensor metrics), `alert`,
//! `save` (artifacts), `signals` (signals and abnormal ends), `context` (shell variables); the
//! handle, its lifecycle, configuration, metadata, tags, status and folders are here.

use std::ffi::c_char;
use std::sync::Mutex;

use super::convert::{cstr, opt_cstr, str_array, write_str};
use super::result::{guard, simvue_result, FfiError, FfiResult};

use crate::config::Mode;
use crate::config::{ServerArgs, Token};
use crate::error::Error;
use crate::json::Json;
use crate::model::Status;
use crate::run::{AbortPolicy, ConfigOptions, InitOptions, Notification, Run, VisibilityOption};
use crate::time::Timestamp;

mod alert;
mod context;
mod grid;
mod log;
mod save;
mod signals;

pub use alert::*;
pub use context::*;
pub use grid::*;
pub use log::*;
pub use save::*;
pub use signals::*;

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

/// In `simvue_run_config`: leave this setting as it is; elsewhere: the default.
pub const SIMVUE_KEEP: i64 = -1;

/// `simvue_run_init_ex` timeout: the server never marks the run `lost`.
pub const SIMVUE_NO_TIMEOUT: i64 = 0;

/// Run notification (`simvue_run_init_ex`): none (the default).
pub const SIMVUE_NOTIFY_NONE: i32 = 0;
/// Run notification: an e-mail whatever the run's end.
pub const SIMVUE_NOTIFY_ALL: i32 = 1;
/// Run notification: an e-mail when the run fails.
pub const SIMVUE_NOTIFY_ERROR: i32 = 2;
/// Run notification: an e-mail when the run is lost.
pub const SIMVUE_NOTIFY_LOST: i32 = 3;

/// Run visibility (`simvue_run_init_ex`): its owner only (the default).
pub const SIMVUE_VISIBILITY_PRIVATE: i32 = 0;
/// Run visibility: everyone.
pub const SIMVUE_VISIBILITY_PUBLIC: i32 = 1;
/// Run visibility: everyone in the owner's tenant.
pub const SIMVUE_VISIBILITY_TENANT: i32 = 2;
/// Run visibility: the users listed.
pub const SIMVUE_VISIBILITY_USERS: i32 = 3;

/// The first word of a live run handle ("SIMVUERU").
const LIVE: u64 = 0x5349_4D56_5545_5255;
/// The first word of a live handle of a disabled run ("SIMVUEOF"), so that a call that records
/// something returns at once after one comparison (a disabled run's mode never changes).
const LIVE_DISABLED: u64 = 0x5349_4D56_5545_4F46;
/// The first word of a freed one ("FREEDRUN").
const FREED: u64 = 0x4652_4545_4452_554E;

// Freeing drops the run but not this small struct: it stays allocated, marked freed, for the
// life of the process (16 bytes per freed run, and a word in TOMBSTONES). So a call on a
// freed handle, or a second free, reads memory that is still ours and returns
// SIMVUE_ERROR_INVALID_HANDLE instead of reading freed memory; and the address is never
// reused for a later run, which a registry of live addresses could not promise (a new run
// could get a freed run's address and be used through the stale pointer). Fortran programs
// free a run through one copy of a variable and use another by accident.
/// An opaque run handle. Create it with `simvue_run_new`, release it with `simvue_run_free`
/// (after which it stays recognisable as freed).
pub struct simvue_run {
    magic: u64,
    run: Option<Box<Run>>,
}

/// The freed handles (addresses), so that they stay reachable: memory checkers then count
/// them as in use, not as leaks.
static TOMBSTONES: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Turns a handle into a reference, checking for NULL and for pointers that are not (or no
/// longer) run handles.
///
/// # Safety
/// `p` is NULL or a pointer returned by `simvue_run_new` (freed or not).
#[inline]
unsafe fn run_ref<'a>(p: *const simvue_run) -> FfiResult<&'a Run> {
    if !p.is_null() {
        let h = &*p;
        if let (LIVE | LIVE_DISABLED, Some(run)) = (h.magic, h.run.as_deref()) {
            return Ok(run);
        }
    }
    Err(bad_handle(p))
}

/// Why `p` is not a live run handle (the cold half of [`run_ref`]).
///
/// # Safety
/// As [`run_ref`].
#[cold]
unsafe fn bad_handle(p: *const simvue_run) -> FfiError {
    if p.is_null() {
        return FfiError::null("run handle is NULL");
    }
    match (*p).magic {
        FREED => FfiError::new(
            simvue_result::SIMVUE_ERROR_INVALID_HANDLE,
            "the run handle was freed (simvue_run_free)",
        ),
        _ => FfiError::new(
            simvue_result::SIMVUE_ERROR_INVALID_HANDLE,
            "not a simvue run handle",
        ),
    }
}

/// Runs `f` on the run behind a handle: the handle check, the panic boundary, and the run's
/// error policy for what `f` returns. An error found here (a bad argument) is reported through
/// the run as its own errors are (logged once when `suppress_errors` is on, and then marked so
/// that `simvue_last_error_reported()` says so).
///
/// # Safety
/// As [`run_ref`].
#[inline]
unsafe fn with_run(p: *const simvue_run, f: impl FnOnce(&Run) -> FfiResult<()>) -> simvue_result {
    guard(|| {
        let run = run_ref(p)?;
        report(run, f(run))
    })
}

/// As [`with_run`] for calls that record something: on a disabled run they succeed at once,
/// without looking at their arguments (only the handle is checked).
///
/// # Safety
/// As [`run_ref`].
#[inline]
pub(super) unsafe fn with_enabled_run(
    p: *const simvue_run,
    f: impl FnOnce(&Run) -> FfiResult<()>,
) -> simvue_result {
    if is_disabled_handle(p) {
        return simvue_result::SIMVUE_OK;
    }
    // Out of line, so that the disabled case above saves no registers for it.
    enabled_run(p, f)
}

/// Whether `p` is the live handle of a disabled run: one comparison, for the hot calls to
/// return at once (before they even build their closures).
///
/// # Safety
/// As [`run_ref`].
#[inline(always)]
pub(super) unsafe fn is_disabled_handle(p: *const simvue_run) -> bool {
    !p.is_null() && (*p).magic == LIVE_DISABLED
}

/// The rest of [`with_enabled_run`].
///
/// # Safety
/// As [`run_ref`].
#[inline(never)]
unsafe fn enabled_run(
    p: *const simvue_run,
    f: impl FnOnce(&Run) -> FfiResult<()>,
) -> simvue_result {
    with_run(p, |run| if run.is_disabled() { Ok(()) } else { f(run) })
}

/// Passes an error through the run's reporter (which prints it when the run suppresses
/// errors), keeping the FFI layer's precise code.
#[inline]
fn report(run: &Run, r: FfiResult<()>) -> FfiResult<()> {
    match r {
        Ok(()) => Ok(()),
        Err(e) => Err(report_error(run, e)),
    }
}

#[cold]
fn report_error(run: &Run, e: FfiError) -> FfiError {
    if e.reported {
        return e;
    }
    match run.report::<()>(Err(e.to_core())) {
        Err(core) => FfiError {
            reported: core.reported,
            ..e
        },
        Ok(()) => e,
    }
}

pub(super) fn flag(v: i32, what: &str) -> FfiResult<Option<bool>> {
    match v {
        -1 => Ok(None),
        0 => Ok(Some(false)),
        1 => Ok(Some(true)),
        _ => Err(FfiError::unknown_enum(format!(
            "{what} must be 0, 1 or -1 (keep), got {v}"
        ))),
    }
}

fn count(v: i64, what: &str) -> FfiResult<Option<u64>> {
    match v {
        SIMVUE_KEEP => Ok(None),
        v if v > 0 => Ok(Some(v as u64)),
        v => Err(FfiError::invalid(format!(
            "{what} must be positive or SIMVUE_KEEP (-1), got {v}"
        ))),
    }
}

pub(super) fn parse_json_object(text: &str, what: &str) -> FfiResult<Json> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| FfiError::invalid(format!("{what} is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(FfiError::invalid(format!("{what} must be a JSON object")));
    }
    Ok(Json::from_serde(&v))
}

pub(super) fn parse_timestamp(ts: Option<&str>) -> FfiResult<Option<Timestamp>> {
    ts.map(|s| {
        Timestamp::parse(s).ok_or_else(|| {
            FfiError::invalid(format!(
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
            return Err(FfiError::null("out is NULL"));
        }
        *out = i32::from(get(run));
        Ok(())
    })
}

/// A disabled run's name and id are empty; the call succeeds whatever the buffer.
unsafe fn disabled_empty_string(buf: *mut c_char, len: usize, needed: *mut usize) -> FfiResult<()> {
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
/// handle returns `SIMVUE_OK` without looking at its other arguments (only a NULL or freed
/// handle is an error). The environment variable `SIMVUE_MODE` (`online`, `offline` or
/// `disabled`) overrides `mode`, so a job script can switch a compiled solver. Configuration (simvue.toml, `SIMVUE_*`) is read here; problems with it are reported
/// by `simvue_run_init`.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_new(mode: i32, out: *mut *mut simvue_run) -> simvue_result {
    simvue_run_new_ex(
        mode,
        std::ptr::null(),
        std::ptr::null(),
        std::ptr::null(),
        out,
    )
}

/// Creates a run handle as `simvue_run_new` does, naming its server itself (the Python
/// client's `Run(server_url=..., server_token=..., server_profile=...)`), so that a run can
/// target a server without a config file. Each of the three may be NULL (not given):
/// `server_url` and `server_token` replace the config file's (`SIMVUE_URL` and `SIMVUE_TOKEN`
/// in the environment still win over them); `server_profile` picks `[profiles.<name>]` of the
/// config file (`SIMVUE_SERVER_PROFILE` wins over it). A profile that does not exist is
/// reported by `simvue_run_init`. The token is never printed or written anywhere.
///
/// # Safety
/// The strings are NULL or NUL-terminated; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_new_ex(
    mode: i32,
    server_url: *const c_char,
    server_token: *const c_char,
    server_profile: *const c_char,
    out: *mut *mut simvue_run,
) -> simvue_result {
    guard(|| {
        if out.is_null() {
            return Err(FfiError::null("out is NULL"));
        }
        let mode = match mode {
            SIMVUE_MODE_ONLINE => Mode::Online,
            SIMVUE_MODE_OFFLINE => Mode::Offline,
            SIMVUE_MODE_DISABLED => Mode::Disabled,
            m => {
                return Err(FfiError::unknown_enum(format!(
                    "{m} is not a SIMVUE_MODE_* value"
                )))
            }
        };
        let server = ServerArgs {
            url: opt_cstr(server_url, "server_url")?.map(str::to_owned),
            token: opt_cstr(server_token, "server_token")?.map(Token::new),
            profile: opt_cstr(server_profile, "server_profile")?.map(str::to_owned),
        };
        let run = Run::with_server(mode, server);
        *out = Box::into_raw(Box::new(simvue_run {
            magic: if run.is_disabled() {
                LIVE_DISABLED
            } else {
                LIVE
            },
            run: Some(Box::new(run)),
        }));
        Ok(())
    })
}

/// Closes the run if it is still open (status `completed` if it was running), then releases
/// it. NULL is ignored. A freed handle stays recognisable: using it afterwards, or freeing it
/// again, is the error `SIMVUE_ERROR_INVALID_HANDLE` (here only recorded as the last error, as
/// the function returns nothing), never a read of freed memory. Each freed handle keeps 16
/// bytes allocated until the process ends.
///
/// # Safety
/// `run` is NULL or a handle from `simvue_run_new`.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_free(run: *mut simvue_run) {
    let _ = guard(|| {
        if run.is_null() {
            return Ok(());
        }
        run_ref(run)?;
        // Mark it freed first, so that the handle is dead even if closing panics.
        (*run).magic = FREED;
        let state = (*run).run.take();
        TOMBSTONES
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(run as usize);
        drop(state);
        Ok(())
    });
}

/// Configures the run; call it before `simvue_run_init`. Pass -1 (`SIMVUE_KEEP`) for any
/// setting to leave it at its default. Flags are 0 or 1.
///
/// - `suppress_errors` (default 1): errors are printed to stderr and the solver goes on; with
///   0 nothing is printed and background failures are returned by the next call.
/// - `queue_blocking` (default 0): wait when a queue is full instead of dropping the item.
/// - `queue_size` (default 10000): items each of the metrics and events queues holds (each
///   thread that logs metrics has a metrics queue of its own, up to 16 threads).
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
    with_enabled_run(run, |run| {
        Ok(run.config(ConfigOptions {
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
        })?)
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
    simvue_run_init_ex(
        run,
        name,
        metadata_json,
        tags,
        n_tags,
        description,
        folder,
        running,
        SIMVUE_NOTIFY_NONE,
        std::ptr::null(),
        SIMVUE_KEEP,
        SIMVUE_VISIBILITY_PRIVATE,
        std::ptr::null(),
        0,
        std::ptr::null(),
        0,
    )
}

/// Initialises the run with every option of the Python client's `init`; the first eight
/// arguments are those of `simvue_run_init`, then:
///
/// - `notification`: `SIMVUE_NOTIFY_NONE` (default), `_ALL`, `_ERROR` or `_LOST`: when the
///   server sends an e-mail about the run's end.
/// - `retention_period`: how long the server keeps the run, as the Python client reads it
///   (`"1 hour"`, `"30m"`, `"2 days"`, `"86400"`); NULL: for ever.
/// - `timeout`: seconds without a heartbeat before the server marks the run `lost`;
///   `SIMVUE_KEEP` (-1) for the default, 180; `SIMVUE_NO_TIMEOUT` (0) for never.
/// - `visibility`: `SIMVUE_VISIBILITY_PRIVATE` (default: the owner only), `_PUBLIC`, `_TENANT`,
///   or `_USERS` with the `n_users` user names in `users` (only then may `n_users` be > 0).
/// - `record_shell_vars`, `n_shell_vars`: environment variables to record as metadata `shell`,
///   as glob patterns (`"SLURM_*"`), replacing `simvue_run_set_record_shell_vars` and the
///   configuration's `record_shell_vars` when given.
///
/// As the Python client, init also records (unless switched off in `[run.metadata]` or with
/// `SIMVUE_DISABLE_GIT_METRICS`, `_ENVIRONMENT_METRICS`, `_SYSTEM_METRICS`) the git information
/// of the working directory (read from `.git`, no git needed), its project environment
/// (`Cargo.lock`, `Project.toml`, `package-lock.json`, `poetry.lock`...) and the host.
///
/// # Safety
/// As `simvue_run_init`; `retention_period` is NULL or NUL-terminated; `users` and
/// `record_shell_vars` are NULL or hold `n_users` / `n_shell_vars` string pointers.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_init_ex(
    run: *mut simvue_run,
    name: *const c_char,
    metadata_json: *const c_char,
    tags: *const *const c_char,
    n_tags: usize,
    description: *const c_char,
    folder: *const c_char,
    running: i32,
    notification: i32,
    retention_period: *const c_char,
    timeout: i64,
    visibility: i32,
    users: *const *const c_char,
    n_users: usize,
    record_shell_vars: *const *const c_char,
    n_shell_vars: usize,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let name = opt_cstr(name, "name")?;
        let metadata = opt_cstr(metadata_json, "metadata_json")?
            .map(|m| parse_json_object(m, "metadata_json"))
            .transpose()?;
        let tags = str_array(tags, n_tags, "tags")?;
        let description = opt_cstr(description, "description")?;
        let folder = opt_cstr(folder, "folder")?;
        let running = flag(running, "running")?
            .ok_or_else(|| FfiError::unknown_enum("running must be 0 or 1"))?;
        let notification = match notification {
            SIMVUE_NOTIFY_NONE => Notification::None,
            SIMVUE_NOTIFY_ALL => Notification::All,
            SIMVUE_NOTIFY_ERROR => Notification::Error,
            SIMVUE_NOTIFY_LOST => Notification::Lost,
            n => {
                return Err(FfiError::unknown_enum(format!(
                    "{n} is not a SIMVUE_NOTIFY_* value"
                )))
            }
        };
        let retention_period = opt_cstr(retention_period, "retention_period")?;
        let timeout = match timeout {
            SIMVUE_KEEP => Some(crate::run::HEARTBEAT_TIMEOUT),
            SIMVUE_NO_TIMEOUT => None,
            t if t > 0 => Some(t as u64),
            t => {
                return Err(FfiError::invalid(format!(
                    "timeout must be a positive number of seconds, SIMVUE_KEEP or SIMVUE_NO_TIMEOUT, got {t}"
                )))
            }
        };
        let users = str_array(users, n_users, "users")?;
        let visibility = match visibility {
            SIMVUE_VISIBILITY_USERS => VisibilityOption::Users(&users),
            _ if !users.is_empty() => {
                return Err(FfiError::invalid(
                    "users are only given with SIMVUE_VISIBILITY_USERS",
                ))
            }
            SIMVUE_VISIBILITY_PRIVATE => VisibilityOption::Private,
            SIMVUE_VISIBILITY_PUBLIC => VisibilityOption::Public,
            SIMVUE_VISIBILITY_TENANT => VisibilityOption::Tenant,
            v => {
                return Err(FfiError::unknown_enum(format!(
                    "{v} is not a SIMVUE_VISIBILITY_* value"
                )))
            }
        };
        let shell_vars = str_array(record_shell_vars, n_shell_vars, "record_shell_vars")?;
        Ok(run.init(InitOptions {
            name,
            metadata,
            tags: &tags,
            description,
            folder,
            running,
            notification,
            retention_period,
            timeout,
            visibility,
            record_shell_vars: &shell_vars,
        })?)
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
    with_enabled_run(run, |run| {
        let pid = u32::try_from(pid)
            .map_err(|_| FfiError::invalid(format!("{pid} is not a process id")))?;
        Ok(run.set_pid(pid)?)
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
    with_enabled_run(run, |run| Ok(run.reconnect(cstr(run_id, "run_id")?)?))
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
    with_enabled_run(run, |run| {
        let md = parse_json_object(cstr(metadata_json, "metadata_json")?, "metadata_json")?;
        Ok(run.update_metadata(md)?)
    })
}

unsafe fn set_metadata(
    run: *mut simvue_run,
    key: *const c_char,
    value: impl FnOnce() -> FfiResult<Json>,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let key = cstr(key, "key")?;
        Ok(run.set_metadata(key, value()?)?)
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
        v => Err(FfiError::unknown_enum(format!(
            "a boolean must be 0 or 1, got {v}"
        ))),
    })
}

/// Adds tags to the run, keeping the ones it has: online, its current tags are read from the
/// server first (as the Python client does), so that tags added in the web UI are kept.
///
/// # Safety
/// `run` is NULL or a live handle; `tags` is NULL or holds `n_tags` string pointers.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_update_tags(
    run: *mut simvue_run,
    tags: *const *const c_char,
    n_tags: usize,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let tags = str_array(tags, n_tags, "tags")?;
        Ok(run.update_tags(&tags)?)
    })
}

/// Replaces the run's tags with `tags` (`set_tags`; `simvue_run_update_tags` adds to them).
/// `n_tags` 0 clears them.
///
/// # Safety
/// `run` is NULL or a live handle; `tags` is NULL or holds `n_tags` string pointers.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_tags(
    run: *mut simvue_run,
    tags: *const *const c_char,
    n_tags: usize,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let tags = str_array(tags, n_tags, "tags")?;
        Ok(run.set_tags(&tags)?)
    })
}

/// Sets the run's final status: `SIMVUE_STATUS_COMPLETED`, `SIMVUE_STATUS_FAILED` or
/// `SIMVUE_STATUS_TERMINATED`. Metrics and events are refused afterwards. Files saved before
/// are uploaded and attached first (the call waits for them), and the status goes after the
/// metrics and events logged before it, so it is the last change the server sees. Called
/// again, the last status wins, as in the Python client; `simvue_run_close` never overrides it.
///
/// # Safety
/// `run` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_status(run: *mut simvue_run, status: i32) -> simvue_result {
    with_enabled_run(run, |run| Ok(run.set_status(final_status(status)?)?))
}

/// A `SIMVUE_STATUS_*` value as the status it names.
fn final_status(status: i32) -> FfiResult<Status> {
    match status {
        SIMVUE_STATUS_COMPLETED => Ok(Status::Completed),
        SIMVUE_STATUS_FAILED => Ok(Status::Failed),
        SIMVUE_STATUS_TERMINATED => Ok(Status::Terminated),
        s => Err(FfiError::unknown_enum(format!(
            "{s} is not a SIMVUE_STATUS_* value"
        ))),
    }
}

/// Closes the run: writes everything still queued, sets a running run `completed` and ends
/// it. When logged data could not be written anywhere (see `simvue_run_lost_items`), the run
/// ends `lost` instead, the count is printed and close returns `SIMVUE_ERROR_IO`. Later calls
/// that would record something return `SIMVUE_ERROR_CLOSED`; queries (`simvue_run_name`,
/// `simvue_run_id`, `simvue_run_dropped`, `simvue_run_lost_items`, ...) keep working. Release
/// the handle with `simvue_run_free`. A run never closed is closed at process exit.
///
/// # Safety
/// `run` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_close(run: *mut simvue_run) -> simvue_result {
    with_run(run, |run| Ok(run.close()?))
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
    with_enabled_run(run, |run| {
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
        Ok(run.set_folder_details(path, metadata, tags.as_deref(), description)?)
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
    with_run(run, |run| {
        let st = run.stats();
        if !metrics.is_null() {
            *metrics = st.metrics_dropped;
        }
        if !events.is_null() {
            *events = st.events_dropped;
        }
        Ok(())
    })
}

/// Reads how many metric sets and events were lost so far: accepted, but written neither to the
/// server nor to the offline cache (the server unreachable or refusing them, and the cache's
/// disk full or unwritable for longer than the memory kept for them lasts, or until close).
/// Data that could not be written at once is kept in memory (up to 64 MiB) and written when
/// that works again; only what is finally given up is counted. After `simvue_run_close` the
/// counts are final; a run that lost data ends `lost` and its close returns
/// `SIMVUE_ERROR_IO`. Either out-pointer may be NULL.
///
/// # Safety
/// `run` is NULL or a live handle; the out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_lost_items(
    run: *const simvue_run,
    metrics: *mut u64,
    events: *mut u64,
) -> simvue_result {
    with_run(run, |run| {
        let st = run.stats();
        if !metrics.is_null() {
            *metrics = st.metrics_failed;
        }
        if !events.is_null() {
            *events = st.events_failed;
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

/// Registers `callback` (or removes it, with NULL), called once with `user_data` on a
/// background thread of the library when an abort is requested from the server (the web UI,
/// or an alert with `trigger_abort`; online runs), before the abort policy
/// (`simvue_run_set_abort_on_alert`) is applied. The callback should only set a flag or
/// similar; it must not call into the run. See also `simvue_run_abort_requested`.
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

/// Writes 1 to `*out` if an abort of the run was requested from the server, else 0. Cheap
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

/// Abort policy `run` (the default): the run is ended as `terminated` (what was logged before
/// is still sent) and the solver goes on, told by `simvue_run_abort_requested` and the
/// callback.
pub const SIMVUE_ABORT_ON_ALERT_RUN: i32 = 0;
/// Abort policy `terminate` (the Python client's default): every open run is flushed and
/// closed as `terminated`, then the process exits with code 1, as the Python client does.
pub const SIMVUE_ABORT_ON_ALERT_TERMINATE: i32 = 1;
/// Abort policy `ignore`: only the flag and the callback.
pub const SIMVUE_ABORT_ON_ALERT_IGNORE: i32 = 2;

/// Sets what happens when an abort of the run is requested from the server (the web UI, or
/// an alert created with `trigger_abort`): the Python client's `config(abort_on_alert=...)`,
/// `SIMVUE_ABORT_ON_ALERT_RUN` (the default here), `_TERMINATE` or `_IGNORE`. The callback is
/// called first in every case. The default is `run` rather than Python's `terminate`
/// because a native solver may hold MPI communicators, files and devices that only it can
/// close properly (and its MPI peers would hang on a vanished process): it is told and can
/// stop at its next step. Allowed at any time.
///
/// # Safety
/// `run` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_abort_on_alert(
    run: *mut simvue_run,
    policy: i32,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let policy = match policy {
            SIMVUE_ABORT_ON_ALERT_RUN => AbortPolicy::Run,
            SIMVUE_ABORT_ON_ALERT_TERMINATE => AbortPolicy::Terminate,
            SIMVUE_ABORT_ON_ALERT_IGNORE => AbortPolicy::Ignore,
            p => {
                return Err(FfiError::unknown_enum(format!(
                    "{p} is not a SIMVUE_ABORT_ON_ALERT_* value"
                )))
            }
        };
        Ok(run.set_abort_on_alert(policy)?)
    })
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
    with_enabled_run(run, |run| {
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(FfiError::invalid(format!(
                "the interval must be a positive number of seconds, got {seconds}"
            )));
        }
        Ok(run.set_abort_poll_interval(std::time::Duration::from_secs_f64(seconds))?)
    })
}
