//! What `simvue send` remembers between passes, in `<cache>/.simvue-send/` (a folder the Python
//! sender and the library never read):
//!
//! - `pending/<kind>.<id>.json`: written before a request whose effect cannot be repeated safely
//!   (creating a run, an artifact, posting a batch) and removed once its outcome is recorded in
//!   the cache. One left behind means the process died with that request in flight: the next
//!   pass asks the server whether it arrived before sending it again. This is what makes a
//!   sender killed at any moment neither lose nor duplicate anything.
//! - `runs/<id>.json`: what is known of each uploaded run once its cache file is gone (server
//!   id, name, heartbeat timeout, alerts), for closing it, marking it lost and `simvue show`.

use std::fs;
use std::path::PathBuf;

use super::cache::{Cache, Kind};
use crate::error::{Error, Result};
use crate::json::Json;

/// The state folder of one cache.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    /// The journal of `cache` (created on first write).
    pub fn open(cache: &Cache) -> Journal {
        Journal {
            dir: cache.root().join(".simvue-send"),
        }
    }

    /// The state folder.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    fn pending_path(&self, kind: Kind, id: &str) -> PathBuf {
        self.dir
            .join("pending")
            .join(format!("{}.{id}.json", kind.name()))
    }

    /// Records that a request for `kind`/`id` is about to be sent, with what recovery needs.
    pub fn begin(&self, cache: &Cache, kind: Kind, id: &str, record: &Json) -> Result<()> {
        cache.write_atomic(
            &self.pending_path(kind, id),
            record.to_compact_json().as_bytes(),
        )
    }

    /// The in-flight record of `kind`/`id`, if the last attempt did not finish.
    pub fn pending(&self, kind: Kind, id: &str) -> Option<Json> {
        let text = fs::read_to_string(self.pending_path(kind, id)).ok()?;
        Json::parse(&text).ok().or(Some(Json::object()))
    }

    /// How long ago the in-flight record of `kind`/`id` was written (just before its request
    /// went out).
    pub fn pending_age(&self, kind: Kind, id: &str) -> Option<std::time::Duration> {
        let modified = fs::metadata(self.pending_path(kind, id))
            .and_then(|m| m.modified())
            .ok()?;
        Some(
            std::time::SystemTime::now()
                .duration_since(modified)
                .unwrap_or_default(),
        )
    }

    /// Records that the request's outcome is safely in the cache.
    pub fn end(&self, kind: Kind, id: &str) -> Result<()> {
        match fs::remove_file(self.pending_path(kind, id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("cannot update the send journal", e)),
        }
    }

    /// Every in-flight record: (kind, id).
    pub fn all_pending(&self) -> Vec<(Kind, String)> {
        let Ok(read) = fs::read_dir(self.dir.join("pending")) else {
            return Vec::new();
        };
        read.filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stem = name.strip_suffix(".json")?;
                let (kind, id) = stem.split_once('.')?;
                Some((Kind::parse(kind)?, id.to_owned()))
            })
            .collect()
    }

    fn run_path(&self, id: &str) -> PathBuf {
        self.dir.join("runs").join(format!("{id}.json"))
    }

    /// What is remembered of run `id`.
    pub fn run(&self, id: &str) -> Option<Json> {
        let text = fs::read_to_string(self.run_path(id)).ok()?;
        Json::parse(&text).ok()
    }

    /// Merges `info` into what is remembered of run `id`.
    pub fn update_run(&self, cache: &Cache, id: &str, info: &Json) -> Result<()> {
        let mut j = self.run(id).unwrap_or_else(Json::object);
        j.merge(info);
        cache.write_atomic(&self.run_path(id), j.to_python_json().as_bytes())
    }

    /// Every run remembered: (cache id, info).
    pub fn runs(&self) -> Vec<(String, Json)> {
        let Ok(read) = fs::read_dir(self.dir.join("runs")) else {
            return Vec::new();
        };
        let mut out: Vec<(String, Json)> = read
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let id = name.strip_suffix(".json")?.to_owned();
                let j = Json::parse(&fs::read_to_string(e.path()).ok()?).ok()?;
                Some((id, j))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}
