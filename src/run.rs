//! The `Run`: Simvue's tracking API (`../shared/seed/run-class.md`), in safe Rust.
//!
//! A run is created in a mode, configured, initialised (or reconnected), fed metrics, events,
//! metadata, tags and alerts, and closed. All methods take `&self`, so one run can be shared
//! between threads. In `disabled` mode every method returns `Ok` at once.
//!
//! Errors: every method returns a [`Result`]. With `suppress_errors` on (the default) an error is
//! also written to stderr (the first few of them), so a solver that ignores return codes still
//! leaves a trace; failures on the background thread are only logged. With it off, nothing is
//! logged by the library and a background failure is returned by the next call
//! ([`ErrorKind::Background`]) and by `close`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use once_cell::sync::{Lazy, OnceCell};
use parking_lot::Mutex;

use crate::artifact::{self, Artifact, Category, SaveOptions};
use crate::config::{Config, Mode};
use crate::dispatch::{DispatchSettings, Dispatcher, MetricOptions, Stats};
use crate::error::{Error, ErrorKind, Result};
use crate::json::Json;
use crate::model::{Alert, AlertRule, Folder, LogLevel, RunRecord, Status};
use crate::offline::OfflineSink;
use crate::online::OnlineSink;
use crate::sink::Sink;
use crate::time::Timestamp;
use crate::{ids, system, validate};

/// Default number of items each queue holds.
pub const DEFAULT_QUEUE_SIZE: usize = 10_000;
/// Default seconds between resource samples (the seed's default).
pub const DEFAULT_RESOURCES_INTERVAL: u64 = 30;
/// Seconds between heartbeats (`HEARTBEAT_INTERVAL` of the Python client).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(60);
/// Seconds without a heartbeat before the server marks a run lost.
pub const HEARTBEAT_TIMEOUT: u64 = 180;
/// How many errors a run writes to stderr before it goes quiet.
const MAX_LOGGED_ERRORS: u32 = 20;

/// Options of [`Run::config`]; `None` keeps the current value.
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

/// The settings a run works with, after [`Run::config`].
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
}

/// An abort requested from the web UI: a flag the solver can poll and an optional callback,
/// called once on the dispatcher thread. The library never kills the process itself.
#[derive(Default)]
struct Abort {
    requested: AtomicBool,
    callback: Mutex<Option<Box<dyn Fn() + Send>>>,
}

/// Arguments of [`Run::init`].
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

/// Arguments of [`Run::add_alert`], as in the seed.
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

enum Phase {
    New,
    Active(Arc<Active>),
    Closed,
}

struct Control {
    settings: Settings,
    staged_metadata: Vec<(String, Json)>,
    pid: u32,
    phase: Phase,
}

/// The shared error policy of one run: what to log and what to hand back.
struct Reporter {
    suppress: AtomicBool,
    logged: AtomicU32,
    background: Mutex<Option<Error>>,
    has_background: AtomicBool,
}

impl Reporter {
    fn new() -> Reporter {
        Reporter {
            suppress: AtomicBool::new(true),
            logged: AtomicU32::new(0),
            background: Mutex::new(None),
            has_background: AtomicBool::new(false),
        }
    }

    fn log(&self, what: &str, e: &Error) {
        let n = self.logged.fetch_add(1, Ordering::Relaxed);
        if n < MAX_LOGGED_ERRORS {
            eprintln!("[simvue] {what}: {}", e.message);
        } else if n == MAX_LOGGED_ERRORS {
            eprintln!("[simvue] further errors of this run are not printed");
        }
    }

    /// Passes a caller-facing result through, logging it when errors are suppressed (once:
    /// an error marked reported is not logged again).
    #[inline]
    fn check<T>(&self, r: Result<T>) -> Result<T> {
        match r {
            Err(mut e) if !e.reported && self.suppress.load(Ordering::Relaxed) => {
                self.log("error", &e);
                e.reported = true;
                Err(e)
            }
            r => r,
        }
    }

    /// Records a failure of background work.
    fn background(&self, e: Error) {
        if self.suppress.load(Ordering::Relaxed) {
            self.log("background error", &e);
        } else {
            let mut slot = self.background.lock();
            if slot.is_none() {
                *slot = Some(Error::new(ErrorKind::Background, e.message));
                self.has_background.store(true, Ordering::Release);
            }
        }
    }

    /// Takes the pending background error, if any.
    #[inline]
    fn take_background(&self) -> Result<()> {
        if self.has_background.load(Ordering::Acquire) {
            self.has_background.store(false, Ordering::Release);
            if let Some(e) = self.background.lock().take() {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// A run that has been initialised: its id, its sink, its state and its dispatcher.
struct Active {
    id: String,
    sink: Arc<dyn Sink>,
    record: Mutex<RunRecord>,
    folder: Mutex<Option<(String, Folder)>>,
    alerts: Mutex<Vec<(Alert, String)>>,
    dispatcher: Option<Dispatcher>,
    /// True while metrics and events are accepted (status `running`).
    accepting: AtomicBool,
    finished: AtomicBool,
    /// The background thread that hashes and uploads saved files, started by the first save.
    uploads: Mutex<Option<Uploader>>,
    reporter: Arc<Reporter>,
    /// Where snapshot copies go (`<cache>/artifacts`).
    staging: std::path::PathBuf,
}

/// One save handed to the upload thread; `done` gets the outcome when the caller waits.
struct UploadJob {
    artifact: Artifact,
    category: Category,
    done: Option<std::sync::mpsc::Sender<Result<()>>>,
}

struct Uploader {
    jobs: std::sync::mpsc::Sender<UploadJob>,
    thread: std::thread::JoinHandle<()>,
}

impl Active {
    /// Hands an artifact to the upload thread (starting it if needed); with `wait`, returns
    /// the outcome of this save.
    fn enqueue_save(&self, artifact: Artifact, category: Category, wait: bool) -> Result<()> {
        let (done, outcome) = if wait {
            let (tx, rx) = std::sync::mpsc::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        {
            let mut slot = self.uploads.lock();
            if slot.is_none() {
                let (jobs, rx) = std::sync::mpsc::channel::<UploadJob>();
                let sink = self.sink.clone();
                let id = self.id.clone();
                let reporter = self.reporter.clone();
                let thread = std::thread::Builder::new()
                    .name("simvue-upload".into())
                    .spawn(move || {
                        for mut job in rx {
                            let r = job.artifact.complete().and_then(|()| {
                                sink.save_artifact(&id, &job.artifact, job.category)
                            });
                            match job.done {
                                Some(tx) => {
                                    let _ = tx.send(r);
                                }
                                None => {
                                    if let Err(e) = r {
                                        reporter.background(e);
                                    }
                                }
                            }
                        }
                    })
                    .map_err(|e| Error::io("cannot start the upload thread", e))?;
                *slot = Some(Uploader { jobs, thread });
            }
            let up = slot.as_ref().expect("just started");
            up.jobs
                .send(UploadJob {
                    artifact,
                    category,
                    done,
                })
                .map_err(|_| Error::state("the upload thread has stopped"))?;
        }
        match outcome {
            Some(rx) => rx
                .recv()
                .unwrap_or_else(|_| Err(Error::state("the upload thread has stopped"))),
            None => Ok(()),
        }
    }

    /// Waits for every queued save to finish.
    fn finish_uploads(&self) {
        if let Some(up) = self.uploads.lock().take() {
            drop(up.jobs);
            let _ = up.thread.join();
        }
    }

    /// Applies `change` to the run record and stores it, sending `patch` as the partial update.
    /// With a remote sink and a running dispatcher, the update is queued for the network
    /// thread (after what was logged before it), so the network never holds up the caller.
    fn update(&self, patch: Json, change: impl FnOnce(&mut RunRecord)) -> Result<()> {
        let mut rec = self.record.lock();
        change(&mut rec);
        match &self.dispatcher {
            Some(d) if d.remote() && !self.finished.load(Ordering::Acquire) => {
                d.submit_update(rec.clone(), patch)
            }
            _ => self.sink.update_run(&self.id, &rec, &patch),
        }
    }

    /// Flushes and stops the dispatcher, marks a still-running run `completed`, and closes it
    /// in the sink. Safe to call more than once; only the first call does anything.
    fn finish(&self) -> Result<()> {
        if self.finished.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.accepting.store(false, Ordering::Release);
        if let Some(d) = &self.dispatcher {
            d.finish();
            let st = d.stats();
            if st.metrics_dropped + st.events_dropped > 0 {
                eprintln!(
                    "[simvue] run {}: {} metric sets and {} events were dropped because a queue was full (queue_blocking is off)",
                    self.record.lock().name,
                    st.metrics_dropped,
                    st.events_dropped
                );
            }
        }
        self.finish_uploads();
        let status = self.record.lock().status;
        let mut result = Ok(());
        if status == Status::Running {
            let end = Timestamp::now();
            result = self.update(
                Json::object()
                    .with("status", "completed")
                    .with("endtime", end.to_string()),
                |r| {
                    r.status = Status::Completed;
                    r.endtime = Some(end);
                },
            );
        }
        let final_status = self.record.lock().status;
        let closed = self
            .sink
            .close_run(&self.id, final_status != Status::Created);
        result.and(closed)
    }
}

/// Runs not yet closed, closed at process exit.
static LIVE: Lazy<Mutex<Vec<Weak<Active>>>> = Lazy::new(|| Mutex::new(Vec::new()));
static EXIT_HOOK: std::sync::Once = std::sync::Once::new();

extern "C" fn close_live_runs_at_exit() {
    let live: Vec<Weak<Active>> = std::mem::take(&mut *LIVE.lock());
    for run in live.iter().filter_map(Weak::upgrade) {
        if let Err(e) = run.finish() {
            eprintln!("[simvue] closing run at exit: {}", e.message);
        }
    }
}

fn register_live(active: &Arc<Active>) {
    EXIT_HOOK.call_once(|| {
        // SAFETY: registering a plain extern "C" fn with no arguments. In a shared library
        // glibc ties it to this object, so it also runs if the library is unloaded.
        unsafe {
            libc::atexit(close_live_runs_at_exit);
        }
    });
    let mut live = LIVE.lock();
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(active));
}

/// A Simvue run.
pub struct Run {
    mode: Mode,
    config: std::result::Result<Config, Error>,
    control: Mutex<Control>,
    active: OnceCell<Arc<Active>>,
    reporter: Arc<Reporter>,
    abort: Arc<Abort>,
}

impl Run {
    /// Creates a run in `mode`. `SIMVUE_MODE` in the environment overrides it. Configuration
    /// is read now; a problem with it is reported by `init`.
    pub fn new(mode: Mode) -> Run {
        let config = Config::load(mode);
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
                },
                staged_metadata: Vec::new(),
                pid: std::process::id(),
                phase: Phase::New,
            }),
            active: OnceCell::new(),
            reporter: Arc::new(Reporter::new()),
            abort: Arc::new(Abort::default()),
        }
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

    /// Configures the run; only before `init`.
    pub fn config(&self, opts: ConfigOptions) -> Result<()> {
        if self.is_disabled() {
            return Ok(());
        }
        let r = (|| {
            let mut c = self.control.lock();
            if !matches!(c.phase, Phase::New) {
                return Err(Error::state("config must be called before init"));
            }
            if opts.queue_size == Some(0) {
                return Err(Error::invalid("queue_size must be at least 1"));
            }
            if opts.resources_metrics_interval == Some(0) {
                return Err(Error::invalid(
                    "resources_metrics_interval must be at least 1 second",
                ));
            }
            let s = &mut c.settings;
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
        })();
        self.reporter.check(r)
    }

    /// Sets how long a logged item may wait before it is written (default 1 s). Before `init`.
    pub fn set_flush_interval(&self, interval: Duration) -> Result<()> {
        let mut c = self.control.lock();
        if !matches!(c.phase, Phase::New) {
            return Err(Error::state("the flush interval must be set before init"));
        }
        c.settings.flush_interval = interval.max(Duration::from_millis(1));
        Ok(())
    }

    /// Sets how often an online run asks the server whether an abort was requested. Before
    /// `init`.
    pub fn set_abort_poll_interval(&self, interval: Duration) -> Result<()> {
        let mut c = self.control.lock();
        if !matches!(c.phase, Phase::New) {
            return Err(Error::state(
                "the abort poll interval must be set before init",
            ));
        }
        c.settings.abort_poll_interval = interval.max(Duration::from_millis(10));
        Ok(())
    }

    /// Registers a function called once (on the background thread) when an abort of the run
    /// is requested from the web UI. It should make the solver stop soon, for example by
    /// setting a flag; it must not call back into the run.
    pub fn set_abort_callback(&self, callback: Option<Box<dyn Fn() + Send>>) {
        *self.abort.callback.lock() = callback;
    }

    /// Whether an abort of the run was requested from the web UI.
    pub fn abort_requested(&self) -> bool {
        self.abort.requested.load(Ordering::Acquire)
    }

    fn config_ok(&self) -> Result<&Config> {
        self.config.as_ref().map_err(Clone::clone)
    }

    /// The sink for the run's mode. Online, a server that cannot be reached at all (after the
    /// retries) does not stop the run: it is recorded offline instead, and the returned warning
    /// says where, so that nothing is lost to the network.
    fn make_sink(&self) -> Result<(Arc<dyn Sink>, Option<Error>)> {
        let config = self.config_ok()?;
        match self.mode {
            Mode::Offline => Ok((Arc::new(OfflineSink::new(&config.cache_dir)?), None)),
            Mode::Online => match OnlineSink::connect(config) {
                Ok(sink) => Ok((Arc::new(sink), None)),
                Err(e) if e.kind == ErrorKind::Network => {
                    let off = OfflineSink::new(&config.cache_dir)?;
                    let warning = Error::new(
                        ErrorKind::Network,
                        format!(
                            "{}; the run is recorded offline in {} instead: upload it with simvue-sender",
                            e.message,
                            config.cache_dir.display()
                        ),
                    );
                    Ok((Arc::new(off), Some(warning)))
                }
                Err(e) => Err(e),
            },
            Mode::Disabled => unreachable!("disabled runs have no sink"),
        }
    }

    /// Initialises the run.
    pub fn init(&self, opts: InitOptions<'_>) -> Result<()> {
        if self.is_disabled() {
            return Ok(());
        }
        let r = self.init_inner(opts);
        self.reporter.check(r)
    }

    fn init_inner(&self, opts: InitOptions<'_>) -> Result<()> {
        let mut c = self.control.lock();
        match c.phase {
            Phase::New => {}
            Phase::Active(_) => return Err(Error::state("the run is already initialised")),
            Phase::Closed => return Err(Error::new(ErrorKind::Closed, "the run is closed")),
        }
        let config = self.config_ok()?;
        if let Some(n) = opts.name {
            validate::name("run name", n)?;
        }
        let folder = opts
            .folder
            .map(str::to_owned)
            .or_else(|| config.run.folder.clone())
            .unwrap_or_else(|| "/".to_owned());
        validate::folder(&folder)?;
        let mut tags: Vec<String> = Vec::new();
        for t in opts
            .tags
            .iter()
            .copied()
            .chain(config.run.tags.iter().map(String::as_str))
        {
            validate::non_empty("tag", t)?;
            if !tags.iter().any(|x| x == t) {
                tags.push(t.to_owned());
            }
        }
        // Metadata: init argument, then keys set one by one before init, then the config's
        // custom metadata, which wins on clashes as in the Python client (run.py:713).
        let mut metadata = match opts.metadata {
            Some(m @ Json::Object(_)) => m,
            Some(_) => return Err(Error::invalid("metadata must be a JSON object")),
            None => Json::object(),
        };
        // Staged keys are cleared only once init has succeeded, so a failed init loses none.
        for (k, v) in c
            .staged_metadata
            .iter()
            .cloned()
            .chain(config.run.metadata.iter().cloned())
        {
            metadata.set(&k, v);
        }
        let description = opts
            .description
            .map(str::to_owned)
            .or_else(|| config.run.description.clone());

        let (sink, warning) = self.make_sink()?;
        // Online, the server names an unnamed run; offline, we do (randomname in Python).
        let name = match opts.name.or(config.run.name.as_deref()) {
            Some(n) => n.to_owned(),
            None if self.mode == Mode::Online && warning.is_none() => String::new(),
            None => ids::random_name(),
        };
        let folder_rec = Folder::new(&folder);
        let folder_id = sink.create_folder(&folder_rec)?;
        let now = Timestamp::now();
        let status = if opts.running {
            Status::Running
        } else {
            Status::Created
        };
        let mut record = RunRecord {
            folder,
            system: opts.running.then(system::system_info),
            status,
            description,
            name,
            tags,
            metadata,
            heartbeat_timeout: Some(HEARTBEAT_TIMEOUT),
            alerts: Vec::new(),
            created: now,
            started: opts.running.then_some(now),
            endtime: None,
        };
        let id = sink.create_run(&mut record)?;
        let active = self.activate(&mut c, id, sink, record, Some((folder_id, folder_rec)), now)?;
        c.staged_metadata.clear();
        self.active
            .set(active)
            .map_err(|_| Error::state("the run is already initialised"))?;
        warning.map_or(Ok(()), Err)
    }

    /// Builds the active state, starting the dispatcher for a running run.
    fn activate(
        &self,
        c: &mut Control,
        id: String,
        sink: Arc<dyn Sink>,
        record: RunRecord,
        folder: Option<(String, Folder)>,
        start: Timestamp,
    ) -> Result<Arc<Active>> {
        let running = record.status == Status::Running;
        if running {
            // The first heartbeat now, so that even a run closed at once has one (offline: the
            // `.heartbeat` marker); the dispatcher sends the next ones.
            if let Err(e) = sink.heartbeat(&id) {
                self.reporter.background(e);
            }
        }
        let dispatcher = if running {
            let s = &c.settings;
            let reporter = self.reporter.clone();
            let abort = self.abort.clone();
            Some(Dispatcher::start(
                id.clone(),
                sink.clone(),
                DispatchSettings {
                    capacity: s.queue_size,
                    blocking: s.queue_blocking,
                    flush_interval: s.flush_interval,
                    heartbeat_interval: HEARTBEAT_INTERVAL,
                    resources_interval: (!s.disable_resources_metrics)
                        .then(|| Duration::from_secs(s.resources_metrics_interval)),
                    pid: c.pid,
                    abort_interval: (self.mode == Mode::Online).then_some(s.abort_poll_interval),
                },
                start,
                Box::new(move |e| reporter.background(e)),
                Box::new(move || {
                    abort.requested.store(true, Ordering::Release);
                    if let Some(cb) = abort.callback.lock().as_ref() {
                        cb();
                    }
                }),
            )?)
        } else {
            None
        };
        let active = Arc::new(Active {
            id,
            sink,
            record: Mutex::new(record),
            folder: Mutex::new(folder),
            alerts: Mutex::new(Vec::new()),
            dispatcher,
            accepting: AtomicBool::new(running),
            finished: AtomicBool::new(false),
            uploads: Mutex::new(None),
            reporter: self.reporter.clone(),
            staging: self
                .config
                .as_ref()
                .map(|c| c.cache_dir.join("artifacts"))
                .unwrap_or_default(),
        });
        register_live(&active);
        c.phase = Phase::Active(active.clone());
        Ok(active)
    }

    /// Reconnects to an existing run that is `created` (or was left `running`), and starts it.
    /// Offline, `run_id` is the `offline_...` id of a run in the cache; online, the server's id.
    pub fn reconnect(&self, run_id: &str) -> Result<()> {
        if self.is_disabled() {
            return Ok(());
        }
        let r = (|| {
            let mut c = self.control.lock();
            if !matches!(c.phase, Phase::New) {
                return Err(Error::state(
                    "reconnect needs a run that is not yet initialised",
                ));
            }
            validate::non_empty("run id", run_id)?;
            if !run_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(Error::invalid(format!("{run_id:?} is not a run id")));
            }
            let (sink, warning) = self.make_sink()?;
            if let Some(w) = warning {
                return Err(w);
            }
            let mut record = sink.load_run(run_id)?;
            if record.status.is_terminal() {
                return Err(Error::state(format!(
                    "run {run_id} has status {} and cannot be reconnected",
                    record.status.as_str()
                )));
            }
            let now = Timestamp::now();
            record.status = Status::Running;
            record.system = Some(system::system_info());
            record.started.get_or_insert(now);
            sink.update_run(
                run_id,
                &record,
                &Json::object()
                    .with("status", "running")
                    .with("system", record.system.clone()),
            )?;
            let active = self.activate(&mut c, run_id.to_owned(), sink, record, None, now)?;
            self.active
                .set(active)
                .map_err(|_| Error::state("the run is already initialised"))
        })();
        self.reporter.check(r)
    }

    #[inline]
    fn active(&self) -> Result<&Arc<Active>> {
        match self.active.get() {
            Some(a) if !a.finished.load(Ordering::Acquire) => Ok(a),
            Some(_) => Err(Error::new(ErrorKind::Closed, "the run is closed")),
            None => Err(self.not_active_error()),
        }
    }

    #[cold]
    fn not_active_error(&self) -> Error {
        match self.control.lock().phase {
            Phase::Closed => Error::new(ErrorKind::Closed, "the run is closed"),
            _ => Error::state("the run is not initialised: call init first"),
        }
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

    /// Sets the process whose tree is sampled for resource metrics.
    pub fn set_pid(&self, pid: u32) -> Result<()> {
        if self.is_disabled() {
            return Ok(());
        }
        let r = (|| {
            if pid == 0 || pid > i32::MAX as u32 {
                return Err(Error::invalid(format!("{pid} is not a process id")));
            }
            let mut c = self.control.lock();
            if matches!(c.phase, Phase::Closed) {
                return Err(Error::new(ErrorKind::Closed, "the run is closed"));
            }
            c.pid = pid;
            if let Some(d) = self.active.get().and_then(|a| a.dispatcher.as_ref()) {
                d.set_pid(pid);
            }
            Ok(())
        })();
        self.reporter.check(r)
    }

    /// Adds or replaces metadata. Before `init` the keys are kept for `init`; after it they are
    /// merged into the run's metadata.
    pub fn update_metadata(&self, metadata: Json) -> Result<()> {
        if self.is_disabled() {
            return Ok(());
        }
        let r = (|| {
            let Json::Object(entries) = &metadata else {
                return Err(Error::invalid("metadata must be a JSON object"));
            };
            for (k, _) in entries {
                validate::non_empty("metadata key", k)?;
            }
            {
                let mut c = self.control.lock();
                match c.phase {
                    Phase::New => {
                        c.staged_metadata.extend(entries.iter().cloned());
                        return Ok(());
                    }
                    Phase::Closed => {
                        return Err(Error::new(ErrorKind::Closed, "the run is closed"))
                    }
                    Phase::Active(_) => {}
                }
            }
            let a = self.active()?;
            a.update(Json::object().with("metadata", metadata.clone()), |r| {
                r.metadata.merge(&metadata)
            })
        })();
        self.reporter.check(r)
    }

    /// Sets one metadata key (for callers without dictionaries, such as Fortran).
    pub fn set_metadata(&self, key: &str, value: Json) -> Result<()> {
        if let Json::Float(f) = value {
            if let Err(e) = validate::finite(&format!("metadata {key:?}"), f) {
                return self.reporter.check(Err(e));
            }
        }
        self.update_metadata(Json::Object(vec![(key.to_owned(), value)]))
    }

    /// Adds tags to the run (a union with the existing ones).
    pub fn update_tags(&self, tags: &[&str]) -> Result<()> {
        if self.is_disabled() {
            return Ok(());
        }
        let r = (|| {
            for t in tags {
                validate::non_empty("tag", t)?;
            }
            let a = self.active()?;
            let mut all = a.record.lock().tags.clone();
            for t in tags {
                if !all.iter().any(|x| x == t) {
                    all.push((*t).to_owned());
                }
            }
            a.update(Json::object().with("tags", all.clone()), |r| r.tags = all)
        })();
        self.reporter.check(r)
    }

    /// Logs one set of metrics: `names[i]` has value `values[i]`.
    #[inline]
    pub fn log_metrics(&self, names: &[&str], values: &[f64], opts: MetricOptions) -> Result<()> {
        if self.is_disabled() {
            return Ok(());
        }
        let r = self.log_metrics_inner(names, values, opts);
        if r.is_err() {
            return self.reporter.check(r);
        }
        r
    }

    #[inline]
    fn log_metrics_inner(&self, names: &[&str], values: &[f64], opts: MetricOptions) -> Result<()> {
        if names.len() != values.len() {
            return Err(Error::invalid("metric names and values differ in number"));
        }
        let a = self.active()?;
        self.reporter.take_background()?;
        match &a.dispatcher {
            Some(d) if a.accepting.load(Ordering::Acquire) => d.log_metrics(names, values, opts),
            _ => Err(Error::state(
                "metrics can only be logged while the run is running",
            )),
        }
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
        if self.is_disabled() {
            return Ok(());
        }
        let r = (|| {
            let a = self.active()?;
            self.reporter.take_background()?;
            match &a.dispatcher {
                Some(d) if a.accepting.load(Ordering::Acquire) => {
                    d.log_event(message, level, timestamp)
                }
                _ => Err(Error::state(
                    "events can only be logged while the run is running",
                )),
            }
        })();
        self.reporter.check(r)
    }

    /// Sets the final status: `completed`, `failed` or `terminated`. Metrics and events are
    /// refused afterwards; what was logged before is still written.
    pub fn set_status(&self, status: Status) -> Result<()> {
        if self.is_disabled() {
            return Ok(());
        }
        let r = (|| {
            if !matches!(
                status,
                Status::Completed | Status::Failed | Status::Terminated
            ) {
                return Err(Error::invalid(format!(
                    "status {} cannot be set by the user; use completed, failed or terminated",
                    status.as_str()
                )));
            }
            let a = self.active()?;
            a.accepting.store(false, Ordering::Release);
            let end = Timestamp::now();
            a.update(
                Json::object()
                    .with("status", status.as_str())
                    .with("endtime", end.to_string()),
                |r| {
                    r.status = status;
                    r.endtime = Some(end);
                },
            )
        })();
        self.reporter.check(r)
    }

    /// Closes the run: writes everything still queued, marks a running run `completed` and
    /// ends it. Counts of dropped items are reported on stderr.
    pub fn close(&self) -> Result<()> {
        if self.is_disabled() {
            return Ok(());
        }
        let r = (|| {
            let mut c = self.control.lock();
            let active = match std::mem::replace(&mut c.phase, Phase::Closed) {
                Phase::Active(a) => a,
                Phase::New => {
                    c.phase = Phase::New;
                    return Err(Error::state("the run was never initialised"));
                }
                Phase::Closed => {
                    return Err(Error::new(ErrorKind::Closed, "the run is already closed"))
                }
            };
            drop(c);
            let r = active.finish();
            self.reporter.take_background()?;
            r
        })();
        self.reporter.check(r)
    }

    /// Sets metadata, tags and a description on a folder: the run's own folder when `path` is
    /// `None` or equal to it, otherwise the folder at `path`.
    pub fn set_folder_details(
        &self,
        path: Option<&str>,
        metadata: Option<Json>,
        tags: Option<&[&str]>,
        description: Option<&str>,
    ) -> Result<()> {
        if self.is_disabled() {
            return Ok(());
        }
        let r = (|| {
            if let Some(p) = path {
                validate::folder(p)?;
            }
            if let Some(m) = &metadata {
                if !matches!(m, Json::Object(_)) {
                    return Err(Error::invalid("folder metadata must be a JSON object"));
                }
            }
            for t in tags.unwrap_or(&[]) {
                validate::non_empty("tag", t)?;
            }
            let a = self.active()?;
            let run_folder = a.record.lock().folder.clone();
            let path = path.unwrap_or(&run_folder);
            let apply = |f: &mut Folder| {
                if let Some(m) = &metadata {
                    f.metadata.get_or_insert_with(Json::object).merge(m);
                }
                if let Some(t) = tags {
                    f.tags = Some(t.iter().map(|s| (*s).to_owned()).collect());
                }
                if let Some(d) = description {
                    f.description = Some(d.to_owned());
                }
            };
            if path == run_folder {
                let mut slot = a.folder.lock();
                match slot.as_mut() {
                    Some((id, f)) => {
                        apply(f);
                        a.sink.update_folder(id, f)
                    }
                    None => {
                        let mut f = Folder::new(path);
                        apply(&mut f);
                        let id = a.sink.create_folder(&f)?;
                        *slot = Some((id, f));
                        Ok(())
                    }
                }
            } else {
                let mut f = Folder::new(path);
                apply(&mut f);
                a.sink.create_folder(&f).map(|_| ())
            }
        })();
        self.reporter.check(r)
    }

    /// Defines an alert and attaches it to the run; returns the alert's id. Adding the same
    /// alert twice returns the first id.
    pub fn add_alert(&self, opts: AlertOptions<'_>) -> Result<String> {
        if self.is_disabled() {
            return Ok(String::new());
        }
        let r = (|| {
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
        })();
        self.reporter.check(r)
    }

    /// Saves a file with the run (`save` of the seed). The file is checked now; it is hashed
    /// and uploaded on a background thread unless `wait` is set, and `close` waits for it.
    /// With `snapshot`, it is first copied into the cache, so later changes to it are not
    /// saved. Output files are refused while the run is only `created`.
    pub fn save_file(
        &self,
        path: &Path,
        category: Category,
        opts: SaveOptions<'_>,
        wait: bool,
    ) -> Result<()> {
        if self.is_disabled() {
            return Ok(());
        }
        let r = self
            .saving(category)
            .and_then(|_| self.save_file_quiet(path, category, &opts, wait));
        self.reporter.check(r)
    }

    /// Saves every regular file below `dir`. A file that cannot be saved is reported and does
    /// not stop the others; the error returned then names how many failed and the first cause.
    pub fn save_directory(
        &self,
        dir: &Path,
        category: Category,
        opts: SaveOptions<'_>,
        wait: bool,
    ) -> Result<()> {
        if self.is_disabled() {
            return Ok(());
        }
        let r = (|| {
            self.saving(category)?;
            let files = artifact::files_below(dir)?;
            // A name given for a directory would name every file the same.
            let opts = SaveOptions { name: None, ..opts };
            let failures: Vec<Error> = files
                .iter()
                .filter_map(|f| {
                    self.reporter
                        .check(self.save_file_quiet(f, category, &opts, wait))
                        .err()
                })
                .collect();
            summarise(files.len(), failures)
        })();
        self.reporter.check(r)
    }

    /// Saves a list of files and directories; as `save_directory`, failures are reported
    /// together after the rest has been saved.
    pub fn save_all(
        &self,
        paths: &[&Path],
        category: Category,
        opts: SaveOptions<'_>,
        wait: bool,
    ) -> Result<()> {
        if self.is_disabled() {
            return Ok(());
        }
        let r = (|| {
            self.saving(category)?;
            let opts = SaveOptions { name: None, ..opts };
            let mut failures = Vec::new();
            let mut total = 0;
            for p in paths {
                if p.is_dir() {
                    match artifact::files_below(p) {
                        Ok(files) => {
                            total += files.len();
                            failures.extend(files.iter().filter_map(|f| {
                                self.reporter
                                    .check(self.save_file_quiet(f, category, &opts, wait))
                                    .err()
                            }));
                        }
                        Err(e) => {
                            total += 1;
                            failures.push(e);
                        }
                    }
                } else {
                    total += 1;
                    if let Err(e) = self
                        .reporter
                        .check(self.save_file_quiet(p, category, &opts, wait))
                    {
                        failures.push(e);
                    }
                }
            }
            summarise(total, failures)
        })();
        self.reporter.check(r)
    }

    /// Saves bytes held in memory under `name` (a field, a JSON summary): the C counterpart of
    /// the Python client's saved objects.
    pub fn save_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
        category: Category,
        mime_type: Option<&str>,
        wait: bool,
    ) -> Result<()> {
        if self.is_disabled() {
            return Ok(());
        }
        let r = (|| {
            let a = self.saving(category)?;
            let artifact = artifact::prepare_bytes(name, bytes, mime_type)?;
            a.enqueue_save(artifact, category, wait)
        })();
        self.reporter.check(r)
    }

    fn save_file_quiet(
        &self,
        path: &Path,
        category: Category,
        opts: &SaveOptions<'_>,
        wait: bool,
    ) -> Result<()> {
        let a = self.active()?;
        let snapshot = opts.snapshot.then_some(a.staging.as_path());
        let artifact = artifact::prepare_file(path, opts, snapshot)?;
        a.enqueue_save(artifact, category, wait)
    }

    /// The active run, if it may save a file of `category` now.
    fn saving(&self, category: Category) -> Result<&Arc<Active>> {
        let a = self.active()?;
        if category == Category::Output && a.record.lock().status == Status::Created {
            return Err(Error::state(
                "output files cannot be saved while the run is only created (run.py:2004)",
            ));
        }
        Ok(a)
    }

    /// What happened to logged items so far.
    pub fn stats(&self) -> Stats {
        self.active
            .get()
            .and_then(|a| a.dispatcher.as_ref())
            .map(Dispatcher::stats)
            .unwrap_or_default()
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

/// Turns the failures of a multi-file save into one error (the first cause, and how many).
fn summarise(total: usize, failures: Vec<Error>) -> Result<()> {
    let Some(first) = failures.first() else {
        return Ok(());
    };
    Err(Error::new(
        first.kind,
        format!(
            "{} of {total} files could not be saved (the others were); first: {}",
            failures.len(),
            first.message
        ),
    ))
}

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
