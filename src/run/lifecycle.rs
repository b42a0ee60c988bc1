//! How a run starts and ends: choosing its sink, `init`, `reconnect`, `set_status` and
//! `close`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::active::Active;
use super::feedback::Feedback;
use super::uploads::Uploads;
use super::{closed, exit, Control, InitOptions, Phase, Run, VisibilityOption, HEARTBEAT_INTERVAL};
use super::{context, signals};
use crate::config::Mode;
use crate::dispatch::{DispatchSettings, Dispatcher};
use crate::error::{Error, ErrorKind, Result};
use crate::json::Json;
use crate::model::{Folder, RunRecord, Status, Visibility};
use crate::monitor::MonitorOptions;
use crate::offline::OfflineSink;
use crate::online::OnlineSink;
use crate::sink::{RunPatch, Sink};
use crate::time::Timestamp;
use crate::{ids, system, time, validate};

/// A run created in its sink by `init`, and the warning init returns if it fell back offline.
struct Created {
    sink: Arc<dyn Sink>,
    warning: Option<Error>,
    folder_id: String,
    id: String,
}

impl Run {
    /// The sink for the run's mode. Online, a server that cannot be reached at all (after the
    /// retries, within the init timeout) does not stop the run: it is recorded offline instead,
    /// and the returned warning says where, so that nothing is lost to the network.
    fn make_sink(&self) -> Result<(Arc<dyn Sink>, Option<Error>)> {
        let config = self.config_ok()?;
        match self.mode {
            Mode::Offline => Ok((Arc::new(OfflineSink::new(&config.cache_dir)?), None)),
            Mode::Online => match OnlineSink::connect(config) {
                Ok(sink) => Ok((Arc::new(sink), None)),
                Err(e) if e.kind == ErrorKind::Network => self.offline_instead(&e),
                Err(e) => Err(e),
            },
            Mode::Disabled => unreachable!("disabled runs have no sink"),
        }
    }

    /// The offline sink a run falls back to when the server failed it at init with `e`, and
    /// the warning init returns.
    fn offline_instead(&self, e: &Error) -> Result<(Arc<dyn Sink>, Option<Error>)> {
        let config = self.config_ok()?;
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

    /// Creates the run's folder and the run itself in the sink of the run's mode. A server that
    /// fails at any step of this (unreachable, or silent past the init timeout) makes the run
    /// an offline one, as in [`Run::make_sink`].
    fn create_in_sink(&self, record: &mut RunRecord, folder: &Folder) -> Result<Created> {
        let (sink, warning) = self.make_sink()?;
        if sink.remote().is_none() && record.name.is_empty() {
            record.name = ids::random_name();
        }
        let created = sink
            .create_folder(folder)
            .and_then(|f| Ok((f, sink.create_run(record)?)));
        match created {
            Ok((folder_id, id)) => Ok(Created {
                sink,
                warning,
                folder_id,
                id,
            }),
            Err(e) if e.kind == ErrorKind::Network && sink.remote().is_some() => {
                let (off, warning) = self.offline_instead(&e)?;
                if record.name.is_empty() {
                    record.name = ids::random_name();
                }
                let folder_id = off.create_folder(folder)?;
                let id = off.create_run(record)?;
                Ok(Created {
                    sink: off,
                    warning,
                    folder_id,
                    id,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Initialises the run.
    pub fn init(&self, opts: InitOptions<'_>) -> Result<()> {
        self.api((), || self.init_inner(opts))
    }

    fn init_inner(&self, opts: InitOptions<'_>) -> Result<()> {
        let mut c = self.control.lock();
        match c.phase {
            Phase::New => {}
            Phase::Active(_) => return Err(Error::state("the run is already initialised")),
            Phase::Closed => return Err(closed()),
        }
        let config = self.config_ok()?;
        self.signals.apply_environment()?;
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
        // The shell variables: the init option's when given (as the Python client's
        // `init(record_shell_vars=...)` wins over the configuration), else
        // `set_record_shell_vars`'s, else the configuration's.
        for p in opts.record_shell_vars {
            validate::non_empty("record_shell_vars pattern", p)?;
        }
        let patterns: Vec<String> = if opts.record_shell_vars.is_empty() {
            c.record_shell_vars
                .clone()
                .unwrap_or_else(|| config.run.record_shell_vars.clone())
        } else {
            opts.record_shell_vars
                .iter()
                .map(|p| (*p).to_owned())
                .collect()
        };
        context::add_context(
            &mut metadata,
            &patterns,
            config.token.as_ref().map(|t| t.expose()),
        );
        if let Some(energy) = context::energy_settings(&c.settings, config) {
            if metadata.get(context::SUSTAINABILITY_KEY).is_none() {
                metadata.set(context::SUSTAINABILITY_KEY, energy.describe());
            }
        } else if c.settings.enable_emission_metrics {
            self.reporter.background(Error::state(
                "emission metrics need resource metrics, which are disabled: none are logged",
            ));
        }
        let description = opts
            .description
            .map(str::to_owned)
            .or_else(|| config.run.description.clone());
        let ttl = opts
            .retention_period
            .map(|p| {
                time::parse_timespan(p)
                    .filter(|s| *s >= 0.0)
                    .map(|s| s as u64)
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "retention_period {p:?} is not a timespan such as \"1 hour\", \"30m\" or \"86400\" (Python's humanfriendly format)"
                        ))
                    })
            })
            .transpose()?;
        let visibility = match opts.visibility {
            VisibilityOption::Private => Visibility::default(),
            VisibilityOption::Public => Visibility {
                public: true,
                ..Visibility::default()
            },
            VisibilityOption::Tenant => Visibility {
                tenant: true,
                ..Visibility::default()
            },
            VisibilityOption::Users(users) => {
                for u in users {
                    validate::non_empty("user name", u)?;
                }
                Visibility {
                    users: users.iter().map(|u| (*u).to_owned()).collect(),
                    ..Visibility::default()
                }
            }
        };
        // The rest of the automatic metadata, merged over the user's as in the Python client
        // (run.py init): the project's environment and git (`shell` and `batch_job` were added
        // above); each can be switched off ([run.metadata], SIMVUE_DISABLE_*).
        let cwd = &config.cwd;
        if config.run.record_environment {
            for (k, v) in system::project_environment(cwd) {
                metadata.set(&k, v);
            }
        }
        if config.run.record_git {
            if let Some(git) = crate::git::git_info(cwd) {
                metadata.set("git", git);
            }
        }

        // Online, the server names an unnamed run; offline, we do (randomname in Python).
        let name = match opts.name.or(config.run.name.as_deref()) {
            Some(n) => n.to_owned(),
            None if self.mode == Mode::Online => String::new(),
            None => ids::random_name(),
        };
        let folder_rec = Folder::new(&folder);
        let now = Timestamp::now();
        let status = if opts.running {
            Status::Running
        } else {
            Status::Created
        };
        let mut record = RunRecord {
            folder,
            system: (opts.running && config.run.record_system).then(system::system_info),
            status,
            description,
            name,
            tags,
            metadata,
            visibility,
            ttl,
            heartbeat_timeout: opts.timeout,
            notification: opts.notification,
            alerts: Vec::new(),
            created: now,
            started: opts.running.then_some(now),
            endtime: None,
        };
        let Created {
            sink,
            warning,
            folder_id,
            id,
        } = self.create_in_sink(&mut record, &folder_rec)?;
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
        // The server answered init in time: from now on only close has a deadline.
        if let Some(r) = sink.remote() {
            r.health().set_deadline(None);
        }
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
                    monitor: MonitorOptions {
                        energy: self
                            .config
                            .as_ref()
                            .ok()
                            .and_then(|config| context::energy_settings(s, config)),
                    },
                    writer_depth: crate::dispatch::WRITER_DEPTH,
                },
                start,
                Box::new(move |e| reporter.background(e)),
                Box::new(move || abort.trigger()),
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
            grids: Mutex::new(Default::default()),
            dispatcher,
            accepting: AtomicBool::new(running),
            finished: AtomicBool::new(false),
            uploads: Uploads::default(),
            reporter: self.reporter.clone(),
            staging: self
                .config
                .as_ref()
                .map(|c| c.cache_dir.join("artifacts"))
                .unwrap_or_default(),
            signals: self.signals.clone(),
            closed: Default::default(),
            feedback: Feedback::new(c.settings.quiet, self.config.as_ref().ok()),
        });
        active.feedback.started(
            &active.record.lock().name,
            &active.id,
            active.sink.remote().is_some(),
        );
        exit::register(&active);
        if running {
            if let Err(e) = signals::watch(&active) {
                self.reporter.background(e);
            }
        }
        self.abort.attach(&active);
        c.phase = Phase::Active(active.clone());
        Ok(active)
    }

    /// Reconnects to an existing run that is `created` (or was left `running`), and starts it.
    /// Offline, `run_id` is the `offline_...` id of a run in the cache; online, the server's id.
    pub fn reconnect(&self, run_id: &str) -> Result<()> {
        self.api((), || {
            let mut c = self.control.lock();
            if !matches!(c.phase, Phase::New) {
                return Err(Error::state(
                    "reconnect needs a run that is not yet initialised",
                ));
            }
            validate::non_empty("run id", run_id)?;
            self.signals.apply_environment()?;
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
                &RunPatch::Fields(
                    Json::object()
                        .with("status", "running")
                        .with("system", record.system.clone()),
                ),
            )?;
            let active = self.activate(&mut c, run_id.to_owned(), sink, record, None, now)?;
            self.active
                .set(active)
                .map_err(|_| Error::state("the run is already initialised"))
        })
    }

    /// Sets the final status: `completed`, `failed` or `terminated`. Metrics and events are
    /// refused afterwards; what was logged before is still written, and files saved before are
    /// uploaded and attached before the status is sent (this call waits for them).
    ///
    /// Called again, the last status wins (with its end time), as in the Python client, whose
    /// `set_status` overwrites the status and commits it each time (run.py:2159): a solver that
    /// reports `failed` and then `completed` has said it completed. `close` never overrides a
    /// status that was set.
    pub fn set_status(&self, status: Status) -> Result<()> {
        self.api((), || {
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
            a.accepting
                .store(false, std::sync::atomic::Ordering::Release);
            // Files saved before are attached first, so that the final status is the last
            // change the server sees (it is queued after the metrics logged before it).
            a.uploads.wait_idle();
            a.end(status)
        })
    }

    /// Closes the run: writes everything still queued, marks a running run `completed` and
    /// ends it. Counts of dropped items are reported on stderr. When logged data could not be
    /// written anywhere (the server unreachable and the cache's disk full past the memory kept
    /// for it), the count is printed, the run ends `lost` instead of `completed`, and close
    /// returns an I/O error.
    pub fn close(&self) -> Result<()> {
        self.api((), || {
            let mut c = self.control.lock();
            let active = match std::mem::replace(&mut c.phase, Phase::Closed) {
                Phase::Active(a) => a,
                Phase::New => {
                    c.phase = Phase::New;
                    return Err(Error::state("the run was never initialised"));
                }
                Phase::Closed => {
                    return Err(Error::new(ErrorKind::Closed, "the run is already closed"));
                }
            };
            drop(c);
            // Data lost at close matters more than an earlier background error.
            let r = active.finish();
            r.and(self.reporter.take_background())
        })
    }
}
