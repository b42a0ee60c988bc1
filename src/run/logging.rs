//! Logging metrics and events: validated and stamped on the caller's thread, then queued for
//! the dispatcher ([`crate::dispatch`]).

use std::sync::atomic::Ordering;

use super::Run;
use crate::dispatch::{MetricNames, MetricOptions};
use crate::error::{Error, Result};
use crate::model::LogLevel;
use crate::time::Timestamp;

impl Run {
    /// Logs one set of metrics: `names[i]` has value `values[i]`.
    #[inline]
    pub fn log_metrics(&self, names: &[&str], values: &[f64], opts: MetricOptions) -> Result<()> {
        self.log_metrics_from(names, values, opts).map(|_| ())
    }

    /// As [`Run::log_metrics`] for names that are not text yet (C strings): they are
    /// recognised in place when they were logged lately. Returns false, having done nothing,
    /// when they were not: convert them and call [`Run::log_metrics`].
    #[inline]
    pub fn log_metrics_from<N: MetricNames + ?Sized>(
        &self,
        names: &N,
        values: &[f64],
        opts: MetricOptions,
    ) -> Result<bool> {
        if opts.is_default() && self.try_log_metrics(names, values) {
            return Ok(true);
        }
        self.api(true, || self.log_metrics_inner(names, values, opts))
    }

    /// The common case of [`Run::log_metrics_from`] (no options; the run running with no
    /// units to send and no background error to report; names logged lately; room in the
    /// queue, or a non-blocking one to drop from), with none of the frames of the full path:
    /// returns true when the set was queued or counted dropped, false, having done nothing,
    /// when the full path must decide. A disabled run takes the full path (which does nothing).
    #[inline]
    pub fn try_log_metrics<N: MetricNames + ?Sized>(&self, names: &N, values: &[f64]) -> bool {
        let Some(a) = self.active.get() else {
            return false;
        };
        // Each of these is an error, or work, for the full path; all are plain loads.
        if a.finished.load(Ordering::Acquire)
            || !a.accepting.load(Ordering::Acquire)
            || self.units_pending.load(Ordering::Relaxed)
            || self.reporter.has_background()
        {
            return false;
        }
        match &a.dispatcher {
            Some(d) => d.try_log_metrics(names, values),
            None => false,
        }
    }

    #[inline]
    fn log_metrics_inner<N: MetricNames + ?Sized>(
        &self,
        names: &N,
        values: &[f64],
        opts: MetricOptions,
    ) -> Result<bool> {
        if names.count() != values.len() {
            return Err(Error::invalid("metric names and values differ in number"));
        }
        let a = self.active()?;
        // Units set since the last call go out first; a failure to send them is reported after
        // the values are queued, so that no values are lost for it.
        let units = if self.units_pending.load(Ordering::Relaxed) {
            self.send_metric_units()
        } else {
            Ok(())
        };
        let logged = match &a.dispatcher {
            Some(d) if a.accepting.load(Ordering::Acquire) => {
                d.log_metrics_from(names, values, opts)?
            }
            _ => {
                return Err(self.after_signal(Error::state(
                    "metrics can only be logged while the run is running",
                )))
            }
        };
        // Queued first: a background failure is reported by this call, but its values are kept
        // (and when nothing was queued yet, by the call that queues them).
        if logged {
            self.reporter.take_background()?;
        }
        units?;
        Ok(logged)
    }

    /// Logs an event message (level `info`).
    pub fn log_event(&self, message: &str, timestamp: Option<Timestamp>) -> Result<()> {
        self.log_event_level(message, LogLevel::Info, timestamp)
    }

    /// Logs an event message with a level.
    pub fn log_event_level(
        &self,
        message: &str,
        level: LogLevel,
        timestamp: Option<Timestamp>,
    ) -> Result<()> {
        self.api((), || {
            let a = self.active()?;
            match &a.dispatcher {
                Some(d) if a.accepting.load(Ordering::Acquire) => {
                    d.log_event(message, level, timestamp)?
                }
                _ => {
                    return Err(self.after_signal(Error::state(
                        "events can only be logged while the run is running",
                    )))
                }
            }
            self.reporter.take_background()
        })
    }
}
