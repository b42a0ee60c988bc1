//! One item of each kind: what the Python sender does with it (protocol doc §8.4), plus the
//! journal that makes it safe to kill.

use std::collections::HashSet;
use std::fs;
use std::time::{Instant, SystemTime};

use parking_lot::Mutex;

use super::cache::{is_cache_id, Entry, Kind};
use super::report::{Outcome, Summary};
use super::{Sender, DEFAULT_HEARTBEAT_TIMEOUT, HEARTBEAT_INTERVAL};
use crate::artifact::CachedArtifact;
use crate::error::{Error, ErrorKind, Result};
use crate::http::Body;
use crate::json::Json;
use crate::model::{self, Alert, Grid, MetricBatch};
use crate::sink::Sink as _;

/// A file written this recently that does not parse may still be being written (the Python
/// client writes in place, not atomically).
const SETTLING: std::time::Duration = std::time::Duration::from_secs(10);

impl Sender<'_> {
    /// Sends one item of `kind`.
    pub(super) fn upload(&self, kind: Kind, e: &Entry) -> Outcome {
        match kind {
            Kind::Folders | Kind::Tags => self.upload_document(kind, e),
            Kind::Alerts => self.upload_alert(e),
            Kind::Runs => self.upload_run(e),
            Kind::Artifacts => self.upload_artifact(e),
            Kind::Metrics | Kind::Events => self.upload_batch(kind, e),
            Kind::Grids => self.upload_grid(e),
            Kind::GridMetrics => self.upload_tensors(e),
            _ => Outcome::Skipped("not an uploadable kind".into()),
        }
    }

    /// Reads an item; `Err` is its outcome (unreadable, being written, marked failed).
    fn read_item(&self, e: &Entry) -> std::result::Result<(Vec<u8>, Json), Outcome> {
        let (bytes, mut json) = match self.cache.read(&e.path) {
            Ok(r) => r,
            Err(err) if err.kind == ErrorKind::Io && !e.path.exists() => {
                return Err(Outcome::Skipped("removed meanwhile".into()))
            }
            Err(err) => {
                let fresh = SystemTime::now()
                    .duration_since(e.modified)
                    .is_ok_and(|age| age < SETTLING);
                return Err(if fresh {
                    Outcome::Waiting("still being written".into())
                } else {
                    Outcome::Failed(err)
                });
            }
        };
        // Python's sender skips what it marked failed unless told to retry (actions.py:204).
        if json.remove("upload_failed") == Some(Json::Bool(true)) && !self.opts.retry_failed {
            return Err(Outcome::Skipped(
                "marked upload_failed by simvue-sender (use --retry-failed)".into(),
            ));
        }
        Ok((bytes, json))
    }

    /// Folders and tags: `POST` (a 409 carrying `id` is the existing object) or, once mapped,
    /// `PUT` of the whole document.
    fn upload_document(&self, kind: Kind, e: &Entry) -> Outcome {
        let (bytes, json) = match self.read_item(e) {
            Ok(r) => r,
            Err(o) => return o,
        };
        let body = model::document_body(&json);
        let endpoint = kind.name();
        let result = (|| -> Result<()> {
            match self.ids.get(&e.id) {
                Some(sid) => {
                    self.sink.call(
                        "PUT",
                        &format!("/{endpoint}/{sid}"),
                        Body::Json(&body),
                        &[200, 409],
                    )?;
                }
                None => {
                    let sid = self.sink.create(&format!("/{endpoint}"), &body)?;
                    self.ids.set(&self.cache, &e.id, &sid)?;
                    // A folder that already existed (409, or made as the parent of another)
                    // keeps its old details: set the cached ones, which 2.6.2 loses.
                    if kind == Kind::Folders {
                        let mut details = body.clone();
                        details.remove("path");
                        if details.as_object().is_some_and(|d| !d.is_empty()) {
                            self.sink.call(
                                "PUT",
                                &format!("/{endpoint}/{sid}"),
                                Body::Json(&details),
                                &[200, 409],
                            )?;
                        }
                    }
                }
            }
            self.cache.remove_if_unchanged(&e.path, &bytes)?;
            Ok(())
        })();
        sent_or_failed(result, 1, e.size)
    }

    /// An alert definition (created with de-duplication, §7.3) and the states of a user alert,
    /// which need their run on the server: a state whose run is not uploaded yet stays in the
    /// file (as a state-only record, the form the Python sender also reads, §8.6 item 5) for
    /// after the runs.
    pub(super) fn upload_alert(&self, e: &Entry) -> Outcome {
        let (bytes, json) = match self.read_item(e) {
            Ok(r) => r,
            Err(o) => return o,
        };
        let states: Vec<(String, Json)> = json
            .get("status")
            .and_then(Json::as_object)
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        let definition = json.get("source").is_some();
        let result = (|| -> Result<Outcome> {
            let sid = match self.ids.get(&e.id) {
                Some(sid) => {
                    if definition {
                        let body = Alert::body_from_cache(&json)?;
                        self.sink.call(
                            "PUT",
                            &format!("/alerts/{sid}"),
                            Body::Json(&body),
                            &[200, 409],
                        )?;
                    }
                    sid
                }
                None if !definition => {
                    return Ok(Outcome::Failed(Error::invalid(
                        "a user-alert state for an alert that was never uploaded",
                    )))
                }
                None => {
                    let body = Alert::body_from_cache(&json)?;
                    let sid = self.sink.create("/alerts?deduplicate=True", &body)?;
                    self.ids.set(&self.cache, &e.id, &sid)?;
                    sid
                }
            };
            let mut waiting = Vec::new();
            for (run, state) in states {
                match self.ids.resolve(&run) {
                    Some(r) => {
                        let body = Json::object().with("status", state);
                        self.sink.call(
                            "PUT",
                            &format!("/alerts/{sid}/status/{r}"),
                            Body::Json(&body),
                            &[200],
                        )?;
                    }
                    None => waiting.push((run, state)),
                }
            }
            if waiting.is_empty() {
                self.cache.remove_if_unchanged(&e.path, &bytes)?;
                return Ok(Outcome::Sent {
                    records: 1,
                    bytes: e.size,
                });
            }
            let runs: Vec<String> = waiting.iter().map(|w| w.0.clone()).collect();
            if definition {
                // Keep only the states, unless the writer replaced the file meanwhile.
                let rest = Json::object()
                    .with(
                        "obj_type",
                        json.get("obj_type").cloned().unwrap_or(Json::Null),
                    )
                    .with("status", Json::Object(waiting));
                if fs::read(&e.path).is_ok_and(|now| now == bytes) {
                    self.cache
                        .write_atomic(&e.path, rest.to_python_json().as_bytes())?;
                }
                return Ok(Outcome::Sent {
                    records: 1,
                    bytes: e.size,
                });
            }
            Ok(Outcome::Waiting(format!(
                "its state waits for run {} to be uploaded",
                runs.join(", ")
            )))
        })();
        result.unwrap_or_else(Outcome::Failed)
    }

    /// A run: its alert references rewritten to server ids (§8.4 step 4), then `POST` (under
    /// the journal: the next pass asks the server whether an interrupted one arrived) or, once
    /// mapped, `PUT` of the whole state. A file the writer replaced during the upload is kept
    /// for the next pass.
    fn upload_run(&self, e: &Entry) -> Outcome {
        let (bytes, json) = match self.read_item(e) {
            Ok(r) => r,
            Err(o) => return o,
        };
        let mut alerts: Vec<String> = Vec::new();
        let mut alert_ids: Vec<String> = Vec::new();
        for a in json
            .get("alerts")
            .and_then(Json::as_array)
            .unwrap_or(&[])
            .iter()
            .filter_map(Json::as_str)
        {
            let online = match self.ids.resolve(a) {
                Some(o) => o,
                None if self.cache.path("alerts", a, "json").exists() => {
                    return Outcome::Waiting(format!("its alert {a} is not uploaded yet"))
                }
                None => {
                    // Its mapping went with another closed run (§8.6 item 3): 2.6.2 stops on
                    // this for good; we send the run without it.
                    self.observer.note(&format!(
                        "run {}: alert {a} is no longer known; sent without it",
                        e.id
                    ));
                    continue;
                }
            };
            if !alerts.contains(&online) {
                alerts.push(online);
            }
            alert_ids.push(a.to_owned());
        }
        let mut body = model::document_body(&json);
        if body.get("alerts").is_some() {
            body.set("alerts", alerts.into());
        }
        let result = (|| -> Result<()> {
            let mut sid = self.ids.get(&e.id);
            if sid.is_none() && self.journal.pending(Kind::Runs, &e.id).is_some() {
                // The last attempt died during the POST: was the run created?
                self.settle(Kind::Runs, &e.id);
                if let Some(found) = self.find_run(&json)? {
                    self.ids.set(&self.cache, &e.id, &found)?;
                    self.observer.note(&format!(
                        "run {}: an interrupted upload had created it as {found}",
                        e.id
                    ));
                    sid = Some(found);
                }
                self.journal.end(Kind::Runs, &e.id)?;
            }
            let sid = match sid {
                Some(sid) => {
                    self.sink.call(
                        "PUT",
                        &format!("/runs/{sid}"),
                        Body::Json(&body),
                        &[200, 409],
                    )?;
                    sid
                }
                None => {
                    self.journal
                        .begin(&self.cache, Kind::Runs, &e.id, &Json::object())?;
                    // A retry first looks for the run a failed attempt may have created.
                    let sid = self
                        .sink
                        .create_checked("/runs", &body, &|| self.find_run(&json))?;
                    self.ids.set(&self.cache, &e.id, &sid)?;
                    self.journal.end(Kind::Runs, &e.id)?;
                    sid
                }
            };
            let mut info = Json::object()
                .with("online", sid.as_str())
                .with("alerts", alert_ids)
                .with("sent", crate::time::Timestamp::now().to_string());
            for key in [
                "name",
                "folder",
                "status",
                "created",
                "heartbeat_timeout",
                "folder_id",
            ] {
                if let Some(v) = json.get(key) {
                    info.set(key, v.clone());
                }
            }
            self.journal.update_run(&self.cache, &e.id, &info)?;
            self.cache.remove_if_unchanged(&e.path, &bytes)?;
            Ok(())
        })();
        sent_or_failed(result, 1, e.size)
    }

    /// What an item's run reference resolves to; `Err` is the outcome when it cannot be sent
    /// yet.
    fn run_of(&self, reference: &str) -> std::result::Result<String, Outcome> {
        self.ids.resolve(reference).ok_or_else(|| {
            if self.cache.path("runs", reference, "json").exists() {
                Outcome::Waiting(format!("its run {reference} is not uploaded yet"))
            } else {
                Outcome::Failed(Error::new(
                    ErrorKind::NotFound,
                    format!("its run {reference} is neither uploaded nor in the cache"),
                ))
            }
        })
    }

    /// An artifact: created (journaled with the server's answer), its bytes uploaded, marked
    /// uploaded and attached to its runs (§6.1). A pass that resumes an interrupted one
    /// continues from the recorded artifact instead of creating another.
    fn upload_artifact(&self, e: &Entry) -> Outcome {
        let (bytes, json) = match self.read_item(e) {
            Ok(r) => r,
            Err(o) => return o,
        };
        let object = self.cache.path("artifacts", &e.id, "object");
        let cached = match CachedArtifact::from_json(&json, &object) {
            Ok(c) => c,
            Err(err) => return Outcome::Failed(err),
        };
        let mut runs = Vec::new();
        for (run, category) in &cached.runs {
            match self.run_of(run) {
                Ok(r) => runs.push((r, *category)),
                Err(o) => return o,
            }
        }
        let result = (|| -> Result<()> {
            let pending = self.journal.pending(Kind::Artifacts, &e.id);
            if pending.is_some() {
                self.settle(Kind::Artifacts, &e.id);
            }
            let mut resumed = None;
            if let Some(slot) = pending.as_ref().and_then(recorded_slot) {
                resumed = self
                    .artifact_state(&slot.id)?
                    .map(|uploaded| (slot, uploaded));
            } else if pending.is_some() {
                self.remove_orphans(&cached)?;
            }
            let (slot, uploaded) = match resumed {
                Some(r) => r,
                None => {
                    self.journal.begin(
                        &self.cache,
                        Kind::Artifacts,
                        &e.id,
                        &Json::object().with("phase", "create"),
                    )?;
                    let slot = self
                        .sink
                        .create_artifact_checked(&cached.body, &|| self.remove_orphans(&cached))?;
                    self.journal
                        .begin(&self.cache, Kind::Artifacts, &e.id, &slot_record(&slot))?;
                    (slot, false)
                }
            };
            if !uploaded {
                self.sink.upload_to_storage(&slot, &cached.artifact)?;
                self.sink.mark_uploaded(&slot.id)?;
            }
            for (run, category) in &runs {
                self.sink.attach_artifact(run, &slot.id, *category)?;
            }
            // The Python sender's post-tasks (§8.4 step 5): the record, an object's bytes, and
            // a snapshot copy kept in the cache's own artifacts folder.
            if self.cache.remove_if_unchanged(&e.path, &bytes)? {
                let _ = fs::remove_file(&object);
                if let crate::artifact::Content::File { path, .. } = &cached.artifact.content {
                    if path.parent() == Some(&self.cache.root().join("artifacts")) {
                        let _ = fs::remove_file(path);
                    }
                }
            }
            self.journal.end(Kind::Artifacts, &e.id)
        })();
        sent_or_failed(result, 1, cached.artifact.size)
    }

    /// A metrics or events batch, sent through the online sink under its retry policy, as the
    /// network thread of a live run sends them; journaled so that a batch whose request was
    /// interrupted is first looked for on the server.
    fn upload_batch(&self, kind: Kind, e: &Entry) -> Outcome {
        let (_, json) = match self.read_item(e) {
            Ok(r) => r,
            Err(o) => return o,
        };
        enum Batch {
            Metrics(Vec<model::MetricSet>),
            Events(Vec<model::EventSet>),
        }
        let read = if kind == Kind::Metrics {
            model::read_metrics_batch(&json).map(|(r, m)| (r, Batch::Metrics(m)))
        } else {
            model::read_events_batch(&json).map(|(r, v)| (r, Batch::Events(v)))
        };
        let (reference, batch) = match read {
            Ok(r) => r,
            Err(err) => return Outcome::Failed(err),
        };
        let run = match self.run_of(&reference) {
            Ok(r) => r,
            Err(o) => return o,
        };
        let records = match &batch {
            Batch::Metrics(m) => m.len(),
            Batch::Events(v) => v.len(),
        } as u64;
        let Some(remote) = self.sink.remote() else {
            return Outcome::Failed(Error::state("the sink is not a server"));
        };
        let delivered = |run: &str, batch: &Batch| match batch {
            Batch::Metrics(m) => self.metrics_delivered(run, m),
            Batch::Events(v) => self.events_delivered(run, v),
        };
        if self.journal.pending(kind, &e.id).is_some() {
            self.settle(kind, &e.id);
            match delivered(&run, &batch) {
                Ok(true) => return self.already_there(kind, e, records),
                Ok(false) => {}
                Err(err) => return unaskable(err),
            }
        }
        if let Some(down) = self.degraded(remote) {
            return down;
        }
        let result = (|| -> Result<()> {
            self.journal.begin(
                &self.cache,
                kind,
                &e.id,
                &Json::object().with("run", run.as_str()),
            )?;
            // A retry first asks whether the failed attempt arrived after all (its answer lost
            // with a connection the server dropped).
            let mut first = true;
            let sent = remote.retry_policy().run(remote.health(), || {
                if !std::mem::take(&mut first) && delivered(&run, &batch)? {
                    return Ok(());
                }
                match &batch {
                    Batch::Metrics(m) => self.sink.send_metrics(&run, &MetricBatch::from_sets(m)),
                    Batch::Events(v) => self.sink.send_events(&run, v),
                }
            });
            if let Err(err) = sent {
                // A refusal is final (nothing arrived); a network failure may hide a delivery,
                // which the journal entry makes the next pass check.
                if err.kind != ErrorKind::Network {
                    self.journal.end(kind, &e.id)?;
                }
                return Err(err);
            }
            self.done_with(kind, e)
        })();
        sent_or_failed(result, records, e.size)
    }

    /// A grid (protocol doc §4.6): created (`POST /api/grids`) or, once mapped, updated
    /// (`PUT /api/grids/{id}`), then each of its (run, metric) pairs attached
    /// (`PUT /api/runs/{run}/grids/{grid}`), as 2.6.2's `GridUploadAction` does. Unlike 2.6.2,
    /// which keeps a grid's server id in memory for its pass only, the id goes to
    /// `server_ids/` as soon as the grid exists: arrays written after this pass, and the grid's
    /// file rewritten for a new attachment, then find it instead of failing (2.6.2) or
    /// creating a second grid. Its runs must be uploaded first (2.6.2 creates the grid, then
    /// fails on the unmapped run and marks the file failed).
    fn upload_grid(&self, e: &Entry) -> Outcome {
        let (bytes, json) = match self.read_item(e) {
            Ok(r) => r,
            Err(o) => return o,
        };
        let grid = match Grid::from_cache(&json) {
            Ok(g) => g,
            Err(err) => return Outcome::Failed(err),
        };
        let mut runs = Vec::new();
        for (run, metric) in &grid.runs {
            match self.run_of(run) {
                Ok(online) => runs.push((run.as_str(), online, metric.as_str())),
                Err(o) => return o,
            }
        }
        let body = grid.to_online_json();
        let result = (|| -> Result<()> {
            let sid = match self.ids.get(&e.id) {
                Some(sid) => {
                    self.sink
                        .call("PUT", &format!("/grids/{sid}"), Body::Json(&body), &[200])?;
                    sid
                }
                None => {
                    if self.journal.pending(Kind::Grids, &e.id).is_some() {
                        // Its id is recorded before any attachment, so what the interrupted
                        // POST may have made is a grid attached to nothing, which no known
                        // read finds for sure (grids are not unique by name; protocol doc
                        // §8.7): it stays, empty, and this one is used.
                        self.observer.note(&format!(
                            "grid {} ({:?}): an interrupted upload may have left an empty, \
                             unattached copy on the server; created again",
                            e.id, grid.name
                        ));
                    }
                    self.journal
                        .begin(&self.cache, Kind::Grids, &e.id, &Json::object())?;
                    // No listing to look in before a retry (see above): say what it may leave.
                    let sid = self.sink.create_checked("/grids", &body, &|| {
                        self.observer.note(&format!(
                            "grid {} ({:?}): created again after a failed attempt; if that \
                             attempt reached the server, an empty copy attached to nothing \
                             stays there",
                            e.id, grid.name
                        ));
                        Ok(None)
                    })?;
                    self.ids.set(&self.cache, &e.id, &sid)?;
                    self.journal.end(Kind::Grids, &e.id)?;
                    sid
                }
            };
            for (cached_run, online, metric) in &runs {
                self.sink.attach_grid(&sid, &grid, online, metric)?;
                if is_cache_id(cached_run) {
                    self.remember_grid(cached_run, &e.id)?;
                }
            }
            self.cache.remove_if_unchanged(&e.path, &bytes)?;
            Ok(())
        })();
        sent_or_failed(result, 1, e.size)
    }

    /// Adds grid `grid` (a cache id) to what the journal remembers of run `run`, so that its
    /// mapping is removed with the run's once the run is closed.
    fn remember_grid(&self, run: &str, grid: &str) -> Result<()> {
        let _guard = self.run_notes.lock();
        let mut grids: Vec<String> = self
            .journal
            .run(run)
            .and_then(|j| {
                j.get("grids")
                    .and_then(Json::as_array)
                    .map(<[Json]>::to_vec)
            })
            .unwrap_or_default()
            .iter()
            .filter_map(|g| g.as_str().map(str::to_owned))
            .collect();
        if grids.iter().any(|g| g == grid) {
            return Ok(());
        }
        grids.push(grid.to_owned());
        self.journal
            .update_run(&self.cache, run, &Json::object().with("grids", grids))
    }

    /// The server id of grid `reference` for the arrays of metric `metric` of run `run`:
    /// its mapping; else, when its file is gone (a grid `simvue-sender` 2.6.2 uploaded, whose
    /// id it never records), the one grid the server lists for that metric of the run
    /// (`GET /api/runs/{run}/grids`). `Err` is the outcome when there is none yet.
    fn grid_of(
        &self,
        reference: &str,
        run: &str,
        metric: &str,
    ) -> std::result::Result<String, Outcome> {
        if let Some(g) = self.ids.resolve(reference) {
            return Ok(g);
        }
        if self.cache.path("grids", reference, "json").exists() {
            return Err(Outcome::Waiting(format!(
                "its grid {reference} is not uploaded yet"
            )));
        }
        match self.find_run_grid(run, metric) {
            Ok(Some(g)) => {
                self.ids
                    .set(&self.cache, reference, &g)
                    .map_err(Outcome::Failed)?;
                self.observer.note(&format!(
                    "grid {reference}: not in the cache nor in server_ids/ (uploaded by \
                     simvue-sender); found as {g}, the grid of metric {metric:?} of run {run}"
                ));
                Ok(g)
            }
            Ok(None) => Err(Outcome::Failed(Error::new(
                ErrorKind::NotFound,
                format!(
                    "its grid {reference} is neither uploaded nor in the cache, and run {run} \
                     has no grid for metric {metric:?} on the server"
                ),
            ))),
            Err(err) => Err(Outcome::Failed(err)),
        }
    }

    /// A tensor metrics batch (`grid_metrics/<id>.json`): its run and grids mapped, then
    /// `POST /api/runs/{run}/metrics/` through the online sink under its retry policy, as the
    /// network thread of a live run sends it. A request whose outcome is unknown (a killed
    /// pass, whose journal entry says so, or an attempt that failed after it went out) is
    /// settled by asking the server which of the batch's arrays it holds
    /// ([`Sender::tensors_delivered`], one read per metric and step of the batch): none are
    /// sent twice, and only the missing ones are sent. Arrays the server cannot tell about
    /// (an older server without that read) are sent again, with a note that they may be
    /// stored twice (losing them would be worse). Protocol doc §8.7.
    fn upload_tensors(&self, e: &Entry) -> Outcome {
        let (_, json) = match self.read_item(e) {
            Ok(r) => r,
            Err(o) => return o,
        };
        let (reference, mut items) = match model::read_tensors_batch(&json) {
            Ok(r) => r,
            Err(err) => return Outcome::Failed(err),
        };
        let run = match self.run_of(&reference) {
            Ok(r) => r,
            Err(o) => return o,
        };
        let mut grids: Vec<(std::sync::Arc<str>, std::sync::Arc<str>)> = Vec::new();
        for t in &mut items {
            let online = match grids.iter().find(|(c, _)| *c == t.grid) {
                Some((_, o)) => o.clone(),
                None => match self.grid_of(&t.grid, &run, &t.metric) {
                    Ok(o) => {
                        let o: std::sync::Arc<str> = o.into();
                        grids.push((t.grid.clone(), o.clone()));
                        o
                    }
                    Err(outcome) => return outcome,
                },
            };
            t.grid = online;
        }
        let records = items.len() as u64;
        let Some(remote) = self.sink.remote() else {
            return Outcome::Failed(Error::state("the sink is not a server"));
        };
        if self.journal.pending(Kind::GridMetrics, &e.id).is_some() {
            self.settle(Kind::GridMetrics, &e.id);
            let missing = self.tensors_missing(&e.id, "an interrupted attempt", &run, &mut items);
            match missing {
                Ok(true) => {}
                Ok(false) => return self.already_there(Kind::GridMetrics, e, records),
                Err(err) => return unaskable(err),
            }
        }
        if let Some(down) = self.degraded(remote) {
            return down;
        }
        let result = (|| -> Result<()> {
            self.journal.begin(
                &self.cache,
                Kind::GridMetrics,
                &e.id,
                &Json::object().with("run", run.as_str()),
            )?;
            // After an attempt that failed once sent, the next one first asks what arrived
            // (until the server has answered that question: an error asking is retried).
            let mut doubtful = false;
            let sent = remote.retry_policy().run(remote.health(), || {
                if doubtful {
                    let missing =
                        self.tensors_missing(&e.id, "an attempt that failed", &run, &mut items)?;
                    doubtful = false;
                    if !missing {
                        return Ok(());
                    }
                }
                self.sink.send_tensors(&run, &items).inspect_err(|err| {
                    doubtful = err.outcome != crate::error::Outcome::NotStored;
                })
            });
            if let Err(err) = sent {
                // A refusal is final (nothing arrived); after a network failure, or while the
                // server could not be asked what arrived, the journal entry makes the next
                // pass ask.
                if err.kind != ErrorKind::Network && !doubtful {
                    self.journal.end(Kind::GridMetrics, &e.id)?;
                }
                return Err(err);
            }
            self.done_with(Kind::GridMetrics, e)
        })();
        sent_or_failed(result, records, e.size)
    }

    /// Keeps in `items` only the arrays of batch `id` that the server does not hold after
    /// `attempt` whose outcome is unknown, and those it cannot tell about, saying what it did
    /// when it is not the plain case (none held). `Ok(false)`: nothing is left to send.
    fn tensors_missing(
        &self,
        id: &str,
        attempt: &str,
        run: &str,
        items: &mut Vec<model::TensorSet>,
    ) -> Result<bool> {
        let told = self.tensors_delivered(run, items)?;
        let n = items.len();
        let held = told.held.iter().filter(|h| **h == Some(true)).count();
        let unknown = told.held.iter().filter(|h| h.is_none()).count();
        if held > 0 && held < n {
            self.observer.note(&format!(
                "grid metrics {id}: {attempt} had stored {held} of its {n} array(s); the other \
                 {} sent",
                n - held
            ));
        }
        if unknown > 0 {
            self.observer.note(&format!(
                "grid metrics {id}: {attempt} may have stored {unknown} array(s) the server \
                 cannot be asked about ({}); sent again, so they may be stored twice",
                told.unknown.as_deref().unwrap_or("no answer")
            ));
        }
        let mut held_flags = told.held.into_iter();
        items.retain(|_| held_flags.next().flatten() != Some(true));
        Ok(!items.is_empty())
    }

    /// A batch an interrupted attempt delivered after all: its file and journal entry go, and
    /// it counts as already on the server.
    fn already_there(&self, kind: Kind, e: &Entry, records: u64) -> Outcome {
        match self.done_with(kind, e) {
            Ok(()) => Outcome::AlreadyThere { records },
            Err(err) => Outcome::Failed(err),
        }
    }

    /// A batch the server holds: its file and its journal entry go.
    fn done_with(&self, kind: Kind, e: &Entry) -> Result<()> {
        fs::remove_file(&e.path)
            .map_err(|err| Error::io(format!("cannot remove {}", e.path.display()), err))?;
        self.journal.end(kind, &e.id)
    }

    /// A batch is not sent while the server is degraded: it fails, kept for the next pass.
    fn degraded(&self, remote: &dyn crate::sink::RemoteSink) -> Option<Outcome> {
        remote.health().degraded().then(|| {
            Outcome::Failed(Error::new(
                ErrorKind::Network,
                format!("{}: the server is unreachable", self.sink.url()),
            ))
        })
    }

    /// Heartbeats of running runs (§8.4 step 6), except that a run whose heartbeat file is older
    /// than its heartbeat timeout (its job died without closing it) is marked `lost` instead of
    /// being kept alive forever; the heartbeat file of a run no longer mapped is removed.
    pub(super) fn heartbeat_pass(&self, summary: &Mutex<Summary>) {
        let entries = self.cache.list("runs", "heartbeat");
        let work: Vec<_> = entries
            .into_iter()
            .filter(|e| !self.cache.path("runs", &e.id, "closed").exists())
            .filter(|e| {
                self.ids.get(&e.id).is_some() || !self.cache.path("runs", &e.id, "json").exists()
            })
            .collect();
        self.each(Kind::Heartbeat, work, summary, |e| self.heartbeat(e));
    }

    fn heartbeat(&self, e: &Entry) -> Outcome {
        let Some(sid) = self.ids.get(&e.id) else {
            // Uploaded and closed earlier (what 2.6.2 does with it on the next pass).
            let _ = fs::remove_file(&e.path);
            return Outcome::Tidied;
        };
        let timeout = self.heartbeat_timeout(&e.id);
        let age = SystemTime::now()
            .duration_since(e.modified)
            .unwrap_or_default();
        if let Some(t) = timeout.filter(|t| age.as_secs() > *t) {
            let body = Json::object().with("status", "lost");
            let result = self
                .sink
                .call(
                    "PUT",
                    &format!("/runs/{sid}"),
                    Body::Json(&body),
                    &[200, 409],
                )
                .and_then(|_| {
                    self.journal.update_run(
                        &self.cache,
                        &e.id,
                        &Json::object().with("status", "lost").with("lost", true),
                    )
                });
            return match result {
                Ok(()) => {
                    // Unless it was touched meanwhile (the job is alive after all).
                    let same = fs::metadata(&e.path)
                        .and_then(|m| m.modified())
                        .is_ok_and(|m| m == e.modified);
                    if same {
                        let _ = fs::remove_file(&e.path);
                    }
                    self.observer.note(&format!(
                        "run {} ({sid}) marked lost: no heartbeat for {} s (timeout {t} s)",
                        e.id,
                        age.as_secs()
                    ));
                    Outcome::MarkedLost
                }
                Err(err) => Outcome::Failed(err),
            };
        }
        let now = Instant::now();
        if self
            .heartbeats
            .lock()
            .get(&e.id)
            .is_some_and(|t| now.duration_since(*t) < HEARTBEAT_INTERVAL)
        {
            return Outcome::Sent {
                records: 0,
                bytes: 0,
            };
        }
        match self.sink.call(
            "PUT",
            &format!("/runs/{sid}/heartbeat"),
            Body::Empty,
            &[200],
        ) {
            Ok(_) => {
                self.heartbeats.lock().insert(e.id.clone(), now);
                Outcome::Sent {
                    records: 0,
                    bytes: 0,
                }
            }
            Err(err) => Outcome::Failed(err),
        }
    }

    /// The run's heartbeat timeout in seconds: from its cache file, else from what was
    /// remembered when it was sent, else 2.6.2's default; `None` when the run has none.
    fn heartbeat_timeout(&self, id: &str) -> Option<u64> {
        let from = |j: &Json| match j.get("heartbeat_timeout") {
            Some(Json::Null) => Some(None),
            Some(v) => v.as_i64().map(|t| Some(t.max(0) as u64)),
            None => None,
        };
        self.cache
            .read(&self.cache.path("runs", id, "json"))
            .ok()
            .and_then(|(_, j)| from(&j))
            .or_else(|| self.journal.run(id).and_then(|j| from(&j)))
            .unwrap_or(Some(DEFAULT_HEARTBEAT_TIMEOUT))
    }

    /// Tidies runs whose final state was sent (`.closed` and no run file left), once nothing
    /// that refers to them is left in the cache: their heartbeat file, the mappings of the run
    /// and its alerts (and folder, where recorded), and the marker, as 2.6.2 does right after
    /// the run (§8.4 step 5), which loses the batches still waiting for it.
    pub(super) fn close_finished_runs(&self, summary: &Mutex<Summary>) {
        let closed: Vec<Entry> = self
            .cache
            .list("runs", "closed")
            .into_iter()
            .filter(|c| !self.cache.path("runs", &c.id, "json").exists())
            .collect();
        if closed.is_empty() {
            return;
        }
        let referenced = self.referenced_runs();
        for c in closed {
            if referenced.contains(&c.id) {
                continue;
            }
            if self.ids.get(&c.id).is_some() {
                let info = self.journal.run(&c.id).unwrap_or_else(Json::object);
                let _ = fs::remove_file(self.cache.path("runs", &c.id, "heartbeat"));
                for a in info
                    .get("alerts")
                    .and_then(Json::as_array)
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(Json::as_str)
                {
                    self.ids.remove(a);
                }
                if let Some(f) = info.get("folder_id").and_then(Json::as_str) {
                    self.ids.remove(f);
                }
                for g in info
                    .get("grids")
                    .and_then(Json::as_array)
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(Json::as_str)
                {
                    if !self.grid_still_needed(g, &c.id) {
                        self.ids.remove(g);
                    }
                }
                self.ids.remove(&c.id);
                let _ = self.journal.update_run(
                    &self.cache,
                    &c.id,
                    &Json::object().with("closed", true),
                );
                summary.lock().record(Kind::Runs, &c.id, &Outcome::Tidied);
            }
            let _ = fs::remove_file(&c.path);
        }
    }

    /// Whether grid `grid` (a cache id) may still be needed once run `closing` is closed: its
    /// file is still in the cache, or another run not closed yet has it attached.
    fn grid_still_needed(&self, grid: &str, closing: &str) -> bool {
        self.cache.path("grids", grid, "json").exists()
            || self.journal.runs().iter().any(|(id, info)| {
                id != closing
                    && info.get("closed") != Some(&Json::Bool(true))
                    && info
                        .get("grids")
                        .and_then(Json::as_array)
                        .is_some_and(|g| g.iter().any(|x| x.as_str() == Some(grid)))
            })
    }

    /// The cache ids of the runs that items left in the cache refer to.
    fn referenced_runs(&self) -> HashSet<String> {
        let mut out = HashSet::new();
        for dir in ["metrics", "events", "grid_metrics"] {
            for e in self.cache.list(dir, "json") {
                if let Some(r) = run_in_head(&e.path) {
                    out.insert(r);
                }
            }
        }
        for dir in ["artifacts", "alerts", "grids"] {
            for e in self.cache.list(dir, "json") {
                let Ok((_, j)) = self.cache.read(&e.path) else {
                    continue;
                };
                for key in ["runs", "status"] {
                    match j.get(key) {
                        // artifacts' runs and user-alert states: keyed by run
                        Some(Json::Object(entries)) => {
                            out.extend(entries.iter().map(|(k, _)| k.clone()))
                        }
                        // a grid's runs: [run, metric] pairs
                        Some(Json::Array(pairs)) => out.extend(
                            pairs
                                .iter()
                                .filter_map(|p| p.as_array()?.first()?.as_str().map(str::to_owned)),
                        ),
                        _ => {}
                    }
                }
            }
        }
        out.retain(|r| is_cache_id(r));
        out
    }
}

/// The `run` of a batch file, read from its first kilobytes (both writers put it near the
/// top), without parsing a file that may hold 16000 items.
fn run_in_head(path: &std::path::Path) -> Option<String> {
    use std::io::Read as _;
    let mut head = vec![0u8; 4096];
    let n = fs::File::open(path).ok()?.read(&mut head).ok()?;
    let text = String::from_utf8_lossy(&head[..n]);
    let at = text.find("\"run\"")? + 5;
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

/// A batch left in doubt whose fate the server could not be asked about now: failed, kept for
/// the next pass (its journal entry stays).
fn unaskable(err: Error) -> Outcome {
    Outcome::Failed(Error::new(
        err.kind,
        format!(
            "an interrupted attempt may have delivered it, and the server could not be asked: {}",
            err.message
        ),
    ))
}

fn sent_or_failed(result: Result<()>, records: u64, bytes: u64) -> Outcome {
    match result {
        Ok(()) => Outcome::Sent { records, bytes },
        Err(e) => Outcome::Failed(e),
    }
}

fn slot_record(slot: &crate::online::ArtifactSlot) -> Json {
    let fields = Json::Object(
        slot.fields
            .iter()
            .map(|(k, v)| (k.clone(), Json::Str(v.clone())))
            .collect(),
    );
    Json::object()
        .with("phase", "created")
        .with("id", slot.id.as_str())
        .with("url", slot.url.clone())
        .with("fields", fields)
}

fn recorded_slot(j: &Json) -> Option<crate::online::ArtifactSlot> {
    Some(crate::online::ArtifactSlot {
        id: j.get("id")?.as_str()?.to_owned(),
        url: j.get("url").and_then(Json::as_str).map(str::to_owned),
        fields: j
            .get("fields")
            .and_then(Json::as_object)
            .unwrap_or(&[])
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
            .collect(),
    })
}
