//! Alerts of a `simvue_run`.

use std::ffi::c_char;

use super::super::convert::{cstr, write_str};
use super::super::result::{simvue_result, FfiError};
use super::{simvue_run, with_enabled_run, SIMVUE_ID_BUFFER_SIZE};

use crate::run::{AlertOptions, AlertRuleKind};

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
    with_enabled_run(run, |run| {
        if !id_buf.is_null() && id_len < SIMVUE_ID_BUFFER_SIZE {
            // Checked first, so that a too small buffer creates no alert.
            return Err(FfiError::new(
                simvue_result::SIMVUE_ERROR_BUFFER_TOO_SMALL,
                format!(
                    "id_buf must hold SIMVUE_ID_BUFFER_SIZE ({SIMVUE_ID_BUFFER_SIZE}) bytes, \
                     got {id_len}"
                ),
            ));
        }
        let name = cstr(name, "name")?;
        let source_events = match source {
            SIMVUE_ALERT_SOURCE_METRICS => false,
            SIMVUE_ALERT_SOURCE_EVENTS => true,
            s => {
                return Err(FfiError::unknown_enum(format!(
                    "{s} is not a SIMVUE_ALERT_SOURCE_* value"
                )))
            }
        };
        let notify_email = match notification {
            SIMVUE_NOTIFICATION_NONE => false,
            SIMVUE_NOTIFICATION_EMAIL => true,
            n => {
                return Err(FfiError::unknown_enum(format!(
                    "{n} is not a SIMVUE_NOTIFICATION_* value"
                )))
            }
        };
        let frequency = u64::try_from(frequency)
            .ok()
            .filter(|&f| f > 0)
            .ok_or_else(|| {
                FfiError::invalid(format!("frequency must be positive, got {frequency}"))
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
                    return Err(FfiError::unknown_enum(format!(
                        "{r} is not a SIMVUE_ALERT_RULE_* value"
                    )))
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
