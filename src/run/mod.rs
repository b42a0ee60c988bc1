//! The `Run`: Simvue's tracking API (the Python client's `Run` class, method by method), in
//! safe Rust.
//!
//! A run is created in a mode, configured, initialised (or reconnected), fed metrics, events,
//! metadata, tags and alerts, and closed. All methods take `&self`, so one run can be shared
//! between threads. In `disabled` mode every method returns `Ok` at once.
//!
//! Every method runs in one frame, [`Run::api`]: the disabled-mode short cut and the error
//! policy of [`report`] (printed when errors are suppressed, returned otherwise).
//!
//! Layout: this file holds the `Run` and its settings; [`lifecycle`] creates, starts and ends
//! it; [`logging`] takes metrics and events; [`updates`] changes metadata, tags and folders;
//! [`alerts`] defines alerts; [`grids`] takes tensor metrics; [`save`] saves files. Behind them, [`active`] is the state of an
//! initialised run, [`uploads`] its upload thread, [`abort`] an abort requested from the UI,
//! [`exit`] closes forgotten runs at process exit (and fails them on a non-zero exit),
//! [`feedback`] prints where a run is and what became of it,
//! [`signals`] acts on signals that stop the process, and [`terminate`] is how a run ends
//! when the process is about to.

mod abort;
mod active;
mod alerts;
mod context;
mod exit;
mod feedback;
mod grids;
mod lifecycle;
mod logging;
mod options;
mod report;
mod save;
mod signals;
mod terminate;
mod updates;
mod uploads;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use once_cell::sync::OnceCell;
use parking_lot::Mutex;

pub use crate::dispatch::{KnownNames, MetricNames, MetricOptions, Stats};
pub use exit::{close_all, terminate};
pub use grids::{MAX_GRID_AXES, MAX_TENSOR_SIZE};
pub use options::*;
pub use signals::{SignalAction, SignalCallback, SignalSettings, DEFAULT_SIGNAL_DEADLINE};

pub use crate::config::ServerArgs;
use crate::config::{Config, Mode};
use crate::dispatch::Dispatcher;
use crate::error::{Error, ErrorKind, Result};
use crate::json::Json;
use crate::model::Status;
use abort::Abort;
use active::Active;
use report::Reporter;
use signals::SignalWatch;

/// Where a run is in its life.
enum Phase {
    New,
    Active(Arc<Active>),
    Closed,
}

/// What the caller's threads change under one lock.
struct Control {
    settings: Settings,
    staged_metadata: Vec<(String, crate::json::Json)>,
    /// `set_record_shell_vars`: replaces the configuration's patterns.
    record_shell_vars: Option<Vec<String>>,
    pid: u32,
    phase: Phase,
}

/// A Simvue run.
pub struct Run {
    mode: Mode,
    config: std::result::Result<Config, Error>,
    control: Mutex<Control>,
    active: OnceCell<Arc<Active>>,
    reporter: Arc<Reporter>,
    abort: Arc<Abort>,
    /// Every metric's units so far (`set_metric_units`), and whether some are not sent yet:
    /// they go with the next `log_metrics`, as in the Python client.
    units: Mutex<Json>,
    units_pending: std::sync::atomic::AtomicBool,
    signals: Arc<SignalWatch>,
}

impl Run {
    /// Creates a run in `mode`. `SIMVUE_MODE` in the environment overrides it. Configuration
    /// is read now; a problem with it is reported by `init`.
    pub fn new(mode: Mode) -> Run {
        let config = Config::load(mode);
        Run::with_config(mode, config)
    }

    /// Creates a run in `mode` that names its server itself (`Run(server_url=...,
    /// server_token=..., server_profile=...)`): no config file is needed. The environment
    /// (`SIMVUE_URL`, `SIMVUE_TOKEN`, `SIMVUE_SERVER_PROFILE`) still wins, as in Python.
    pub fn with_server(mode: Mode, server: ServerArgs) -> Run {
        let config = Config::load_with(mode, &server, &crate::config::Sources::process());
        Run::with_config(mode, config)
    }

    /// Creates a run from an already loaded configuration.
    pub fn with_config(mode: Mode, config: std::result::Result<Config, Error>) -> Run {
        let mode = config.as_ref().map_or(mode, |c| c.mode);
        let interval = config
            .as_ref()
            .ok()
            .and_then(|c| c.system_metrics_interval)
            .unwrap_or(DEFAULT_RESOURCES_INTERVAL);
        let emissions = config.as_ref().is_ok_and(|c| c.enable_emission_metrics);
        Run {
            mode,
            config,
            control: Mutex::new(Control {
                settings: Settings {
                    suppress_errors: true,
                    queue_blocking: false,
                    queue_size: DEFAULT_QUEUE_SIZE,
                    disable_resources_metrics: false,
                    resources_metrics_interval: interval,
                    flush_interval: Duration::from_secs(1),
                    abort_poll_interval: Duration::from_secs(30),
                    enable_emission_metrics: emissions,
                    quiet: false,
                },
                staged_metadata: Vec::new(),
                record_shell_vars: None,
                pid: std::process::id(),
                phase: Phase::New,
            }),
            active: OnceCell::new(),
            reporter: Arc::new(Reporter::new()),
            abort: Arc::new(Abort::default()),
            units: Mutex::new(Json::object()),
            units_pending: std::sync::atomic::AtomicBool::new(false),
            signals: Arc::new(SignalWatch::default()),
        }
    }

    /// The frame of every API method: a disabled run does nothing and returns `idle`;
    /// otherwise `body` runs and its error goes through the run's error policy.
    #[inline(always)]
    fn api<T>(&self, idle: T, body: impl FnOnce() -> Result<T>) -> Result<T> {
        if self.is_disabled() {
            return Ok(idle);
        }
        let r = body();
        if r.is_err() {
            return self.reporter.check(r);
        }
        r
    }

    /// The mode the run works in (after `SIMVUE_MODE`).
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether the run is disabled (every call is a no-op).
    #[inline]
    pub fn is_disabled(&self) -> bool {
        self.mode == Mode::Disabled
    }

    /// Reports an error found outside the run's own methods (by a language binding checking
    /// arguments) as the run's methods report theirs: logged once when errors are suppressed.
    pub fn report<T>(&self, r: Result<T>) -> Result<T> {
        self.reporter.check(r)
    }

    /// Whether errors are suppressed (logged, and the solver goes on).
    pub fn suppress_errors(&self) -> bool {
        self.reporter.suppress.load(Ordering::Relaxed)
    }

    /// The current settings.
    pub fn settings(&self) -> Settings {
        self.control.lock().settings.clone()
    }

    /// The offline cache directory this run writes to (also known in other modes).
    pub fn cache_dir(&self) -> Option<std::path::PathBuf> {
        self.config.as_ref().ok().map(|c| c.cache_dir.clone())
    }

    /// Applies `change` to the settings; only before `init` (`too_late` says so otherwise).
    fn configure(
        &self,
        too_late: &str,
        change: impl FnOnce(&mut Settings) -> Result<()>,
    ) -> Result<()> {
        self.api((), || {
            let mut c = self.control.lock();
            if !matches!(c.phase, Phase::New) {
                return Err(Error::state(too_late));
            }
            change(&mut c.settings)
        })
    }

    /// Configures the run; only before `init`.
    pub fn config(&self, opts: ConfigOptions) -> Result<()> {
        self.configure("config must be called before init", |s| {
            if opts.queue_size == Some(0) {
                return Err(Error::invalid("queue_size must be at least 1"));
            }
            if opts.resources_metrics_interval == Some(0) {
                return Err(Error::invalid(
                    "resources_metrics_interval must be at least 1 second",
                ));
            }
            if let Some(v) = opts.suppress_errors {
                s.suppress_errors = v;
                self.reporter.suppress.store(v, Ordering::Relaxed);
            }
            s.queue_blocking = opts.queue_blocking.unwrap_or(s.queue_blocking);
            s.queue_size = opts.queue_size.unwrap_or(s.queue_size);
            s.disable_resources_metrics = opts
                .disable_resources_metrics
                .unwrap_or(s.disable_resources_metrics);
            s.resources_metrics_interval = opts
                .resources_metrics_interval
                .unwrap_or(s.resources_metrics_interval);
            Ok(())
        })
    }

    /// Sets how long a logged item may wait before it is written (default 1 s). Before `init`.
    pub fn set_flush_interval(&self, interval: Duration) -> Result<()> {
        self.configure("the flush interval must be set before init", |s| {
            s.flush_interval = interval.max(Duration::from_millis(1));
            Ok(())
        })
    }

    /// Sets how often an online run asks the server whether an abort was requested, at least
    /// every [`MIN_ABORT_POLL_INTERVAL`] (shorter intervals are raised to it). Before `init`.
    pub fn set_abort_poll_interval(&self, interval: Duration) -> Result<()> {
        self.configure("the abort poll interval must be set before init", |s| {
            s.abort_poll_interval = interval.max(MIN_ABORT_POLL_INTERVAL);
            Ok(())
        })
    }

    /// Registers a function called once (on a background thread) when an abort of the run is
    /// requested from the server, before the abort policy is applied. It should make the
    /// solver stop soon, for example by setting a flag; it must not call back into the run.
    pub fn set_abort_callback(&self, callback: Option<Box<dyn Fn() + Send>>) {
        self.abort.set_callback(callback);
    }

    /// Sets what an abort requested from the server does (`config(abort_on_alert=...)`);
    /// allowed at any time.
    pub fn set_abort_on_alert(&self, policy: AbortPolicy) -> Result<()> {
        self.api((), || {
            self.abort.set_policy(policy);
            Ok(())
        })
    }

    /// What an abort requested from the server does.
    pub fn abort_on_alert(&self) -> AbortPolicy {
        self.abort.policy()
    }

    /// Whether an abort of the run was requested from the web UI.
    pub fn abort_requested(&self) -> bool {
        self.abort.requested()
    }

    /// Sets the process whose tree is sampled for resource metrics.
    pub fn set_pid(&self, pid: u32) -> Result<()> {
        self.api((), || {
            if pid == 0 || pid > i32::MAX as u32 {
                return Err(Error::invalid(format!("{pid} is not a process id")));
            }
            let mut c = self.control.lock();
            if matches!(c.phase, Phase::Closed) {
                return Err(closed());
            }
            c.pid = pid;
            if let Some(d) = self.active.get().and_then(|a| a.dispatcher.as_ref()) {
                d.set_pid(pid);
            }
            Ok(())
        })
    }

    /// The run's name, once initialised.
    pub fn name(&self) -> Option<String> {
        self.active.get().map(|a| a.record.lock().name.clone())
    }

    /// The run's id (`offline_...` offline), once initialised.
    pub fn id(&self) -> Option<String> {
        self.active.get().map(|a| a.id.clone())
    }

    /// The run's status, once initialised.
    pub fn status(&self) -> Option<Status> {
        self.active.get().map(|a| a.record.lock().status)
    }

    /// What happened to logged items so far.
    pub fn stats(&self) -> Stats {
        self.active
            .get()
            .and_then(|a| a.dispatcher.as_ref())
            .map(Dispatcher::stats)
            .unwrap_or_default()
    }

    fn config_ok(&self) -> Result<&Config> {
        self.config.as_ref().map_err(Clone::clone)
    }

    /// The active run, or why there is none.
    #[inline]
    fn active(&self) -> Result<&Arc<Active>> {
        match self.active.get() {
            Some(a) if !a.finished.load(Ordering::Acquire) => Ok(a),
            Some(_) => Err(self.after_signal(closed())),
            None => Err(self.not_active_error()),
        }
    }

    /// A call refused because a signal ended the run: the process is about to end by that
    /// signal, the library said so on stderr, and a call from another thread of the solver is
    /// not worth a message of its own, so the error is marked reported (and not printed).
    #[cold]
    fn after_signal(&self, mut e: Error) -> Error {
        let sig = self.signals.received();
        if sig != 0 {
            e = Error::new(
                ErrorKind::Closed,
                format!("the run was terminated by {}", crate::signals::name(sig)),
            );
            e.reported = true;
        }
        e
    }

    #[cold]
    fn not_active_error(&self) -> Error {
        match self.control.lock().phase {
            Phase::Closed => closed(),
            _ => Error::state("the run is not initialised: call init first"),
        }
    }
}

impl Drop for Run {
    /// A run dropped without `close` is closed, as at process exit.
    fn drop(&mut self) {
        if let Some(a) = self.active.get() {
            if let Err(e) = a.finish() {
                self.reporter.log("closing run", &e);
            }
        }
    }
}

/// The error of a call on a closed run.
fn closed() -> Error {
    Error::new(ErrorKind::Closed, "the run is closed")
}
