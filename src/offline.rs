//! The offline sink: writes exactly the cache simvue 2.6.2 writes (protocol doc §8), so that the
//! unmodified `simvue-sender` uploads it from a login node.
//!
//! Every file is written to a temporary name (`.<stem>.json.tmp<n>`, which never matches the
//! sender's `*.json` glob) and renamed into place, so a process killed at any moment leaves only
//! complete files. Files the sender owns (`server_ids/`, `sender.lock`, `version.json`) are only
//! ever read.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::artifact::{Artifact, Category, Content};
use crate::error::{Error, Result};
use crate::ids;
use crate::json::Json;
use crate::model::{
    self, Alert, AlertState, EventSet, Folder, Grid, MetricBatch, RunRecord, TensorSet,
};
use crate::sink::{RunPatch, Sink};

/// A temporary file not modified for this long belongs to a writer that died (a SIGKILLed
/// run): live writers rename theirs within moments, and even a large object's copy keeps
/// its modification time fresh while it is written.
pub const STALE_TMP_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// Metric batch text is handed to the file in pieces of about this size: few writes, a
/// buffer that stays small whatever the batch, and, after each, the written sets stop counting
/// against the queue's memory bound (about a quarter of a millisecond of writing: the longest
/// a caller of a full blocking queue waits for room).
const WRITE_CHUNK: usize = 128 * 1024;

/// Writes cache files under one cache directory.
#[derive(Debug)]
pub struct OfflineSink {
    root: PathBuf,
    tmp_counter: AtomicU64,
    /// The metrics writer's buffer, kept between batches.
    scratch: parking_lot::Mutex<Vec<u8>>,
}

impl OfflineSink {
    /// Uses (and creates, with parents) the cache directory `root`.
    pub fn new(root: impl Into<PathBuf>) -> Result<OfflineSink> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| {
            Error::io(
                format!("cannot create cache directory {}", root.display()),
                e,
            )
        })?;
        remove_stale_tmp_files(&root, STALE_TMP_AGE);
        survive_file_size_limit();
        Ok(OfflineSink {
            root,
            tmp_counter: AtomicU64::new(0),
            scratch: parking_lot::Mutex::new(Vec::new()),
        })
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of `<kind>/<id>.<ext>` in the cache.
    pub fn path(&self, kind: &str, id: &str, ext: &str) -> PathBuf {
        self.root.join(kind).join(format!("{id}.{ext}"))
    }

    /// Writes `json` to `<kind>/<id>.json` atomically.
    pub fn write_object(&self, kind: &str, id: &str, json: &Json) -> Result<()> {
        self.write_text(kind, id, &json.to_python_json())
    }

    /// Writes `text` to `<kind>/<id>.json` atomically: a temporary name, then a rename.
    pub fn write_text(&self, kind: &str, id: &str, text: &str) -> Result<()> {
        self.write_bytes(kind, id, "json", text.as_bytes())
    }

    /// Writes `bytes` to `<kind>/<id>.<ext>` atomically.
    pub fn write_bytes(&self, kind: &str, id: &str, ext: &str, bytes: &[u8]) -> Result<()> {
        self.write_with(kind, id, ext, |f| f.write_all(bytes))
    }

    /// Writes `<kind>/<id>.<ext>` atomically with what `fill` writes into the open file: a
    /// temporary name, then a rename. The directory is created when the file cannot be (so
    /// the common case costs no system call for it).
    pub fn write_with(
        &self,
        kind: &str,
        id: &str,
        ext: &str,
        fill: impl FnOnce(&mut fs::File) -> std::io::Result<()>,
    ) -> Result<()> {
        let dir = self.root.join(kind);
        let target = dir.join(format!("{id}.{ext}"));
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{id}.{ext}.tmp{}-{n}", std::process::id()));
        let create = || match fs::File::create(&tmp) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(&dir)?;
                fs::File::create(&tmp)
            }
            r => r,
        };
        let write = || -> std::io::Result<()> {
            let mut f = create()?;
            fill(&mut f)?;
            drop(f);
            fs::rename(&tmp, &target)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io(format!("cannot write {}", target.display()), e)
        })
    }

    /// Creates `runs/<id>.<marker>` if missing and sets its modification time to now, as
    /// `Path.touch()` does.
    fn touch(&self, id: &str, marker: &str) -> Result<()> {
        let path = self.path("runs", id, marker);
        let f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(format!("cannot touch {}", path.display()), e))?;
        f.set_modified(std::time::SystemTime::now())
            .map_err(|e| Error::io(format!("cannot touch {}", path.display()), e))
    }

    /// Where snapshot copies of saved files go (`<cache>/artifacts`, as the Python client).
    pub fn staging_dir(&self) -> PathBuf {
        self.root.join("artifacts")
    }

    /// Whether the sender has already created run `id` on a server (`server_ids/<id>.txt`).
    pub fn uploaded(&self, id: &str) -> bool {
        self.path("server_ids", id, "txt").is_file()
    }

    /// Reads back `runs/<id>.json`, if it is still in the cache (the sender deletes it after
    /// uploading).
    pub fn read_run(&self, id: &str) -> Result<Option<RunRecord>> {
        let path = self.path("runs", id, "json");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
        };
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(format!("{} is not valid JSON: {e}", path.display())))?;
        RunRecord::from_json(&Json::from_serde(&value)).map(Some)
    }

    /// Reads back `<kind>/<id>.json` as a tree, if it is in the cache (key order is not kept).
    fn read_object(&self, kind: &str, id: &str) -> Result<Option<Json>> {
        let path = self.path(kind, id, "json");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
        };
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(format!("{} is not valid JSON: {e}", path.display())))?;
        Ok(Some(Json::from_serde(&value)))
    }

    /// Whether run `id` was closed (`runs/<id>.closed`).
    pub fn is_closed(&self, id: &str) -> bool {
        self.path("runs", id, "closed").exists()
    }
}

/// Makes a file size limit (`ulimit -f`) an I/O error instead of a dead solver: by default
/// SIGXFSZ kills a process whose write passes the limit; ignored, the write fails with EFBIG,
/// which the library reports like any other write failure. A handler the program installed
/// itself is left alone.
fn survive_file_size_limit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sigaction with a zeroed struct reads the current disposition; the second
        // call only replaces SIG_DFL with SIG_IGN, which needs no handler code.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGXFSZ, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_DFL
            {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            }
        }
    });
}

/// Removes the temporary files (`.<name>.tmp<pid>-<n>`) of writers killed before their rename,
/// from every kind directory of the cache, once they are older than `age`. Age, not the pid,
/// decides: processes on other hosts (MPI ranks) may share the cache. Best effort: a file that
/// cannot be removed stays.
fn remove_stale_tmp_files(root: &Path, age: std::time::Duration) {
    let Ok(kinds) = fs::read_dir(root) else {
        return;
    };
    let now = std::time::SystemTime::now();
    for kind in kinds.flatten() {
        let Ok(entries) = fs::read_dir(kind.path()) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if !(name.starts_with('.') && name.contains(".tmp")) {
                continue;
            }
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|d| d >= age));
            if old {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

impl Sink for OfflineSink {
    fn create_folder(&self, folder: &Folder) -> Result<String> {
        let id = ids::offline_id();
        self.write_object("folders", &id, &folder.to_json())?;
        Ok(id)
    }

    fn update_folder(&self, id: &str, folder: &Folder) -> Result<()> {
        self.write_object("folders", id, &folder.to_json())
    }

    fn create_run(&self, run: &mut RunRecord) -> Result<String> {
        let id = ids::offline_id();
        self.write_object("runs", &id, &run.to_json())?;
        Ok(id)
    }

    fn load_run(&self, id: &str) -> Result<RunRecord> {
        if self.is_closed(id) {
            return Err(Error::state(format!(
                "run {id} was closed and cannot be reconnected"
            )));
        }
        match self.read_run(id)? {
            Some(r) => Ok(r),
            // Uploaded by the sender already: what we write now updates the online run.
            None if self.uploaded(id) => Ok(RunRecord::placeholder()),
            None => Err(Error::new(
                crate::error::ErrorKind::NotFound,
                format!("no run {id} in the offline cache {}", self.root.display()),
            )),
        }
    }

    fn update_run(&self, id: &str, full: &RunRecord, _patch: &RunPatch) -> Result<()> {
        // Offline files always carry the whole state (protocol doc §8.6 item 2).
        self.write_object("runs", id, &full.to_json())
    }

    fn create_alert(&self, alert: &Alert) -> Result<String> {
        let id = ids::offline_id();
        self.write_object("alerts", &id, &alert.to_json())?;
        Ok(id)
    }

    /// As 2.6.2 does offline, the state goes into the alert's file under `status`, keyed by
    /// run (`alert/user.py` `set_status`). simvue-sender applies it only when the alert and
    /// the run were uploaded by an earlier pass (protocol doc §8.6 item 5); an alert already
    /// uploaded gets a file holding only the state, which the sender then sends.
    fn set_alert_status(
        &self,
        alert_id: &str,
        run_id: &str,
        state: AlertState,
        known: Option<&Alert>,
    ) -> Result<()> {
        let mut json = match (self.read_object("alerts", alert_id)?, known) {
            (Some(j), _) => j,
            (None, Some(a)) => a.to_json(),
            (None, None) if self.uploaded(alert_id) => Json::object().with("obj_type", "UserAlert"),
            (None, None) => {
                return Err(Error::new(
                    crate::error::ErrorKind::NotFound,
                    format!(
                        "no alert {alert_id} in the offline cache {}",
                        self.root.display()
                    ),
                ))
            }
        };
        let is_user = json.get("obj_type").and_then(Json::as_str) == Some("UserAlert")
            || json.get("source").and_then(Json::as_str) == Some("user");
        if !is_user {
            return Err(Error::invalid(format!(
                "alert {alert_id} is not a user alert: only a user alert's state can be set"
            )));
        }
        let mut status = json.get("status").cloned().unwrap_or_else(Json::object);
        status.set(run_id, state.as_str().into());
        json.set("status", status);
        self.write_object("alerts", alert_id, &json)
    }

    fn send_metrics(&self, run_id: &str, batch: &MetricBatch) -> Result<()> {
        self.send_metrics_with_progress(run_id, batch, &mut |_| {})
    }

    /// Calls `progress` after each chunk of the file is written ([`WRITE_CHUNK`]).
    fn send_metrics_with_progress(
        &self,
        run_id: &str,
        batch: &MetricBatch,
        progress: &mut dyn FnMut(usize),
    ) -> Result<()> {
        let mut buf = self.scratch.lock();
        self.write_with("metrics", &ids::offline_id(), "json", |f| {
            model::write_metrics_batch_text(
                run_id,
                batch,
                &mut buf,
                WRITE_CHUNK,
                &mut |text, done| {
                    f.write_all(text)?;
                    progress(done);
                    Ok(())
                },
            )
        })?;
        if buf.capacity() > 2 * WRITE_CHUNK {
            // One huge set grew it: give the memory back.
            *buf = Vec::new();
        }
        Ok(())
    }

    /// simvue-sender 2.6.2 creates grids with `Grid.new`, which allows 1 or 2 axes; a grid of
    /// 3 axes in the cache would make it fail (and stop the upload of the whole cache).
    fn create_grid(&self, grid: &Grid) -> Result<String> {
        if grid.axes.len() > 2 {
            return Err(Error::new(
                crate::error::ErrorKind::Unsupported,
                format!(
                    "grid {:?} has {} axes: offline, grids have 1 or 2 (simvue-sender 2.6.2 cannot upload more); log it online, or as 2-D slices",
                    grid.name,
                    grid.axes.len()
                ),
            ));
        }
        let id = ids::offline_id();
        self.write_object("grids", &id, &grid.to_json())?;
        Ok(id)
    }

    /// The grid's file lists every (run, metric) attached, as 2.6.2 writes it; the sender
    /// attaches them once it has created the grid.
    fn attach_grid(&self, grid_id: &str, grid: &Grid, _run_id: &str, _metric: &str) -> Result<()> {
        self.write_object("grids", grid_id, &grid.to_json())
    }

    fn send_tensors(&self, run_id: &str, batch: &[TensorSet]) -> Result<()> {
        self.write_object(
            "grid_metrics",
            &ids::offline_id(),
            &model::tensors_batch(run_id, batch),
        )
    }

    fn send_events(&self, run_id: &str, batch: &[EventSet]) -> Result<()> {
        self.write_object(
            "events",
            &ids::offline_id(),
            &model::events_batch(run_id, batch),
        )
    }

    fn save_artifact(&self, run_id: &str, artifact: &Artifact, category: Category) -> Result<()> {
        let id = ids::offline_id();
        if let Content::Bytes(bytes) = &artifact.content {
            // The sender reads `artifacts/<id>.object` for object artifacts (actions.py:384-389);
            // written before the record that points at it.
            self.write_bytes("artifacts", &id, "object", bytes)?;
        }
        self.write_object(
            "artifacts",
            &id,
            &artifact.to_offline_json(run_id, category),
        )
    }

    fn heartbeat(&self, run_id: &str) -> Result<()> {
        self.touch(run_id, "heartbeat")
    }

    fn close_run(&self, run_id: &str, final_status_written: bool) -> Result<()> {
        // The sender cleans up a run's mappings only when it processes a run JSON while
        // `.closed` exists, so the marker must come after the final JSON (§8.6 item 1); a run
        // that never left `created` gets no marker, as in the Python client.
        if final_status_written {
            self.touch(run_id, "closed")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_temporary_files_of_killed_writers_are_removed_at_the_next_run() {
        let root = std::env::temp_dir().join(format!("simvue-stale-tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("metrics")).unwrap();
        let stale = root.join("metrics").join(".offline_a.json.tmp123-0");
        let fresh = root.join("metrics").join(".offline_b.json.tmp124-0");
        let kept = root.join("metrics").join("offline_c.json");
        for f in [&stale, &fresh, &kept] {
            fs::write(f, b"{").unwrap();
        }
        let old = std::time::SystemTime::now() - STALE_TMP_AGE - std::time::Duration::from_secs(1);
        fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(old)
            .unwrap();
        fs::File::options()
            .write(true)
            .open(&kept)
            .unwrap()
            .set_modified(old)
            .unwrap();
        OfflineSink::new(&root).unwrap();
        assert!(!stale.exists(), "the stale temporary file is removed");
        assert!(fresh.exists(), "a recent one may belong to a live writer");
        assert!(kept.exists(), "cache files are never touched");
        let _ = fs::remove_dir_all(&root);
    }
}
