//! Alerts: defined from [`AlertOptions`], created in the sink once, and attached to the run.

use super::{AlertOptions, AlertRuleKind, Run};
use crate::error::{Error, Result};
use crate::json::Json;
use crate::model::{Alert, AlertRule};
use crate::validate;

impl Run {
    /// Defines an alert and attaches it to the run; returns the alert's id. Adding the same
    /// alert twice returns the first id.
    pub fn add_alert(&self, opts: AlertOptions<'_>) -> Result<String> {
        self.api(String::new(), || {
            let alert = build_alert(&opts)?;
            let a = self.active()?;
            let mut alerts = a.alerts.lock();
            if let Some((existing, id)) = alerts.iter().find(|(x, _)| x.name == alert.name) {
                return if *existing == alert {
                    Ok(id.clone())
                } else {
                    Err(Error::invalid(format!(
                        "an alert named {:?} with a different definition is already attached",
                        alert.name
                    )))
                };
            }
            let id = a.sink.create_alert(&alert)?;
            alerts.push((alert, id.clone()));
            let ids: Vec<String> = alerts.iter().map(|(_, id)| id.clone()).collect();
            a.update(Json::object().with("alerts", ids.clone()), |r| {
                r.alerts = ids
            })?;
            Ok(id)
        })
    }
}

/// The wire alert described by `o`, checked.
fn build_alert(o: &AlertOptions<'_>) -> Result<Alert> {
    validate::name("alert name", o.name)?;
    if o.frequency == 0 {
        return Err(Error::invalid(
            "alert frequency must be a positive number of seconds",
        ));
    }
    let window = o.window.unwrap_or(o.frequency);
    if window == 0 {
        return Err(Error::invalid(
            "alert window must be a positive number of seconds",
        ));
    }
    let rule = if o.source_events {
        let pattern = o
            .pattern
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Error::invalid("an events alert needs a pattern"))?;
        AlertRule::Events {
            pattern: pattern.to_owned(),
        }
    } else {
        let metric = o
            .metric
            .ok_or_else(|| Error::invalid("a metrics alert needs a metric"))?;
        validate::metric_name(metric)?;
        let rule = o
            .rule
            .ok_or_else(|| Error::invalid("a metrics alert needs a rule"))?;
        match rule {
            AlertRuleKind::IsAbove | AlertRuleKind::IsBelow => {
                let threshold = o.threshold.ok_or_else(|| {
                    Error::invalid("rules 'is above' and 'is below' need a threshold")
                })?;
                validate::finite("alert threshold", threshold)?;
                AlertRule::Threshold {
                    metric: metric.to_owned(),
                    above: rule == AlertRuleKind::IsAbove,
                    threshold,
                    window,
                }
            }
            AlertRuleKind::IsInsideRange | AlertRuleKind::IsOutsideRange => {
                let (low, high) = match (o.range_low, o.range_high) {
                    (Some(l), Some(h)) => (l, h),
                    _ => return Err(Error::invalid("range rules need range_low and range_high")),
                };
                validate::finite("range_low", low)?;
                validate::finite("range_high", high)?;
                if low >= high {
                    return Err(Error::invalid(format!(
                        "range_low ({low}) must be below range_high ({high})"
                    )));
                }
                AlertRule::Range {
                    metric: metric.to_owned(),
                    inside: rule == AlertRuleKind::IsInsideRange,
                    low,
                    high,
                    window,
                }
            }
        }
    };
    Ok(Alert {
        name: o.name.to_owned(),
        rule,
        frequency: o.frequency,
        notify_email: o.notify_email,
    })
}
