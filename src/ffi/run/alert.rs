//! Alerts of a `simvue_run`.

use std::ffi::c_char;

use super::super::convert::{cstr, opt_cstr, str_array, write_str};
use super::super::result::{simvue_result, FfiError, FfiResult};
use super::{flag, simvue_run, with_enabled_run, SIMVUE_ID_BUFFER_SIZE};

use crate::run::{
    Aggregation, AlertOptions, AlertRef, AlertRuleKind, AlertSource, AlertState, Run,
};

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

/// Metrics alert aggregation `average`: the mean of the values in the window (the default).
pub const SIMVUE_AGGREGATION_AVERAGE: i32 = 0;
/// Metrics alert aggregation `sum`: the sum of the values in the window.
pub const SIMVUE_AGGREGATION_SUM: i32 = 1;
/// Metrics alert aggregation `at least one`: fires if one value in the window meets the rule.
pub const SIMVUE_AGGREGATION_AT_LEAST_ONE: i32 = 2;
/// Metrics alert aggregation `all`: fires if every value in the window meets the rule.
pub const SIMVUE_AGGREGATION_ALL: i32 = 3;

/// User alert state `ok` (`simvue_run_log_alert`).
pub const SIMVUE_ALERT_STATE_OK: i32 = 0;
/// User alert state `critical` (`simvue_run_log_alert`; the Python client's default).
pub const SIMVUE_ALERT_STATE_CRITICAL: i32 = 1;

/// Checks an id buffer first, so that a too small one creates no alert.
unsafe fn check_id_buf(id_buf: *mut c_char, id_len: usize) -> FfiResult<()> {
    if !id_buf.is_null() && id_len < SIMVUE_ID_BUFFER_SIZE {
        return Err(FfiError::new(
            simvue_result::SIMVUE_ERROR_BUFFER_TOO_SMALL,
            format!(
                "id_buf must hold SIMVUE_ID_BUFFER_SIZE ({SIMVUE_ID_BUFFER_SIZE}) bytes, got {id_len}"
            ),
        ));
    }
    Ok(())
}

/// Creates the alert of `opts` and copies its id into `id_buf` (when not NULL).
unsafe fn create(
    run: &Run,
    opts: AlertOptions<'_>,
    id_buf: *mut c_char,
    id_len: usize,
) -> FfiResult<()> {
    let id = run.add_alert(opts)?;
    if !id_buf.is_null() {
        write_str(&id, id_buf, id_len, std::ptr::null_mut())?;
    }
    Ok(())
}

fn notification(n: i32) -> FfiResult<bool> {
    match n {
        SIMVUE_NOTIFICATION_NONE => Ok(false),
        SIMVUE_NOTIFICATION_EMAIL => Ok(true),
        n => Err(FfiError::unknown_enum(format!(
            "{n} is not a SIMVUE_NOTIFICATION_* value"
        ))),
    }
}

fn aggregation(a: i32) -> FfiResult<Aggregation> {
    match a {
        SIMVUE_AGGREGATION_AVERAGE => Ok(Aggregation::Average),
        SIMVUE_AGGREGATION_SUM => Ok(Aggregation::Sum),
        SIMVUE_AGGREGATION_AT_LEAST_ONE => Ok(Aggregation::AtLeastOne),
        SIMVUE_AGGREGATION_ALL => Ok(Aggregation::All),
        a => Err(FfiError::unknown_enum(format!(
            "{a} is not a SIMVUE_AGGREGATION_* value"
        ))),
    }
}

fn rule(r: i32) -> FfiResult<AlertRuleKind> {
    match r {
        SIMVUE_ALERT_RULE_IS_ABOVE => Ok(AlertRuleKind::IsAbove),
        SIMVUE_ALERT_RULE_IS_BELOW => Ok(AlertRuleKind::IsBelow),
        SIMVUE_ALERT_RULE_IS_OUTSIDE_RANGE => Ok(AlertRuleKind::IsOutsideRange),
        SIMVUE_ALERT_RULE_IS_INSIDE_RANGE => Ok(AlertRuleKind::IsInsideRange),
        r => Err(FfiError::unknown_enum(format!(
            "{r} is not a SIMVUE_ALERT_RULE_* value"
        ))),
    }
}

fn frequency(f: i64) -> FfiResult<u64> {
    u64::try_from(f)
        .ok()
        .filter(|&f| f > 0)
        .ok_or_else(|| FfiError::invalid(format!("frequency must be positive, got {f}")))
}

/// `trigger_abort` and `attach_to_run`: 0 or 1.
fn yes_no(v: i32, what: &str) -> FfiResult<bool> {
    flag(v, what)?.ok_or_else(|| FfiError::unknown_enum(format!("{what} must be 0 or 1")))
}

/// Defines an alert and attaches it to the run (the seed's `add_alert`; the
/// `simvue_run_create_*_alert` functions have every option of the Python client).
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
    with_enabled_run(run, |run| {
        check_id_buf(id_buf, id_len)?;
        let name = cstr(name, "name")?;
        let source = match source {
            SIMVUE_ALERT_SOURCE_METRICS => AlertSource::Metrics,
            SIMVUE_ALERT_SOURCE_EVENTS => AlertSource::Events,
            s => {
                return Err(FfiError::unknown_enum(format!(
                    "{s} is not a SIMVUE_ALERT_SOURCE_* value"
                )))
            }
        };
        let notify_email = self::notification(notification)?;
        let frequency = self::frequency(frequency)?;
        let (rule, metric, pattern) = if source == AlertSource::Events {
            (None, None, Some(cstr(pattern, "pattern")?))
        } else {
            (Some(self::rule(rule)?), Some(cstr(metric, "metric")?), None)
        };
        create(
            run,
            AlertOptions {
                name,
                source,
                frequency,
                window: (window > 0).then_some(window as u64),
                rule,
                metric,
                threshold: Some(threshold),
                range_low: Some(range_low),
                range_high: Some(range_high),
                notify_email,
                pattern,
                ..AlertOptions::default()
            },
            id_buf,
            id_len,
        )
    })
}

/// Creates a metric threshold alert (`create_metric_threshold_alert`) and, with
/// `attach_to_run` 1, attaches it to the run; the alert's id goes to `id_buf` when it is not
/// NULL (`id_len` at least `SIMVUE_ID_BUFFER_SIZE`).
///
/// - `rule`: `SIMVUE_ALERT_RULE_IS_ABOVE` or `SIMVUE_ALERT_RULE_IS_BELOW` `threshold` (finite).
/// - `description`: NULL for none. `window`: seconds over which values are aggregated; 0 or
///   less means `frequency`. `frequency`: seconds between evaluations (> 0; Python's default
///   is 1).
/// - `aggregation`: `SIMVUE_AGGREGATION_*` (Python's default: `AVERAGE`). `notification`:
///   `SIMVUE_NOTIFICATION_NONE` (default) or `_EMAIL`. `trigger_abort`: 1 if the alert firing
///   aborts the run (default 0). `attach_to_run`: 1 to attach it (default), 0 to only create it.
///
/// Creating the same alert again returns the same id; another definition under a name this run
/// already used is `SIMVUE_ERROR_INVALID_ARGUMENT`.
///
/// # Safety
/// `run` is NULL or a live handle; strings are NULL or NUL-terminated; `id_buf` is NULL or
/// holds `id_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_create_metric_threshold_alert(
    run: *mut simvue_run,
    name: *const c_char,
    metric: *const c_char,
    threshold: f64,
    rule: i32,
    description: *const c_char,
    window: i64,
    frequency: i64,
    aggregation: i32,
    notification: i32,
    trigger_abort: i32,
    attach_to_run: i32,
    id_buf: *mut c_char,
    id_len: usize,
) -> simvue_result {
    with_enabled_run(run, |run| {
        check_id_buf(id_buf, id_len)?;
        let rule = self::rule(rule)?;
        if !matches!(rule, AlertRuleKind::IsAbove | AlertRuleKind::IsBelow) {
            return Err(FfiError::unknown_enum(
                "a threshold alert's rule is SIMVUE_ALERT_RULE_IS_ABOVE or _IS_BELOW",
            ));
        }
        create(
            run,
            AlertOptions {
                name: cstr(name, "name")?,
                source: AlertSource::Metrics,
                description: opt_cstr(description, "description")?,
                frequency: self::frequency(frequency)?,
                window: (window > 0).then_some(window as u64),
                rule: Some(rule),
                metric: Some(cstr(metric, "metric")?),
                threshold: Some(threshold),
                aggregation: self::aggregation(aggregation)?,
                notify_email: self::notification(notification)?,
                trigger_abort: yes_no(trigger_abort, "trigger_abort")?,
                attach_to_run: yes_no(attach_to_run, "attach_to_run")?,
                ..AlertOptions::default()
            },
            id_buf,
            id_len,
        )
    })
}

/// Creates a metric range alert (`create_metric_range_alert`): `rule` is
/// `SIMVUE_ALERT_RULE_IS_INSIDE_RANGE` or `_IS_OUTSIDE_RANGE` of [`range_low`, `range_high`]
/// (finite, low < high); the other arguments as `simvue_run_create_metric_threshold_alert`.
///
/// # Safety
/// As `simvue_run_create_metric_threshold_alert`.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_create_metric_range_alert(
    run: *mut simvue_run,
    name: *const c_char,
    metric: *const c_char,
    range_low: f64,
    range_high: f64,
    rule: i32,
    description: *const c_char,
    window: i64,
    frequency: i64,
    aggregation: i32,
    notification: i32,
    trigger_abort: i32,
    attach_to_run: i32,
    id_buf: *mut c_char,
    id_len: usize,
) -> simvue_result {
    with_enabled_run(run, |run| {
        check_id_buf(id_buf, id_len)?;
        let rule = self::rule(rule)?;
        if !matches!(
            rule,
            AlertRuleKind::IsInsideRange | AlertRuleKind::IsOutsideRange
        ) {
            return Err(FfiError::unknown_enum(
                "a range alert's rule is SIMVUE_ALERT_RULE_IS_INSIDE_RANGE or _IS_OUTSIDE_RANGE",
            ));
        }
        create(
            run,
            AlertOptions {
                name: cstr(name, "name")?,
                source: AlertSource::Metrics,
                description: opt_cstr(description, "description")?,
                frequency: self::frequency(frequency)?,
                window: (window > 0).then_some(window as u64),
                rule: Some(rule),
                metric: Some(cstr(metric, "metric")?),
                range_low: Some(range_low),
                range_high: Some(range_high),
                aggregation: self::aggregation(aggregation)?,
                notify_email: self::notification(notification)?,
                trigger_abort: yes_no(trigger_abort, "trigger_abort")?,
                attach_to_run: yes_no(attach_to_run, "attach_to_run")?,
                ..AlertOptions::default()
            },
            id_buf,
            id_len,
        )
    })
}

/// Creates an events alert (`create_event_alert`): it fires when an event message contains
/// `pattern`. `description`, `frequency`, `notification`, `trigger_abort`, `attach_to_run`,
/// `id_buf` as `simvue_run_create_metric_threshold_alert`.
///
/// # Safety
/// As `simvue_run_create_metric_threshold_alert`.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_create_event_alert(
    run: *mut simvue_run,
    name: *const c_char,
    pattern: *const c_char,
    description: *const c_char,
    frequency: i64,
    notification: i32,
    trigger_abort: i32,
    attach_to_run: i32,
    id_buf: *mut c_char,
    id_len: usize,
) -> simvue_result {
    with_enabled_run(run, |run| {
        check_id_buf(id_buf, id_len)?;
        create(
            run,
            AlertOptions {
                name: cstr(name, "name")?,
                source: AlertSource::Events,
                description: opt_cstr(description, "description")?,
                frequency: self::frequency(frequency)?,
                pattern: Some(cstr(pattern, "pattern")?),
                notify_email: self::notification(notification)?,
                trigger_abort: yes_no(trigger_abort, "trigger_abort")?,
                attach_to_run: yes_no(attach_to_run, "attach_to_run")?,
                ..AlertOptions::default()
            },
            id_buf,
            id_len,
        )
    })
}

/// Creates a user alert (`create_user_alert`): an alert whose state the solver sets with
/// `simvue_run_log_alert`. Arguments as `simvue_run_create_metric_threshold_alert`.
///
/// # Safety
/// As `simvue_run_create_metric_threshold_alert`.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_create_user_alert(
    run: *mut simvue_run,
    name: *const c_char,
    description: *const c_char,
    notification: i32,
    trigger_abort: i32,
    attach_to_run: i32,
    id_buf: *mut c_char,
    id_len: usize,
) -> simvue_result {
    with_enabled_run(run, |run| {
        check_id_buf(id_buf, id_len)?;
        create(
            run,
            AlertOptions {
                name: cstr(name, "name")?,
                source: AlertSource::User,
                description: opt_cstr(description, "description")?,
                notify_email: self::notification(notification)?,
                trigger_abort: yes_no(trigger_abort, "trigger_abort")?,
                attach_to_run: yes_no(attach_to_run, "attach_to_run")?,
                ..AlertOptions::default()
            },
            id_buf,
            id_len,
        )
    })
}

/// Sets the state of a user alert for this run (`log_alert`): `SIMVUE_ALERT_STATE_OK` or
/// `SIMVUE_ALERT_STATE_CRITICAL`. Give exactly one of `identifier` (the alert's id, online or
/// offline) and `name` (online only: the server is asked for the alert of that name; offline
/// that is `SIMVUE_ERROR_UNSUPPORTED`, as in the Python client). An alert that is not a user
/// alert is `SIMVUE_ERROR_INVALID_ARGUMENT`; an unknown one `SIMVUE_ERROR_NOT_FOUND`.
/// Offline the state is written into the alert's cache file, where simvue-sender sends it
/// only if the alert and the run were uploaded before (docs/protocol.md §8.6 item 5).
///
/// # Safety
/// `run` is NULL or a live handle; `identifier` and `name` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_log_alert(
    run: *mut simvue_run,
    identifier: *const c_char,
    name: *const c_char,
    state: i32,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let state = match state {
            SIMVUE_ALERT_STATE_OK => AlertState::Ok,
            SIMVUE_ALERT_STATE_CRITICAL => AlertState::Critical,
            s => {
                return Err(FfiError::unknown_enum(format!(
                    "{s} is not a SIMVUE_ALERT_STATE_* value"
                )))
            }
        };
        let alert = match (opt_cstr(identifier, "identifier")?, opt_cstr(name, "name")?) {
            (Some(id), None) => AlertRef::Id(id),
            (None, Some(n)) => AlertRef::Name(n),
            _ => {
                return Err(FfiError::invalid(
                    "give the alert either by identifier or by name (exactly one of them)",
                ))
            }
        };
        Ok(run.log_alert(alert, state)?)
    })
}

/// Attaches existing alerts to the run (`add_alerts`): `n_ids` alert ids and, online only,
/// `n_names` alert names (every alert of such a name on the server). Online the run's current
/// alerts are read from the server first and kept. Either array may be NULL when its count is 0,
/// but not both counts may be 0.
///
/// # Safety
/// `run` is NULL or a live handle; `ids` and `names` are NULL or hold `n_ids` / `n_names`
/// NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_add_alerts(
    run: *mut simvue_run,
    ids: *const *const c_char,
    n_ids: usize,
    names: *const *const c_char,
    n_names: usize,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let ids = str_array(ids, n_ids, "ids")?;
        let names = str_array(names, n_names, "names")?;
        Ok(run.add_alerts(&ids, &names)?)
    })
}
