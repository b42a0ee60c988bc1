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
use crate::model::{Alert, EventSet, Folder, MetricBatch, RunRecord};
use crate::msgpack;
use crate::offline::OfflineSink;
use crate::sink::{Health, RemoteSink, RetryPolicy, Sink};

/// Server API versions this client speaks (`1.1.0 <= v < 2.0.0`, `config/user.py:45-46`).
pub const SUPPORTED: ((u64, u64, u64), (u64, u64, u64)) = ((1, 1, 0), (2, 0, 0));

/// Parses `major.minor.patch` (ignoring pre-release and build suffixes).
fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
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
        let ca = http::site_ca(config, false);
        let storage_ca = http::site_ca(config, true);
        let policy = RetryPolicy::from_env();
        let health = Health::default();
        // Lifted by the run once init is done (`Run::activate`).
        health.set_deadline(Some(std::time::Instant::now() + policy.init_timeout));
        let sink = OnlineSink {
            http: Http::new(url, token, ca.as_deref(), http::default_timeout())?,
            storage: http::Storage::new(storage_ca.as_deref())?,
            cache_dir: config.cache_dir.clone(),
            fallback: Mutex::new(None),
            policy,
            health,
            storage_health: Health::default(),
            aliases: Mutex::new(Vec::new()),
            spilled_runs: Mutex::new(Vec::new()),
        };
        let url = http::redact(url);
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

    /// A request with retries on the calling thread; gives up at once while degraded.
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        ok: &[u16],
    ) -> Result<serde_json::Value> {
        self.call_with(method, path, &body, ok).map_err(|f| f.error)
    }

    fn call_with(
        &self,
        method: &str,
        path: &str,
        body: &Body<'_>,
        ok: &[u16],
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
        self.policy.run(&self.health, || {
            self.http
                .request(method, path, body.reborrow(), ok, self.health.remaining())
        })
    }

    /// Creates an object (`POST`), taking a 409 that carries `id` as the existing object, as
    /// the Python client does for folders and alerts (protocol doc §2.2).
    fn create(&self, path: &str, body: &Json) -> Result<String> {
        let id_of = |v: &serde_json::Value| v.get("id").and_then(|i| i.as_str()).map(str::to_owned);
        match self.call_with("POST", path, &Body::Json(body), &[200, 201]) {
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

    /// One attempt of a request; the dispatcher retries batches itself
    /// ([`crate::dispatch`]), so that it can spill them.
    fn once(&self, method: &str, path: &str, body: Body<'_>) -> Result<serde_json::Value> {
        self.http
            .request(method, path, body, &[200], self.health.remaining())
            .map_err(|f| f.error)
    }

    /// The artifact flow of simvue 2.6.2 (protocol doc §6.1 and §0 item 4): create it with its
    /// checksum, upload the bytes to the URL the server returns (multipart POST with the
    /// returned `fields`, or a raw PUT when there are none; no token sent there), mark it
    /// uploaded, attach it to the run.
    fn upload_artifact(&self, run_id: &str, artifact: &Artifact, category: Category) -> Result<()> {
        let created = match self.call_with(
            "POST",
            "/artifacts",
            &Body::Json(&artifact.to_online_json()),
            &[200, 201],
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
        if let Some(url) = created
            .get("url")
            .and_then(|u| u.as_str())
            .filter(|u| !u.is_empty())
        {
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
                        .upload(url, &fields, artifact, self.health.remaining())
                })
                .map_err(|f| f.error)?;
        }
        let uploaded = Json::object().with("uploaded", true);
        self.call(
            "PUT",
            &format!("/artifacts/{id}"),
            Body::Json(&uploaded),
            &[200],
        )?;
        let attach = Json::object().with("category", category.as_str());
        self.call(
            "PUT",
            &format!("/runs/{run_id}/artifacts/{id}"),
            Body::Json(&attach),
            &[200],
        )?;
        Ok(())
    }
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
            Ok(v) => RunRecord::from_json(&Json::from_serde(&v)),
            Err(f) if f.status == Some(404) => Err(Error::new(
                ErrorKind::NotFound,
                format!("the server has no run {id}"),
            )),
            Err(f) => Err(f.error),
        }
    }

    fn update_run(&self, id: &str, full: &RunRecord, patch: &Json) -> Result<()> {
        match self.call(
            "PUT",
            &format!("/runs/{id}"),
            Body::Json(patch),
            &[200, 409],
        ) {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::Network => self.spill_run(id, full, e),
            Err(e) => Err(e),
        }
    }

    fn create_alert(&self, alert: &Alert) -> Result<String> {
        self.create("/alerts?deduplicate=True", &alert.to_online_json())
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

    /// `GET /api/runs/{id}/abort`, one attempt.
    fn abort_requested(&self, run_id: &str) -> Result<bool> {
        let v = self.once("GET", &format!("/runs/{run_id}/abort"), Body::Empty)?;
        Ok(v.get("status").and_then(|s| s.as_bool()).unwrap_or(false))
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
