//! `simvue send`: uploads an offline cache (written by this library or by simvue 2.6.2) to a
//! Simvue server, as a drop-in for the Python `simvue-sender` (protocol doc §8.3-§8.6).
//!
//! The sender is the offline reader feeding the online sink: cache files are read back with
//! the project's JSON reader (Python's dialect, `NaN` and `Infinity` included) into the wire
//! objects of [`crate::model`] and [`crate::artifact`], and handed to the same
//! [`OnlineSink`] a live run uses, under the same retry policy ([`crate::retry`]) and TLS and
//! proxy set-up ([`crate::http`]). Folders, runs and tags are documents the server takes
//! verbatim, so they go as the file has them (minus local-only keys); metric, event and tensor
//! batches, and grids, go through the typed model and the sink's encoders.
//!
//! It keeps the Python sender's conventions so that either can continue what the other
//! started: the upload order, `server_ids/<cache id>.txt`, deleting a file once it is sent, the
//! `.closed` and `.heartbeat` rules. Where 2.6.2 loses or duplicates data it does better:
//!
//! - a journal of requests in flight ([`journal`]) makes a pass killed at any moment resumable
//!   with nothing lost and nothing sent twice: before sending again it asks the server whether
//!   the interrupted request arrived;
//! - a run file rewritten while it was being sent is kept for the next pass instead of deleted
//!   (its newer state, often the final status, would otherwise be lost);
//! - a closed run's mappings are removed only once everything that refers to it is sent;
//! - a run whose heartbeat file is older than its heartbeat timeout (its job was killed) is
//!   marked `lost` instead of being heartbeated forever;
//! - user-alert states and alert `abort` flags are sent, not dropped (protocol doc §8.6 item 5);
//! - a grid's server id is kept in `server_ids/` (2.6.2 keeps it for its pass only), so arrays
//!   written after the pass that uploaded their grid still find it;
//! - failures leave the item in place and the pass goes on; the summary says what is left.
//!
//! The layout: [`cache`] (kinds, files, `server_ids/`), [`journal`] (state between passes),
//! [`lock`] (one sender per cache), [`report`] (outcomes, summary, the observer a progress
//! display implements), `upload` (one item of each kind), `recover` (asking the server what an
//! interrupted request did).

pub mod cache;
pub mod journal;
pub mod lock;
mod recover;
pub mod report;
mod upload;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

pub use cache::Kind;
use cache::{Cache, Entry, IdMap};
use journal::Journal;
pub use lock::{Lock, LockError};
pub use report::{Observer, Outcome, Quiet, Summary, Tally};

use crate::error::Result;
use crate::online::OnlineSink;

/// Heartbeats are sent at most this often per run, however short the `--watch` interval.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(60);

/// The heartbeat timeout assumed for a run whose own is unknown (simvue 2.6.2's default).
const DEFAULT_HEARTBEAT_TIMEOUT: u64 = 180;

/// How a pass is run (the flags of `simvue-sender`, plus ours).
#[derive(Debug, Clone)]
pub struct Options {
    /// The cache to upload.
    pub cache_dir: PathBuf,
    /// Threads per kind when it has at least `threading_threshold` items (`-w`, default 5).
    pub max_workers: usize,
    /// Items of one kind from which they are sent in parallel (`-n`, default 10).
    pub threading_threshold: usize,
    /// The kinds to upload (`-o`); empty for all.
    pub kinds: Vec<Kind>,
    /// Also send items the Python sender marked `upload_failed`.
    pub retry_failed: bool,
}

impl Options {
    /// The defaults of `simvue-sender` for `cache_dir`.
    pub fn new(cache_dir: PathBuf) -> Options {
        Options {
            cache_dir,
            max_workers: 5,
            threading_threshold: 10,
            kinds: Vec::new(),
            retry_failed: false,
        }
    }

    fn wants(&self, kind: Kind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }
}

/// Uploads one cache to one server.
pub struct Sender<'a> {
    sink: OnlineSink,
    cache: Cache,
    ids: IdMap,
    journal: Journal,
    opts: Options,
    observer: &'a dyn Observer,
    stop: &'a AtomicBool,
    /// When each run was last heartbeated by this process.
    heartbeats: Mutex<HashMap<String, Instant>>,
    /// Serialises read-modify-write updates of the journal's run records (grids are sent in
    /// parallel, and several may belong to one run).
    run_notes: Mutex<()>,
}

impl<'a> Sender<'a> {
    /// A sender of `opts.cache_dir` to the server of `sink`. `stop` ends a pass early (between
    /// items) when set, as SIGTERM does. The caller holds the cache's [`Lock`].
    pub fn new(
        sink: OnlineSink,
        opts: Options,
        observer: &'a dyn Observer,
        stop: &'a AtomicBool,
    ) -> Result<Sender<'a>> {
        let cache = Cache::open(&opts.cache_dir)?;
        let ids = IdMap::load(&cache)?;
        let journal = Journal::open(&cache);
        Ok(Sender {
            sink,
            cache,
            ids,
            journal,
            opts,
            observer,
            stop,
            heartbeats: Mutex::new(HashMap::new()),
            run_notes: Mutex::new(()),
        })
    }

    /// The server's API URL.
    pub fn url(&self) -> &str {
        self.sink.url()
    }

    /// One pass over the cache: every kind in upload order, then the tidying of finished runs.
    pub fn pass(&self) -> Summary {
        let summary = Mutex::new(Summary::default());
        self.recover_claims();
        for kind in Kind::ORDER {
            if !self.opts.wants(kind) || self.stopped() {
                continue;
            }
            match kind {
                Kind::Heartbeat => self.heartbeat_pass(&summary),
                Kind::Co2Intensity | Kind::Version => {}
                k if !k.supported() => {
                    let entries = self.entries(k);
                    self.each(k, entries, &summary, |_| {
                        Outcome::Skipped(format!(
                            "simvue send does not upload {}; use simvue-sender for them",
                            k.name()
                        ))
                    });
                }
                k => {
                    let entries = self.entries(k);
                    self.each(k, entries, &summary, |e| self.upload(k, e));
                    if k == Kind::Runs && self.opts.wants(Kind::Alerts) {
                        // User-alert states wait for their run: send them now that runs are up.
                        let pending = self.entries(Kind::Alerts);
                        self.each(Kind::Alerts, pending, &summary, |e| self.upload_alert(e));
                    }
                }
            }
        }
        if !self.stopped() && (self.opts.wants(Kind::Runs) || self.opts.wants(Kind::Heartbeat)) {
            self.close_finished_runs(&summary);
        }
        summary.into_inner()
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn entries(&self, kind: Kind) -> Vec<Entry> {
        kind.dir()
            .map(|d| self.cache.list(d, "json"))
            .unwrap_or_default()
    }

    /// Runs `f` on every entry, in parallel past the threshold, telling the observer and the
    /// summary.
    fn each(
        &self,
        kind: Kind,
        entries: Vec<Entry>,
        summary: &Mutex<Summary>,
        f: impl Fn(&Entry) -> Outcome + Sync,
    ) {
        if entries.is_empty() {
            return;
        }
        let bytes = entries.iter().map(|e| e.size).sum();
        self.observer.kind_started(kind, entries.len(), bytes);
        let work = |e: &Entry| {
            let outcome = if self.stopped() {
                Outcome::Skipped("interrupted".into())
            } else {
                f(e)
            };
            let sent = match outcome {
                Outcome::Sent { bytes, .. } => bytes,
                _ => 0,
            };
            self.observer.item_done(kind, &e.id, sent, &outcome);
            summary.lock().record(kind, &e.id, &outcome);
        };
        let workers = self.opts.max_workers.max(1).min(entries.len());
        if entries.len() >= self.opts.threading_threshold && workers > 1 {
            let next = AtomicUsize::new(0);
            std::thread::scope(|s| {
                for _ in 0..workers {
                    s.spawn(|| loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(e) = entries.get(i) else { break };
                        work(e);
                    });
                }
            });
        } else {
            entries.iter().for_each(work);
        }
        let tally = summary.lock().tally(kind);
        self.observer.kind_finished(kind, &tally);
    }
}
