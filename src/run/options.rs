//! The types a run is configured and called with, and the library's defaults.

use std::time::Duration;

use crate::json::Json;
pub use crate::model::{Aggregation, AlertState, Notification};

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

/// What happens when an abort of the run is requested from the server (the web UI, or an
/// alert with `trigger_abort` firing): the Python client's `abort_on_alert`. In every case the
/// abort callback is called first and `abort_requested` turns true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AbortPolicy {
    /// The run is ended as `terminated` (what was logged before is still sent) and the solver
    /// goes on, told by the flag and the callback (`"run"`). The default here, unlike Python's
    /// `"terminate"`: a native solver may hold MPI communicators, open files and device state
    /// that only it can close properly, and its other ranks would hang on a process that
    /// vanished; it can stop at its next step with its own clean-up.
    #[default]
    Run,
    /// As for signals: every open run is flushed and closed as `terminated`, then the process
    /// exits with [`ABORT_EXIT_CODE`] (`"terminate"`, Python's default).
    Terminate,
    /// Nothing but the flag and the callback (`"ignore"`).
    Ignore,
}

/// The exit code of a process ended by an abort under [`AbortPolicy::Terminate`]: 1, as the
/// Python client's `os._exit(1)`.
pub const ABORT_EXIT_CODE: i32 = 1;

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
    /// E-mail notification of the run's end (`notification`).
    pub notification: Notification,
    /// How long the server keeps the run, as Python's `humanfriendly` reads it (`"1 hour"`,
    /// `"30m"`, `"86400"`); `None`: for ever.
    pub retention_period: Option<&'a str>,
    /// Seconds without a heartbeat before the server marks the run `lost` (default 180);
    /// `None`: never.
    pub timeout: Option<u64>,
    /// Who may see the run (default: only its owner).
    pub visibility: VisibilityOption<'a>,
    /// Environment variables recorded as metadata `shell` (glob patterns, `fnmatch` style);
    /// when empty, those of `[run] record_shell_vars`.
    pub record_shell_vars: &'a [&'a str],
}

/// `init(visibility=...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VisibilityOption<'a> {
    /// Only the owner (`None`, the default).
    #[default]
    Private,
    /// Everyone (`"public"`).
    Public,
    /// Everyone in the owner's tenant (`"tenant"`).
    Tenant,
    /// These users (a list of user names).
    Users(&'a [&'a str]),
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
            notification: Notification::None,
            retention_period: None,
            timeout: Some(HEARTBEAT_TIMEOUT),
            visibility: VisibilityOption::Private,
            record_shell_vars: &[],
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

/// What an alert looks at (`source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AlertSource {
    /// Metric values (`create_metric_threshold_alert`, `create_metric_range_alert`).
    #[default]
    Metrics,
    /// Event messages (`create_event_alert`).
    Events,
    /// Nothing: the solver sets its state (`create_user_alert`, `log_alert`).
    User,
}

/// Arguments of [`Run::add_alert`](super::Run::add_alert): every `create_*_alert` of the
/// Python client. [`AlertOptions::default`] has the Python client's defaults (frequency 1,
/// window = frequency, aggregation `average`, no notification, no abort, attached to the run).
#[derive(Debug, Clone)]
pub struct AlertOptions<'a> {
    /// Alert name.
    pub name: &'a str,
    /// What the alert looks at.
    pub source: AlertSource,
    /// Description (`null` when `None`).
    pub description: Option<&'a str>,
    /// Evaluation period in seconds (> 0; metrics and events alerts).
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
    /// How a metrics alert combines the values in its window.
    pub aggregation: Aggregation,
    /// Send e-mail notifications.
    pub notify_email: bool,
    /// Text an events alert looks for.
    pub pattern: Option<&'a str>,
    /// The alert firing aborts the run (`trigger_abort`).
    pub trigger_abort: bool,
    /// Attach the alert to this run (otherwise it is only created).
    pub attach_to_run: bool,
}

impl Default for AlertOptions<'_> {
    fn default() -> Self {
        AlertOptions {
            name: "",
            source: AlertSource::Metrics,
            description: None,
            frequency: 1,
            window: None,
            rule: None,
            metric: None,
            threshold: None,
            range_low: None,
            range_high: None,
            aggregation: Aggregation::Average,
            notify_email: false,
            pattern: None,
            trigger_abort: false,
            attach_to_run: true,
        }
    }
}

/// Which alert `log_alert` sets the state of.
#[derive(Debug, Clone, Copy)]
pub enum AlertRef<'a> {
    /// By id (online or `offline_...`).
    Id(&'a str),
    /// By name (online only: looked up on the server, as the Python client does).
    Name(&'a str),
}
