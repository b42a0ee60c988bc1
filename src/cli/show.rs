//! `simvue show`: what an offline cache holds, read with the same readers as `simvue send`:
//! its runs (name, folder, status, when, records and events waiting, alerts, files, whether
//! sent), one run's metrics as charts and its events, and a run's metrics as CSV.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::json::Json;
use crate::model::{self, EventSet, MetricSet};
use crate::sender::cache::{Cache, IdMap};
use crate::sender::journal::Journal;

/// Whether a run has reached the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Not yet.
    No,
    /// The run is on the server; some of its records are still in the cache.
    Partly,
    /// Everything is on the server.
    Yes,
}

impl Sent {
    fn as_str(&self) -> &'static str {
        match self {
            Sent::No => "no",
            Sent::Partly => "partly",
            Sent::Yes => "yes",
        }
    }
}

/// One run of a cache.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// Its cache id.
    pub id: String,
    /// Its server id, once sent.
    pub online: Option<String>,
    /// The run file, or what `simvue send` remembered of it once sent.
    pub record: Json,
    /// Metric sets in the cache.
    pub metrics: usize,
    /// Events in the cache.
    pub events: usize,
    /// File records in the cache.
    pub files: usize,
    /// Whether it is on the server.
    pub sent: Sent,
}

impl RunInfo {
    fn text(&self, key: &str) -> String {
        match self.record.get(key) {
            Some(Json::Str(s)) => s.clone(),
            Some(Json::Null) | None => String::new(),
            Some(other) => other.to_compact_json(),
        }
    }

    /// The run's name ("?" when only its id is known).
    pub fn name(&self) -> String {
        let n = self.text("name");
        if n.is_empty() {
            "?".into()
        } else {
            n
        }
    }
}

/// The runs of the cache at `root`, the oldest first.
pub fn runs(root: &Path) -> Result<Vec<RunInfo>> {
    let cache = Cache::open(root)?;
    let ids = IdMap::load_read_only(&cache);
    let journal = Journal::open(&cache);
    let mut found: BTreeMap<String, RunInfo> = BTreeMap::new();
    let mut add = |id: &str, record: Option<Json>| {
        let entry = found.entry(id.to_owned()).or_insert_with(|| RunInfo {
            id: id.to_owned(),
            online: None,
            record: Json::object(),
            metrics: 0,
            events: 0,
            files: 0,
            sent: Sent::No,
        });
        if let Some(r) = record {
            // Added after what was remembered: what the cache file says wins.
            entry.record.merge(&r);
        }
    };
    for (id, info) in journal.runs() {
        add(&id, Some(info));
    }
    let mut pending_file = BTreeMap::new();
    for e in cache.list("runs", "json") {
        if let Ok((_, j)) = cache.read(&e.path) {
            add(&e.id, Some(j));
            pending_file.insert(e.id.clone(), ());
        }
    }
    for marker in ["heartbeat", "closed"] {
        for e in cache.list("runs", marker) {
            add(&e.id, None);
        }
    }
    for e in cache.list("metrics", "json") {
        if let Some((run, n)) = batch_size(&cache, &e.path, "metrics") {
            if let Some(r) = found.get_mut(&run) {
                r.metrics += n;
            }
        }
    }
    for e in cache.list("events", "json") {
        if let Some((run, n)) = batch_size(&cache, &e.path, "events") {
            if let Some(r) = found.get_mut(&run) {
                r.events += n;
            }
        }
    }
    for e in cache.list("artifacts", "json") {
        if let Ok((_, j)) = cache.read(&e.path) {
            for (run, _) in j.get("runs").and_then(Json::as_object).unwrap_or(&[]) {
                if let Some(r) = found.get_mut(run) {
                    r.files += 1;
                }
            }
        }
    }
    let mut out: Vec<RunInfo> = found
        .into_values()
        .map(|mut r| {
            r.online = ids.get(&r.id).or_else(|| {
                r.record
                    .get("online")
                    .and_then(Json::as_str)
                    .map(str::to_owned)
            });
            let waiting = pending_file.contains_key(&r.id) || r.metrics + r.events + r.files > 0;
            r.sent = match (&r.online, waiting) {
                (None, _) => Sent::No,
                (Some(_), true) => Sent::Partly,
                (Some(_), false) => Sent::Yes,
            };
            r
        })
        .collect();
    out.sort_by(|a, b| {
        a.text("created")
            .cmp(&b.text("created"))
            .then(a.id.cmp(&b.id))
    });
    Ok(out)
}

fn batch_size(cache: &Cache, path: &Path, key: &str) -> Option<(String, usize)> {
    let (_, j) = cache.read(path).ok()?;
    let run = j.get("run")?.as_str()?.to_owned();
    Some((run, j.get(key)?.as_array()?.len()))
}

/// The listing: a table of the runs.
pub fn table(runs: &[RunInfo]) -> String {
    if runs.is_empty() {
        return "no runs in this cache\n".into();
    }
    let header = [
        "NAME", "FOLDER", "STATUS", "CREATED", "METRICS", "EVENTS", "ALERTS", "FILES", "SENT", "ID",
    ];
    let rows: Vec<[String; 10]> = runs
        .iter()
        .map(|r| {
            let created = r.text("created");
            [
                r.name(),
                r.text("folder"),
                r.text("status"),
                created.get(..19).unwrap_or(&created).replace('T', " "),
                r.metrics.to_string(),
                r.events.to_string(),
                r.record
                    .get("alerts")
                    .and_then(Json::as_array)
                    .map_or(0, <[Json]>::len)
                    .to_string(),
                r.files.to_string(),
                r.sent.as_str().to_owned(),
                r.id.clone(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(header.to_vec(), &mut out);
    for r in &rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out.push_str(
        "METRICS, EVENTS and FILES count what is still in the cache (sent ones are removed from it)\n",
    );
    out
}

/// Finds a run by name, cache id or server id, or the start of one of them.
pub fn find<'a>(runs: &'a [RunInfo], wanted: &str) -> Result<&'a RunInfo> {
    let exact: Vec<&RunInfo> = runs
        .iter()
        .filter(|r| r.name() == wanted || r.id == wanted || r.online.as_deref() == Some(wanted))
        .collect();
    let matches = if exact.is_empty() {
        runs.iter()
            .filter(|r| r.name().starts_with(wanted) || r.id.starts_with(wanted))
            .collect()
    } else {
        exact
    };
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::new(
            ErrorKind::NotFound,
            format!("no run named {wanted:?} in this cache (simvue show lists them)"),
        )),
        many => Err(Error::invalid(format!(
            "{} runs match {wanted:?}: {}; give the ID",
            many.len(),
            many.iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A run's metric sets and events still in the cache, oldest first.
pub fn records(root: &Path, run: &RunInfo) -> Result<(Vec<MetricSet>, Vec<EventSet>)> {
    let cache = Cache::open(root)?;
    let mut metrics = Vec::new();
    let mut events = Vec::new();
    let ours = |r: &str| r == run.id || run.online.as_deref() == Some(r);
    for e in cache.list("metrics", "json") {
        let Ok((_, j)) = cache.read(&e.path) else {
            continue;
        };
        if let Ok((r, items)) = model::read_metrics_batch(&j) {
            if ours(&r) {
                metrics.extend(items);
            }
        }
    }
    for e in cache.list("events", "json") {
        let Ok((_, j)) = cache.read(&e.path) else {
            continue;
        };
        if let Ok((r, items)) = model::read_events_batch(&j) {
            if ours(&r) {
                events.extend(items);
            }
        }
    }
    metrics.sort_by_key(|m| (m.timestamp, m.step));
    events.sort_by_key(|e| e.timestamp);
    Ok((metrics, events))
}

/// The metric names in order of first appearance, and each one's series of (step, value).
pub fn series(metrics: &[MetricSet]) -> Vec<(String, Vec<(u64, f64)>)> {
    let mut order: Vec<String> = Vec::new();
    let mut by_name: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    for m in metrics {
        for (k, v) in &m.values {
            let s = by_name.entry(k.to_string()).or_insert_with(|| {
                order.push(k.to_string());
                Vec::new()
            });
            s.push((m.step, *v));
        }
    }
    order
        .into_iter()
        .map(|k| {
            let s = by_name.remove(&k).unwrap_or_default();
            (k, s)
        })
        .collect()
}

/// The detail of one run: its record, a chart per metric (the last `last` values) and its
/// events.
pub fn detail(run: &RunInfo, metrics: &[MetricSet], events: &[EventSet], last: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "run {} ({})", run.name(), run.id);
    for (label, key) in [
        ("folder", "folder"),
        ("status", "status"),
        ("description", "description"),
        ("created", "created"),
        ("started", "started"),
        ("ended", "endtime"),
        ("tags", "tags"),
        ("metadata", "metadata"),
    ] {
        let mut v = run.text(key);
        if v.is_empty() || v == "[]" || v == "{}" {
            continue;
        }
        if v.chars().count() > 100 {
            v = v.chars().take(97).collect::<String>() + "...";
        }
        let _ = writeln!(out, "  {label:<12}{v}");
    }
    let sent = match (&run.sent, &run.online) {
        (Sent::No, _) => "no".to_owned(),
        (s, Some(id)) => format!("{} (server id {id})", s.as_str()),
        (s, None) => s.as_str().to_owned(),
    };
    let _ = writeln!(out, "  {:<12}{sent}", "sent");
    if metrics.is_empty() {
        let _ = writeln!(out, "\nno metrics in the cache");
    } else {
        let (first, last_step) = (
            metrics.iter().map(|m| m.step).min().unwrap_or(0),
            metrics.iter().map(|m| m.step).max().unwrap_or(0),
        );
        let _ = writeln!(
            out,
            "\nmetrics: {} records, steps {first} to {last_step}",
            metrics.len()
        );
        for (name, s) in series(metrics) {
            let values: Vec<f64> = s.iter().map(|p| p.1).collect();
            let (step, value) = s.last().copied().unwrap_or((0, f64::NAN));
            let _ = writeln!(
                out,
                "\n  {name}: {} values, last {} at step {step}",
                values.len(),
                super::plot::number(value)
            );
            for line in super::plot::chart(&values, last, 5) {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    if events.is_empty() {
        let _ = writeln!(out, "\nno events in the cache");
    } else {
        let _ = writeln!(out, "\nevents: {}", events.len());
        for e in events {
            let ts = e.timestamp.to_string();
            let _ = writeln!(
                out,
                "  {} {:<8} {}",
                ts.get(..23).unwrap_or(&ts).replace('T', " "),
                e.log_level.as_str(),
                e.message
            );
        }
    }
    out
}

/// A run's metrics as CSV: `step,time,timestamp` and one column per metric (in order of first
/// appearance), one row per logged set; absent values are empty cells, non-finite ones `NaN`,
/// `inf`, `-inf` (which pandas and numpy read).
pub fn csv(metrics: &[MetricSet]) -> String {
    let names: Vec<String> = series(metrics).into_iter().map(|(n, _)| n).collect();
    let mut out = String::from("step,time,timestamp");
    for n in &names {
        out.push(',');
        out.push_str(&csv_field(n));
    }
    out.push('\n');
    for m in metrics {
        let _ = write!(out, "{},{:?},{}", m.step, m.time, m.timestamp);
        for n in &names {
            out.push(',');
            if let Some((_, v)) = m.values.iter().find(|(k, _)| **k == **n) {
                let _ = write!(out, "{v:?}");
            }
        }
        out.push('\n');
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn m(step: u64, values: &[(&str, f64)]) -> MetricSet {
        MetricSet {
            time: step as f64 * 0.5,
            timestamp: Timestamp(step as i64),
            step,
            values: values
                .iter()
                .map(|(k, v)| (std::sync::Arc::from(*k), *v))
                .collect(),
        }
    }

    #[test]
    fn csv_has_a_column_per_metric_and_a_row_per_set() {
        let text = csv(&[m(0, &[("a", 1.0), ("b,c", f64::NAN)]), m(1, &[("a", 0.25)])]);
        assert_eq!(
            text,
            "step,time,timestamp,a,\"b,c\"\n\
             0,0.0,1970-01-01T00:00:00.000000,1.0,NaN\n\
             1,0.5,1970-01-01T00:00:00.000001,0.25,\n"
        );
    }

    #[test]
    fn the_reference_cache_lists_its_run_and_shows_it() {
        let root = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/python-offline-cache"
        ));
        let runs = runs(root).unwrap();
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert_eq!(
            (run.name().as_str(), run.metrics, run.events, run.files),
            ("heat-1d-demo", 4, 1, 1)
        );
        assert_eq!(run.sent, Sent::No);
        let listing = table(&runs);
        assert!(
            listing.contains("heat-1d-demo  /examples/heat  completed  2026-11-26 22:08:19"),
            "{listing}"
        );
        let found = find(&runs, "heat").unwrap();
        let (metrics, events) = records(root, found).unwrap();
        let text = detail(found, &metrics, &events, 60);
        assert!(text.contains("metrics: 4 records"), "{text}");
        assert!(
            text.contains("  residual: 3 values, last 0.135335 at step 20"),
            "{text}"
        );
        assert!(text.contains("converged after 3 steps"), "{text}");
        assert!(find(&runs, "nothing").is_err());
    }
}
