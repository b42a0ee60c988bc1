//! The wire model: the objects a Simvue server receives (folder, run, alert, metrics batch, events
//! batch). Each builds into a [`Json`] tree whose keys and key order are those of simvue 2.6.2
//! (`tests/fixtures/python-offline-cache/`). The offline sink writes these trees as cache
//! files; the online sink (a later issue) will post the same trees.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::json::Json;
use crate::time::Timestamp;

/// Run status values (`api/objects/run.py:41-43`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Created but not started (`init(running=false)`).
    Created,
    /// Running.
    Running,
    /// Finished normally.
    Completed,
    /// Finished with an error.
    Failed,
    /// Stopped by the user or an abort.
    Terminated,
    /// Lost contact (set by the server, or by the client after an internal failure).
    Lost,
}

impl Status {
    /// The status as the server spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Terminated => "terminated",
            Status::Lost => "lost",
        }
    }

    /// Parses a status name.
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Created,
            Status::Running,
            Status::Completed,
            Status::Failed,
            Status::Terminated,
            Status::Lost,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Whether the run has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Completed | Status::Failed | Status::Terminated | Status::Lost
        )
    }
}

/// A folder (`POST /api/folders`, `folders/<id>.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct Folder {
    /// Absolute folder path, starting with `/`.
    pub path: String,
    /// Folder metadata from `set_folder_details`, if any.
    pub metadata: Option<Json>,
    /// Folder tags, if set.
    pub tags: Option<Vec<String>>,
    /// Folder description, if set.
    pub description: Option<String>,
}

impl Folder {
    /// A folder with only a path.
    pub fn new(path: &str) -> Folder {
        Folder {
            path: path.to_owned(),
            metadata: None,
            tags: None,
            description: None,
        }
    }

    /// The folder as the Python client writes it offline.
    pub fn to_json(&self) -> Json {
        let mut j = Json::object()
            .with("obj_type", "Folder")
            .with("path", self.path.as_str());
        if let Some(m) = &self.metadata {
            j.set("metadata", m.clone());
        }
        if let Some(t) = &self.tags {
            j.set("tags", t.clone().into());
        }
        if let Some(d) = &self.description {
            j.set("description", d.as_str().into());
        }
        j
    }

    /// The body of `POST /api/folders` (no `obj_type`).
    pub fn to_online_json(&self) -> Json {
        strip(self.to_json(), &["obj_type"])
    }
}

/// Removes local-only keys (`_local_only_args` of the Python client, `base.py:203`).
fn strip(mut j: Json, keys: &[&str]) -> Json {
    if let Json::Object(entries) = &mut j {
        entries.retain(|(k, _)| !keys.contains(&k.as_str()));
    }
    j
}

/// Who may see a run (`visibility`: `init(visibility=...)`, protocol doc §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Visibility {
    /// Everyone in the tenant (`visibility="tenant"`).
    pub tenant: bool,
    /// Everyone (`visibility="public"`).
    pub public: bool,
    /// These users (`visibility=[...]`).
    pub users: Vec<String>,
}

impl Visibility {
    fn to_json(&self) -> Json {
        Json::object()
            .with("tenant", self.tenant)
            .with("public", self.public)
            .with("users", self.users.clone())
    }

    fn from_json(j: Option<&Json>) -> Visibility {
        let flag = |k: &str| matches!(j.and_then(|v| v.get(k)), Some(Json::Bool(true)));
        Visibility {
            tenant: flag("tenant"),
            public: flag("public"),
            users: match j.and_then(|v| v.get("users")) {
                Some(Json::Array(items)) => items
                    .iter()
                    .filter_map(|u| u.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            },
        }
    }
}

/// E-mail notification of a run's end (`init(notification=...)`: `notifications.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Notification {
    /// `none` (the default)
    #[default]
    None,
    /// `all`
    All,
    /// `error`
    Error,
    /// `lost`
    Lost,
}

impl Notification {
    /// The state as the server spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Notification::None => "none",
            Notification::All => "all",
            Notification::Error => "error",
            Notification::Lost => "lost",
        }
    }

    fn parse(s: &str) -> Option<Notification> {
        [
            Notification::None,
            Notification::All,
            Notification::Error,
            Notification::Lost,
        ]
        .into_iter()
        .find(|n| n.as_str() == s)
    }
}

/// The full state of a run (`POST /api/runs`, `runs/<id>.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Folder path.
    pub folder: String,
    /// Host description, present once the run has started.
    pub system: Option<Json>,
    /// Current status.
    pub status: Status,
    /// Description, if given.
    pub description: Option<String>,
    /// Run name.
    pub name: String,
    /// Tags, without duplicates, in the order first given.
    pub tags: Vec<String>,
    /// Metadata object.
    pub metadata: Json,
    /// Who may see the run.
    pub visibility: Visibility,
    /// Seconds the server keeps the run (`retention_period`); `None`: for ever.
    pub ttl: Option<u64>,
    /// Seconds without a heartbeat before the server marks the run lost.
    pub heartbeat_timeout: Option<u64>,
    /// E-mail notification of the run's end.
    pub notification: Notification,
    /// Ids of the alerts attached to the run.
    pub alerts: Vec<String>,
    /// When the run object was created.
    pub created: Timestamp,
    /// When the run started.
    pub started: Option<Timestamp>,
    /// When the run reached a terminal status.
    pub endtime: Option<Timestamp>,
}

impl RunRecord {
    /// The run as the Python client writes it offline, keys in 2.6.2's order.
    pub fn to_json(&self) -> Json {
        let mut j = Json::object()
            .with("obj_type", "Run")
            .with("folder", self.folder.as_str());
        // `system` is null for a run created without starting (run.py:836-837).
        j.set("system", self.system.clone().unwrap_or(Json::Null));
        j.set("status", self.status.as_str().into());
        if let Some(d) = &self.description {
            j.set("description", d.as_str().into());
        }
        j = j
            .with("name", self.name.as_str())
            .with("visibility", self.visibility.to_json())
            .with("ttl", self.ttl.map(|t| Json::Int(t as i64)))
            .with("tags", self.tags.clone())
            .with(
                "heartbeat_timeout",
                self.heartbeat_timeout.map(|t| Json::Int(t as i64)),
            )
            .with("alerts", self.alerts.clone())
            .with("created", self.created.to_string())
            .with(
                "notifications",
                Json::object().with("state", self.notification.as_str()),
            )
            .with("metadata", self.metadata.clone());
        if let Some(s) = self.started {
            j.set("started", s.to_string().into());
        }
        if let Some(e) = self.endtime {
            j.set("endtime", e.to_string().into());
        }
        j
    }

    /// The body of `POST /api/runs`: no `obj_type`, `created` or `started` (never sent online,
    /// protocol doc §3.1), and no `name` when the server is to choose it.
    pub fn to_online_json(&self) -> Json {
        let mut j = strip(
            self.to_json(),
            &["obj_type", "created", "started", "endtime"],
        );
        if self.name.is_empty() {
            j = strip(j, &["name"]);
        }
        j
    }

    /// A run known only by its id: created, in `/`, with nothing else known.
    pub fn placeholder() -> RunRecord {
        RunRecord {
            folder: "/".into(),
            system: None,
            status: Status::Created,
            description: None,
            name: String::new(),
            tags: Vec::new(),
            metadata: Json::object(),
            visibility: Visibility::default(),
            ttl: None,
            heartbeat_timeout: None,
            notification: Notification::None,
            alerts: Vec::new(),
            created: Timestamp::now(),
            started: None,
            endtime: None,
        }
    }

    /// Rebuilds a run from a cache file written by us or by the Python client (for reconnect).
    pub fn from_json(j: &Json) -> Result<RunRecord> {
        let str_of = |k: &str| j.get(k).and_then(Json::as_str).map(str::to_owned);
        let ts_of = |k: &str| str_of(k).and_then(|s| Timestamp::parse(&s));
        let list_of = |k: &str| match j.get(k) {
            Some(Json::Array(items)) => items
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        Ok(RunRecord {
            folder: str_of("folder").ok_or_else(|| Error::invalid("cached run has no folder"))?,
            system: j.get("system").filter(|s| **s != Json::Null).cloned(),
            status: str_of("status")
                .and_then(|s| Status::parse(&s))
                .unwrap_or(Status::Created),
            description: str_of("description"),
            name: str_of("name").unwrap_or_default(),
            tags: list_of("tags"),
            metadata: j.get("metadata").cloned().unwrap_or_else(Json::object),
            visibility: Visibility::from_json(j.get("visibility")),
            ttl: match j.get("ttl") {
                Some(Json::Int(i)) if *i >= 0 => Some(*i as u64),
                _ => None,
            },
            heartbeat_timeout: match j.get("heartbeat_timeout") {
                Some(Json::Int(i)) if *i >= 0 => Some(*i as u64),
                _ => None,
            },
            notification: j
                .get("notifications")
                .and_then(|n| n.get("state"))
                .and_then(Json::as_str)
                .and_then(Notification::parse)
                .unwrap_or_default(),
            alerts: match j.get("alerts") {
                // The server lists attached alerts as objects (`alerts[i].alert.id`).
                Some(Json::Array(items)) => items
                    .iter()
                    .filter_map(|a| {
                        a.as_str()
                            .or_else(|| {
                                a.get("alert")
                                    .and_then(|x| x.get("id"))
                                    .and_then(Json::as_str)
                            })
                            .or_else(|| a.get("id").and_then(Json::as_str))
                            .map(str::to_owned)
                    })
                    .collect(),
                _ => Vec::new(),
            },
            created: ts_of("created").unwrap_or_else(Timestamp::now),
            started: ts_of("started"),
            endtime: ts_of("endtime"),
        })
    }
}

/// How a metrics alert combines the values in its window (`aggregation`, protocol doc §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aggregation {
    /// `average` (the Python client's default).
    #[default]
    Average,
    /// `sum`
    Sum,
    /// `at least one`
    AtLeastOne,
    /// `all`
    All,
}

impl Aggregation {
    /// The aggregation as the server spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Average => "average",
            Aggregation::Sum => "sum",
            Aggregation::AtLeastOne => "at least one",
            Aggregation::All => "all",
        }
    }
}

/// What an alert watches (`source` plus its definition).
#[derive(Debug, Clone, PartialEq)]
pub enum AlertRule {
    /// `is above` / `is below` a threshold.
    Threshold {
        /// Metric name.
        metric: String,
        /// True for `is above`, false for `is below`.
        above: bool,
        /// The threshold.
        threshold: f64,
        /// Averaging window in seconds.
        window: u64,
        /// How the values in the window are combined.
        aggregation: Aggregation,
    },
    /// `is inside range` / `is outside range`.
    Range {
        /// Metric name.
        metric: String,
        /// True for `is inside range`, false for `is outside range`.
        inside: bool,
        /// Lower limit.
        low: f64,
        /// Upper limit.
        high: f64,
        /// Averaging window in seconds.
        window: u64,
        /// How the values in the window are combined.
        aggregation: Aggregation,
    },
    /// An event message matching a pattern.
    Events {
        /// Text to look for.
        pattern: String,
    },
    /// An alert whose state the solver sets itself (`log_alert`).
    User,
}

/// An alert definition (`POST /api/alerts`, `alerts/<id>.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Alert name.
    pub name: String,
    /// Free-text description (`null` when not given).
    pub description: Option<String>,
    /// What triggers it.
    pub rule: AlertRule,
    /// How often the server evaluates it, in seconds (not used by user alerts).
    pub frequency: u64,
    /// `true` sends e-mail notifications (`"email"`), `false` none.
    pub notify_email: bool,
    /// Whether the alert firing aborts the run (`trigger_abort`, sent as `abort`).
    pub abort: bool,
}

impl Alert {
    /// The alert as simvue 2.6.2 writes it offline: the definition both under `alert` and at the
    /// top level (the sender rebuilds the alert from the top-level keys, protocol doc §8.5).
    pub fn to_json(&self) -> Json {
        let notification = if self.notify_email { "email" } else { "none" };
        let (obj_type, source, definition) = match &self.rule {
            AlertRule::Threshold {
                metric,
                above,
                threshold,
                window,
                aggregation,
            } => (
                "MetricsThresholdAlert",
                "metrics",
                Some(
                    Json::object()
                        .with("rule", if *above { "is above" } else { "is below" })
                        .with("frequency", self.frequency as i64)
                        .with("window", *window as i64)
                        .with("metric", metric.as_str())
                        .with("aggregation", aggregation.as_str())
                        .with("threshold", *threshold),
                ),
            ),
            AlertRule::Range {
                metric,
                inside,
                low,
                high,
                window,
                aggregation,
            } => (
                "MetricsRangeAlert",
                "metrics",
                Some(
                    Json::object()
                        .with(
                            "rule",
                            if *inside {
                                "is inside range"
                            } else {
                                "is outside range"
                            },
                        )
                        .with("frequency", self.frequency as i64)
                        .with("window", *window as i64)
                        .with("metric", metric.as_str())
                        .with("aggregation", aggregation.as_str())
                        .with("range_low", *low)
                        .with("range_high", *high),
                ),
            ),
            AlertRule::Events { pattern } => (
                "EventsAlert",
                "events",
                Some(
                    Json::object()
                        .with("pattern", pattern.as_str())
                        .with("frequency", self.frequency as i64),
                ),
            ),
            AlertRule::User => ("UserAlert", "user", None),
        };
        let mut j = Json::object()
            .with("obj_type", obj_type)
            .with("name", self.name.as_str())
            .with(
                "description",
                self.description.as_deref().map_or(Json::Null, Json::from),
            )
            .with("notification", notification)
            .with("source", source);
        let Some(definition) = definition else {
            // A user alert has no definition (alert/user.py new()).
            return j.with("enabled", true).with("abort", self.abort);
        };
        // 2.6.2's range alert stages `enabled` before `alert`; the others after it.
        if matches!(self.rule, AlertRule::Range { .. }) {
            j = j.with("enabled", true).with("alert", definition.clone());
        } else {
            j = j.with("alert", definition.clone()).with("enabled", true);
        }
        if let Json::Object(entries) = definition {
            for (k, v) in entries {
                j.set(&k, v);
            }
        }
        j.with("abort", self.abort)
    }

    /// The body of `POST /api/alerts`: the common keys and the definition under `alert`, without
    /// the top-level copies that only the offline file carries (protocol doc §7.3).
    pub fn to_online_json(&self) -> Json {
        let Json::Object(entries) = self.to_json() else {
            unreachable!("alerts are objects")
        };
        const COMMON: [&str; 7] = [
            "name",
            "description",
            "notification",
            "source",
            "alert",
            "enabled",
            "abort",
        ];
        Json::Object(
            entries
                .into_iter()
                .filter(|(k, _)| COMMON.contains(&k.as_str()))
                .collect(),
        )
    }

    /// Whether this is a user alert (the only kind whose state `log_alert` sets).
    pub fn is_user(&self) -> bool {
        matches!(self.rule, AlertRule::User)
    }
}

/// The state of a user alert for a run (`log_alert`, protocol doc §7.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// `ok`
    Ok,
    /// `critical` (the Python client's default)
    Critical,
}

impl AlertState {
    /// The state as the server spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Ok => "ok",
            AlertState::Critical => "critical",
        }
    }
}

/// One `log_metrics` call (`MetricSet`, `models.py:87-92`).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSet {
    /// Seconds since the run started (or as given).
    pub time: f64,
    /// When the values were logged.
    pub timestamp: Timestamp,
    /// Step number.
    pub step: u64,
    /// Metric names (shared, since the same names recur every step) and values.
    pub values: Vec<(Arc<str>, f64)>,
}

impl MetricSet {
    /// The item as it appears in a metrics batch.
    pub fn to_json(&self) -> Json {
        Json::Object(vec![
            ("time".into(), Json::Float(self.time)),
            ("timestamp".into(), Json::Str(self.timestamp.to_string())),
            ("step".into(), Json::Int(self.step as i64)),
            (
                "values".into(),
                Json::Object(
                    self.values
                        .iter()
                        .map(|(k, v)| (k.to_string(), Json::Float(*v)))
                        .collect(),
                ),
            ),
        ])
    }
}

/// A grid that tensor metrics are values on (`POST /api/grids`, `grids/<id>.json`,
/// protocol doc §4.6): a list of axes, each its ticks, and a label per axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Grid name.
    pub name: String,
    /// Tick positions, axis by axis (axis 0 first).
    pub axes: Vec<Vec<f64>>,
    /// One label per axis.
    pub labels: Vec<String>,
    /// `(run id, metric)` pairs attached to it (kept only in the offline file, where the
    /// sender attaches them once it has uploaded the grid).
    pub runs: Vec<(String, String)>,
}

impl Grid {
    /// Points along each axis, axis 0 first.
    pub fn shape(&self) -> Vec<usize> {
        self.axes.iter().map(Vec::len).collect()
    }

    /// The grid as 2.6.2 writes it offline.
    pub fn to_json(&self) -> Json {
        Json::object()
            .with("obj_type", "Grid")
            .with(
                "grid",
                Json::Array(
                    self.axes
                        .iter()
                        .map(|a| Json::Array(a.iter().map(|t| Json::Float(*t)).collect()))
                        .collect(),
                ),
            )
            .with("labels", self.labels.clone())
            .with("name", self.name.as_str())
            .with(
                "runs",
                Json::Array(
                    self.runs
                        .iter()
                        .map(|(r, m)| Json::Array(vec![r.as_str().into(), m.as_str().into()]))
                        .collect(),
                ),
            )
    }

    /// The body of `POST /api/grids`.
    pub fn to_online_json(&self) -> Json {
        strip(self.to_json(), &["obj_type", "runs"])
    }
}

/// One array of values of a metric on its grid at a step (`GridMetricSet`, `models.py`).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSet {
    /// Seconds since the run started (or as given).
    pub time: f64,
    /// When the values were logged.
    pub timestamp: Timestamp,
    /// Step number.
    pub step: u64,
    /// The metric.
    pub metric: Arc<str>,
    /// The id of its grid.
    pub grid: Arc<str>,
    /// Points along each grid axis, axis 0 first.
    pub shape: Vec<usize>,
    /// The values, axis 0 varying fastest (the memory order of a Fortran array `f(nx, ny)` and
    /// of a C array `f[ny][nx]`).
    pub values: Vec<f64>,
}

impl TensorSet {
    /// The values as the nested list 2.6.2 sends (`ndarray.tolist()`): the outermost list runs
    /// along the last grid axis, the innermost along axis 0 (the client's own grids are made
    /// for `reversed(array.shape)`, run.py `log_metrics`).
    pub fn array(&self) -> Json {
        fn nest(values: &[f64], dims: &[usize]) -> Json {
            match dims.split_last() {
                None | Some((_, [])) => {
                    Json::Array(values.iter().map(|v| Json::Float(*v)).collect())
                }
                Some((&outer, rest)) => {
                    let inner: usize = rest.iter().product();
                    Json::Array(
                        (0..outer)
                            .map(|k| nest(&values[k * inner..(k + 1) * inner], rest))
                            .collect(),
                    )
                }
            }
        }
        nest(&self.values, &self.shape)
    }

    /// The item as it appears in a batch (keys in 2.6.2's order).
    pub fn to_json(&self) -> Json {
        Json::object()
            .with("time", self.time)
            .with("timestamp", self.timestamp.to_string())
            .with("step", self.step as i64)
            .with("array", self.array())
            .with("grid", &*self.grid)
            .with("metric", &*self.metric)
    }
}

/// A batch of tensor metrics as the offline file holds it (`obj_type` `GridMetrics`).
pub fn tensors_batch(run_id: &str, items: &[TensorSet]) -> Json {
    Json::object()
        .with("obj_type", "GridMetrics")
        .with("run", run_id)
        .with(
            "data",
            Json::Array(items.iter().map(TensorSet::to_json).collect()),
        )
}

/// A batch of tensor metrics as `POST /api/runs/{run}/metrics/` carries it: a list of items.
pub fn tensors_payload(items: &[TensorSet]) -> Json {
    Json::Array(items.iter().map(TensorSet::to_json).collect())
}

/// Event severity (`log_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// debug
    Debug,
    /// info (the default)
    Info,
    /// warning
    Warning,
    /// error
    Error,
    /// critical
    Critical,
}

impl LogLevel {
    /// The level as the server spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
        }
    }
}

/// One `log_event` call (`EventSet`, `models.py:115-121`).
#[derive(Debug, Clone, PartialEq)]
pub struct EventSet {
    /// The message.
    pub message: String,
    /// Its severity.
    pub log_level: LogLevel,
    /// When it was logged.
    pub timestamp: Timestamp,
}

impl EventSet {
    /// The item as it appears in an events batch.
    pub fn to_json(&self) -> Json {
        Json::object()
            .with("message", self.message.as_str())
            .with("log_level", self.log_level.as_str())
            .with("timestamp", self.timestamp.to_string())
    }
}

/// A metrics batch for one run (`obj_type` `Metrics`).
pub fn metrics_batch(run_id: &str, items: &[MetricSet]) -> Json {
    Json::object()
        .with("obj_type", "Metrics")
        .with("run", run_id)
        .with(
            "metrics",
            Json::Array(items.iter().map(MetricSet::to_json).collect()),
        )
}

/// A metric name and its encodings, made once when the name is first seen: a solver logs
/// the same names every step, so the writers copy bytes instead of escaping text per value.
#[derive(Debug, PartialEq, Eq)]
pub struct MetricName {
    text: Box<str>,
    /// The JSON string, quotes included, as Python's `json.dump` escapes it.
    json: Box<[u8]>,
    /// The msgpack string (`str` header and UTF-8 bytes).
    msgpack: Box<[u8]>,
}

impl MetricName {
    /// Encodes `text` (not validated here: that is the caller's rule).
    pub fn new(text: &str) -> MetricName {
        let mut json = String::with_capacity(text.len() + 2);
        crate::json::write_python_string(&mut json, text);
        let mut msgpack = Vec::with_capacity(text.len() + 5);
        let _ = rmp::encode::write_str(&mut msgpack, text);
        MetricName {
            text: text.into(),
            json: json.into_bytes().into(),
            msgpack: msgpack.into(),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The name as a JSON string.
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// The name as a msgpack string.
    pub fn msgpack(&self) -> &[u8] {
        &self.msgpack
    }
}

/// The names that metric values refer to by number. Append-only while a run logs, so a
/// number, once given, always means the same name.
pub type NameTable = Vec<Arc<MetricName>>;

/// What one `log_metrics` call recorded besides its values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SetHeader {
    /// Seconds since the run started (or as given).
    pub time: f64,
    /// When the values were logged.
    pub timestamp: Timestamp,
    /// Step number.
    pub step: u64,
    /// How many values the set has (they follow those of the sets before it).
    pub len: u32,
}

/// Metric sets stored in columns: one header per set, then every set's name numbers and
/// values back to back. The dispatcher's queue fills one and a batch carries it as it is, so
/// neither logging nor batching allocates per set or copies a name.
#[derive(Debug, Default, Clone)]
pub struct MetricColumns {
    sets: Vec<SetHeader>,
    ids: Vec<u32>,
    values: Vec<f64>,
    /// How many sets, and values, the memory already made resident holds (filled before the
    /// last `clear`, or [`MetricColumns::touch`]ed): what `touch` need not write again.
    resident: (usize, usize),
}

impl PartialEq for MetricColumns {
    /// The same sets (whatever memory is resident).
    fn eq(&self, other: &MetricColumns) -> bool {
        self.sets == other.sets && self.ids == other.ids && self.values == other.values
    }
}

impl MetricColumns {
    /// Bytes one set with `n` values takes (what the memory bound counts).
    pub const fn set_bytes(n: usize) -> usize {
        std::mem::size_of::<SetHeader>() + n * Self::VALUE_BYTES
    }

    /// Empty columns with room for `sets` sets and `values` values. Memory that is reserved
    /// but never written costs address space, not RAM.
    pub fn with_capacity(sets: usize, values: usize) -> MetricColumns {
        MetricColumns {
            sets: Vec::with_capacity(sets),
            ids: Vec::with_capacity(values),
            values: Vec::with_capacity(values),
            resident: (0, 0),
        }
    }

    /// Bytes of one value: its name's number and the value.
    pub const VALUE_BYTES: usize = std::mem::size_of::<u32>() + std::mem::size_of::<f64>();

    /// Appends a set; `ids` (numbers in a [`NameTable`]) and `values` have the same length,
    /// at most `u32::MAX`.
    #[inline]
    pub fn push(
        &mut self,
        time: f64,
        timestamp: Timestamp,
        step: u64,
        ids: &[u32],
        values: &[f64],
    ) {
        debug_assert_eq!(ids.len(), values.len());
        self.ids.extend_from_slice(ids);
        self.values.extend_from_slice(values);
        self.sets.push(SetHeader {
            time,
            timestamp,
            step,
            len: ids.len() as u32,
        });
    }

    /// Number of sets.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether there is no set.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Number of values, all sets together.
    pub fn values_len(&self) -> usize {
        self.values.len()
    }

    /// Bytes held, as the memory bound counts them.
    pub fn bytes(&self) -> usize {
        Self::bytes_of(self.sets.len(), self.values.len())
    }

    /// Bytes of `sets` sets of `values` values in all, as the memory bound counts them.
    #[inline]
    pub const fn bytes_of(sets: usize, values: usize) -> usize {
        sets * Self::set_bytes(0) + values * Self::VALUE_BYTES
    }

    /// Bytes allocated (what the columns could hold without growing).
    pub fn capacity_bytes(&self) -> usize {
        self.sets.capacity() * Self::set_bytes(0) + self.values.capacity() * Self::VALUE_BYTES
    }

    /// Where to cut the sets into batches of at most `max_sets` sets and `max_bytes` bytes
    /// each (a set larger than `max_bytes` makes a batch of its own): the start of every batch
    /// after the first.
    pub fn cuts(&self, max_sets: usize, max_bytes: usize) -> Vec<usize> {
        self.cuts_from((0, 0), max_sets, max_bytes)
    }

    /// As [`MetricColumns::cuts`] for the sets from `first.0` on, whose values start at value
    /// `first.1`.
    pub fn cuts_from(
        &self,
        first: (usize, usize),
        max_sets: usize,
        max_bytes: usize,
    ) -> Vec<usize> {
        let mut cuts = Vec::new();
        let (sets, values) = (self.len() - first.0, self.values.len() - first.1);
        if sets <= max_sets && Self::bytes_of(sets, values) <= max_bytes {
            return cuts;
        }
        let first = first.0;
        let (mut start, mut bytes) = (first, 0);
        for (i, h) in self.sets.iter().enumerate().skip(first) {
            let b = Self::set_bytes(h.len as usize);
            if i > start && (i - start >= max_sets || bytes + b > max_bytes) {
                cuts.push(i);
                (start, bytes) = (i, 0);
            }
            bytes += b;
        }
        // A last batch of a few sets (a block a little over the limit: one file of a handful
        // of sets each time) shares the sets of the one before it, half each, when both
        // halves keep within the limits.
        if let Some(&last) = cuts.last() {
            let before = cuts.len().checked_sub(2).map_or(first, |i| cuts[i]);
            let end = self.sets.len();
            if (end - last) * 4 < last - before {
                let mid = before + (end - before) / 2;
                let bytes = |r: std::ops::Range<usize>| -> usize {
                    self.sets[r]
                        .iter()
                        .map(|h| Self::set_bytes(h.len as usize))
                        .sum()
                };
                let fits = |r: std::ops::Range<usize>| r.len() <= max_sets && bytes(r) <= max_bytes;
                if fits(before..mid) && fits(mid..end) {
                    cuts.pop();
                    cuts.push(mid);
                }
            }
        }
        cuts
    }

    /// Empties the columns, keeping their capacity.
    pub fn clear(&mut self) {
        self.resident = (
            self.resident.0.max(self.sets.len()),
            self.resident.1.max(self.values.len()),
        );
        self.sets.clear();
        self.ids.clear();
        self.values.clear();
    }

    /// The sets in order: header, name numbers, values.
    pub fn iter(&self) -> impl Iterator<Item = (&SetHeader, &[u32], &[f64])> + '_ {
        self.iter_from(0..self.sets.len(), 0)
    }

    /// The sets in `sets`, whose first value is at `first_value`.
    fn iter_from(
        &self,
        sets: std::ops::Range<usize>,
        first_value: usize,
    ) -> impl Iterator<Item = (&SetHeader, &[u32], &[f64])> + '_ {
        let mut start = first_value;
        self.sets[sets].iter().map(move |h| {
            let range = start..start + h.len as usize;
            start = range.end;
            (h, &self.ids[range.clone()], &self.values[range])
        })
    }

    /// Whether the columns have room for `values` values without growing (a queue's block).
    pub fn holds(&self, values: usize) -> bool {
        self.values.capacity() >= values
    }

    /// Whether one more set of `values` values fits without growing, within `max_values`
    /// values in all.
    #[inline]
    pub fn fits(&self, values: usize, max_values: usize) -> bool {
        self.sets.len() < self.sets.capacity()
            && self.values.len() + values <= self.values.capacity().min(max_values)
    }

    /// Removes the first `sets` sets, whose values are the first `values` values, moving the
    /// others to the front (the columns keep their memory: they do not move).
    pub fn drain_front(&mut self, sets: usize, values: usize) {
        self.resident = self.resident();
        self.sets.drain(..sets);
        self.ids.drain(..values);
        self.values.drain(..values);
    }

    /// Sets the columns have room for without growing.
    pub fn sets_capacity(&self) -> usize {
        self.sets.capacity()
    }

    /// Where the columns' memory is, for another thread to copy sets from
    /// ([`MetricColumns::extend_copied`]) while this block is being filled: valid as long as
    /// the columns do not grow (see [`MetricColumns::fits`]).
    pub fn at(&self) -> ColumnsAt {
        ColumnsAt {
            sets: self.sets.as_ptr(),
            ids: self.ids.as_ptr(),
            values: self.values.as_ptr(),
        }
    }

    /// Appends copies of the sets `from.0..to` of the columns at `at`, whose values start at
    /// value `from.1`; returns how many values they hold.
    ///
    /// # Safety
    /// Those sets and their values are initialised (below the other columns' length), the
    /// columns did not grow since `at` was taken, and nothing writes them meanwhile.
    pub unsafe fn extend_copied(
        &mut self,
        at: ColumnsAt,
        from: (usize, usize),
        to: usize,
    ) -> usize {
        let sets = std::slice::from_raw_parts(at.sets.add(from.0), to - from.0);
        let n: usize = sets.iter().map(|h| h.len as usize).sum();
        self.sets.extend_from_slice(sets);
        self.ids
            .extend_from_slice(std::slice::from_raw_parts(at.ids.add(from.1), n));
        self.values
            .extend_from_slice(std::slice::from_raw_parts(at.values.add(from.1), n));
        n
    }

    /// Makes the memory that `sets` sets of `values` values in all will fill (with the sets
    /// there now) resident, by writing a byte into each page of it not yet written (within
    /// the room reserved): a block prepared so off the logging thread spares that thread the
    /// page faults, some 1.5 µs each, of filling fresh memory. Returns the pages written.
    pub fn touch(&mut self, sets: usize, values: usize) -> usize {
        let (done_sets, done_values) = self.resident;
        let pages = touch_spare(&mut self.sets, done_sets, sets)
            + touch_spare(&mut self.ids, done_values, values)
            + touch_spare(&mut self.values, done_values, values);
        self.resident = (
            done_sets.max(sets.min(self.sets.capacity())),
            done_values.max(values.min(self.values.capacity())),
        );
        pages
    }

    /// How many sets, and values, the memory already made resident holds.
    pub fn resident(&self) -> (usize, usize) {
        (
            self.resident.0.max(self.sets.len()),
            self.resident.1.max(self.values.len()),
        )
    }
}

/// Where the columns of a [`MetricColumns`] are ([`MetricColumns::at`]).
#[derive(Debug, Clone, Copy)]
pub struct ColumnsAt {
    sets: *const SetHeader,
    ids: *const u32,
    values: *const f64,
}

/// Writes a zero byte into every page of `v`'s spare capacity that items `from..to` take,
/// past its items; returns the pages written.
fn touch_spare<T>(v: &mut Vec<T>, from: usize, to: usize) -> usize {
    const PAGE: usize = 4096;
    let (len, room) = (v.len(), v.capacity());
    let size = std::mem::size_of::<T>();
    let bytes = (to.clamp(len, room) - len) * size;
    let resident = (from.clamp(len, room) - len) * size;
    let start = v.spare_capacity_mut().as_mut_ptr().cast::<u8>();
    // From the first page boundary after the items already resident (the page before it
    // holds one of them), then one byte per page.
    let first = start.wrapping_add(resident);
    let mut at = resident + first.align_offset(PAGE);
    let mut pages = 0;
    while at < bytes {
        // SAFETY: `at < bytes`, within the spare capacity, which nothing else refers to; it
        // is uninitialised memory of this vector, which a volatile write keeps the compiler
        // from leaving out.
        unsafe { start.add(at).write_volatile(0) };
        pages += 1;
        at += PAGE;
    }
    pages
}

/// A metrics batch for one run as the sinks take it: a run of sets of shared columns, and the
/// names their numbers refer to. Cutting a queue's block into batches (at most 16000 sets and
/// 4 MiB each) shares the block; nothing is copied.
#[derive(Debug, Clone)]
pub struct MetricBatch {
    /// The names (shared with the queue's table; it may hold names the batch does not use).
    pub names: Arc<NameTable>,
    cols: Arc<MetricColumns>,
    sets: std::ops::Range<usize>,
    first_value: usize,
    values: usize,
}

impl MetricBatch {
    /// The batches of `cols` cut before each set in `cuts` (increasing).
    pub fn cut(names: &Arc<NameTable>, cols: MetricColumns, cuts: &[usize]) -> Vec<MetricBatch> {
        MetricBatch::cut_from(names, cols, (0, 0), cuts)
    }

    /// As [`MetricBatch::cut`] for the sets from `first.0` on, whose values start at value
    /// `first.1` (those before were taken otherwise).
    pub fn cut_from(
        names: &Arc<NameTable>,
        cols: MetricColumns,
        first: (usize, usize),
        cuts: &[usize],
    ) -> Vec<MetricBatch> {
        let cols = Arc::new(cols);
        let ends = cuts.iter().copied().chain(std::iter::once(cols.len()));
        let (mut start, mut first_value) = first;
        let mut batches = Vec::with_capacity(cuts.len() + 1);
        for end in ends {
            let values: usize = cols.sets[start..end].iter().map(|h| h.len as usize).sum();
            batches.push(MetricBatch {
                names: names.clone(),
                cols: cols.clone(),
                sets: start..end,
                first_value,
                values,
            });
            (start, first_value) = (end, first_value + values);
        }
        batches
    }

    /// A batch of all of `cols`.
    pub fn new(names: Arc<NameTable>, cols: MetricColumns) -> MetricBatch {
        let mut b = MetricBatch::cut(&names, cols, &[]);
        b.pop().unwrap_or_else(|| unreachable!("one batch"))
    }

    /// A batch of `items` (names numbered in order of appearance).
    pub fn from_sets(items: &[MetricSet]) -> MetricBatch {
        let mut names: NameTable = Vec::new();
        let mut known: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        let mut sets = MetricColumns::default();
        let mut ids = Vec::new();
        let mut values = Vec::new();
        for m in items {
            ids.clear();
            values.clear();
            for (k, v) in &m.values {
                let id = *known.entry(k).or_insert_with(|| {
                    names.push(Arc::new(MetricName::new(k)));
                    names.len() as u32 - 1
                });
                ids.push(id);
                values.push(*v);
            }
            sets.push(m.time, m.timestamp, m.step, &ids, &values);
        }
        MetricBatch::new(Arc::new(names), sets)
    }

    /// The sets in order: header, name numbers, values.
    pub fn iter(&self) -> impl Iterator<Item = (&SetHeader, &[u32], &[f64])> + '_ {
        self.cols.iter_from(self.sets.clone(), self.first_value)
    }

    /// The sets as wire objects (the generic, slow form).
    pub fn to_sets(&self) -> Vec<MetricSet> {
        self.iter()
            .map(|(h, ids, values)| MetricSet {
                time: h.time,
                timestamp: h.timestamp,
                step: h.step,
                values: ids
                    .iter()
                    .zip(values)
                    .map(|(&id, &v)| (Arc::from(self.names[id as usize].as_str()), v))
                    .collect(),
            })
            .collect()
    }

    /// Number of sets.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether the batch has no set.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Number of values, all sets together.
    pub fn values_len(&self) -> usize {
        self.values
    }

    /// Bytes of metric data, as the memory bound counts them.
    pub fn bytes(&self) -> usize {
        MetricColumns::bytes_of(self.len(), self.values)
    }

    /// The columns back, when this is the last batch sharing them.
    pub fn into_columns(self) -> Option<MetricColumns> {
        Arc::try_unwrap(self.cols).ok()
    }
}

/// Timestamps of a batch written as text: sets logged within the same second share all but
/// the last six digits, which are then the only ones formatted.
pub(crate) struct TimestampText {
    second: i64,
    text: [u8; 26],
}

impl TimestampText {
    /// Nothing formatted yet.
    pub(crate) fn new() -> TimestampText {
        TimestampText {
            second: i64::MIN,
            text: [0; 26],
        }
    }

    /// `t` in the wire form (see [`Timestamp::to_bytes`]).
    #[inline]
    pub(crate) fn get(&mut self, t: Timestamp) -> &[u8; 26] {
        let second = t.0.div_euclid(1_000_000);
        if second != self.second {
            self.second = second;
            self.text = t.to_bytes();
        } else {
            let mut micros = t.0.rem_euclid(1_000_000) as u32;
            for b in self.text[20..].iter_mut().rev() {
                *b = b'0' + (micros % 10) as u8;
                micros /= 10;
            }
        }
        &self.text
    }
}

/// Where [`write_metrics_batch_text`] hands its text: a piece of it, and the number of sets
/// whose text has been handed in full so far.
pub type BatchTextFlush<'a, E> = dyn FnMut(&[u8], usize) -> std::result::Result<(), E> + 'a;

/// Writes the text of a metrics batch file: `metrics_batch(run_id, ..).to_compact_json()`,
/// written straight from the columns (the offline writer's hot path). The file only has to be
/// what `simvue-sender` reads with `json.load`, so it is compact, not indented as the Python
/// client writes it. `flush` is handed the text so far whenever `out` holds more than `chunk`
/// bytes, and the rest at the end, so a batch of any size needs a bounded buffer and few
/// writes; with it, the number of sets whose text it has now been handed in full.
pub fn write_metrics_batch_text<E>(
    run_id: &str,
    batch: &MetricBatch,
    out: &mut Vec<u8>,
    chunk: usize,
    flush: &mut BatchTextFlush<'_, E>,
) -> std::result::Result<(), E> {
    use crate::json::push_python_float;
    let mut run = String::with_capacity(run_id.len() + 2);
    crate::json::write_python_string(&mut run, run_id);
    out.clear();
    out.extend_from_slice(b"{\"obj_type\":\"Metrics\",\"run\":");
    out.extend_from_slice(run.as_bytes());
    out.extend_from_slice(b",\"metrics\":[");
    let names = &*batch.names;
    let mut stamps = TimestampText::new();
    let mut digits = itoa::Buffer::new();
    for (i, (h, ids, values)) in batch.iter().enumerate() {
        if out.len() > chunk {
            flush(&out[..], i)?;
            out.clear();
        }
        out.extend_from_slice(if i == 0 {
            b"{\"time\":"
        } else {
            b",{\"time\":"
        });
        push_python_float(out, h.time);
        out.extend_from_slice(b",\"timestamp\":\"");
        out.extend_from_slice(stamps.get(h.timestamp));
        out.extend_from_slice(b"\",\"step\":");
        out.extend_from_slice(digits.format(h.step).as_bytes());
        out.extend_from_slice(b",\"values\":{");
        for (j, (&id, &v)) in ids.iter().zip(values).enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(names[id as usize].json());
            out.push(b':');
            push_python_float(out, v);
        }
        out.extend_from_slice(b"}}");
    }
    out.extend_from_slice(b"]}");
    flush(&out[..], batch.len())
}

/// The text of a metrics batch file as a string (see [`write_metrics_batch_text`]).
pub fn metrics_batch_text(run_id: &str, batch: &MetricBatch) -> String {
    let mut out = Vec::new();
    let mut text = Vec::new();
    let _ = write_metrics_batch_text::<()>(run_id, batch, &mut out, usize::MAX, &mut |b, _| {
        text.extend_from_slice(b);
        Ok(())
    });
    // The writer produces ASCII only.
    String::from_utf8(text).unwrap_or_default()
}

/// An events batch for one run as the offline file holds it (`obj_type` `Events`).
pub fn events_batch(run_id: &str, items: &[EventSet]) -> Json {
    Json::object()
        .with("obj_type", "Events")
        .with("run", run_id)
        .with(
            "events",
            Json::Array(items.iter().map(EventSet::to_json).collect()),
        )
}

/// An events batch as `POST /api/events` carries it.
pub fn events_payload(run_id: &str, items: &[EventSet]) -> Json {
    strip(events_batch(run_id, items), &["obj_type"])
}

// ---------------------------------------------------------------------------------------------
// Reading cache files back (the uploader, `simvue send`): the same objects, from the files the
// writers above produce or that simvue 2.6.2 writes (protocol doc §8.2, §8.5).

/// Keys of a cache file that never go to the server: the class name, the creation time, and
/// the sender's failure mark (`_local_only_args`, `base.py:203`; `actions.py:204`).
pub const LOCAL_ONLY_KEYS: [&str; 3] = ["obj_type", "created", "upload_failed"];

/// The request body for a cached folder, run or tag: the file minus its local-only keys. These
/// are documents the server takes verbatim (protocol doc §8.5), so keys this library never
/// writes (a Python run's `ttl` or `visibility`) go as they are.
pub fn document_body(cached: &Json) -> Json {
    strip(cached.clone(), &LOCAL_ONLY_KEYS)
}

fn number_of(j: &Json, key: &str) -> Option<f64> {
    match j.get(key)? {
        Json::Bool(b) => Some(f64::from(u8::from(*b))),
        other => other.as_f64(),
    }
}

impl LogLevel {
    /// Parses a level as the server spells it.
    pub fn parse(s: &str) -> Option<LogLevel> {
        [
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warning,
            LogLevel::Error,
            LogLevel::Critical,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
    }
}

/// The `time`, `timestamp` and `step` of a cached metric or grid metric item (`what` names
/// it in errors).
fn read_stamp(j: &Json, what: &str) -> Result<(f64, Timestamp, u64)> {
    let bad = |msg: &str| Error::invalid(format!("{what}: {msg}"));
    let time = number_of(j, "time").ok_or_else(|| bad("no numeric time"))?;
    let timestamp = j
        .get("timestamp")
        .and_then(Json::as_str)
        .and_then(Timestamp::parse)
        .ok_or_else(|| bad("no valid timestamp"))?;
    let step = j
        .get("step")
        .and_then(Json::as_i64)
        .filter(|s| *s >= 0)
        .ok_or_else(|| bad("no non-negative integer step"))? as u64;
    Ok((time, timestamp, step))
}

impl MetricSet {
    /// Reads one item of a metrics batch (the inverse of [`MetricSet::to_json`]). Values may be
    /// integers or booleans in a Python cache; they become floats, as every value this
    /// library sends is.
    pub fn from_json(j: &Json) -> Result<MetricSet> {
        let bad = |what: &str| Error::invalid(format!("metric item: {what}"));
        let (time, timestamp, step) = read_stamp(j, "metric item")?;
        let values = j
            .get("values")
            .and_then(Json::as_object)
            .ok_or_else(|| bad("no values"))?
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Json::Bool(b) => Some(f64::from(u8::from(*b))),
                    other => other.as_f64(),
                };
                v.map(|v| (Arc::from(k.as_str()), v))
                    .ok_or_else(|| bad(&format!("value of {k:?} is not a number")))
            })
            .collect::<Result<_>>()?;
        Ok(MetricSet {
            time,
            timestamp,
            step,
            values,
        })
    }
}

impl EventSet {
    /// Reads one item of an events batch (the inverse of [`EventSet::to_json`]); a missing or
    /// null level is `info`, the Python client's default.
    pub fn from_json(j: &Json) -> Result<EventSet> {
        let bad = |what: &str| Error::invalid(format!("event item: {what}"));
        Ok(EventSet {
            message: j
                .get("message")
                .and_then(Json::as_str)
                .ok_or_else(|| bad("no message"))?
                .to_owned(),
            log_level: match j.get("log_level") {
                None | Some(Json::Null) => LogLevel::Info,
                Some(l) => l
                    .as_str()
                    .and_then(LogLevel::parse)
                    .ok_or_else(|| bad("unknown log_level"))?,
            },
            timestamp: j
                .get("timestamp")
                .and_then(Json::as_str)
                .and_then(Timestamp::parse)
                .ok_or_else(|| bad("no valid timestamp"))?,
        })
    }
}

/// Reads a cached batch (`metrics/<id>.json`, `events/<id>.json`): its run id and items.
fn read_batch<T>(j: &Json, key: &str, item: fn(&Json) -> Result<T>) -> Result<(String, Vec<T>)> {
    let run = j
        .get("run")
        .and_then(Json::as_str)
        .ok_or_else(|| Error::invalid(format!("{key} batch has no run")))?;
    let items = j
        .get(key)
        .and_then(Json::as_array)
        .ok_or_else(|| Error::invalid(format!("{key} batch has no {key} list")))?
        .iter()
        .map(item)
        .collect::<Result<_>>()?;
    Ok((run.to_owned(), items))
}

/// Reads a cached metrics batch (the inverse of [`metrics_batch`]).
pub fn read_metrics_batch(j: &Json) -> Result<(String, Vec<MetricSet>)> {
    read_batch(j, "metrics", MetricSet::from_json)
}

/// Reads a cached events batch (the inverse of [`events_batch`]).
pub fn read_events_batch(j: &Json) -> Result<(String, Vec<EventSet>)> {
    read_batch(j, "events", EventSet::from_json)
}

/// Reads a cached tensor metrics batch (`grid_metrics/<id>.json`, the inverse of
/// [`tensors_batch`]; 2.6.2 writes the same `{"obj_type", "run", "data"}`): its run id and
/// arrays, whose `grid` is still the id the file holds.
pub fn read_tensors_batch(j: &Json) -> Result<(String, Vec<TensorSet>)> {
    let run = j
        .get("run")
        .and_then(Json::as_str)
        .ok_or_else(|| Error::invalid("grid_metrics batch has no run"))?;
    let items = j
        .get("data")
        .and_then(Json::as_array)
        .ok_or_else(|| Error::invalid("grid_metrics batch has no data list"))?
        .iter()
        .map(TensorSet::from_json)
        .collect::<Result<_>>()?;
    Ok((run.to_owned(), items))
}

impl TensorSet {
    /// Reads one item of a tensor metrics batch (the inverse of [`TensorSet::to_json`]): the
    /// nested `array` must be rectangular; its values become floats, as the Python sender's
    /// `GridMetricSet` validation makes them (`list[float] | list[list[float]]`).
    pub fn from_json(j: &Json) -> Result<TensorSet> {
        let bad = |what: &str| Error::invalid(format!("grid metric item: {what}"));
        let (time, timestamp, step) = read_stamp(j, "grid metric item")?;
        let text = |k: &str| {
            j.get(k)
                .and_then(Json::as_str)
                .map(Arc::from)
                .ok_or_else(|| bad(&format!("no {k}")))
        };
        let (metric, grid) = (text("metric")?, text("grid")?);
        // The nesting's sizes, outermost first, then the values with the innermost list
        // varying fastest: axis 0 of the grid (see `TensorSet::array`).
        let mut dims = Vec::new();
        let mut level = j.get("array").ok_or_else(|| bad("no array"))?;
        while let Json::Array(items) = level {
            dims.push(items.len());
            match items.first() {
                Some(first) => level = first,
                None => break,
            }
        }
        if dims.is_empty() || dims.contains(&0) {
            return Err(bad("array is not a non-empty list"));
        }
        let mut values = Vec::with_capacity(dims.iter().product());
        fn flatten(v: &Json, dims: &[usize], out: &mut Vec<f64>) -> bool {
            match (v, dims.split_first()) {
                (Json::Array(items), Some((&n, rest))) => {
                    items.len() == n && items.iter().all(|i| flatten(i, rest, out))
                }
                (Json::Bool(b), None) => {
                    out.push(f64::from(u8::from(*b)));
                    true
                }
                (Json::Array(_), None) => false,
                (x, None) => x.as_f64().map(|f| out.push(f)).is_some(),
                (_, Some(_)) => false,
            }
        }
        if !flatten(j.get("array").unwrap_or(&Json::Null), &dims, &mut values) {
            return Err(bad("array is not a rectangular nested list of numbers"));
        }
        dims.reverse();
        Ok(TensorSet {
            time,
            timestamp,
            step,
            metric,
            grid,
            shape: dims,
            values,
        })
    }
}

impl Grid {
    /// Reads a cached grid (`grids/<id>.json`, written by [`Grid::to_json`] or by simvue
    /// 2.6.2): its name, axes (ticks as floats, as `Grid.new` validates them), labels and the
    /// `[run, metric]` pairs to attach.
    pub fn from_cache(j: &Json) -> Result<Grid> {
        let bad = |what: &str| Error::invalid(format!("cached grid: {what}"));
        let name = j
            .get("name")
            .and_then(Json::as_str)
            .ok_or_else(|| bad("no name"))?
            .to_owned();
        let axes = j
            .get("grid")
            .and_then(Json::as_array)
            .ok_or_else(|| bad("no grid list"))?
            .iter()
            .map(|a| {
                a.as_array()
                    .and_then(|t| t.iter().map(Json::as_f64).collect::<Option<Vec<f64>>>())
                    .ok_or_else(|| bad("an axis is not a list of numbers"))
            })
            .collect::<Result<_>>()?;
        let labels = j
            .get("labels")
            .and_then(Json::as_array)
            .and_then(|l| {
                l.iter()
                    .map(|x| x.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| bad("no list of labels"))?;
        let runs = match j.get("runs") {
            None | Some(Json::Null) => Vec::new(),
            Some(r) => r
                .as_array()
                .and_then(|pairs| {
                    pairs
                        .iter()
                        .map(|p| match p.as_array()? {
                            [run, metric] => {
                                Some((run.as_str()?.to_owned(), metric.as_str()?.to_owned()))
                            }
                            _ => None,
                        })
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| bad("runs is not a list of [run, metric] pairs"))?,
        };
        Ok(Grid {
            name,
            axes,
            labels,
            runs,
        })
    }
}

impl Alert {
    /// The body of `POST /api/alerts` for a cached alert, written by [`Alert::to_json`] or by
    /// simvue 2.6.2: rebuilt from the top-level keys, as the Python sender does
    /// (`actions.py` `AlertUploadAction`, protocol doc §8.5), with the same choice of kind:
    /// `events`, `metrics` with a threshold, other `metrics` (a range), anything else a user
    /// alert. Unlike 2.6.2 it keeps `abort` (§8.6 item 5) and takes `threshold: 0` as a
    /// threshold (§8.6 item 6). The user-alert `status` map is not part of the definition.
    pub fn body_from_cache(cached: &Json) -> Result<Json> {
        let source = cached
            .get("source")
            .and_then(Json::as_str)
            .ok_or_else(|| Error::invalid("cached alert has no source"))?;
        let pick = |keys: &[&str]| -> Result<Json> {
            let mut def = Json::object();
            for k in keys {
                let v = cached
                    .get(k)
                    .cloned()
                    .ok_or_else(|| Error::invalid(format!("cached {source} alert has no {k:?}")))?;
                def.set(k, v);
            }
            Ok(def)
        };
        let definition = match source {
            "events" => Some(pick(&["pattern", "frequency"])?),
            "metrics" => {
                let threshold = cached.get("threshold").is_some_and(|t| *t != Json::Null);
                let mut keys = vec!["rule", "frequency", "window", "metric", "aggregation"];
                if threshold {
                    keys.push("threshold");
                } else {
                    keys.extend(["range_low", "range_high"]);
                }
                Some(pick(&keys)?)
            }
            _ => None,
        };
        let mut body = Json::object()
            .with(
                "name",
                cached
                    .get("name")
                    .cloned()
                    .ok_or_else(|| Error::invalid("cached alert has no name"))?,
            )
            .with(
                "description",
                cached.get("description").cloned().unwrap_or(Json::Null),
            )
            .with(
                "notification",
                cached
                    .get("notification")
                    .cloned()
                    .unwrap_or_else(|| "none".into()),
            )
            .with("source", if definition.is_some() { source } else { "user" });
        if let Some(def) = definition {
            body.set("alert", def);
        }
        body.set(
            "enabled",
            cached.get("enabled").cloned().unwrap_or(Json::Bool(true)),
        );
        if let Some(abort) = cached.get("abort") {
            body.set("abort", abort.clone());
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference_text(path: &str) -> String {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/python-offline-cache/"
        );
        std::fs::read_to_string(format!("{dir}{path}")).unwrap()
    }

    fn reference(path: &str) -> serde_json::Value {
        serde_json::from_str(&reference_text(path)).unwrap()
    }

    fn keys(v: &serde_json::Value) -> Vec<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    fn ours(j: &Json) -> serde_json::Value {
        serde_json::from_str(&j.to_python_json()).unwrap()
    }

    #[test]
    fn alerts_match_the_reference_files_exactly() {
        let threshold = Alert {
            name: "residual-too-high".into(),
            rule: AlertRule::Threshold {
                metric: "residual".into(),
                above: true,
                threshold: 1.0,
                window: 1,
                aggregation: Aggregation::Average,
            },
            description: None,
            frequency: 1,
            notify_email: false,
            abort: false,
        };
        let range = Alert {
            name: "temp-out-of-range".into(),
            rule: AlertRule::Range {
                metric: "t_max".into(),
                inside: false,
                low: 0.0,
                high: 100.0,
                window: 1,
                aggregation: Aggregation::Average,
            },
            description: None,
            frequency: 1,
            notify_email: false,
            abort: false,
        };
        let events = Alert {
            name: "diverged".into(),
            rule: AlertRule::Events {
                pattern: "diverged".into(),
            },
            description: None,
            frequency: 1,
            notify_email: false,
            abort: false,
        };
        for (alert, file) in [
            (
                threshold,
                "alerts/offline_e38d413a-e9e5-11f1-a0c5-02fc00000001.json",
            ),
            (
                range,
                "alerts/offline_e38da80a-e9e5-11f1-a0c5-02fc00000001.json",
            ),
            (
                events,
                "alerts/offline_e38df530-e9e5-11f1-a0c5-02fc00000001.json",
            ),
        ] {
            // Byte for byte: same keys, same order, same number formatting.
            assert_eq!(
                alert.to_json().to_python_json(),
                reference_text(file),
                "{file}"
            );
        }
    }

    #[test]
    fn alert_options_and_user_alerts_are_written_as_2_6_2_writes_them() {
        // What simvue 2.6.2 wrote offline for create_metric_threshold_alert(name="th",
        // metric="x", threshold=2.0, rule="is below", description="dd", window=3, frequency=2,
        // aggregation="at least one", notification="email", trigger_abort=True) and
        // create_user_alert(name="ua", description="user alert", notification="email",
        // trigger_abort=True) (before log_alert added its "status").
        let threshold = Alert {
            name: "th".into(),
            description: Some("dd".into()),
            rule: AlertRule::Threshold {
                metric: "x".into(),
                above: false,
                threshold: 2.0,
                window: 3,
                aggregation: Aggregation::AtLeastOne,
            },
            frequency: 2,
            notify_email: true,
            abort: true,
        };
        assert_eq!(
            threshold.to_json().to_python_json(),
            "{\n  \"obj_type\": \"MetricsThresholdAlert\",\n  \"name\": \"th\",\n  \"description\": \"dd\",\n  \"notification\": \"email\",\n  \"source\": \"metrics\",\n  \"alert\": {\n    \"rule\": \"is below\",\n    \"frequency\": 2,\n    \"window\": 3,\n    \"metric\": \"x\",\n    \"aggregation\": \"at least one\",\n    \"threshold\": 2.0\n  },\n  \"enabled\": true,\n  \"rule\": \"is below\",\n  \"frequency\": 2,\n  \"window\": 3,\n  \"metric\": \"x\",\n  \"aggregation\": \"at least one\",\n  \"threshold\": 2.0,\n  \"abort\": true\n}"
        );
        let user = Alert {
            name: "ua".into(),
            description: Some("user alert".into()),
            rule: AlertRule::User,
            frequency: 1,
            notify_email: true,
            abort: true,
        };
        assert_eq!(
            user.to_json().to_python_json(),
            "{\n  \"obj_type\": \"UserAlert\",\n  \"name\": \"ua\",\n  \"description\": \"user alert\",\n  \"notification\": \"email\",\n  \"source\": \"user\",\n  \"enabled\": true,\n  \"abort\": true\n}"
        );
        // Online, the same keys less obj_type (protocol doc §7.3).
        assert_eq!(
            user.to_online_json().to_compact_json(),
            r#"{"name":"ua","description":"user alert","notification":"email","source":"user","enabled":true,"abort":true}"#
        );
    }

    #[test]
    fn cached_tensor_batches_and_grids_read_back() {
        let t = TensorSet {
            time: 1.5,
            timestamp: Timestamp(1_700_000_000_000_000),
            step: 7,
            metric: "T".into(),
            grid: "offline_g".into(),
            shape: vec![3, 2],
            values: vec![0.0, 1.0, 2.0, 3.0, f64::NAN, 5.0],
        };
        let file = tensors_batch("offline_r", std::slice::from_ref(&t));
        let (run, items) =
            read_tensors_batch(&Json::parse(&file.to_python_json()).unwrap()).unwrap();
        assert_eq!(run, "offline_r");
        assert_eq!(items.len(), 1);
        let back = &items[0];
        assert_eq!(
            (back.shape.clone(), back.step, back.time),
            (vec![3, 2], 7, 1.5)
        );
        assert_eq!(back.values[..4], t.values[..4]);
        assert!(back.values[4].is_nan());
        assert_eq!(back.array().to_compact_json(), t.array().to_compact_json());
        // Integers and booleans become floats; ragged or empty arrays are refused.
        let item = |array: &str| {
            Json::parse(&format!(
                r#"{{"time": 0, "timestamp": "2024-01-01T00:00:00.000000", "step": 0, "array": {array}, "grid": "g", "metric": "m"}}"#
            ))
            .unwrap()
        };
        assert_eq!(
            TensorSet::from_json(&item("[1, true]")).unwrap().values,
            [1.0, 1.0]
        );
        for bad in ["[[1, 2], [3]]", "[]", "[[1], 2]", "5", "[null]"] {
            assert!(TensorSet::from_json(&item(bad)).is_err(), "{bad}");
        }
        let g = Grid {
            name: "mesh".into(),
            axes: vec![vec![0.0, 0.5, 1.0], vec![0.0, 1.0]],
            labels: vec!["x".into(), "y".into()],
            runs: vec![
                ("offline_r".into(), "T".into()),
                ("offline_r".into(), "rho".into()),
            ],
        };
        assert_eq!(Grid::from_cache(&g.to_json()).unwrap(), g);
        let python =
            Json::parse(r#"{"obj_type": "Grid", "grid": [[0, 1]], "labels": ["a"], "name": "n"}"#)
                .unwrap();
        let p = Grid::from_cache(&python).unwrap();
        assert_eq!((p.axes, p.runs), (vec![vec![0.0, 1.0]], vec![]));
        assert!(Grid::from_cache(
            &Json::parse(r#"{"name": "n", "grid": [[0]], "labels": ["a"], "runs": [["r"]]}"#)
                .unwrap()
        )
        .is_err());
    }

    #[test]
    fn tensors_nest_as_numpy_tolist_of_the_reversed_grid_shape() {
        // axes (x: 4, y: 3, z: 2), values x fastest: value 100 z + 10 y + x
        let values: Vec<f64> = (0..2)
            .flat_map(|z| {
                (0..3).flat_map(move |y| (0..4).map(move |x| (100 * z + 10 * y + x) as f64))
            })
            .collect();
        let t = TensorSet {
            time: 0.0,
            timestamp: Timestamp(0),
            step: 0,
            metric: "c".into(),
            grid: "g".into(),
            shape: vec![4, 3, 2],
            values,
        };
        let Json::Array(z) = t.array() else { panic!() };
        assert_eq!(z.len(), 2);
        let Json::Array(y) = &z[1] else { panic!() };
        assert_eq!(y.len(), 3);
        let Json::Array(x) = &y[2] else { panic!() };
        assert_eq!(x.len(), 4);
        assert_eq!(x[3], Json::Float(123.0));
    }

    #[test]
    fn run_and_folder_have_the_reference_keys() {
        let run = RunRecord {
            folder: "/examples/heat".into(),
            system: Some(Json::object()),
            status: Status::Completed,
            description: Some("d".into()),
            name: "n".into(),
            tags: vec!["a".into()],
            metadata: Json::object(),
            visibility: Visibility {
                tenant: false,
                public: true,
                users: vec!["u".into()],
            },
            ttl: Some(3600),
            heartbeat_timeout: Some(180),
            notification: Notification::Lost,
            alerts: vec![],
            created: Timestamp(0),
            started: Some(Timestamp(1)),
            endtime: Some(Timestamp(2)),
        };
        let r = reference("runs/offline_e37ee734-e9e5-11f1-a0c5-02fc00000001.json");
        assert_eq!(keys(&ours(&run.to_json())), keys(&r));
        let back = RunRecord::from_json(&Json::from_serde(&ours(&run.to_json()))).unwrap();
        assert_eq!(back, run);

        let mut folder = Folder::new("/examples/heat");
        folder.metadata = Some(Json::object().with("project", "demo"));
        folder.tags = Some(vec!["examples".into()]);
        folder.description = Some("Example runs".into());
        assert_eq!(
            folder.to_json().to_python_json(),
            reference_text("folders/offline_e37eafe4-e9e5-11f1-a0c5-02fc00000001.json")
        );
    }

    #[test]
    fn event_batches_match_the_reference() {
        let e = EventSet {
            message: "converged after 3 steps".into(),
            log_level: LogLevel::Info,
            timestamp: Timestamp::parse("2026-11-26T22:08:19.979312").unwrap(),
        };
        assert_eq!(
            events_batch("offline_e37ee734-e9e5-11f1-a0c5-02fc00000001", &[e]).to_python_json(),
            reference_text("events/offline_e39c8956-e9e5-11f1-abfb-02fc00000001.json")
        );
    }

    #[test]
    fn the_direct_metrics_writer_matches_the_tree() {
        let items: Vec<MetricSet> = (0..4)
            .map(|i| MetricSet {
                time: i as f64 * 0.5,
                timestamp: Timestamp(1_795_730_899_979_312 + i),
                step: i as u64 * 10,
                values: (0..=i)
                    .map(|j| {
                        (
                            Arc::from(format!("m/{j} \u{e9}\"").as_str()),
                            (i * j) as f64 / 3.0,
                        )
                    })
                    .collect(),
            })
            .collect();
        for n in 0..=items.len() {
            let batch = MetricBatch::from_sets(&items[..n]);
            assert_eq!(batch.to_sets(), items[..n]);
            assert_eq!(
                metrics_batch_text("offline_x", &batch),
                metrics_batch("offline_x", &items[..n]).to_compact_json()
            );
        }
        let empty = MetricSet {
            time: 0.0,
            timestamp: Timestamp(0),
            step: 0,
            values: vec![],
        };
        assert_eq!(
            metrics_batch_text("r", &MetricBatch::from_sets(std::slice::from_ref(&empty))),
            metrics_batch("r", &[empty]).to_compact_json()
        );
    }

    #[test]
    fn columns_are_cut_by_sets_and_by_bytes() {
        let mut cols = MetricColumns::default();
        for n in [1usize, 1, 1, 10, 1, 1] {
            cols.push(0.0, Timestamp(0), 0, &vec![0; n], &vec![0.0; n]);
        }
        let b = MetricColumns::set_bytes;
        assert_eq!(cols.bytes(), 5 * b(1) + b(10));
        assert_eq!(cols.cuts(100, usize::MAX), Vec::<usize>::new());
        assert_eq!(cols.cuts(2, usize::MAX), vec![2, 4]);
        // At most b(10) bytes: the wide set alone, and the narrow ones around it together.
        assert_eq!(cols.cuts(100, b(10)), vec![3, 4]);
        // Smaller than one set: one set a batch.
        assert_eq!(cols.cuts(100, 1), vec![1, 2, 3, 4, 5]);
        // A last batch of a few sets shares the sets of the one before, when both keep
        // within the limits: 9 + 1 sets become 5 + 5.
        let mut even = MetricColumns::default();
        for _ in 0..10 {
            even.push(0.0, Timestamp(0), 0, &[0; 3], &[0.0; 3]);
        }
        assert_eq!(even.cuts(9, usize::MAX), vec![5]);
        assert_eq!(even.cuts(100, 9 * b(3)), vec![5]);
        assert_eq!(even.cuts(4, usize::MAX), vec![4, 8]);
        let names: Arc<NameTable> = Arc::new(vec![Arc::new(MetricName::new("a"))]);
        let batches = MetricBatch::cut(&names, cols, &[3, 4]);
        let shape: Vec<(usize, usize, usize)> = batches
            .iter()
            .map(|b| (b.len(), b.values_len(), b.bytes()))
            .collect();
        assert_eq!(
            shape,
            vec![(3, 3, 3 * b(1)), (1, 10, b(10)), (2, 2, 2 * b(1))]
        );
        assert_eq!(batches[1].iter().next().unwrap().1.len(), 10);
        let mut batches = batches.into_iter();
        let (first, second, third) = (batches.next(), batches.next(), batches.next());
        assert!(first.unwrap().into_columns().is_none(), "still shared");
        assert!(second.unwrap().into_columns().is_none(), "still shared");
        assert_eq!(third.unwrap().into_columns().map(|c| c.len()), Some(6));
    }

    #[test]
    fn a_batch_written_in_chunks_is_the_same_text() {
        let items: Vec<MetricSet> = (0..50)
            .map(|i| MetricSet {
                time: i as f64,
                timestamp: Timestamp(i),
                step: i as u64,
                values: vec![("a".into(), 1.0 / (i + 1) as f64), ("b".into(), f64::NAN)],
            })
            .collect();
        let batch = MetricBatch::from_sets(&items);
        let (mut out, mut chunks) = (Vec::new(), Vec::new());
        let mut done = Vec::new();
        write_metrics_batch_text::<()>("r", &batch, &mut out, 64, &mut |b, n| {
            chunks.push(b.to_vec());
            done.push(n);
            Ok(())
        })
        .unwrap();
        assert!(chunks.len() > 10, "{} chunks", chunks.len());
        // The sets written so far rise with each chunk, to all of them with the last.
        assert!(done.windows(2).all(|w| w[0] < w[1]), "{done:?}");
        assert_eq!(done.last(), Some(&batch.len()));
        // Each count is of sets whose text is complete in the chunks so far.
        let text = String::from_utf8(chunks.concat()).unwrap();
        let mut len = 0;
        for (c, n) in chunks.iter().zip(&done) {
            len += c.len();
            assert_eq!(text[..len].matches("\"time\":").count(), *n);
        }
        assert!(out.capacity() < 4096, "the buffer stays small");
        assert_eq!(
            chunks.concat(),
            metrics_batch_text("r", &batch).into_bytes()
        );
    }

    /// `text` without the whitespace between tokens (JSON strings kept as they are).
    fn without_layout(text: &str) -> String {
        let (mut out, mut in_string, mut escaped) = (String::new(), false, false);
        for c in text.chars() {
            if in_string {
                in_string = escaped || c != '"';
                escaped = !escaped && c == '\\';
            } else if c == '"' {
                in_string = true;
            } else if c.is_ascii_whitespace() {
                continue;
            }
            out.push(c);
        }
        out
    }

    #[test]
    fn metrics_files_are_the_python_clients_without_the_layout() {
        // simvue 2.6.2 indents its files; ours are compact, and otherwise byte for byte the
        // same (same keys, order, float digits and escapes).
        let text = reference_text("metrics/offline_e39cbac0-e9e5-11f1-abfb-02fc00000001.json");
        // Read with the file's known layout (one key per line): serde_json would lose the
        // order of the values, NaN and the last bit of some floats.
        let (mut run, mut items) = (String::new(), Vec::<MetricSet>::new());
        let mut in_values = false;
        for line in text.lines().map(str::trim) {
            let Some((key, value)) = line.split_once(": ") else {
                in_values &= !line.starts_with('}');
                continue;
            };
            let key = key.trim_matches('"');
            let value = value.trim_end_matches(',');
            let last = items.last_mut();
            match (key, last) {
                ("run", _) => run = value.trim_matches('"').to_owned(),
                ("time", _) => items.push(MetricSet {
                    time: value.parse().unwrap(),
                    timestamp: Timestamp(0),
                    step: 0,
                    values: Vec::new(),
                }),
                ("timestamp", Some(m)) => {
                    m.timestamp = Timestamp::parse(value.trim_matches('"')).unwrap()
                }
                ("step", Some(m)) => m.step = value.parse().unwrap(),
                ("values", _) => in_values = true,
                (k, Some(m)) if in_values => m.values.push((Arc::from(k), value.parse().unwrap())),
                _ => {}
            }
        }
        assert!(items.len() > 3, "{} sets", items.len());
        assert_eq!(
            metrics_batch_text(&run, &MetricBatch::from_sets(&items)),
            without_layout(&text)
        );
    }

    #[test]
    fn metric_sets_write_non_finite_values_as_python_does() {
        let m = MetricSet {
            time: 0.5,
            timestamp: Timestamp(0),
            step: 3,
            values: vec![
                ("nan_check".into(), f64::NAN),
                ("inf_check".into(), f64::INFINITY),
            ],
        };
        let text = m.to_json().to_python_json();
        assert!(text.contains("\"nan_check\": NaN"), "{text}");
        assert!(text.contains("\"inf_check\": Infinity"), "{text}");
        assert!(text.starts_with(
            "{\n  \"time\": 0.5,\n  \"timestamp\": \"1970-01-01T00:00:00.000000\",\n  \"step\": 3,"
        ));
    }
    #[test]
    fn cached_batches_read_back_into_the_same_items() {
        let items: Vec<MetricSet> = (0..3)
            .map(|i| MetricSet {
                time: i as f64 * 0.25,
                timestamp: Timestamp(1_795_730_899_979_312 + i),
                step: i as u64,
                values: vec![
                    ("residual".into(), 1.0 / (i as f64 + 1.0)),
                    ("inf".into(), f64::INFINITY),
                ],
            })
            .collect();
        let text = metrics_batch_text("offline_r", &MetricBatch::from_sets(&items));
        let (run, back) = read_metrics_batch(&Json::parse(&text).unwrap()).unwrap();
        assert_eq!((run.as_str(), back), ("offline_r", items));

        let events = vec![EventSet {
            message: "hello \u{e9}".into(),
            log_level: LogLevel::Warning,
            timestamp: Timestamp(5),
        }];
        let text = events_batch("offline_r", &events).to_python_json();
        let (_, back) = read_events_batch(&Json::parse(&text).unwrap()).unwrap();
        assert_eq!(back, events);

        // The Python client's files, with its int/float mix.
        let py = Json::parse(&reference_text(
            "metrics/offline_e39cbac0-e9e5-11f1-abfb-02fc00000001.json",
        ))
        .unwrap();
        let (run, items) = read_metrics_batch(&py).unwrap();
        assert_eq!(run, "offline_e37ee734-e9e5-11f1-a0c5-02fc00000001");
        assert_eq!(items[0].values[1], (Arc::from("t_max"), 50.0));
        let bad = Json::parse(r#"{"run": "r", "metrics": [{"time": 0, "step": -1}]}"#).unwrap();
        assert!(read_metrics_batch(&bad).is_err());
    }

    #[test]
    fn alert_bodies_from_the_cache_equal_the_online_bodies() {
        for file in [
            "alerts/offline_e38d413a-e9e5-11f1-a0c5-02fc00000001.json",
            "alerts/offline_e38da80a-e9e5-11f1-a0c5-02fc00000001.json",
            "alerts/offline_e38df530-e9e5-11f1-a0c5-02fc00000001.json",
        ] {
            let cached = Json::parse(&reference_text(file)).unwrap();
            let body = Alert::body_from_cache(&cached).unwrap();
            // What the online sink sends for the same alert: same keys and values.
            let mut expected = document_body(&cached);
            for k in [
                "rule",
                "frequency",
                "window",
                "metric",
                "aggregation",
                "threshold",
                "range_low",
                "range_high",
                "pattern",
            ] {
                expected.remove(k);
            }
            let sorted = |j: &Json| {
                let mut e = j.as_object().unwrap().to_vec();
                e.sort_by(|a, b| a.0.cmp(&b.0));
                e
            };
            assert_eq!(sorted(&body), sorted(&expected), "{file}");
        }
        let user = Json::parse(
            r#"{"obj_type": "UserAlert", "name": "u", "description": null,
                "notification": "none", "source": "user", "enabled": true, "abort": false,
                "status": {"offline_r": "critical"}}"#,
        )
        .unwrap();
        let body = Alert::body_from_cache(&user).unwrap();
        assert!(body.get("status").is_none() && body.get("alert").is_none());
        let zero = Json::parse(
            r#"{"name": "z", "source": "metrics", "rule": "is below", "frequency": 1,
                "window": 1, "metric": "m", "aggregation": "average", "threshold": 0}"#,
        )
        .unwrap();
        let body = Alert::body_from_cache(&zero).unwrap();
        assert_eq!(
            body.get("alert").unwrap().get("threshold"),
            Some(&Json::Int(0))
        );
    }

    /// Pages of `len` bytes from `p` that are resident (`mincore`), rounded out to pages.
    #[cfg(target_os = "linux")]
    fn resident_pages(p: *const u8, len: usize) -> usize {
        let page = 4096usize;
        let start = p as usize & !(page - 1);
        let end = (p as usize + len).next_multiple_of(page);
        let mut vec = vec![0u8; (end - start) / page];
        // SAFETY: the range is mapped (a vector's allocation, rounded out to its pages);
        // `vec` has a byte per page.
        let rc =
            unsafe { libc::mincore(start as *mut libc::c_void, end - start, vec.as_mut_ptr()) };
        assert_eq!(rc, 0);
        vec.iter().filter(|b| **b & 1 == 1).count()
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn touch_makes_the_memory_sets_will_fill_resident_once() {
        // Large enough that the allocator maps fresh pages for the values (past the 32 MiB
        // that glibc's mmap threshold may grow to after other tests freed large blocks).
        let mut cols = MetricColumns::with_capacity(400_000, 4_500_000);
        let values_at = cols.values.as_ptr().cast::<u8>();
        let values_len = 30_000 * 8;
        assert!(resident_pages(values_at, values_len) <= 1);
        let pages = cols.touch(10_000, 30_000);
        // 320 000 + 120 000 + 240 000 bytes: a page each 4096, give or take one per column.
        let want = (10_000 * 32 + 30_000 * 4 + 30_000 * 8) / 4096;
        assert!(pages.abs_diff(want) <= 3, "{pages} pages, want {want}");
        assert!(resident_pages(values_at, values_len) >= values_len / 4096);
        assert_eq!(cols.resident(), (10_000, 30_000));
        // What is resident is not written again; only what lies past it.
        assert_eq!(cols.touch(10_000, 30_000), 0);
        assert_eq!(cols.touch(5_000, 15_000), 0);
        let more = cols.touch(20_000, 60_000);
        assert!(more.abs_diff(want) <= 3, "{more} pages, want {want}");
        // Filling past it and clearing keeps the fuller mark; the room reserved bounds it.
        for i in 0..25_000 {
            cols.push(0.0, Timestamp(0), i, &[1, 2, 3], &[1.0, 2.0, 3.0]);
        }
        cols.clear();
        assert_eq!(cols.resident(), (25_000, 75_000));
        assert_eq!(cols.touch(25_000, 75_000), 0);
        let all = cols.touch(usize::MAX, usize::MAX);
        let room = (400_000 * 32 + 4_500_000 * 12) / 4096;
        assert!(all <= room, "{all} pages written, room for {room}");
        assert_eq!(cols.touch(usize::MAX, usize::MAX), 0);
    }
}
