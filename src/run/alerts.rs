//! Alerts: defined from [`AlertOptions`] (the Python client's four `create_*_alert`), created
//! in the sink once, and attached to the run; user alerts' states (`log_alert`); attaching
//! existing alerts (`add_alerts`).

use super::{AlertOptions, AlertRef, AlertRuleKind, AlertSource, AlertState, Run};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Alert, AlertRule};
use crate::sink::{ListField, RunPatch};
use crate::validate;

impl Run {
    /// Defines an alert (any of the Python client's `create_*_alert`) and, unless
    /// `attach_to_run` is false, attaches it to the run; returns the alert's id. Defining the
    /// same alert twice returns the first id; another definition under a name this run already
    /// used is an error.
    pub fn add_alert(&self, opts: AlertOptions<'_>) -> Result<String> {
        self.api(String::new(), || {
            let alert = build_alert(&opts)?;
            let a = self.active()?;
            let mut alerts = a.alerts.lock();
            let id = match alerts.iter().find(|(x, _)| x.name == alert.name) {
                Some((existing, id)) if *existing == alert => id.clone(),
                Some(_) => {
                    return Err(Error::invalid(format!(
                        "an alert named {:?} with a different definition was already defined",
                        alert.name
                    )))
                }
                None => {
                    let id = a.sink.create_alert(&alert)?;
                    alerts.push((alert, id.clone()));
                    id
                }
            };
            drop(alerts);
            if opts.attach_to_run {
                self.attach_alerts(std::slice::from_ref(&id))?;
            }
            Ok(id)
        })
    }

    /// Sets the state of a user alert for this run (`log_alert`): by id, or online by name
    /// (the first alert of that name on the server, as in the Python client).
    pub fn log_alert(&self, alert: AlertRef<'_>, state: AlertState) -> Result<()> {
        self.api((), || {
            let a = self.active()?;
            let id = match alert {
                AlertRef::Id(id) => {
                    validate::non_empty("alert id", id)?;
                    id.to_owned()
                }
                AlertRef::Name(name) => {
                    validate::non_empty("alert name", name)?;
                    a.sink
                        .list_alerts()?
                        .into_iter()
                        .find(|x| x.name == name)
                        .map(|x| x.id)
                        .ok_or_else(|| {
                            Error::new(
                                ErrorKind::NotFound,
                                format!("the server has no alert named {name:?}"),
                            )
                        })?
                }
            };
            let known = a
                .alerts
                .lock()
                .iter()
                .find(|(_, x)| *x == id)
                .map(|(alert, _)| alert.clone());
            if let Some(k) = &known {
                if !k.is_user() {
                    return Err(Error::invalid(format!(
                        "alert {:?} is not a user alert: only a user alert's state can be set",
                        k.name
                    )));
                }
            }
            a.sink.set_alert_status(&id, &a.id, state, known.as_ref())
        })
    }

    /// Attaches existing alerts to the run (`add_alerts`), by id and, online, by name (every
    /// alert of one of these names, as in the Python client). Online, the run's current alerts
    /// are read from the server first and kept.
    pub fn add_alerts(&self, ids: &[&str], names: &[&str]) -> Result<()> {
        self.api((), || {
            if ids.is_empty() && names.is_empty() {
                return Err(Error::invalid("add_alerts needs alert ids or alert names"));
            }
            for id in ids {
                validate::non_empty("alert id", id)?;
            }
            for n in names {
                validate::non_empty("alert name", n)?;
            }
            let a = self.active()?;
            let mut all: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
            if !names.is_empty() {
                let listed = a.sink.list_alerts()?;
                // Python attaches nothing for a name it does not find, silently; a typo
                // deserves an error.
                if let Some(missing) = names.iter().find(|n| !listed.iter().any(|x| x.name == **n))
                {
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        format!("the server has no alert named {missing:?}"),
                    ));
                }
                all.extend(
                    listed
                        .into_iter()
                        .filter(|x| names.contains(&x.name.as_str()))
                        .map(|x| x.id),
                );
            }
            self.attach_alerts(&all)
        })
    }

    /// Adds alert ids to the run's alerts (the union with the run's current ones).
    fn attach_alerts(&self, ids: &[String]) -> Result<()> {
        let a = self.active()?;
        let mut new: Vec<String> = Vec::with_capacity(ids.len());
        for id in ids {
            if !new.contains(id) {
                new.push(id.clone());
            }
        }
        a.update(RunPatch::Add(ListField::Alerts, new.clone()), |r| {
            for id in new {
                if !r.alerts.contains(&id) {
                    r.alerts.push(id);
                }
            }
        })
    }
}

/// The wire alert described by `o`, checked.
fn build_alert(o: &AlertOptions<'_>) -> Result<Alert> {
    validate::name("alert name", o.name)?;
    if o.source != AlertSource::User && o.frequency == 0 {
        return Err(Error::invalid(
            "alert frequency must be a positive number of seconds",
        ));
    }
    let window = o.window.unwrap_or(o.frequency);
    if o.source == AlertSource::Metrics && window == 0 {
        return Err(Error::invalid(
            "alert window must be a positive number of seconds",
        ));
    }
    let rule = match o.source {
        AlertSource::User => AlertRule::User,
        AlertSource::Events => {
            let pattern = o
                .pattern
                .filter(|p| !p.is_empty())
                .ok_or_else(|| Error::invalid("an events alert needs a pattern"))?;
            AlertRule::Events {
                pattern: pattern.to_owned(),
            }
        }
        AlertSource::Metrics => {
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
                        aggregation: o.aggregation,
                    }
                }
                AlertRuleKind::IsInsideRange | AlertRuleKind::IsOutsideRange => {
                    let (low, high) = match (o.range_low, o.range_high) {
                        (Some(l), Some(h)) => (l, h),
                        _ => {
                            return Err(Error::invalid("range rules need range_low and range_high"))
                        }
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
                        aggregation: o.aggregation,
                    }
                }
            }
        }
    };
    Ok(Alert {
        name: o.name.to_owned(),
        description: o.description.map(str::to_owned),
        rule,
        frequency: o.frequency,
        notify_email: o.notify_email,
        abort: o.trigger_abort,
    })
}
