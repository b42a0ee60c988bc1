//! The cache as the uploader sees it (protocol doc §8.1): the object kinds and their folders,
//! listing and reading the files, atomic writes, removing a file only if it is still the one
//! that was sent, and the `server_ids/` map shared with the Python `simvue-sender`.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;

use crate::error::{Error, ErrorKind, Result};
use crate::json::Json;

/// The object kinds of a cache, in the Python sender's upload order
/// (`UPLOAD_ACTION_ORDER`, `sender/actions.py`; protocol doc §8.4 step 3). The names are
/// those `-o/--objects-to-upload` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Tenants (administration objects; not uploaded by `simvue send`).
    Tenants,
    /// Users (administration objects; not uploaded by `simvue send`).
    Users,
    /// Storage definitions (administration objects; not uploaded by `simvue send`).
    Storage,
    /// Folders.
    Folders,
    /// Tag objects.
    Tags,
    /// Alert definitions and user-alert states.
    Alerts,
    /// Runs.
    Runs,
    /// Grids of tensor metrics, and the (run, metric) pairs attached to them.
    Grids,
    /// Files and objects.
    Artifacts,
    /// Metric batches.
    Metrics,
    /// Tensor metric batches (arrays on grids).
    GridMetrics,
    /// Event batches.
    Events,
    /// Heartbeats of running runs (and runs found lost).
    Heartbeat,
    /// The emissions intensity file (nothing to upload).
    Co2Intensity,
    /// The server version file the Python sender writes (not written by `simvue send`).
    Version,
}

impl Kind {
    /// Every kind, in upload order.
    pub const ORDER: [Kind; 15] = [
        Kind::Tenants,
        Kind::Users,
        Kind::Storage,
        Kind::Folders,
        Kind::Tags,
        Kind::Alerts,
        Kind::Runs,
        Kind::Grids,
        Kind::Artifacts,
        Kind::Metrics,
        Kind::GridMetrics,
        Kind::Events,
        Kind::Heartbeat,
        Kind::Co2Intensity,
        Kind::Version,
    ];

    /// The name as `simvue-sender -o` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tenants => "tenants",
            Kind::Users => "users",
            Kind::Storage => "storage",
            Kind::Folders => "folders",
            Kind::Tags => "tags",
            Kind::Alerts => "alerts",
            Kind::Runs => "runs",
            Kind::Grids => "grids",
            Kind::Artifacts => "artifacts",
            Kind::Metrics => "metrics",
            Kind::GridMetrics => "grid_metrics",
            Kind::Events => "events",
            Kind::Heartbeat => "heartbeat",
            Kind::Co2Intensity => "co2_intensity",
            Kind::Version => "version",
        }
    }

    /// Parses a `-o` name.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ORDER.into_iter().find(|k| k.name() == s)
    }

    /// The cache folder holding this kind's `<id>.json` files, if it has one.
    pub fn dir(self) -> Option<&'static str> {
        match self {
            Kind::Heartbeat | Kind::Co2Intensity | Kind::Version => None,
            k => Some(k.name()),
        }
    }

    /// Whether `simvue send` uploads this kind. The others are left in place and reported.
    pub fn supported(self) -> bool {
        !matches!(self, Kind::Tenants | Kind::Users | Kind::Storage)
    }
}

/// One file of the cache.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file stem: the object's cache id.
    pub id: String,
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time.
    pub modified: SystemTime,
}

/// A cache directory being uploaded.
#[derive(Debug)]
pub struct Cache {
    root: PathBuf,
    counter: AtomicU64,
}

impl Cache {
    /// Opens the cache at `root`, which must be an existing directory.
    pub fn open(root: &Path) -> Result<Cache> {
        if !root.is_dir() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("the cache directory {} does not exist", root.display()),
            ));
        }
        Ok(Cache {
            root: root.to_path_buf(),
            counter: AtomicU64::new(0),
        })
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/<dir>/<id>.<ext>`.
    pub fn path(&self, dir: &str, id: &str, ext: &str) -> PathBuf {
        self.root.join(dir).join(format!("{id}.{ext}"))
    }

    /// The `<id>.<ext>` files of `dir`, oldest first (then by name), so that batches go out in
    /// the order they were written. Temporary files (`.<id>.json.tmp…`) do not end in
    /// `.<ext>` and are not listed.
    pub fn list(&self, dir: &str, ext: &str) -> Vec<Entry> {
        let suffix = format!(".{ext}");
        let Ok(read) = fs::read_dir(self.root.join(dir)) else {
            return Vec::new();
        };
        let mut out: Vec<Entry> = read
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let id = name.strip_suffix(&suffix)?;
                if id.is_empty() {
                    return None;
                }
                let meta = e.metadata().ok().filter(|m| m.is_file())?;
                Some(Entry {
                    id: id.to_owned(),
                    path: e.path(),
                    size: meta.len(),
                    modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                })
            })
            .collect();
        out.sort_by(|a, b| a.modified.cmp(&b.modified).then_with(|| a.id.cmp(&b.id)));
        out
    }

    /// Reads a cache file: its bytes (to compare with later) and its JSON.
    pub fn read(&self, path: &Path) -> Result<(Vec<u8>, Json)> {
        let bytes =
            fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::invalid(format!("{} is not UTF-8", path.display())))?;
        let json = Json::parse(text)
            .map_err(|e| Error::invalid(format!("{} is not valid JSON: {e}", path.display())))?;
        Ok((bytes, json))
    }

    /// Writes `bytes` to `path` atomically (a temporary name in the same folder, then a
    /// rename), so that neither sender nor a reader ever sees half a file.
    pub fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp{}-{n}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            // No fsync: the rename is what protects against a killed process (the kernel keeps
            // what was written); 2.6.2 does not sync either, and a sync per item is slow.
            f.write_all(bytes)?;
            drop(f);
            fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io(format!("cannot write {}", path.display()), e)
        })
    }

    /// Removes `path` if it still holds `sent`, the bytes that were uploaded; returns whether it
    /// did. A file the writer replaced meanwhile (a run's newer state, written atomically) is
    /// kept for the next pass, where it goes as an update. The file is first renamed away so
    /// that a replacement arriving during the check is never the one removed.
    pub fn remove_if_unchanged(&self, path: &Path, sent: &[u8]) -> Result<bool> {
        let claimed = claimed_name(path);
        match fs::rename(path, &claimed) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io(format!("cannot remove {}", path.display()), e)),
        }
        let same = fs::read(&claimed).map(|b| b == sent).unwrap_or(false);
        if !same {
            // Put the newer version back, unless an even newer one has arrived since.
            let _ = fs::hard_link(&claimed, path);
        }
        let _ = fs::remove_file(&claimed);
        Ok(same)
    }

    /// Finishes what [`Cache::remove_if_unchanged`] left when the process was killed in the
    /// middle: a claimed file goes back to its place unless a newer one is there. Called at the
    /// start of a pass, under the lock.
    pub fn restore_claimed(&self, dir: &str) {
        let Ok(read) = fs::read_dir(self.root.join(dir)) else {
            return;
        };
        for e in read.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(original) = name
                .strip_prefix('.')
                .and_then(|n| n.rsplit_once(".sending-").map(|(o, _)| o.to_owned()))
            else {
                continue;
            };
            let _ = fs::hard_link(e.path(), self.root.join(dir).join(original));
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Removes the temporary files (`.<name>.tmp<pid>-<n>`, ours and the offline sink's) that a
/// process killed while writing left in `dir`: those whose process is gone.
pub fn remove_stale_temps(dir: &Path) {
    let Ok(read) = fs::read_dir(dir) else {
        return;
    };
    for e in read.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix('.')
            .and_then(|n| n.rsplit_once(".tmp"))
            .and_then(|(_, rest)| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !super::lock::pid_alive(p)) {
            let _ = fs::remove_file(e.path());
        }
    }
}

fn claimed_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.sending-{}", std::process::id()))
}

/// The map from cache ids to server ids, `server_ids/<cache id>.txt` holding the server id
/// with no newline (protocol doc §8.4 step 1), read at start and kept in memory as the Python
/// sender does.
#[derive(Debug)]
pub struct IdMap {
    dir: PathBuf,
    map: Mutex<HashMap<String, String>>,
}

impl IdMap {
    /// Loads `server_ids/*.txt` (creating the folder).
    pub fn load(cache: &Cache) -> Result<IdMap> {
        let dir = cache.root().join("server_ids");
        fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        Ok(IdMap::load_read_only(cache))
    }

    /// Loads `server_ids/*.txt`, changing nothing in the cache (for reading it).
    pub fn load_read_only(cache: &Cache) -> IdMap {
        let dir = cache.root().join("server_ids");
        let map = cache
            .list("server_ids", "txt")
            .into_iter()
            .filter_map(|e| {
                let text = fs::read_to_string(&e.path).ok()?;
                // The Python sender keys by the name up to the first dot.
                let key = e.id.split('.').next().unwrap_or(&e.id).to_owned();
                (!text.is_empty()).then_some((key, text))
            })
            .collect();
        IdMap {
            dir,
            map: Mutex::new(map),
        }
    }

    /// The server id of a cache id.
    pub fn get(&self, id: &str) -> Option<String> {
        self.map.lock().get(id).cloned()
    }

    /// Records a server id, on disk first.
    pub fn set(&self, cache: &Cache, id: &str, server_id: &str) -> Result<()> {
        cache.write_atomic(&self.dir.join(format!("{id}.txt")), server_id.as_bytes())?;
        self.map.lock().insert(id.to_owned(), server_id.to_owned());
        Ok(())
    }

    /// Forgets a cache id, on disk and in memory.
    pub fn remove(&self, id: &str) {
        let _ = fs::remove_file(self.dir.join(format!("{id}.txt")));
        self.map.lock().remove(id);
    }

    /// The server id `reference` stands for: its mapping when it is a cache id that has one,
    /// itself when it is not a cache id (an online id, as the online sink's spilled batches
    /// carry), `None` for a cache id not uploaded yet.
    pub fn resolve(&self, reference: &str) -> Option<String> {
        if is_cache_id(reference) {
            self.get(reference)
        } else {
            Some(reference.to_owned())
        }
    }
}

/// Whether `id` is a cache id (`offline_…`) rather than a server id (protocol doc §2.3).
pub fn is_cache_id(id: &str) -> bool {
    id.starts_with("offline")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("simvue-sendcache-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_replaced_file_is_kept_for_the_next_pass() {
        let d = tmp("replace");
        let cache = Cache::open(&d).unwrap();
        let p = cache.path("runs", "offline_r", "json");
        cache.write_atomic(&p, b"v1").unwrap();
        assert!(cache.remove_if_unchanged(&p, b"v1").unwrap());
        assert!(!p.exists());
        cache.write_atomic(&p, b"v2").unwrap();
        assert!(!cache.remove_if_unchanged(&p, b"v1").unwrap());
        assert_eq!(fs::read(&p).unwrap(), b"v2");
        // A claim left by a killed process goes back.
        fs::rename(&p, claimed_name(&p)).unwrap();
        cache.restore_claimed("runs");
        assert_eq!(fs::read(&p).unwrap(), b"v2");
        assert_eq!(cache.list("runs", "json").len(), 1);
    }

    #[test]
    fn ids_are_written_without_newline_and_resolved() {
        let d = tmp("ids");
        let cache = Cache::open(&d).unwrap();
        let ids = IdMap::load(&cache).unwrap();
        ids.set(&cache, "offline_a", "AAAAAAAAAAAAAAAAAAAAAA")
            .unwrap();
        assert_eq!(
            fs::read_to_string(d.join("server_ids/offline_a.txt")).unwrap(),
            "AAAAAAAAAAAAAAAAAAAAAA"
        );
        let again = IdMap::load(&cache).unwrap();
        assert_eq!(
            again.resolve("offline_a").as_deref(),
            Some("AAAAAAAAAAAAAAAAAAAAAA")
        );
        assert_eq!(again.resolve("offline_b"), None);
        assert_eq!(again.resolve("Online1").as_deref(), Some("Online1"));
        again.remove("offline_a");
        assert!(!d.join("server_ids/offline_a.txt").exists());
        assert_eq!(Kind::parse("grid_metrics"), Some(Kind::GridMetrics));
        assert_eq!(
            Kind::ORDER.map(Kind::name)[..7],
            ["tenants", "users", "storage", "folders", "tags", "alerts", "runs"]
        );
    }
}
