//! The types a run is configured and called with, and the library's defaults.

use std::time::Duration;

use crate::json::Json;

/// Default number of items each queue holds.
pub const DEFAULT_QUEUE_SIZE: usize = 10_000;
/// Default seconds between resource samples (the seed's default).
pub const DEFAULT_RESOURCES_INTERVAL: u64 = 30;
/// Seconds between heartbeats (`HEARTBEAT_INTERVAL` of the Python client).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(60);
/// The shortest interval between abort polls: each poll is a request to the server, and a
/// tiny interval (1e-300 s from a careless caller) would flood it.
pub const MIN_ABORT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Seconds without a heartbeat before the server marks a run lost.
pub const HEARTBEAT_TIMEOUT: u64 = 180;

/// Options of [`Run::config`](super::Run::config); `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConfigOptions {
    /// Keep the solver running on errors (default true).
    pub suppress_errors: Option<bool>,
    /// Wait when a queue is full instead of dropping (default false).
    pub queue_blocking: Option<bool>,
    /// Items per queue (default 10000).
    pub queue_size: Option<usize>,
    /// Turn resource metrics off (default false).
    pub disable_resources_metrics: Option<bool>,
    /// Seconds between resource samples (default 30, or `[metrics] system_metrics_interval`).
    pub resources_metrics_interval: Option<u64>,
}

/// The settings a run works with, after [`Run::config`](super::Run::config).
#[derive(Debug, Clone)]
pub struct Settings {
    /// See [`ConfigOptions::suppress_errors`].
    pub suppress_errors: bool,
    /// See [`ConfigOptions::queue_blocking`].
    pub queue_blocking: bool,
    /// See [`ConfigOptions::queue_size`].
    pub queue_size: usize,
    /// See [`ConfigOptions::disable_resources_metrics`].
    pub disable_resources_metrics: bool,
    /// See [`ConfigOptions::resources_metrics_interval`].
    pub resources_metrics_interval: u64,
    /// Longest time a logged item waits before it is written (1 s, like the Python client).
    pub flush_interval: Duration,
    /// Time between polls for an abort requested from the web UI (online only; default 30 s,
    /// twice as often as the Python client's heartbeat-paced poll).
    pub abort_poll_interval: Duration,
    /// Log energy and emissions with the resource metrics (`[metrics]
    /// enable_emission_metrics`, `set_emission_metrics`).
    pub enable_emission_metrics: bool,
    /// Print nothing about the run unasked (`set_quiet`, `SIMVUE_QUIET`).
    pub quiet: bool,
}

/// Arguments of [`Run::init`](super::Run::init).
#[derive(Debug, Clone)]
pub struct InitOptions<'a> {
    /// Run name; a random `<adjective>-<noun>` when `None`.
    pub name: Option<&'a str>,
    /// Metadata object, merged with metadata set key by key before init.
    pub metadata: Option<Json>,
    /// Tags.
    pub tags: &'a [&'a str],
    /// Description.
    pub description: Option<&'a str>,
    /// Folder path; `[run] folder` or `/` when `None`.
    pub folder: Option<&'a str>,
    /// Start the run (`running`) or only create it (`created`).
    pub running: bool,
}

impl Default for InitOptions<'_> {
    fn default() -> Self {
        InitOptions {
            name: None,
            metadata: None,
            tags: &[],
            description: None,
            folder: None,
            running: true,
        }
    }
}

/// Which metric an alert watches and how (the `rule` of `add_alert`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertRuleKind {
    /// `is above`
    IsAbove,
    /// `is below`
    IsBelow,
    /// `is outside range`
    IsOutsideRange,
    /// `is inside range`
    IsInsideRange,
}

/// Arguments of [`Run::add_alert`](super::Run::add_alert), as in the seed.
#[derive(Debug, Clone)]
pub struct AlertOptions<'a> {
    /// Alert name.
    pub name: &'a str,
    /// `true` for an events alert (needs `pattern`), `false` for a metrics alert (needs
    /// `rule` and `metric`).
    pub source_events: bool,
    /// Evaluation period in seconds (> 0).
    pub frequency: u64,
    /// Averaging window in seconds; `None` means `frequency`.
    pub window: Option<u64>,
    /// Rule of a metrics alert.
    pub rule: Option<AlertRuleKind>,
    /// Metric of a metrics alert.
    pub metric: Option<&'a str>,
    /// Threshold of `is above` / `is below`.
    pub threshold: Option<f64>,
    /// Lower limit of a range rule.
    pub range_low: Option<f64>,
    /// Upper limit of a range rule.
    pub range_high: Option<f64>,
    /// Send e-mail notifications.
    pub notify_email: bool,
    /// Text an events alert looks for.
    pub pattern: Option<&'a str>,
}
