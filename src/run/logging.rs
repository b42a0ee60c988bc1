//! Logging metrics and events: validated and stamped on the caller's thread, then queued for
//! the dispatcher ([`crate::dispatch`]).

use std::sync::atomic::Ordering;

use super::Run;
use crate::dispatch::MetricOptions;
use crate::error::{Error, Result};
use crate::model::LogLevel;
use crate::time::Timestamp;

impl Run {
    /// Logs one set of metrics: `names[i]` has value `values[i]`.
    #[inline]
    pub fn log_metrics(&self, names: &[&str], values: &[f64], opts: MetricOptions) -> Result<()> {
        self.api((), || self.log_metrics_inner(names, values, opts))
    }

    #[inline]
    fn log_metrics_inner(&self, names: &[&str], values: &[f64], opts: MetricOptions) -> Result<()> {
        if names.len() != values.len() {
            return Err(Error::invalid("metric names and values differ in number"));
        }
        let a = self.active()?;
        match &a.dispatcher {
            Some(d) if a.accepting.load(Ordering::Acquire) => d.log_metrics(names, values, opts)?,
            _ => {
                return Err(self.after_signal(Error::state(
                    "metrics can only be logged while the run is running",
                )))
            }
        }
        // Queued first: a background failure is reported by this call, but its values are kept.
        self.reporter.take_background()
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
