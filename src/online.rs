//! The online sink: the same wire objects as the offline sink, sent to a Simvue server as
//! simvue 2.6.2 sends them (protocol doc §3-§7, endpoint table §13).
//!
//! Faults never reach the solver: a failed request is retried with backoff (502/503/504,
//! timeouts, refused connections); when the server stays unreachable the data is written to the
//! offline cache in the form `simvue-sender` uploads, keyed by the online run id, and the sink
//! marks itself degraded, so that later writes go straight to the cache until a probe finds the
//! server again. Metrics and events are retried on the dispatcher thread (see
//! [`crate::dispatch`]); run updates made by the caller retry here.

use std::path::PathBuf;

use parking_lot::Mutex;

use crate::artifact::{Artifact, Category};
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::http::{self, Body, Failure, Http};
use crate::ids;
use crate::json::Json;
use crate::model::{Alert, AlertState, EventSet, Folder, Grid, MetricBatch, RunRecord, TensorSet};
use crate::msgpack;
use crate::offline::OfflineSink;
use crate::sink::{AlertInfo, Health, ListField, RemoteSink, RetryPolicy, RunPatch, Sink};

/// Server API versions this client speaks (`1.1.0 <= v < 2.0.0`, `config/user.py:45-46`).
pub const SUPPORTED: ((u64, u64, u64), (u64, u64, u64)) = ((1, 1, 0), (2, 0, 0));

/// Parses `major.minor.patch` (ignoring pre-release and build suffixes).
pub fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.trim().split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

/// Sends a run's objects to a Simvue server.
pub struct OnlineSink {
    http: Http,
    storage: http::Storage,
    cache_dir: PathBuf,
    fallback: Mutex<Option<OfflineSink>>,
    policy: RetryPolicy,
    /// Whether the server answered lately; while it is degraded, writes go straight to the
    /// cache.
    health: Health,
    /// The same for the storage that artifact bytes are uploaded to: a separate host (object
    /// storage), whose failures say nothing about the API's.
    storage_health: Health,
    /// Our offline alias for each online object the sender must refer to (online id -> alias).
    aliases: Mutex<Vec<(String, String)>>,
    /// Runs whose state was spilled under their alias (and so need `.closed` at the end).
    spilled_runs: Mutex<Vec<String>>,
    /// What the server held of each reconnected run when we reconnected: not ours to count
    /// (protocol doc §4.7).
    baselines: Mutex<Vec<Baseline>>,
}

/// What a reconnected run held on the server before this process wrote to it; `None` when it
/// could not be read.
struct Baseline {
    run: String,
    metric_values: Option<u64>,
    events: Option<u64>,
}

/// The sum of the metric counts in a run as `GET /api/runs/{id}` shows it (protocol doc §4.7).
fn metric_values_in(run: &serde_json::Value) -> Option<u64> {
    match run.get("metrics")? {
        serde_json::Value::Object(m) => m
            .values()
            .map(|summary| summary.get("count").and_then(|c| c.as_u64()))
            .sum(),
        serde_json::Value::Null => Some(0),
        _ => None,
    }
}

impl OnlineSink {
    /// Connects to the configured server: checks that the token is accepted and the server
    /// version is supported (`GET /api/version`). The sink starts with the init deadline
    /// ([`RetryPolicy::init_timeout`]) set on its health; lift it with
    /// `health().set_deadline(None)` once set up.
    pub fn connect(config: &Config) -> Result<OnlineSink> {
        let (Some(url), Some(token)) = (&config.url, &config.token) else {
            return Err(Error::new(
                ErrorKind::Config,
                "online mode needs SIMVUE_URL and SIMVUE_TOKEN (or [server] url and token)",
            ));
        };
        // Before the first request (parameters.py check_token): a readable message on when
        // the token expired, instead of a 401.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        crate::config::check_token(token, now)?;
        let ca = http::site_ca(config, false);
        let storage_ca = http::site_ca(config, true);
        let policy = RetryPolicy::from_env();
        let health = Health::default();
        // Lifted by the run once init is done (`Run::activate`).
        health.set_deadline(Some(std::time::Instant::now() + policy.init_timeout));
        let client = config
            .client_cert
            .as_deref()
            .map(|cert| http::ClientIdentity {
                cert,
                key: config.client_key.as_ref(),
            });
        let sink = OnlineSink {
            http: Http::new(url, token, ca.as_deref(), client, http::default_timeout())?,
            storage: http::Storage::new(storage_ca.as_deref())?,
            cache_dir: config.cache_dir.clone(),
            fallback: Mutex::new(None),
            policy,
            health,
            storage_health: Health::default(),
            aliases: Mutex::new(Vec::new()),
            spilled_runs: Mutex::new(Vec::new()),
            baselines: Mutex::new(Vec::new()),
        };
        let url = http::redact(url);
        if config.no_server_check {
            // SIMVUE_NO_SERVER_CHECK: no version check, as in the Python client (user.py).
            return Ok(sink);
        }
        let v = sink
            .call("GET", "/version", Body::Empty, &[200])
            .map_err(|e| match e.kind {
                ErrorKind::Auth => Error::new(
                    ErrorKind::Auth,
                    format!("the server at {url} refused the API token (401)"),
                ),
                _ => e,
            })?;
        let version = v.get("version").and_then(|v| v.as_str()).unwrap_or("");
        match parse_version(version) {
            Some(ver) if ver >= SUPPORTED.0 && ver < SUPPORTED.1 => Ok(sink),
            _ => Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "the server at {url} reports API version {version:?}; this client supports 1.1.0 <= version < 2.0.0"
                ),
            )),
        }
    }

    /// The offline cache used when the server cannot be reached.
    pub fn fallback(&self) -> Result<parking_lot::MappedMutexGuard<'_, OfflineSink>> {
        let mut slot = self.fallback.lock();
        if slot.is_none() {
            *slot = Some(OfflineSink::new(&self.cache_dir)?);
        }
        Ok(parking_lot::MutexGuard::map(slot, |s| {
            s.as_mut().expect("just set")
        }))
    }

    /// The API base URL (ending in `/api`).
    pub fn url(&self) -> &str {
        self.http.base()
    }

    /// A request with retries on the calling thread; gives up at once while degraded.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        ok: &[u16],
    ) -> Result<serde_json::Value> {
        self.call_with(method, path, &body, ok).map_err(|f| f.error)
    }

    /// As [`OnlineSink::call`], keeping the HTTP status and error body of a failure.
    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        body: &Body<'_>,
        ok: &[u16],
    ) -> std::result::Result<serde_json::Value, Failure> {
        self.call_checked(method, path, body, ok, &|| Ok(None))
    }

    /// As [`OnlineSink::call_with`], for a request that must not take effect twice: before each
    /// retry, `arrived` is asked whether the failed attempt reached the server after all (its
    /// answer lost with the connection); `Some(answer)` ends the retries with that answer.
    pub fn call_checked(
        &self,
        method: &str,
        path: &str,
        body: &Body<'_>,
        ok: &[u16],
        arrived: &dyn Fn() -> Result<Option<serde_json::Value>>,
    ) -> std::result::Result<serde_json::Value, Failure> {
        if self.health.degraded() {
            return Err(Failure {
                error: Error::new(
                    ErrorKind::Network,
                    format!("{method} {path}: the server is unreachable"),
                ),
                retryable: true,
                status: None,
                body: None,
            });
        }
        let mut first = true;
        self.policy.run(&self.health, || {
            if !std::mem::take(&mut first) {
                match arrived() {
                    Ok(Some(answer)) => return Ok(answer),
                    Ok(None) => {}
                    Err(error) => {
                        return Err(Failure {
                            retryable: error.kind == ErrorKind::Network,
                            error,
                            status: None,
                            body: None,
                        })
                    }
                }
            }
            self.http
                .request(method, path, body.reborrow(), ok, self.health.remaining())
        })
    }

    /// Creates an object (`POST`), taking a 409 that carries `id` as the existing object, as
    /// the Python client does for folders and alerts (protocol doc §2.2).
    pub fn create(&self, path: &str, body: &Json) -> Result<String> {
        self.create_checked(path, body, &|| Ok(None))
    }

    /// As [`OnlineSink::create`] for an object the server does not de-duplicate (a run):
    /// before a retry, `existing` looks for what a failed attempt may have created.
    pub fn create_checked(
        &self,
        path: &str,
        body: &Json,
        existing: &dyn Fn() -> Result<Option<String>>,
    ) -> Result<String> {
        let id_of = |v: &serde_json::Value| v.get("id").and_then(|i| i.as_str()).map(str::to_owned);
        let arrived = || Ok(existing()?.map(|id| serde_json::json!({ "id": id })));
        match self.call_checked("POST", path, &Body::Json(body), &[200, 201], &arrived) {
            Ok(v) => id_of(&v).ok_or_else(|| {
                Error::new(
                    ErrorKind::Server,
                    format!("POST {path}: the answer has no id"),
                )
            }),
            Err(f) if f.status == Some(409) => f.body.as_ref().and_then(id_of).ok_or(f.error),
            Err(f) => Err(f.error),
        }
    }

    /// The offline alias under which run `id`'s state is spilled, creating its
    /// `server_ids/<alias>.txt` mapping so that the sender updates the online run.
    fn alias(&self, online_id: &str) -> Result<String> {
        let mut aliases = self.aliases.lock();
        if let Some((_, a)) = aliases.iter().find(|(o, _)| o == online_id) {
            return Ok(a.clone());
        }
        let alias = ids::offline_id();
        let off = self.fallback()?;
        let dir = off.root().join("server_ids");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        // The sender reads the mapping without stripping whitespace: no newline.
        std::fs::write(dir.join(format!("{alias}.txt")), online_id)
            .map_err(|e| Error::io("cannot write the server id mapping", e))?;
        aliases.push((online_id.to_owned(), alias.clone()));
        Ok(alias)
    }

    /// Writes the run's full state to the cache for the sender to `PUT` later.
    fn spill_run(&self, online_id: &str, full: &RunRecord, cause: Error) -> Result<()> {
        let alias = self.alias(online_id)?;
        let mut json = full.to_json();
        // The sender sends the run's whole alert list, made of the offline ids it can map
        // (run.py on_reconnect): give each online alert an alias mapped to it, or the alerts
        // already attached would be detached.
        let alerts: Vec<String> = full
            .alerts
            .iter()
            .map(|a| self.alias(a))
            .collect::<Result<_>>()?;
        json.set("alerts", alerts.into());
        let off = self.fallback()?;
        off.write_object("runs", &alias, &json)?;
        let mut spilled = self.spilled_runs.lock();
        if !spilled.iter().any(|r| r == online_id) {
            spilled.push(online_id.to_owned());
        }
        drop(spilled);
        Err(Error::new(
            ErrorKind::Network,
            format!(
                "{}; the run's state was written to {} for simvue-sender",
                cause.message,
                off.path("runs", &alias, "json").display()
            ),
        ))
    }

    /// The `source` of alert `id` (`GET /api/alerts/{id}`).
    fn alert_source(&self, id: &str) -> Result<String> {
        match self.call_with("GET", &format!("/alerts/{id}"), &Body::Empty, &[200]) {
            Ok(v) => Ok(v
                .get("source")
                .and_then(|s| s.as_str())
                .unwrap_or_default()
                .to_owned()),
            Err(f) if f.status == Some(404) => Err(Error::new(
                ErrorKind::NotFound,
                format!("the server has no alert {id}"),
            )),
            Err(f) => Err(f.error),
        }
    }

    /// Adds `items` to the run's tags or alerts: the run's current list is read first and the
    /// union is sent, as the Python client does (`update_tags`, `add_alerts`; protocol doc
    /// §3.2, §7.4), so that changes made in the web UI meanwhile are kept. The server's
    /// order comes first, then the new items (Python sends a set, in no particular order).
    fn add_to_list(
        &self,
        id: &str,
        field: ListField,
        items: &[String],
    ) -> Result<serde_json::Value> {
        let v = self.call("GET", &format!("/runs/{id}"), Body::Empty, &[200])?;
        let current = RunRecord::from_json(&Json::from_serde(&v))?;
        let mut all = match field {
            ListField::Tags => current.tags,
            ListField::Alerts => current.alerts,
        };
        for item in items {
            if !all.contains(item) {
                all.push(item.clone());
            }
        }
        let body = Json::object().with(field.key(), all);
        self.call(
            "PUT",
            &format!("/runs/{id}"),
            Body::Json(&body),
            &[200, 409],
        )
    }

    /// One attempt of a request; the dispatcher retries batches itself
    /// ([`crate::dispatch`]), so that it can spill them.
    fn once(&self, method: &str, path: &str, body: Body<'_>) -> Result<serde_json::Value> {
        self.http
            .request(method, path, body, &[200], self.health.remaining())
            .map_err(|f| f.error)
    }

    /// The number of events the server holds for run `id`: the `count` of the first page of
    /// `GET /api/events?run=` (protocol doc §4.7). One attempt.
    fn events_in(&self, id: &str) -> Result<u64> {
        let v = self.once(
            "GET",
            &format!("/events?run={id}&start=0&count=1"),
            Body::Empty,
        )?;
        v.get("count").and_then(|c| c.as_u64()).ok_or_else(|| {
            Error::new(
                ErrorKind::Server,
                "GET /events: the answer has no count of the run's events",
            )
        })
    }

    /// `stored` less what the reconnected run `id` held before us (`metrics`: which count).
    fn ours(&self, id: &str, stored: u64, metrics: bool) -> Result<u64> {
        let baselines = self.baselines.lock();
        let Some(b) = baselines.iter().find(|b| b.run == id) else {
            return Ok(stored);
        };
        match if metrics { b.metric_values } else { b.events } {
            Some(before) if before <= stored => Ok(stored - before),
            _ => Err(Error::new(
                ErrorKind::Server,
                "what the run held before it was reconnected is unknown",
            )),
        }
    }

    /// The artifact flow of simvue 2.6.2 (protocol doc §6.1 and §0 item 4): create it with its
    /// checksum, upload the bytes to the URL the server returns (multipart POST with the
    /// returned `fields`, or a raw PUT when there are none; no token sent there), mark it
    /// uploaded, attach it to the run.
    fn upload_artifact(&self, run_id: &str, artifact: &Artifact, category: Category) -> Result<()> {
        let slot = self.create_artifact(&artifact.to_online_json())?;
        self.upload_to_storage(&slot, artifact)?;
        self.mark_uploaded(&slot.id)?;
        self.attach_artifact(run_id, &slot.id, category)
    }

    /// Step 1 of an artifact: `POST /api/artifacts` with its record; a 409 that carries `id`
    /// is the existing artifact (a server that knows the checksum).
    pub fn create_artifact(&self, body: &Json) -> Result<ArtifactSlot> {
        self.create_artifact_checked(body, &|| Ok(()))
    }

    /// As [`OnlineSink::create_artifact`]; before a retry, `tidy` removes what a failed attempt
    /// may have created.
    pub fn create_artifact_checked(
        &self,
        body: &Json,
        tidy: &dyn Fn() -> Result<()>,
    ) -> Result<ArtifactSlot> {
        let arrived = || tidy().map(|()| None);
        let created = match self.call_checked(
            "POST",
            "/artifacts",
            &Body::Json(body),
            &[200, 201],
            &arrived,
        ) {
            Ok(v) => v,
            Err(f)
                if f.status == Some(409) && f.body.as_ref().and_then(|b| b.get("id")).is_some() =>
            {
                f.body.unwrap_or_default()
            }
            Err(f) => return Err(f.error),
        };
        let id = created
            .get("id")
            .and_then(|i| i.as_str())
            .ok_or_else(|| Error::new(ErrorKind::Server, "POST /artifacts: the answer has no id"))?
            .to_owned();
        let url = created
            .get("url")
            .and_then(|u| u.as_str())
            .filter(|u| !u.is_empty())
            .map(str::to_owned);
        let fields: Vec<(String, String)> = match created.get("fields") {
            Some(serde_json::Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(ArtifactSlot { id, url, fields })
    }

    /// Step 2: the bytes to the storage URL of `slot` (none: the server needs no upload).
    pub fn upload_to_storage(&self, slot: &ArtifactSlot, artifact: &Artifact) -> Result<()> {
        let Some(url) = &slot.url else {
            return Ok(());
        };
        // The storage works to the API's deadline (init, close) but fails on its own.
        self.storage_health.set_deadline(self.health.deadline());
        if self.storage_health.degraded() {
            return Err(Error::new(
                ErrorKind::Network,
                "the artifact storage is unreachable",
            ));
        }
        // A retry sends the whole file again.
        self.policy
            .run(&self.storage_health, || {
                self.storage
                    .upload(url, &slot.fields, artifact, self.health.remaining())
            })
            .map_err(|f| f.error)
    }

    /// Step 3: `PUT /api/artifacts/{id}` `{"uploaded": true}`.
    pub fn mark_uploaded(&self, id: &str) -> Result<()> {
        let uploaded = Json::object().with("uploaded", true);
        self.call(
            "PUT",
            &format!("/artifacts/{id}"),
            Body::Json(&uploaded),
            &[200],
        )
        .map(|_| ())
    }

    /// Step 4: attach artifact `id` to run `run_id` with `category`.
    pub fn attach_artifact(&self, run_id: &str, id: &str, category: Category) -> Result<()> {
        let attach = Json::object().with("category", category.as_str());
        self.call(
            "PUT",
            &format!("/runs/{run_id}/artifacts/{id}"),
            Body::Json(&attach),
            &[200],
        )
        .map(|_| ())
    }
}

/// An artifact the server has created: its id and where its bytes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactSlot {
    /// The artifact's id.
    pub id: String,
    /// Where to upload the bytes; `None` when the server needs none (it has them).
    pub url: Option<String>,
    /// Form fields of a multipart POST upload; empty for a raw PUT.
    pub fields: Vec<(String, String)>,
}

impl Sink for OnlineSink {
    fn create_folder(&self, folder: &Folder) -> Result<String> {
        self.create("/folders", &folder.to_online_json())
    }

    fn update_folder(&self, id: &str, folder: &Folder) -> Result<()> {
        let mut body = folder.to_online_json();
        if let Json::Object(entries) = &mut body {
            entries.retain(|(k, _)| k != "path");
        }
        self.call(
            "PUT",
            &format!("/folders/{id}"),
            Body::Json(&body),
            &[200, 409],
        )
        .map(|_| ())
    }

    fn create_run(&self, run: &mut RunRecord) -> Result<String> {
        let id = self.create("/runs", &run.to_online_json())?;
        // The server may have chosen the name (run.py:796).
        let v = self.call("GET", &format!("/runs/{id}"), Body::Empty, &[200])?;
        if let Some(name) = v.get("name").and_then(|n| n.as_str()) {
            run.name = name.to_owned();
        }
        Ok(id)
    }

    fn load_run(&self, id: &str) -> Result<RunRecord> {
        match self.call_with("GET", &format!("/runs/{id}"), &Body::Empty, &[200]) {
            Ok(v) => {
                let record = RunRecord::from_json(&Json::from_serde(&v))?;
                // What the run already holds is not ours when we check what a request whose
                // outcome is unknown left behind.
                let events = self.events_in(id).ok();
                self.baselines.lock().push(Baseline {
                    run: id.to_owned(),
                    metric_values: metric_values_in(&v),
                    events,
                });
                Ok(record)
            }
            Err(f) if f.status == Some(404) => Err(Error::new(
                ErrorKind::NotFound,
                format!("the server has no run {id}"),
            )),
            Err(f) => Err(f.error),
        }
    }

    fn update_run(&self, id: &str, full: &RunRecord, patch: &RunPatch) -> Result<()> {
        let sent = match patch {
            RunPatch::Fields(body) => {
                self.call("PUT", &format!("/runs/{id}"), Body::Json(body), &[200, 409])
            }
            RunPatch::Add(field, items) => self.add_to_list(id, *field, items),
        };
        match sent {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::Network => self.spill_run(id, full, e),
            Err(e) => Err(e),
        }
    }

    fn create_alert(&self, alert: &Alert) -> Result<String> {
        self.create("/alerts?deduplicate=True", &alert.to_online_json())
    }

    /// `GET /api/alerts/{id}` (to check that it is a user alert, as the Python client reads it
    /// first), then `PUT /api/alerts/{id}/status/{run}` (protocol doc §7.5). A server that
    /// cannot be reached gets the state through the cache (§8.6 item 5).
    fn set_alert_status(
        &self,
        alert_id: &str,
        run_id: &str,
        state: AlertState,
        _known: Option<&Alert>,
    ) -> Result<()> {
        let sent = self.alert_source(alert_id).and_then(|source| {
            if source != "user" {
                return Err(Error::invalid(format!(
                    "alert {alert_id} is a {source} alert: only a user alert's state can be set"
                )));
            }
            let body = Json::object().with("status", state.as_str());
            self.call(
                "PUT",
                &format!("/alerts/{alert_id}/status/{run_id}"),
                Body::Json(&body),
                &[200],
            )
            .map(|_| ())
        });
        match sent {
            Err(e) if e.kind == ErrorKind::Network => {
                let (alert, run) = (self.alias(alert_id)?, self.alias(run_id)?);
                let off = self.fallback()?;
                off.set_alert_status(&alert, &run, state, None)?;
                Err(Error::new(
                    ErrorKind::Network,
                    format!(
                        "{}; the alert's state was written to {} for simvue-sender",
                        e.message,
                        off.path("alerts", &alert, "json").display()
                    ),
                ))
            }
            r => r,
        }
    }

    /// `GET /api/alerts`, page by page (`?start=&count=`, protocol doc §2.4). The Python client
    /// reads only the first page; all of them are read here, so that a name is found among
    /// any number of alerts.
    fn list_alerts(&self) -> Result<Vec<AlertInfo>> {
        const PAGE: usize = 100;
        let mut out = Vec::new();
        loop {
            let v = self.call(
                "GET",
                &format!("/alerts?start={}&count={PAGE}", out.len()),
                Body::Empty,
                &[200],
            )?;
            let data = v.get("data").and_then(|d| d.as_array()).ok_or_else(|| {
                Error::new(
                    ErrorKind::Server,
                    "GET /alerts: the answer has no data list",
                )
            })?;
            let str_of = |a: &serde_json::Value, k: &str| {
                a.get(k)
                    .and_then(|x| x.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            out.extend(data.iter().map(|a| AlertInfo {
                id: str_of(a, "id"),
                name: str_of(a, "name"),
                source: str_of(a, "source"),
            }));
            let total = v.get("count").and_then(|c| c.as_u64());
            if data.len() < PAGE || total.is_some_and(|t| out.len() as u64 >= t) {
                return Ok(out);
            }
        }
    }

    /// One attempt: the network thread retries and spills (see [`RemoteSink`]).
    fn send_metrics(&self, run_id: &str, batch: &MetricBatch) -> Result<()> {
        thread_local! {
            /// The body buffer, kept between batches (only the network thread sends them).
            static BODY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BODY.with(|body| {
            let mut body = body.borrow_mut();
            body.clear();
            msgpack::encode_metrics(run_id, batch, &mut body);
            let r = self
                .once("POST", "/metrics", Body::Msgpack(&body))
                .map(|_| ());
            if body.capacity() > 16 << 20 {
                *body = Vec::new(); // a huge batch grew it: give the memory back
            }
            r
        })
    }

    fn create_grid(&self, grid: &Grid) -> Result<String> {
        self.create("/grids", &grid.to_online_json())
    }

    /// `PUT /api/runs/{run}/grids/{grid}` `{"metric"}` (protocol doc §4.6).
    fn attach_grid(&self, grid_id: &str, _grid: &Grid, run_id: &str, metric: &str) -> Result<()> {
        let body = Json::object().with("metric", metric);
        self.call(
            "PUT",
            &format!("/runs/{run_id}/grids/{grid_id}"),
            Body::Json(&body),
            &[200],
        )
        .map(|_| ())
    }

    /// One attempt (`POST /api/runs/{run}/metrics/`, a msgpack list), as
    /// [`OnlineSink::send_metrics`].
    fn send_tensors(&self, run_id: &str, batch: &[TensorSet]) -> Result<()> {
        let mut body = Vec::with_capacity(64 + batch.len() * 256);
        msgpack::encode(&crate::model::tensors_payload(batch), &mut body);
        self.once(
            "POST",
            &format!("/runs/{run_id}/metrics/"),
            Body::Msgpack(&body),
        )
        .map(|_| ())
    }

    /// One attempt, as [`OnlineSink::send_metrics`].
    fn send_events(&self, run_id: &str, batch: &[EventSet]) -> Result<()> {
        let mut body = Vec::with_capacity(64 + batch.len() * 96);
        msgpack::encode(&crate::model::events_payload(run_id, batch), &mut body);
        self.once("POST", "/events", Body::Msgpack(&body))
            .map(|_| ())
    }

    fn save_artifact(&self, run_id: &str, artifact: &Artifact, category: Category) -> Result<()> {
        match self.upload_artifact(run_id, artifact, category) {
            Ok(()) => {
                // A snapshot copy is deleted once uploaded (file.py:205-207).
                if let Some(copy) = artifact.staged_copy(&self.cache_dir.join("artifacts")) {
                    let _ = std::fs::remove_file(copy);
                }
                Ok(())
            }
            Err(e) if e.kind == ErrorKind::Network => {
                // Keep it for simvue-sender, attached through our alias of the online run.
                let alias = self.alias(run_id)?;
                let off = self.fallback()?;
                off.save_artifact(&alias, artifact, category)?;
                Err(Error::new(
                    ErrorKind::Network,
                    format!(
                        "{}; artifact {:?} was recorded in {} for simvue-sender",
                        e.message,
                        artifact.name,
                        off.root().join("artifacts").display()
                    ),
                ))
            }
            Err(e) => Err(e),
        }
    }

    fn heartbeat(&self, run_id: &str) -> Result<()> {
        if self.health.degraded() {
            return Ok(());
        }
        self.once("PUT", &format!("/runs/{run_id}/heartbeat"), Body::Empty)
            .map(|_| ())
    }

    fn remote(&self) -> Option<&dyn RemoteSink> {
        Some(self)
    }

    fn close_run(&self, run_id: &str, final_status_written: bool) -> Result<()> {
        // If the final state had to be spilled, mark the alias closed so the sender cleans up
        // its mapping after uploading it (protocol doc §8.6 item 1).
        if !self.spilled_runs.lock().iter().any(|r| r == run_id) {
            return Ok(());
        }
        let alias = self
            .aliases
            .lock()
            .iter()
            .find(|(o, _)| o == run_id)
            .map(|(_, a)| a.clone());
        match alias {
            Some(a) => self.fallback()?.close_run(&a, final_status_written),
            None => Ok(()),
        }
    }
}

impl RemoteSink for OnlineSink {
    fn retry_policy(&self) -> RetryPolicy {
        self.policy
    }

    fn health(&self) -> &Health {
        &self.health
    }

    /// Writes the batch to the cache, keyed by the online run id.
    fn spill_metrics(&self, run_id: &str, batch: &MetricBatch) -> Result<PathBuf> {
        let off = self.fallback()?;
        off.send_metrics(run_id, batch)?;
        Ok(off.root().join("metrics"))
    }

    /// Writes the batch to the cache, keyed by the online run id.
    fn spill_events(&self, run_id: &str, batch: &[EventSet]) -> Result<PathBuf> {
        let off = self.fallback()?;
        off.send_events(run_id, batch)?;
        Ok(off.root().join("events"))
    }

    /// Writes the batch to the cache for simvue-sender, which needs the run and the grids as
    /// offline ids it can map: aliases of the online ones (`server_ids/`).
    fn spill_tensors(&self, run_id: &str, batch: &[TensorSet]) -> Result<PathBuf> {
        let run = self.alias(run_id)?;
        let items = batch
            .iter()
            .map(|t| {
                Ok(TensorSet {
                    grid: self.alias(&t.grid)?.into(),
                    ..t.clone()
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let off = self.fallback()?;
        off.send_tensors(&run, &items)?;
        Ok(off.root().join("grid_metrics"))
    }

    /// `GET /api/runs/{id}/abort`, one attempt.
    fn abort_requested(&self, run_id: &str) -> Result<bool> {
        let v = self.once("GET", &format!("/runs/{run_id}/abort"), Body::Empty)?;
        Ok(v.get("status").and_then(|s| s.as_bool()).unwrap_or(false))
    }

    /// The metric counts of `GET /api/runs/{id}`, summed (protocol doc §4.7).
    fn stored_metric_values(&self, run_id: &str) -> Result<u64> {
        let v = self.once("GET", &format!("/runs/{run_id}"), Body::Empty)?;
        let n = metric_values_in(&v).ok_or_else(|| {
            Error::new(
                ErrorKind::Server,
                format!("GET /runs/{run_id}: the answer has no metric counts"),
            )
        })?;
        self.ours(run_id, n, true)
    }

    /// The `count` of `GET /api/events?run=` (protocol doc §4.7).
    fn stored_events(&self, run_id: &str) -> Result<u64> {
        let n = self.events_in(run_id)?;
        self.ours(run_id, n, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_parsed_and_bounded() {
        assert_eq!(parse_version("1.2.16"), Some((1, 2, 16)));
        assert_eq!(parse_version("1.3.0-rc1"), Some((1, 3, 0)));
        assert_eq!(parse_version("2.1"), Some((2, 1, 0)));
        assert_eq!(parse_version("v3"), None);
        let ok = |v: &str| parse_version(v).is_some_and(|v| v >= SUPPORTED.0 && v < SUPPORTED.1);
        assert!(ok("1.1.0") && ok("1.9.99"));
        assert!(!ok("1.0.9") && !ok("2.0.0"));
    }
}
