"""The Simvue endpoints the Python client 2.6.2 calls, the control API of the CLI, and the
validation of metric and event items."""

from __future__ import annotations

import copy
import datetime
import json
import re
import typing
import urllib.parse

from .httpd import HttpError, Request, not_found, parse_multipart, validation_error

try:  # msgpack is only needed for metrics/events bodies; it comes with the simvue client.
    import msgpack
except ImportError:  # pragma: no cover - the JSON fallback below still works
    msgpack = None

ID_REGEX = re.compile(r"^[A-Za-z0-9]{22}$")  # models.py ObjectID (§2.3)
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"  # models.py DATETIME_FORMAT (§4.2)
TIMESTAMP_REGEX = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$")
RUN_STATUSES = {"created", "running", "completed", "failed", "terminated", "lost"}  # §3.3

_ADJECTIVES = ["brisk", "calm", "eager", "fuzzy", "gentle", "jolly", "lucid", "mellow", "nimble", "quiet"]
_NOUNS = ["otter", "falcon", "maple", "harbor", "comet", "meadow", "quartz", "willow", "badger", "ember"]


def now_ts() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime(DATETIME_FORMAT)


class Routes:
    """The endpoints of :class:`~simvue_server.server.SimvueServer` (a mixin over its store,
    faults and settings)."""

    # ---- routes: (method, regex, handler). Each handler gets (req, *groups) and returns (status, json).
    def _routes(self) -> list[tuple[str, re.Pattern, typing.Callable]]:
        r = [
            ("GET", r"/api/version", self._get_version),
            ("POST", r"/api/folders", self._post_folder),
            ("GET", r"/api/folders", lambda q: self._list(q, self._folders)),
            ("GET", r"/api/folders/([^/]+)", self._get_folder),
            ("PUT", r"/api/folders/([^/]+)", self._put_folder),
            ("POST", r"/api/runs", self._post_run),
            ("GET", r"/api/runs", lambda q: self._list(q, self._runs, self._run_view)),
            ("GET", r"/api/runs/([^/]+)", self._get_run),
            ("PUT", r"/api/runs/([^/]+)", self._put_run),
            ("PUT", r"/api/runs/([^/]+)/heartbeat", self._put_heartbeat),
            ("GET", r"/api/runs/([^/]+)/abort", self._get_abort),
            ("PUT", r"/api/runs/([^/]+)/abort", self._put_abort),
            ("GET", r"/api/runs/([^/]+)/artifacts", self._get_run_artifacts),
            ("PUT", r"/api/runs/([^/]+)/artifacts/([^/]+)", self._put_run_artifact),
            ("POST", r"/api/metrics", self._post_metrics),
            ("GET", r"/api/metrics", self._get_metrics),
            ("GET", r"/api/metrics/names", self._get_metric_names),
            ("POST", r"/api/events", self._post_events),
            ("GET", r"/api/events", self._get_events),
            ("POST", r"/api/alerts", self._post_alert),
            ("GET", r"/api/alerts", lambda q: self._list(q, self._alerts)),
            ("GET", r"/api/alerts/([^/]+)", self._get_alert),
            ("PUT", r"/api/alerts/([^/]+)", self._put_alert),
            ("PUT", r"/api/alerts/([^/]+)/status/([^/]+)", self._put_alert_status),
            ("GET", r"/api/alerts/([^/]+)/status/([^/]+)", self._get_alert_status),
            ("POST", r"/api/artifacts", self._post_artifact),
            ("GET", r"/api/artifacts", lambda q: self._list(q, self._artifacts, self._artifact_view)),
            ("GET", r"/api/artifacts/([^/]+)", self._get_artifact),
            ("DELETE", r"/api/artifacts/([^/]+)", self._delete_artifact),
            ("PUT", r"/api/artifacts/([^/]+)", self._put_artifact),
            ("POST", r"/api/grids", self._post_grid),
            ("GET", r"/api/grids/([^/]+)", self._get_grid),
            ("PUT", r"/api/grids/([^/]+)", self._put_grid),
            ("GET", r"/api/runs/([^/]+)/grids", self._get_run_grids),
            ("PUT", r"/api/runs/([^/]+)/grids/([^/]+)", self._put_run_grid),
            ("POST", r"/api/runs/([^/]+)/metrics", self._post_grid_metrics),
            ("GET", r"/api/runs/([^/]+)/metrics/([^/]+)/values", self._get_grid_metric_values),
            ("POST", r"/api/tags", self._post_tag),
            ("GET", r"/api/tags/([^/]+)", self._get_tag),
            ("PUT", r"/api/tags/([^/]+)", self._put_tag),
        ]
        return [(m, re.compile(p + r"/?"), h) for m, p, h in r]

    # ------------------------------------------------------------------ endpoints
    # §1.6, config/user.py (version check): 200 {"version"}; 1.1.0 <= v < 2.0.0 accepted.
    def _get_version(self, req: "Request") -> tuple[int, dict]:
        with self._lock:
            bad = self._faults.bad_version
        return 200, {"version": "2.1.0" if bad else self.version}

    # §3.1 step 2, §7.1, run.py:756-762 Folder.new().commit(): 200 {"id"}; an existing path -> 409
    # carrying the existing "id", which the client treats as success (base.py _post_single).
    def _post_folder(self, req: "Request") -> tuple[int, dict]:
        body = req.json_object()
        path = body.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise validation_error(["path"], "String should match pattern '^/.*'", "string_pattern_mismatch", path)
        with self._lock:
            for f in self._folders.values():
                if f["path"] == path:
                    return 409, {"id": f["id"], "detail": f"Folder '{path}' already exists"}
            fid = self._new_id()
            self._folders[fid] = {"id": fid, "metadata": {}, "tags": [], "description": None,
                                  "created": now_ts(), **body, "history": [{"method": "POST", "body": body}]}
            self._ensure_parent_folders(path)
            return 200, {"id": fid}

    def _ensure_parent_folders(self, path: str) -> None:
        # the server creates intermediate folders (§7.1); mark them so tests can tell them apart
        parts = [p for p in path.split("/") if p]
        for i in range(len(parts)):
            parent = "/" + "/".join(parts[:i])
            if not any(f["path"] == parent for f in self._folders.values()):
                fid = self._new_id()
                self._folders[fid] = {"id": fid, "path": parent, "metadata": {}, "tags": [],
                                      "description": None, "created": now_ts(), "implicit": True, "history": []}

    def _folder_or_404(self, fid: str) -> dict:
        if fid not in self._folders:
            raise not_found(f"Folder '{fid}' not found")
        return self._folders[fid]

    # §13 row 2 (GET by id, not used by Run but handy): folder JSON.
    def _get_folder(self, req: "Request", fid: str) -> tuple[int, dict]:
        with self._lock:
            f = {k: v for k, v in self._folder_or_404(fid).items() if k != "history"}
            return 200, f

    # §7.1 set_folder_details, run.py:2271-2286: PUT partial {metadata?, tags?, description?}; 200 JSON.
    def _put_folder(self, req: "Request", fid: str) -> tuple[int, dict]:
        body = req.json_object()
        with self._lock:
            f = self._folder_or_404(fid)
            self._merge_update(f, body)
            f["history"].append({"method": "PUT", "body": body})
            return 200, {k: v for k, v in f.items() if k != "history"}

    @staticmethod
    def _merge_update(obj: dict, body: dict) -> None:
        """Partial update: ``metadata`` merged (top-level keys, like jsonb ||), other fields replaced."""
        for key, value in body.items():
            if key == "metadata" and isinstance(value, dict) and isinstance(obj.get("metadata"), dict):
                obj["metadata"] = {**obj["metadata"], **value}
            else:
                obj[key] = value

    # §3.1 step 3, api/objects/run.py Run.new + base.py _post_single: 200 {"id"} (22 alnum); the
    # client then GETs the run to learn a server-chosen name. A JSON list is a batch (§3.6) -> list.
    def _post_run(self, req: "Request") -> tuple[int, typing.Any]:
        body = req.json_body()
        if isinstance(body, list):
            with self._lock:
                return 200, [{"id": self._create_run(b, [i])} for i, b in enumerate(body)]
        if not isinstance(body, dict):
            raise validation_error([], "Input should be a valid dictionary", "dict_type", body)
        with self._lock:
            rid = self._create_run(body, [])
            return 200, {"id": rid, "name": self._runs[rid]["name"]}

    def _create_run(self, body: dict, loc: list) -> str:
        folder = body.get("folder")
        if not isinstance(folder, str) or not folder.startswith("/"):
            raise validation_error([*loc, "folder"], "String should match pattern '^/.*'",
                                   "string_pattern_mismatch", folder)
        status = body.get("status", "created")
        if status not in RUN_STATUSES:
            raise validation_error([*loc, "status"], f"Input should be one of {sorted(RUN_STATUSES)}",
                                   "literal_error", status)
        self._validate_alert_ids(body.get("alerts"), [*loc, "alerts"])
        rid = self._new_id()
        run = {"id": rid, "name": None, "status": status, "folder": folder, "tags": [], "metadata": {},
               "description": None, "alerts": [], "created": now_ts(), "user": "test-user"}
        run.update(copy.deepcopy(body))
        if not run.get("name"):
            run["name"] = self._generate_name()
            self._generated_names.add(rid)
        if status == "running" and not run.get("started"):
            run["started"] = now_ts()
        if not any(f["path"] == folder for f in self._folders.values()):
            self._ensure_parent_folders(folder)
            fid = self._new_id()
            self._folders[fid] = {"id": fid, "path": folder, "metadata": {}, "tags": [], "description": None,
                                  "created": now_ts(), "implicit": True, "history": []}
        self._runs[rid] = run
        self._run_history[rid] = [{"method": "POST", "body": copy.deepcopy(body)}]
        self._metrics[rid] = []
        self._metric_batches[rid] = []
        self._events[rid] = []
        self._heartbeats[rid] = 0
        return rid

    def _generate_name(self) -> str:
        taken = {r.get("name") for r in self._runs.values()}
        while True:
            name = f"{self._id_rng.choice(_ADJECTIVES)}-{self._id_rng.choice(_NOUNS)}-{self._id_rng.randint(1, 9999)}"
            if name not in taken:
                return name

    def _validate_alert_ids(self, alerts: typing.Any, loc: list) -> None:
        if alerts is None:
            return
        if not isinstance(alerts, list):
            raise validation_error(loc, "Input should be a valid list", "list_type", alerts)
        for i, a in enumerate(alerts):
            if a not in self._alerts:
                raise validation_error([*loc, i], f"Alert '{a}' not found", "value_error", a)

    def _run_or_404(self, rid: str) -> dict:
        if rid not in self._runs:
            raise not_found(f"Run '{rid}' not found")
        return self._runs[rid]

    def _run_view(self, run: dict) -> dict:
        """GET shape: alerts as [{"alert": {..., "id"}, "status": ...}] (api/objects/run.py:551-570, §7.4);
        metrics as a summary per metric, {"count", "min", "max", "mean", "last"} (§4.7)."""
        view = copy.deepcopy(run)
        view["metrics"] = {name: {k: v for k, v in summary.items() if k != "sum"}
                           for name, summary in self._metric_summaries.get(run["id"], {}).items()}
        view["alerts"] = [
            {"alert": {"id": aid, **{k: v for k, v in self._alerts.get(aid, {}).items() if k != "history"}},
             "status": (self._alert_status.get((aid, run["id"])) or [None])[-1]}
            for aid in run.get("alerts", [])
        ]
        return view

    # §13 row 6, base.py _get: run JSON with name, status, tags, metadata, alerts:[{alert:{id}}],
    # created/started/endtime in DATETIME_FORMAT (api/objects/run.py:575-680 parse them).
    def _get_run(self, req: "Request", rid: str) -> tuple[int, dict]:
        with self._lock:
            return 200, self._run_view(self._run_or_404(rid))

    # §3.2, base.py _put: partial update; metadata merged, other fields replaced; 200 JSON object.
    def _put_run(self, req: "Request", rid: str) -> tuple[int, dict]:
        body = req.json_object()
        with self._lock:
            run = self._run_or_404(rid)
            if "status" in body and body["status"] not in RUN_STATUSES:
                raise validation_error(["status"], f"Input should be one of {sorted(RUN_STATUSES)}",
                                       "literal_error", body["status"])
            self._validate_alert_ids(body.get("alerts"), ["alerts"])
            self._merge_update(run, copy.deepcopy(body))
            if body.get("status") == "running" and not run.get("started"):
                run["started"] = now_ts()
            self._run_history[rid].append({"method": "PUT", "body": copy.deepcopy(body)})
            return 200, self._run_view(run)

    # §3.4, api/objects/run.py:723-755 send_heartbeat: empty-body PUT; 200 JSON object.
    def _put_heartbeat(self, req: "Request", rid: str) -> tuple[int, dict]:
        with self._lock:
            self._run_or_404(rid)
            self._heartbeats[rid] = self._heartbeats.get(rid, 0) + 1
            return 200, {"id": rid}

    # §3.4, api/objects/run.py:777-800 abort_trigger: 200 {"status": bool}.
    def _get_abort(self, req: "Request", rid: str) -> tuple[int, dict]:
        with self._lock:
            self._run_or_404(rid)
            return 200, {"status": bool(self._aborts.get(rid, {}).get("status", False))}

    # §13 row 10, Client.abort_run: PUT {"reason"}; 200 JSON.
    def _put_abort(self, req: "Request", rid: str) -> tuple[int, dict]:
        body = req.json_object()
        with self._lock:
            self._run_or_404(rid)
            self._aborts[rid] = {"status": True, "reason": body.get("reason")}
            return 200, {"id": rid, "status": True}

    # api/objects/run.py:803-825 Run.artifacts: 200 JSON list.
    def _get_run_artifacts(self, req: "Request", rid: str) -> tuple[int, list]:
        with self._lock:
            self._run_or_404(rid)
            return 200, [self._artifact_view(a) | {"category": a["runs"][rid]}
                         for a in self._artifacts.values() if rid in a["runs"]]

    # §6.1 step 5, artifact/base.py:89-125 attach_to_run: PUT {"category"}; expects exactly 200 JSON.
    def _put_run_artifact(self, req: "Request", rid: str, aid: str) -> tuple[int, dict]:
        body = req.json_object()
        cat = body.get("category")
        if cat not in ("input", "output", "code"):
            raise validation_error(["category"], "Input should be 'input', 'output' or 'code'", "literal_error", cat)
        with self._lock:
            self._run_or_404(rid)
            art = self._artifact_or_404(aid)
            art["runs"][rid] = cat
            return 200, {"id": aid, "run": rid, "category": cat}

    # ---- metrics / events: msgpack {"run", "metrics"|"events": [...]} (§4.1, §5; metrics.py, events.py).
    # An unknown run -> 422 FastAPI-style (request.py post() raises ValueError; test_sender.py:20-38).
    def _post_data(self, req: "Request", key: str, check: typing.Callable[[typing.Any, list], None]) -> tuple[int, dict]:
        if self.count_only and msgpack is not None and "msgpack" in (req.headers.get("Content-Type") or ""):
            return self._count_data(req, key)
        body = req.json_or_msgpack()
        if not isinstance(body, dict):
            raise validation_error([], "Input should be a valid dictionary", "dict_type", None)
        rid, items = body.get("run"), body.get(key)
        if not isinstance(items, list):
            raise validation_error([key], "Input should be a valid list", "list_type", items)
        if self.validate:
            extra = set(body) - {"run", key}
            if extra:
                raise validation_error([sorted(extra)[0]], "Extra inputs are not permitted", "extra_forbidden")
            for i, item in enumerate(items):
                check(item, [key, i])
        with self._lock:
            if rid not in self._runs:
                raise validation_error(["run"], f"Run '{rid}' not found", "value_error", rid)
            store = self._metrics if key == "metrics" else self._events
            # The items were just decoded from this request's body: nothing else holds them, so
            # no copy is needed (a deep copy of 16000 items dominated the upload benchmark).
            store.setdefault(rid, []).extend(items)
            if key == "metrics":
                self._metric_batches.setdefault(rid, []).append(len(items))
                self._summarise(rid, items)
            return 200, {}

    def _summarise(self, rid: str, items: list) -> None:
        """Keeps the per-metric summary of GET /api/runs/{id} (§4.7) up to date."""
        summaries = self._metric_summaries.setdefault(rid, {})
        for item in items:
            for name, value in item["values"].items():
                value = float(value)
                s = summaries.get(name)
                if s is None:
                    summaries[name] = {"count": 1, "min": value, "max": value, "mean": value,
                                       "last": value, "sum": value}
                    continue
                s["count"] += 1
                s["sum"] += value
                s["min"], s["max"] = min(s["min"], value), max(s["max"], value)
                s["mean"], s["last"] = s["sum"] / s["count"], value

    # metrics.py Metrics.names: GET /api/metrics/names?runs=<JSON list> -> a list of names.
    def _get_metric_names(self, req: "Request") -> tuple[int, list]:
        runs = json.loads(req.query.get("runs", ["[]"])[0])
        with self._lock:
            return 200, sorted({n for rid in runs for n in self._metric_summaries.get(rid, {})})

    def _count_data(self, req: "Request", key: str) -> tuple[int, dict]:
        """Benchmark mode: walks the msgpack framing and counts the items without building them
        (decoding 16000 items into Python dicts costs more than a native client takes to send
        them, so a recording server would measure itself)."""
        unpacker = msgpack.Unpacker(raw=False, max_buffer_size=0)
        unpacker.feed(req.body)
        rid, n = None, 0
        for _ in range(unpacker.read_map_header()):
            field = unpacker.unpack()
            if field == key:
                n = unpacker.read_array_header()
                for _ in range(n):
                    unpacker.skip()
            elif field == "run":
                rid = unpacker.unpack()
            else:
                unpacker.skip()
        with self._lock:
            if rid not in self._runs:
                raise validation_error(["run"], f"Run '{rid}' not found", "value_error", rid)
            self._counts[(key, rid)] = self._counts.get((key, rid), 0) + n
        return 200, {}

    def _post_metrics(self, req: "Request") -> tuple[int, dict]:
        return self._post_data(req, "metrics", _check_metric_item)

    # §13 row 27, client.py _get_run_metrics_from_server: ?runs=<JSON list>&metrics=<JSON list>
    # &xaxis=step|time|timestamp -> {run: {metric: [{<xaxis>: x, "value": v}, ...]}} (the shape
    # converters.parse_run_set_metrics reads); non-finite values as null (strict JSON).
    def _get_metrics(self, req: "Request") -> tuple[int, dict]:
        try:
            runs = json.loads(req.query.get("runs", ["[]"])[0])
            names = json.loads(req.query.get("metrics", ["[]"])[0])
        except ValueError:
            raise validation_error(["query"], "runs and metrics must be JSON lists") from None
        xaxis = req.query.get("xaxis", ["step"])[0]
        if xaxis not in ("step", "time", "timestamp"):
            raise validation_error(["xaxis"], "Input should be 'step', 'time' or 'timestamp'", "literal_error", xaxis)

        def finite(v: typing.Any) -> typing.Any:
            return v if not isinstance(v, float) or v == v and abs(v) != float("inf") else None

        with self._lock:
            out: dict[str, dict] = {}
            for rid in runs:
                if rid not in self._runs:
                    continue
                series: dict[str, list] = {}
                for item in self._metrics.get(rid, []):
                    for name, value in item["values"].items():
                        if name in names:
                            series.setdefault(name, []).append({xaxis: item[xaxis], "value": finite(value)})
                out[rid] = series
            return 200, out

    # §13 row 27, client.py get_events: ?run=&start=&count= -> {"data": [...], "count": total}.
    def _get_events(self, req: "Request") -> tuple[int, dict]:
        rid = req.query.get("run", [""])[0]
        start = int(req.query.get("start", ["0"])[0] or 0)
        count = int(req.query.get("count", ["0"])[0] or 0)
        with self._lock:
            events = self._events.get(rid, [])
            page = events[start:start + count] if count else events[start:]
            return 200, {"data": copy.deepcopy(page), "count": len(events)}

    def _post_events(self, req: "Request") -> tuple[int, dict]:
        return self._post_data(req, "events", _check_event_item)

    # ---- alerts (§7.3-7.5)
    @staticmethod
    def _alert_key(body: dict) -> str:
        return json.dumps({k: body.get(k) for k in ("name", "source", "alert", "notification", "description")},
                          sort_keys=True)

    # §0.3 / §7.3, alert/*.py new(): POST ?deduplicate=True; 200 {"id"}; an identical alert ->
    # 409 {"id": existing} which the client takes as the alert (base.py _post_single).
    def _post_alert(self, req: "Request") -> tuple[int, dict]:
        body = req.json_object()
        for k in ("name", "source"):
            if not body.get(k):
                raise validation_error([k], "Field required", "missing")
        if body["source"] not in ("metrics", "events", "user"):
            raise validation_error(["source"], "Input should be 'metrics', 'events' or 'user'", "literal_error", body["source"])
        _check_alert_body(body)
        dedup = req.query.get("deduplicate", ["False"])[0].lower() in ("true", "1")
        with self._lock:
            if dedup:
                key = self._alert_key(body)
                for aid, a in self._alerts.items():
                    if self._alert_key(a) == key:
                        return 409, {"id": aid, "detail": "Alert already exists"}
            aid = self._new_id()
            self._alerts[aid] = {"id": aid, "created": now_ts(), **copy.deepcopy(body),
                                 "history": [{"method": "POST", "body": copy.deepcopy(body)}]}
            return 200, {"id": aid}

    def _alert_or_404(self, aid: str) -> dict:
        if aid not in self._alerts:
            raise not_found(f"Alert '{aid}' not found")
        return self._alerts[aid]

    # §7.4-7.5, alert/fetch.py:54-77 (type from source + alert.threshold), run.log_alert: alert JSON.
    def _get_alert(self, req: "Request", aid: str) -> tuple[int, dict]:
        with self._lock:
            return 200, {k: v for k, v in self._alert_or_404(aid).items() if k != "history"}

    # §13 row 22, sender re-upload (PUT of the staged keys, possibly {}): 200 JSON.
    def _put_alert(self, req: "Request", aid: str) -> tuple[int, dict]:
        body = req.json_object()
        with self._lock:
            a = self._alert_or_404(aid)
            self._merge_update(a, copy.deepcopy(body))
            a["history"].append({"method": "PUT", "body": copy.deepcopy(body)})
            return 200, {k: v for k, v in a.items() if k != "history"}

    # §7.5, alert/user.py:117-136 log_alert: PUT {"status": "ok"|"critical"}; 200 JSON.
    def _put_alert_status(self, req: "Request", aid: str, rid: str) -> tuple[int, dict]:
        body = req.json_object()
        status = body.get("status")
        if status not in ("ok", "critical"):
            raise validation_error(["status"], "Input should be 'ok' or 'critical'", "literal_error", status)
        with self._lock:
            self._alert_or_404(aid)
            self._run_or_404(rid)
            self._alert_status.setdefault((aid, rid), []).append(status)
            return 200, {"id": aid, "run": rid, "status": status}

    # §7.5, alert/base.py:200-210: 200 {"status"}.
    def _get_alert_status(self, req: "Request", aid: str, rid: str) -> tuple[int, dict]:
        with self._lock:
            self._alert_or_404(aid)
            hist = self._alert_status.get((aid, rid))
            if not hist:
                raise not_found(f"No status for alert '{aid}' on run '{rid}'")
            return 200, {"status": hist[-1]}

    # ---- artifacts (§6.1, §0.4)
    # artifact/file.py:131, artifact/base.py:142-190: 200 {"id", "url"} plus "fields" for the
    # multipart-POST style; no "fields" -> the client PUTs raw bytes to url. url: this server's
    # /storage/<id>, which needs no Authorization.
    def _post_artifact(self, req: "Request") -> tuple[int, dict]:
        body = req.json_object()
        for k in ("name", "size", "checksum"):
            if k not in body:
                raise validation_error([k], "Field required", "missing")
        with self._lock:
            if self.artifact_dedup:
                for aid, a in self._artifacts.items():
                    if a["meta"].get("checksum") == body["checksum"] and a["data"] is not None:
                        return 409, {"id": aid, "url": None, "detail": "Artifact already exists"}
            aid = self._new_id()
            self._artifacts[aid] = {"id": aid, "meta": copy.deepcopy(body), "uploaded": False, "runs": {},
                                    "data": None, "upload": None, "uploads": 0, "created": now_ts()}
            resp: dict[str, typing.Any] = {"id": aid, "url": f"{self.url}/storage/{aid}"}
            if self.upload_style == "post":
                resp["fields"] = {"key": f"artifacts/{aid}", "policy": "dGVzdA==", "x-amz-signature": "0" * 16}
            return 200, resp

    def _artifact_or_404(self, aid: str) -> dict:
        if aid not in self._artifacts:
            raise not_found(f"Artifact '{aid}' not found")
        return self._artifacts[aid]

    @staticmethod
    def _artifact_view(a: dict) -> dict:
        return {"id": a["id"], **a["meta"], "uploaded": a["uploaded"], "runs": list(a["runs"]),
                "created": a["created"]}

    # §13 row 28, base.py delete: DELETE /api/artifacts/{id} -> 200 JSON.
    def _delete_artifact(self, req: "Request", aid: str) -> tuple[int, dict]:
        with self._lock:
            self._artifact_or_404(aid)
            del self._artifacts[aid]
            return 200, {"id": aid}

    # §6.1 step 6, artifact/base.py (self.name in an f-string): 200 JSON that includes "name".
    def _get_artifact(self, req: "Request", aid: str) -> tuple[int, dict]:
        with self._lock:
            return 200, self._artifact_view(self._artifact_or_404(aid))

    # §6.1 step 4, artifact/base.py:186-190: PUT {"uploaded": true}; 200 JSON.
    def _put_artifact(self, req: "Request", aid: str) -> tuple[int, dict]:
        body = req.json_object()
        with self._lock:
            a = self._artifact_or_404(aid)
            if "uploaded" in body:
                a["uploaded"] = bool(body["uploaded"])
            for k, v in body.items():
                if k != "uploaded":
                    a["meta"][k] = v
            return 200, self._artifact_view(a)

    # §6.1 step 3 / §0.4, artifact/base.py:142-184 _upload: the storage URL. POST multipart
    # (fields first, then "file") -> 204 like S3; PUT raw bytes -> 200. No auth required; the
    # Authorization header, if any, is recorded so tests can assert the token never goes here.
    def _storage_upload(self, req: "Request", aid: str) -> tuple[int, typing.Any]:
        with self._lock:
            if aid not in self._artifacts:
                raise not_found("NoSuchUpload")
        upload = {"method": req.method, "authorization": req.headers.get("Authorization"),
                  "content_type": req.headers.get("Content-Type"), "fields": None, "filename": None}
        if req.method == "POST":
            fields, files = parse_multipart(req.body, req.headers.get("Content-Type", ""))
            if "file" not in files:
                raise HttpError(400, "multipart upload without a 'file' part")
            upload["fields"] = fields
            upload["field_order"] = list(fields) + ["file"]
            upload["filename"], data = files["file"]
            status = 204
        else:
            data = req.body
            status = 200
        with self._lock:
            a = self._artifacts[aid]
            # count_only (benchmarks): the size is kept, not a gigabyte of bytes.
            a["data"] = None if self.count_only else data
            a["received"] = len(data)
            a["upload"] = upload
            a["uploads"] += 1
        return status, None

    # ---- grids and tensor metrics (§4.6; api/objects/grids.py)
    # Grid.new: POST {grid: [[ticks of axis 0], [axis 1], ...], labels: [...], name} -> 200 {"id"}.
    def _post_grid(self, req: "Request") -> tuple[int, dict]:
        body = req.json_object()
        grid, labels, name = body.get("grid"), body.get("labels"), body.get("name")
        if not isinstance(name, str) or not name:
            raise validation_error(["name"], "Field required", "missing", name)
        if not isinstance(grid, list) or not grid or not all(
                isinstance(a, list) and a and all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in a)
                for a in grid):
            raise validation_error(["grid"], "Input should be a non-empty list of non-empty lists of numbers",
                                   "list_type", grid)
        for i, axis in enumerate(grid):
            if axis != sorted(axis):
                raise validation_error(["grid", i], f"Axis {i} has unordered values.", "value_error", axis)
        if not isinstance(labels, list) or len(labels) != len(grid) or not all(isinstance(x, str) for x in labels):
            raise validation_error(["labels"], "one label per axis", "value_error", labels)
        with self._lock:
            gid = self._new_id()
            self._grids[gid] = {"id": gid, "created": now_ts(), **copy.deepcopy(body)}
            return 200, {"id": gid}

    def _grid_or_404(self, gid: str) -> dict:
        if gid not in self._grids:
            raise not_found(f"Grid '{gid}' not found")
        return self._grids[gid]

    def _get_grid(self, req: "Request", gid: str) -> tuple[int, dict]:
        with self._lock:
            return 200, copy.deepcopy(self._grid_or_404(gid))

    # the sender's re-upload of a mapped grid: a partial update
    def _put_grid(self, req: "Request", gid: str) -> tuple[int, dict]:
        body = req.json_object()
        with self._lock:
            g = self._grid_or_404(gid)
            g.update({k: v for k, v in copy.deepcopy(body).items() if k in ("grid", "labels", "name")})
            return 200, copy.deepcopy(g)

    def _get_run_grids(self, req: "Request", rid: str) -> tuple[int, list]:
        with self._lock:
            self._run_or_404(rid)
            return 200, [{"id": g, "metric": m} for g, m in self._run_grids.get(rid, [])]

    # Grid.attach_metric_for_run: PUT /api/runs/{run}/grids/{grid} {"metric"} -> 200 JSON.
    def _put_run_grid(self, req: "Request", rid: str, gid: str) -> tuple[int, dict]:
        body = req.json_object()
        metric = body.get("metric")
        if not isinstance(metric, str) or not metric:
            raise validation_error(["metric"], "Field required", "missing", metric)
        with self._lock:
            self._run_or_404(rid)
            self._grid_or_404(gid)
            attached = self._run_grids.setdefault(rid, [])
            if (gid, metric) not in attached:
                attached.append((gid, metric))
            return 200, {"id": gid, "run": rid, "metric": metric}

    # GridMetrics._log_values: POST /api/runs/{run}/metrics/ msgpack [{time, timestamp, step,
    # array, grid, metric}] -> 200 JSON. The array's shape is the grid's axis sizes in reverse
    # order (the client's own default grid: `reversed(metric.shape)`, run.py log_metrics), and
    # the metric must have been attached to that grid for the run.
    def _post_grid_metrics(self, req: "Request", rid: str) -> tuple[int, dict]:
        items = req.json_or_msgpack()
        if not isinstance(items, list):
            raise validation_error([], "Input should be a valid list", "list_type", items)
        with self._lock:
            self._run_or_404(rid)
            attached = set(self._run_grids.get(rid, []))
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    raise validation_error([i], "Input should be a valid dictionary", "dict_type", item)
                extra = set(item) - {"time", "timestamp", "step", "array", "grid", "metric"}
                if extra:
                    raise validation_error([i, sorted(extra)[0]], "Extra inputs are not permitted", "extra_forbidden")
                step = item.get("step")
                if not isinstance(step, int) or isinstance(step, bool) or step < 0:
                    raise validation_error([i, "step"], "Input should be a non-negative integer", "int_type", step)
                if not isinstance(item.get("time"), (int, float)):
                    raise validation_error([i, "time"], "Input should be a valid number", "float_type", item.get("time"))
                _check_timestamp(item.get("timestamp"), [i, "timestamp"])
                gid, metric = item.get("grid"), item.get("metric")
                grid = self._grids.get(gid)
                if grid is None:
                    raise validation_error([i, "grid"], f"Grid '{gid}' not found", "value_error", gid)
                if (gid, metric) not in attached:
                    raise validation_error([i, "metric"], f"Metric '{metric}' is not attached to grid '{gid}'",
                                           "value_error", metric)
                want = [len(a) for a in reversed(grid["grid"])]
                got = _shape(item.get("array"))
                if got != want:
                    raise validation_error([i, "array"], f"Array of shape {got} on a grid of shape {want}",
                                           "value_error")
            self._grid_metrics.setdefault(rid, []).extend(items)
            return 200, {}

    # Grid.get_run_metric_values / GridMetrics.get: GET /api/runs/{run}/metrics/{metric}/values
    # ?step=N[&count=&start=] -> 200 {"data": [{step, time, timestamp, array, grid}], "count": n},
    # the arrays of that metric at that step in arrival order, paged as get_paginated pages
    # (§2.4). The real server's shape is not documented (protocol doc §8.7): this is the one
    # chosen. An unknown run is a 404; a step holding nothing an empty page. With
    # ``grid_values=False`` the route is missing (FastAPI's 404 "Not Found"), as on a server
    # without this read.
    def _get_grid_metric_values(self, req: "Request", rid: str, metric: str) -> tuple[int, dict]:
        if not self.grid_values:
            raise not_found()
        metric = urllib.parse.unquote(metric)
        try:
            step = int(req.query.get("step", [""])[0])
            start = int(req.query.get("start", ["0"])[0] or 0)
            count = int(req.query.get("count", ["100"])[0] or 100)
        except ValueError:
            raise validation_error(["query", "step"], "Input should be a valid integer", "int_parsing") from None
        with self._lock:
            self._run_or_404(rid)
            held = [{k: item[k] for k in ("step", "time", "timestamp", "array", "grid")}
                    for item in self._grid_metrics.get(rid, [])
                    if item.get("metric") == metric and item.get("step") == step]
            return 200, {"data": copy.deepcopy(held[start:start + count]), "count": len(held)}

    # ---- tags (§7.2, tag.py): POST {name, colour?, description?} -> 200 {"id"} / 409 {"id"}; PUT partial.
    def _post_tag(self, req: "Request") -> tuple[int, dict]:
        body = req.json_object()
        if not body.get("name"):
            raise validation_error(["name"], "Field required", "missing")
        with self._lock:
            for tid, t in self._tags.items():
                if t["name"] == body["name"]:
                    return 409, {"id": tid, "detail": "Tag already exists"}
            tid = self._new_id()
            self._tags[tid] = {"id": tid, "created": now_ts(), **copy.deepcopy(body)}
            return 200, {"id": tid}

    def _get_tag(self, req: "Request", tid: str) -> tuple[int, dict]:
        with self._lock:
            if tid not in self._tags:
                raise not_found(f"Tag '{tid}' not found")
            return 200, copy.deepcopy(self._tags[tid])

    def _put_tag(self, req: "Request", tid: str) -> tuple[int, dict]:
        body = req.json_object()
        with self._lock:
            if tid not in self._tags:
                raise not_found(f"Tag '{tid}' not found")
            self._tags[tid].update(copy.deepcopy(body))
            return 200, copy.deepcopy(self._tags[tid])

    # §2.4 get_paginated: ?count=&start= -> {"data": [...], "count": total}.
    def _list(self, req: "Request", table: dict, view: typing.Callable[[dict], dict] | None = None) -> tuple[int, dict]:
        start = int(req.query.get("start", ["0"])[0] or 0)
        count = int(req.query.get("count", ["100"])[0] or 100)
        with self._lock:
            items = [view(v) if view else {k: x for k, x in v.items() if k != "history"} for v in table.values()]
            return 200, {"data": copy.deepcopy(items[start:start + count]), "count": len(items)}

    # ---- control API for shell-driven tests (CLI); not part of Simvue, never needs auth
    def _control(self, req: "Request", what: str) -> tuple[int, typing.Any]:
        if req.method == "GET" and what == "store":
            return 200, self.snapshot()
        if req.method == "GET" and what == "faults":
            return 200, self.get_faults()
        if req.method == "POST" and what == "faults":
            try:
                self.set_faults(**req.json_object())
            except (TypeError, ValueError) as e:
                raise HttpError(400, str(e)) from None
            return 200, self.get_faults()
        if req.method == "POST" and what == "reset_faults":
            self.reset_faults()
            return 200, self.get_faults()
        if req.method == "POST" and what == "release":
            self.release()
            return 200, {}
        if req.method == "POST" and what.startswith("abort/"):
            self.abort(what.split("/", 1)[1])
            return 200, {}
        raise not_found()


ALERT_RULES = {"threshold": ("is above", "is below"), "range": ("is inside range", "is outside range")}
AGGREGATIONS = ("average", "sum", "at least one", "all")  # alert/metrics.py Aggregate (§7.3)


def _check_alert_body(body: dict) -> None:
    """alert/*.py new(): the common fields and, by source, the definition under "alert"
    (§7.3). A user alert has no definition."""
    if body.get("notification", "none") not in ("none", "email"):
        raise validation_error(["notification"], "Input should be 'none' or 'email'", "literal_error",
                               body.get("notification"))
    for k in ("enabled", "abort"):
        if k in body and not isinstance(body[k], bool):
            raise validation_error([k], "Input should be a valid boolean", "bool_type", body[k])
    if body.get("description") is not None and not isinstance(body["description"], str):
        raise validation_error(["description"], "Input should be a valid string", "string_type",
                               body["description"])
    source, alert = body["source"], body.get("alert")
    if source == "user":
        return
    if not isinstance(alert, dict):
        raise validation_error(["alert"], "Field required", "missing")
    freq = alert.get("frequency")
    if not isinstance(freq, int) or isinstance(freq, bool) or freq <= 0:
        raise validation_error(["alert", "frequency"], "Input should be greater than 0", "greater_than", freq)
    if source == "events":
        if not isinstance(alert.get("pattern"), str):
            raise validation_error(["alert", "pattern"], "Field required", "missing")
        return
    kind = "threshold" if "threshold" in alert else "range"
    if alert.get("rule") not in ALERT_RULES[kind]:
        raise validation_error(["alert", "rule"], f"Input should be one of {ALERT_RULES[kind]}",
                               "literal_error", alert.get("rule"))
    if alert.get("aggregation") not in AGGREGATIONS:
        raise validation_error(["alert", "aggregation"], f"Input should be one of {AGGREGATIONS}",
                               "literal_error", alert.get("aggregation"))
    window = alert.get("window")
    if not isinstance(window, int) or isinstance(window, bool) or window <= 0:
        raise validation_error(["alert", "window"], "Input should be greater than 0", "greater_than", window)
    if not isinstance(alert.get("metric"), str):
        raise validation_error(["alert", "metric"], "Field required", "missing")
    numbers = ("threshold",) if kind == "threshold" else ("range_low", "range_high")
    for k in numbers:
        if not isinstance(alert.get(k), (int, float)) or isinstance(alert.get(k), bool):
            raise validation_error(["alert", k], "Input should be a valid number", "float_type", alert.get(k))


def _shape(a: typing.Any) -> list[int] | None:
    """The shape of a rectangular nested list of numbers, or None."""
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        return []
    if not isinstance(a, list) or not a:
        return None
    shapes = [_shape(x) for x in a]
    if shapes[0] is None or any(s != shapes[0] for s in shapes):
        return None
    return [len(a), *shapes[0]]


def _check_metric_item(item: typing.Any, loc: list) -> None:
    """models.py MetricSet: extra=forbid; time number; step int >= 0; values {str: int|float|bool}."""
    if not isinstance(item, dict):
        raise validation_error(loc, "Input should be a valid dictionary", "dict_type", item)
    extra = set(item) - {"time", "timestamp", "step", "values"}
    if extra:
        raise validation_error([*loc, sorted(extra)[0]], "Extra inputs are not permitted", "extra_forbidden")
    for k in ("time", "timestamp", "step", "values"):
        if k not in item:
            raise validation_error([*loc, k], "Field required", "missing")
    if not isinstance(item["time"], (int, float)) or isinstance(item["time"], bool):
        raise validation_error([*loc, "time"], "Input should be a valid number", "float_type", item["time"])
    if not isinstance(item["step"], int) or isinstance(item["step"], bool) or item["step"] < 0:
        raise validation_error([*loc, "step"], "Input should be a non-negative integer", "int_type", item["step"])
    _check_timestamp(item["timestamp"], [*loc, "timestamp"])
    values = item["values"]
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        raise validation_error([*loc, "values"], "Input should be a valid dictionary", "dict_type", values)
    for k, v in values.items():
        if not isinstance(v, (int, float, bool)):
            raise validation_error([*loc, "values", k], "Input should be a valid number", "float_type", v)


def _check_event_item(item: typing.Any, loc: list) -> None:
    """models.py EventSet: extra=forbid; message str; log_level optional; timestamp."""
    if not isinstance(item, dict):
        raise validation_error(loc, "Input should be a valid dictionary", "dict_type", item)
    extra = set(item) - {"message", "log_level", "timestamp"}
    if extra:
        raise validation_error([*loc, sorted(extra)[0]], "Extra inputs are not permitted", "extra_forbidden")
    if not isinstance(item.get("message"), str):
        raise validation_error([*loc, "message"], "Input should be a valid string", "string_type", item.get("message"))
    lvl = item.get("log_level")
    if lvl is not None and lvl not in ("debug", "info", "warning", "error", "critical"):
        raise validation_error([*loc, "log_level"], "Input should be a valid log level", "literal_error", lvl)
    _check_timestamp(item.get("timestamp"), [*loc, "timestamp"])


def _check_timestamp(ts: typing.Any, loc: list) -> None:
    if not isinstance(ts, str):
        raise validation_error(loc, "Input should be a valid string", "string_type", ts)
    try:
        datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        raise validation_error(loc, "Input should be a valid datetime", "datetime_parsing", ts) from None
