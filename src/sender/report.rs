//! What happened to each item of a pass, told as it happens ([`Observer`]) and summed up
//! ([`Summary`]).

use std::collections::BTreeMap;

use super::cache::Kind;
use crate::error::Error;

/// What became of one cache item.
#[derive(Debug)]
pub enum Outcome {
    /// Delivered now: `records` metric sets or events (1 for other objects), `bytes` of cache
    /// file or artifact content.
    Sent {
        /// Records delivered.
        records: u64,
        /// Bytes read from the cache.
        bytes: u64,
    },
    /// Found already delivered by an attempt that was interrupted; removed from the cache.
    AlreadyThere {
        /// Records it held.
        records: u64,
    },
    /// Not sent, on purpose (marked `upload_failed` by the Python sender, a kind this command
    /// does not upload, interrupted).
    Skipped(String),
    /// Not sent yet: it needs something that is not uploaded yet (its run).
    Waiting(String),
    /// Sending failed; the item stays in the cache for the next pass.
    Failed(Error),
    /// A run whose job stopped heartbeating was marked `lost`.
    MarkedLost,
    /// A finished run's leftover was tidied away (its heartbeat file, its mappings).
    Tidied,
}

impl Outcome {
    /// Whether the item still needs sending.
    pub fn left(&self) -> bool {
        matches!(
            self,
            Outcome::Skipped(_) | Outcome::Waiting(_) | Outcome::Failed(_)
        )
    }
}

/// Counts for one kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Items delivered now.
    pub sent: u64,
    /// Items found already delivered (an interrupted attempt had delivered them).
    pub already: u64,
    /// Items skipped on purpose.
    pub skipped: u64,
    /// Items waiting for something else.
    pub waiting: u64,
    /// Items that failed.
    pub failed: u64,
    /// Runs marked lost.
    pub lost: u64,
    /// Leftovers tidied.
    pub tidied: u64,
    /// Records (metric sets, events) delivered.
    pub records: u64,
    /// Bytes delivered.
    pub bytes: u64,
}

/// The result of a pass.
#[derive(Debug, Default)]
pub struct Summary {
    /// Counts per kind, in upload order.
    pub kinds: BTreeMap<Kind, Tally>,
    /// What was left and why: (kind, cache id, reason).
    pub left: Vec<(Kind, String, String)>,
    /// Things worth telling that are not about one item (a lock taken over, recoveries).
    pub notes: Vec<String>,
}

impl Summary {
    /// Records the outcome of one item.
    pub fn record(&mut self, kind: Kind, id: &str, outcome: &Outcome) {
        let t = self.kinds.entry(kind).or_default();
        match outcome {
            Outcome::Sent { records, bytes } => {
                t.sent += 1;
                t.records += records;
                t.bytes += bytes;
            }
            Outcome::AlreadyThere { records } => {
                t.already += 1;
                t.records += records;
            }
            Outcome::Skipped(why) => {
                t.skipped += 1;
                self.left.push((kind, id.to_owned(), why.clone()));
            }
            Outcome::Waiting(why) => {
                t.waiting += 1;
                self.left.push((kind, id.to_owned(), why.clone()));
            }
            Outcome::Failed(e) => {
                t.failed += 1;
                self.left.push((kind, id.to_owned(), e.message.clone()));
            }
            Outcome::MarkedLost => t.lost += 1,
            Outcome::Tidied => t.tidied += 1,
        }
    }

    /// The counts of `kind`.
    pub fn tally(&self, kind: Kind) -> Tally {
        self.kinds.get(&kind).cloned().unwrap_or_default()
    }

    /// Whether everything in the cache was delivered.
    pub fn complete(&self) -> bool {
        self.left.is_empty()
    }

    /// Adds another pass's counts (the `--watch` total).
    pub fn absorb(&mut self, other: Summary) {
        for (k, t) in other.kinds {
            let mine = self.kinds.entry(k).or_default();
            mine.sent += t.sent;
            mine.already += t.already;
            mine.skipped += t.skipped;
            mine.waiting += t.waiting;
            mine.failed += t.failed;
            mine.lost += t.lost;
            mine.tidied += t.tidied;
            mine.records += t.records;
            mine.bytes += t.bytes;
        }
        self.left = other.left;
        self.notes.extend(other.notes);
    }

    /// The summary as lines for people: one per kind that had anything, then what was left.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (kind, t) in &self.kinds {
            let mut parts = Vec::new();
            if t.sent > 0 {
                parts.push(format!("{} sent", t.sent));
            }
            if t.already > 0 {
                parts.push(format!("{} already on the server", t.already));
            }
            if t.lost > 0 {
                parts.push(format!("{} run(s) marked lost", t.lost));
            }
            if t.tidied > 0 {
                parts.push(format!("{} tidied", t.tidied));
            }
            if t.skipped > 0 {
                parts.push(format!("{} skipped", t.skipped));
            }
            if t.waiting > 0 {
                parts.push(format!("{} waiting", t.waiting));
            }
            if t.failed > 0 {
                parts.push(format!("{} failed", t.failed));
            }
            if parts.is_empty() {
                continue;
            }
            let mut extra = Vec::new();
            if matches!(kind, Kind::Metrics | Kind::Events) && t.records > 0 {
                extra.push(format!("{} records", t.records));
            }
            if t.bytes > 0 {
                extra.push(human_bytes(t.bytes));
            }
            let extra = if extra.is_empty() {
                String::new()
            } else {
                format!(" ({})", extra.join(", "))
            };
            out.push(format!("  {:<10} {}{extra}", kind.name(), parts.join(", ")));
        }
        if out.is_empty() {
            out.push("  nothing to send".into());
        }
        if !self.left.is_empty() {
            out.push(format!("left in the cache: {} item(s)", self.left.len()));
            for (kind, id, why) in self.left.iter().take(20) {
                out.push(format!("  {}/{id}: {why}", kind.name()));
            }
            if self.left.len() > 20 {
                out.push(format!("  ... and {} more", self.left.len() - 20));
            }
        }
        out
    }
}

/// `1.5 MB`-style sizes (powers of 1000, as disk and network figures are usually given).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Told about a pass as it goes: a progress display or a log. Every method has a do-nothing
/// default. Called from the worker threads, hence `Sync`.
pub trait Observer: Sync {
    /// A kind starts: how many items and bytes it has.
    fn kind_started(&self, _kind: Kind, _items: usize, _bytes: u64) {}
    /// One item is done.
    fn item_done(&self, _kind: Kind, _id: &str, _bytes: u64, _outcome: &Outcome) {}
    /// A kind is done.
    fn kind_finished(&self, _kind: Kind, _tally: &Tally) {}
    /// Something worth telling (a lock taken over, a run marked lost, a recovery).
    fn note(&self, _message: &str) {}
}

/// An observer that says nothing.
pub struct Quiet;

impl Observer for Quiet {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_count_and_list_what_was_left() {
        let mut s = Summary::default();
        s.record(
            Kind::Metrics,
            "a",
            &Outcome::Sent {
                records: 10,
                bytes: 1500,
            },
        );
        s.record(Kind::Metrics, "b", &Outcome::AlreadyThere { records: 5 });
        s.record(
            Kind::Artifacts,
            "c",
            &Outcome::Failed(Error::new(crate::ErrorKind::Network, "server gone")),
        );
        assert_eq!(s.tally(Kind::Metrics).records, 15);
        assert!(!s.complete());
        let text = s.lines().join("\n");
        assert!(
            text.contains("metrics    1 sent, 1 already on the server (15 records, 1.5 kB)"),
            "{text}"
        );
        assert!(text.contains("artifacts/c: server gone"), "{text}");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_000_000_000), "1.0 GB");
    }
}
