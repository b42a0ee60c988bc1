//! Asking the server what an interrupted request did, so that it is neither lost nor sent
//! twice. Each question is asked only for an item whose request's outcome is unknown: its
//! journal entry says a request was in flight when the last pass stopped, or an attempt failed
//! after it was sent.

use std::collections::HashMap;

use super::cache::Kind;
use super::Sender;
use crate::error::{ErrorKind, Result};
use crate::http::Body;
use crate::json::Json;
use crate::model::{EventSet, MetricSet, TensorSet};
use crate::time::Timestamp;

/// Pages read at most when looking for an object in a listing.
const MAX_PAGES: usize = 200;

/// What the server says it holds of a tensor metrics batch whose request may have arrived
/// ([`Sender::tensors_delivered`]).
#[derive(Debug, Default, PartialEq)]
pub(super) struct TensorsHeld {
    /// Per item of the batch, in order: `Some(held)` where the server could say, `None` where
    /// it could not (no usable read).
    pub held: Vec<Option<bool>>,
    /// Why some items could not be told, when any could not (the first reason met).
    pub unknown: Option<String>,
}

/// One array as the values read of the server lists it: what is matched against a batch.
#[derive(Debug, PartialEq)]
struct HeldArray {
    /// Its timestamp, normalised ([`normal_timestamp`]).
    timestamp: String,
    /// Its step, when the record says.
    step: Option<i64>,
    /// Its metric, when the record says.
    metric: Option<String>,
}

/// What one `GET /api/runs/{run}/metrics/{metric}/values?step=` told.
enum StepValues {
    /// The arrays held at that step (none: the server holds none there).
    Arrays(Vec<HeldArray>),
    /// 404; `generic`: with FastAPI's body for a route it does not have (`"Not Found"`).
    NotFound { generic: bool },
    /// An answer that says nothing usable (405, another refusal, an unknown shape): why.
    Unusable(String),
}

impl Sender<'_> {
    /// Puts back files a killed pass had claimed for removal, and drops journal entries whose
    /// item is gone (its outcome was recorded; only the entry's removal was missed).
    pub(super) fn recover_claims(&self) {
        for dir in ["folders", "tags", "alerts", "runs", "grids", "artifacts"] {
            self.cache.restore_claimed(dir);
        }
        for dir in [
            self.cache.root().to_path_buf(),
            self.cache.root().join("server_ids"),
            self.cache.root().join("alerts"),
            self.journal.dir().join("pending"),
            self.journal.dir().join("runs"),
        ] {
            super::cache::remove_stale_temps(&dir);
        }
        for (kind, id) in self.journal.all_pending() {
            let gone = kind
                .dir()
                .map_or(true, |d| !self.cache.path(d, &id, "json").exists());
            if gone {
                let _ = self.journal.end(kind, &id);
            }
        }
    }

    /// Waits until the request a dead process left in flight for `kind`/`id` has settled: a
    /// request can still be in the server's hands when its sender dies, and asking too early
    /// would miss it and send it again. It is taken as settled once its timeout
    /// (`SIMVUE_HTTP_TIMEOUT`, default 10 s) has passed since it was sent.
    pub(super) fn settle(&self, kind: Kind, id: &str) {
        let Some(age) = self.journal.pending_age(kind, id) else {
            return;
        };
        let settled = crate::http::default_timeout() + std::time::Duration::from_millis(200);
        if age < settled {
            std::thread::sleep(settled - age);
        }
    }

    /// A page of a listing endpoint (`{"data": [...], "count": n}`, protocol doc §2.4).
    fn page(
        &self,
        path: &str,
        query: &str,
        start: usize,
        count: usize,
    ) -> Result<(Vec<Json>, usize)> {
        let sep = if query.is_empty() { "" } else { "&" };
        let v = self.sink.call(
            "GET",
            &format!("{path}?{query}{sep}count={count}&start={start}"),
            Body::Empty,
            &[200],
        )?;
        let j = Json::from_serde(&v);
        let total = j.get("count").and_then(Json::as_i64).unwrap_or(0).max(0) as usize;
        let data = j
            .get("data")
            .and_then(Json::as_array)
            .map(<[Json]>::to_vec)
            .unwrap_or_default();
        Ok((data, total))
    }

    /// Every item of a listing, page by page (bounded).
    fn listing(
        &self,
        path: &str,
        query: &str,
        mut keep: impl FnMut(&Json) -> bool,
    ) -> Result<Vec<Json>> {
        let mut out = Vec::new();
        let mut start = 0;
        for _ in 0..MAX_PAGES {
            let (data, total) = self.page(path, query, start, 100)?;
            if data.is_empty() {
                break;
            }
            start += data.len();
            out.extend(data.into_iter().filter(|d| keep(d)));
            if start >= total {
                break;
            }
        }
        Ok(out)
    }

    /// The server id of the run an interrupted `POST /api/runs` of `cached` created, if it did:
    /// a run with the same name, folder and start time (or, for a run never started, the same
    /// description and metadata).
    pub(super) fn find_run(&self, cached: &Json) -> Result<Option<String>> {
        let Some(name) = cached.get("name").and_then(Json::as_str) else {
            return Ok(None);
        };
        let filters = Json::Array(vec![format!("name == {name}").into()]).to_compact_json();
        let mut keys = vec!["name", "folder"];
        if cached.get("started").is_some_and(|s| *s != Json::Null) {
            keys.push("started");
        } else {
            keys.extend(["description", "metadata"]);
        }
        let found = self.listing("/runs", &format!("filters={}", encode(&filters)), |run| {
            keys.iter()
                .all(|k| cached.get(k).unwrap_or(&Json::Null) == run.get(k).unwrap_or(&Json::Null))
        })?;
        Ok(found
            .iter()
            .find_map(|r| r.get("id").and_then(Json::as_str).map(str::to_owned)))
    }

    /// Whether an interrupted `POST /api/metrics` of `items` for `run` arrived. Timestamps
    /// alone cannot tell: calls logged within one microsecond share one, and a batch can begin
    /// inside the microsecond the batch before it ended in, so the points of a batch already
    /// stored may hold every timestamp of this one (a batch of a few sets, taken at a hand-off
    /// or at close, is then lost). So for the batch's first metric the server must hold at
    /// least as many points as the batch has at each of its timestamps and at each of its steps
    /// (`GET /api/metrics`, `xaxis=timestamp`, then `xaxis=step`): a wrong yes needs, for every
    /// set, another stored set of that metric with the same step in the same microsecond.
    pub(super) fn metrics_delivered(&self, run: &str, items: &[MetricSet]) -> Result<bool> {
        let Some(metric) = items
            .iter()
            .find_map(|m| m.values.first().map(|v| v.0.clone()))
        else {
            return Ok(false);
        };
        let with_metric: Vec<&MetricSet> = items
            .iter()
            .filter(|m| m.values.iter().any(|(k, _)| *k == metric))
            .collect();
        let stamps = tally(with_metric.iter().map(|m| m.timestamp.to_string()));
        let steps = tally(with_metric.iter().map(|m| m.step.to_string()));
        let held = |xaxis: &str| -> Result<HashMap<String, usize>> {
            Ok(tally(
                self.metric_points(run, &metric, xaxis)?
                    .iter()
                    .filter_map(|p| match p.get(xaxis)? {
                        Json::Str(t) => normal_timestamp(t),
                        x => x.as_i64().map(|n| n.to_string()),
                    }),
            ))
        };
        let covered = |want: &HashMap<String, usize>, held: &HashMap<String, usize>| {
            want.iter()
                .all(|(k, n)| held.get(k).is_some_and(|h| h >= n))
        };
        Ok(!stamps.is_empty()
            && covered(&stamps, &held("timestamp")?)
            && covered(&steps, &held("step")?))
    }

    /// The points of `metric` of `run` the server holds, each `{<xaxis>: x, "value": v}`
    /// (`GET /api/metrics?runs=[run]&metrics=[metric]&xaxis=&aggregate=False`, protocol doc
    /// §4.7).
    fn metric_points(&self, run: &str, metric: &str, xaxis: &str) -> Result<Vec<Json>> {
        let runs = Json::Array(vec![run.into()]).to_compact_json();
        let metrics = Json::Array(vec![metric.into()]).to_compact_json();
        let v = self.sink.call(
            "GET",
            &format!(
                "/metrics?runs={}&metrics={}&xaxis={xaxis}&aggregate=False",
                encode(&runs),
                encode(&metrics)
            ),
            Body::Empty,
            &[200],
        )?;
        Ok(Json::from_serde(&v)
            .get(run)
            .and_then(|r| r.get(metric))
            .and_then(Json::as_array)
            .map(<[Json]>::to_vec)
            .unwrap_or_default())
    }

    /// Whether an interrupted `POST /api/events` of `items` for `run` arrived: the server holds
    /// every item (same timestamp and message).
    pub(super) fn events_delivered(&self, run: &str, items: &[EventSet]) -> Result<bool> {
        if items.is_empty() {
            return Ok(false);
        }
        let listed = self.listing("/events", &format!("run={}", encode(run)), |_| true)?;
        let mut held = tally(listed.iter().filter_map(|e| {
            let ts = e
                .get("timestamp")
                .and_then(Json::as_str)
                .and_then(normal_timestamp)?;
            Some((ts, e.get("message")?.as_str()?.to_owned()))
        }));
        // A batch with a message twice in one microsecond needs two copies.
        Ok(items
            .iter()
            .all(|e| take_copy(&mut held, &(e.timestamp.to_string(), e.message.clone()))))
    }

    /// Which items of a tensor metrics batch for `run` the server already holds, after a
    /// `POST /api/runs/{run}/metrics/` whose outcome is unknown: for each (metric, step) of the
    /// batch, one `GET /api/runs/{run}/metrics/{metric}/values?step=` (2.6.2's
    /// `Grid.get_run_metric_values` and `GridMetrics.get`, paged with `count`/`start` as the
    /// latter pages it), and an item is held when an array of its metric and step has its
    /// timestamp (metric, step and timestamp together tell arrays apart; two items with all
    /// three equal need two arrays). The answer's shape is not documented (protocol doc
    /// §8.7): a record `{"timestamp", ...}`, a list of records or a page `{"data": [records], "count"}` are
    /// read; an empty answer or a 404 means none held at that step. What cannot be read (a
    /// 405, another refusal, another shape, records without a timestamp, or only 404s with the
    /// body of a route the server lacks) leaves those items unknown, for the caller to send
    /// again as an older server needs. `Err`: the server cannot be asked now (unreachable,
    /// token refused).
    pub(super) fn tensors_delivered(&self, run: &str, items: &[TensorSet]) -> Result<TensorsHeld> {
        let mut steps: Vec<((&str, u64), Vec<usize>)> = Vec::new();
        for (i, t) in items.iter().enumerate() {
            let key = (t.metric.as_ref(), t.step);
            match steps.iter_mut().find(|(k, _)| *k == key) {
                Some((_, idx)) => idx.push(i),
                None => steps.push((key, vec![i])),
            }
        }
        let mut out = TensorsHeld {
            held: vec![None; items.len()],
            unknown: None,
        };
        let mut readable = false;
        let mut generic_404 = Vec::new();
        for ((metric, step), idx) in &steps {
            match self.step_values(run, metric, *step)? {
                StepValues::Arrays(arrays) => {
                    readable = true;
                    let mut there = tally(
                        arrays
                            .iter()
                            .filter(|a| {
                                a.step.map_or(true, |s| s == *step as i64)
                                    && a.metric.as_deref().map_or(true, |m| m == *metric)
                            })
                            .map(|a| a.timestamp.as_str()),
                    );
                    for &i in idx {
                        let ts = items[i].timestamp.to_string();
                        out.held[i] = Some(take_copy(&mut there, ts.as_str()));
                    }
                }
                StepValues::NotFound { generic } => {
                    for &i in idx {
                        out.held[i] = Some(false);
                    }
                    if generic {
                        generic_404.extend(idx.iter().copied());
                    }
                }
                StepValues::Unusable(why) => {
                    out.unknown.get_or_insert(why);
                }
            }
        }
        // Nothing but a route's 404: a server without this read, not one holding nothing.
        if !readable && !generic_404.is_empty() {
            for i in generic_404 {
                out.held[i] = None;
            }
            out.unknown.get_or_insert_with(|| {
                "its read of a run's arrays (GET /api/runs/{run}/metrics/{metric}/values) \
                 answers 404 Not Found"
                    .to_owned()
            });
        }
        Ok(out)
    }

    /// The arrays the server holds for metric `metric` of run `run` at step `step`, page by
    /// page (bounded), as [`Sender::tensors_delivered`] reads them.
    fn step_values(&self, run: &str, metric: &str, step: u64) -> Result<StepValues> {
        let path = format!("/runs/{run}/metrics/{}/values", encode(metric));
        let mut out = Vec::new();
        let mut start = 0;
        for _ in 0..MAX_PAGES {
            let query = format!("{path}?step={step}&count=100&start={start}");
            let answer = match self.sink.call_with("GET", &query, &Body::Empty, &[200]) {
                Ok(v) => v,
                Err(f) if f.status == Some(404) => {
                    let detail = f.body.as_ref().and_then(|b| b.get("detail"));
                    return Ok(StepValues::NotFound {
                        generic: detail.and_then(|d| d.as_str()) == Some("Not Found"),
                    });
                }
                Err(f) if matches!(f.error.kind, ErrorKind::Network | ErrorKind::Auth) => {
                    return Err(f.error)
                }
                Err(f) => {
                    return Ok(StepValues::Unusable(format!(
                        "GET {path} answered {}",
                        f.status
                            .map_or_else(|| f.error.message.clone(), |s| s.to_string())
                    )))
                }
            };
            let Some((arrays, total)) = held_arrays(&Json::from_serde(&answer)) else {
                return Ok(StepValues::Unusable(format!(
                    "GET {path} answered in a form not understood"
                )));
            };
            let n = arrays.len();
            out.extend(arrays);
            start += n;
            if n == 0 || total.map_or(true, |t| start >= t) {
                break;
            }
        }
        Ok(StepValues::Arrays(out))
    }

    /// The server id of the one grid run `run` has attached for metric `metric`
    /// (`GET /api/runs/{run}/grids`, a list of `{"id", "metric"}`: `Run.grids` of 2.6.2,
    /// protocol doc §8.7), if there is exactly one.
    pub(super) fn find_run_grid(&self, run: &str, metric: &str) -> Result<Option<String>> {
        let v = self
            .sink
            .call("GET", &format!("/runs/{run}/grids"), Body::Empty, &[200])?;
        let mut ids: Vec<&str> = v
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter(|g| g.get("metric").and_then(|m| m.as_str()) == Some(metric))
            .filter_map(|g| g.get("id").and_then(|i| i.as_str()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(match ids.as_slice() {
            [one] => Some((*one).to_owned()),
            _ => None,
        })
    }

    /// Whether the artifact `id` exists and whether its bytes are uploaded; `None` when the
    /// server does not know it.
    pub(super) fn artifact_state(&self, id: &str) -> Result<Option<bool>> {
        match self
            .sink
            .call_with("GET", &format!("/artifacts/{id}"), &Body::Empty, &[200])
        {
            Ok(v) => Ok(Some(
                v.get("uploaded").and_then(|u| u.as_bool()) == Some(true),
            )),
            Err(f) if f.status == Some(404) => Ok(None),
            Err(f) => Err(f.error),
        }
    }

    /// Deletes the artifact records an interrupted `POST /api/artifacts` may have left: same
    /// name, checksum and path, never uploaded, attached to no run. A server that cannot list
    /// or delete them keeps them (they hold no data and belong to no run).
    pub(super) fn remove_orphans(&self, cached: &crate::artifact::CachedArtifact) -> Result<()> {
        let name = cached.artifact.name.as_str();
        let filters = Json::Array(vec![format!("name == {name}").into()]).to_compact_json();
        let found = match self.listing(
            "/artifacts",
            &format!("filters={}", encode(&filters)),
            |a| {
                let same = |k: &str| cached.body.get(k).is_none() || a.get(k) == cached.body.get(k);
                same("name")
                    && same("checksum")
                    && same("original_path")
                    && a.get("uploaded") != Some(&Json::Bool(true))
                    && a.get("runs").map_or(true, |r| match r {
                        Json::Array(v) => v.is_empty(),
                        Json::Object(v) => v.is_empty(),
                        _ => true,
                    })
            },
        ) {
            Ok(f) => f,
            Err(e) if e.kind == ErrorKind::Network => return Err(e),
            Err(_) => return Ok(()),
        };
        for a in found {
            if let Some(id) = a.get("id").and_then(Json::as_str) {
                match self.sink.call(
                    "DELETE",
                    &format!("/artifacts/{id}"),
                    Body::Empty,
                    &[200, 204],
                ) {
                    Ok(_) => self.observer.note(&format!(
                        "removed artifact record {id} left by an interrupted upload of {name:?}"
                    )),
                    Err(e) if e.kind == ErrorKind::Network => return Err(e),
                    Err(_) => {}
                }
            }
        }
        Ok(())
    }
}

/// The arrays one answer of the values read lists, and the total it announces (`count` of a
/// page), in any of the shapes [`Sender::tensors_delivered`] accepts; `None` for another
/// shape, or a record whose timestamp cannot be read (nothing could be matched safely).
fn held_arrays(answer: &Json) -> Option<(Vec<HeldArray>, Option<usize>)> {
    let record = |r: &Json| -> Option<HeldArray> {
        Some(HeldArray {
            timestamp: r.get("timestamp")?.as_str().and_then(normal_timestamp)?,
            step: r.get("step").and_then(Json::as_i64),
            metric: r.get("metric").and_then(Json::as_str).map(str::to_owned),
        })
    };
    let records = |list: &[Json]| list.iter().map(record).collect::<Option<Vec<_>>>();
    match answer {
        Json::Null => Some((Vec::new(), None)),
        Json::Array(list) => Some((records(list)?, None)),
        Json::Object(fields) if fields.is_empty() => Some((Vec::new(), None)),
        Json::Object(_) => match answer.get("data") {
            Some(Json::Array(list)) => {
                let total = answer
                    .get("count")
                    .and_then(Json::as_i64)
                    .map(|c| c.max(0) as usize);
                Some((records(list)?, total))
            }
            Some(Json::Null) => Some((Vec::new(), None)),
            Some(one @ Json::Object(_)) => Some((vec![record(one)?], None)),
            Some(_) => None,
            None if answer.get("timestamp").is_some() => Some((vec![record(answer)?], None)),
            None => None,
        },
        _ => None,
    }
}

/// A timestamp from the server in the wire form (it may come with a space, a `Z` or a zero
/// UTC offset).
fn normal_timestamp(s: &str) -> Option<String> {
    let s = s.strip_suffix("+00:00").unwrap_or(s);
    Timestamp::parse(s).map(|t| t.to_string())
}

/// How many times each key occurs.
fn tally<K: std::hash::Hash + Eq>(keys: impl Iterator<Item = K>) -> HashMap<K, usize> {
    let mut out = HashMap::new();
    for k in keys {
        *out.entry(k).or_default() += 1;
    }
    out
}

/// Uses up one of the copies of `key` that `held` counts: false when none is left (each item
/// of a batch needs a copy of its own on the server).
fn take_copy<K, Q>(held: &mut HashMap<K, usize>, key: &Q) -> bool
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    match held.get_mut(key) {
        Some(n) if *n > 0 => {
            *n -= 1;
            true
        }
        _ => false,
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded_and_timestamps_normalised() {
        assert_eq!(
            encode("[\"name == a b\"]"),
            "%5B%22name%20%3D%3D%20a%20b%22%5D"
        );
        assert_eq!(
            normal_timestamp("2026-01-02 03:04:05.000006+00:00").as_deref(),
            Some("2026-01-02T03:04:05.000006")
        );
        assert_eq!(normal_timestamp("yesterday"), None);
    }

    fn parse(text: &str) -> Option<(Vec<HeldArray>, Option<usize>)> {
        held_arrays(&Json::from_serde(&serde_json::from_str(text).unwrap()))
    }

    fn stamps(text: &str) -> Vec<String> {
        parse(text)
            .unwrap()
            .0
            .into_iter()
            .map(|a| a.timestamp)
            .collect()
    }

    #[test]
    fn values_answers_are_read_in_each_plausible_shape() {
        let ts = "2026-01-02T03:04:05.000006";
        // the test server's page, with its total
        let (page, total) = parse(&format!(
            r#"{{"data": [{{"step": 3, "time": 1.5, "timestamp": "{ts}", "array": [1.0], "grid": "g"}}],
                "count": 7}}"#
        ))
        .unwrap();
        assert_eq!(total, Some(7));
        assert_eq!(
            page,
            vec![HeldArray {
                timestamp: ts.into(),
                step: Some(3),
                metric: None
            }]
        );
        // one record, a list of records, the server's own timestamp forms
        assert_eq!(
            stamps(&format!(r#"{{"timestamp": "{ts}", "array": [1]}}"#)),
            [ts]
        );
        assert_eq!(
            stamps(r#"[{"timestamp": "2026-01-02 03:04:05.000006+00:00", "metric": "T"}]"#),
            [ts]
        );
        let (listed, _) = parse(&format!(r#"[{{"timestamp": "{ts}", "metric": "T"}}]"#)).unwrap();
        assert_eq!(listed[0].metric.as_deref(), Some("T"));
        // nothing held
        for empty in [
            "null",
            "[]",
            "{}",
            r#"{"data": [], "count": 0}"#,
            r#"{"data": null}"#,
        ] {
            assert_eq!(parse(empty).unwrap().0, vec![], "{empty}");
        }
    }

    #[test]
    fn values_answers_that_cannot_be_matched_are_refused() {
        // records without a readable timestamp, other shapes: nothing may be taken as held
        for bad in [
            r#"{"data": [{"step": 1, "array": [1.0]}], "count": 1}"#,
            r#"[{"timestamp": "yesterday"}]"#,
            r#"{"values": [1, 2]}"#,
            r#"{"data": 3}"#,
            r#"[1, 2]"#,
            r#""ok""#,
            "42",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
