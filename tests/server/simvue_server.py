#!/usr/bin/env python3
"""A Simvue-compatible HTTP server for the libsimvue test suite.

It answers the REST calls of the Python client simvue 2.6.2 (and its ``simvue-sender``) with the
response shapes that client reads, and records everything it receives in memory so tests can
assert on it.  References in comments:

* ``§n``       -> /work/shared/reference/simvue-protocol.md, section n (§13 is the endpoint table);
* ``file:line`` -> the simvue 2.6.2 client source (``site-packages/simvue/...``).

Standard library only, plus ``msgpack`` (a dependency of the simvue client) for metrics/events.

Usage from Python::

    with SimvueServer() as srv:            # listens on 127.0.0.1:<random port>
        ... point the client at srv.url with token srv.token ...
        assert srv.metrics(run_id)[0]["values"] == {"x": 1.0}
        with srv.faults(fail_fraction=0.3, seed=1):   # scoped fault injection
            ...

Usage from a shell (C tests)::

    python tests/server/simvue_server.py --port 0 [--record out.json]   # first stdout line = URL

The CLI server also exposes an unauthenticated control API outside /api (see ``_control``):
``GET /_control/store`` (the recorded store as JSON), ``POST /_control/faults`` (JSON body with the
keyword arguments of :meth:`SimvueServer.set_faults`), ``POST /_control/reset_faults``,
``POST /_control/release`` (release hung requests), ``POST /_control/abort/<run>``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import datetime
import gzip
import hashlib
import json
import random
import re
import select
import signal
import socket
import string
import sys
import threading
import time
import typing
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:  # msgpack is only needed for metrics/events bodies; it comes with the simvue client.
    import msgpack
except ImportError:  # pragma: no cover - the JSON fallback below still works
    msgpack = None

HOST = "127.0.0.1"  # never listen anywhere else
ID_ALPHABET = string.ascii_letters + string.digits
ID_REGEX = re.compile(r"^[A-Za-z0-9]{22}$")  # models.py ObjectID (§2.3)
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"  # models.py DATETIME_FORMAT (§4.2)
TIMESTAMP_REGEX = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$")
RUN_STATUSES = {"created", "running", "completed", "failed", "terminated", "lost"}  # §3.3
DATA_PATHS = {("POST", "/api/metrics"), ("POST", "/api/events")}

_ADJECTIVES = ["brisk", "calm", "eager", "fuzzy", "gentle", "jolly", "lucid", "mellow", "nimble", "quiet"]
_NOUNS = ["otter", "falcon", "maple", "harbor", "comet", "meadow", "quartz", "willow", "badger", "ember"]


def make_jwt(subject: str = "test-user", exp_in: float = 7 * 24 * 3600) -> str:
    """A JWT-looking token (header.payload.signature, base64url) with ``exp`` in the future.

    The Python client decodes it without checking the signature and requires a future ``exp``
    (§1.1 ``parameters.py:42-51``); the server only compares the whole string.
    """

    def b64(obj: dict) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = b64({"alg": "HS256", "typ": "JWT"})
    payload = b64({"sub": subject, "exp": int(time.time() + exp_in)})
    sig = base64.urlsafe_b64encode(hashlib.sha256((header + payload).encode()).digest()).rstrip(b"=").decode()
    return f"{header}.{payload}.{sig}"


def now_ts() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime(DATETIME_FORMAT)


class HttpError(Exception):
    def __init__(self, status: int, detail: typing.Any, **extra: typing.Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.body = {"detail": detail, **extra}


def not_found(what: str = "Not Found") -> HttpError:
    return HttpError(404, what)


def validation_error(loc: list, msg: str, type_: str = "value_error", value: typing.Any = None) -> HttpError:
    """FastAPI-style 422: ``{"detail": [{"type", "loc", "msg", "input"}]}`` (§2.2, utilities.py:82-160)."""
    return HttpError(422, [{"type": type_, "loc": ["body", *loc], "msg": msg, "input": value}])


# --------------------------------------------------------------------------------------------------
# Fault injection
# --------------------------------------------------------------------------------------------------

# Named scopes: which requests a fault applies to. A callable(method, path) -> bool also works.
SCOPES: dict[str, typing.Callable[[str, str], bool]] = {
    "data": lambda m, p: (m, p) in DATA_PATHS,  # POST /api/metrics and /api/events
    "metrics": lambda m, p: (m, p) == ("POST", "/api/metrics"),
    "events": lambda m, p: (m, p) == ("POST", "/api/events"),
    "api": lambda m, p: p.startswith("/api/") and p != "/api/version",
    "upload": lambda m, p: p.startswith("/storage/"),
    "all": lambda m, p: not p.startswith("/_control"),
}


def _scope_fn(scope: typing.Any) -> typing.Callable[[str, str], bool]:
    if callable(scope):
        return scope
    if isinstance(scope, str) and scope in SCOPES:
        return SCOPES[scope]
    if isinstance(scope, str):  # a regular expression matched against "METHOD /path"
        rx = re.compile(scope)
        return lambda m, p: bool(rx.search(f"{m} {p}"))
    raise ValueError(f"unknown fault scope {scope!r}; use one of {sorted(SCOPES)}, a regex or a callable")


class Faults:
    """Current fault settings. All fields are read under the server's lock."""

    DEFAULTS: dict[str, typing.Any] = {
        "fail_fraction": 0.0,  # fraction of in-scope requests answered with fail_status
        "fail_next": 0,  # the next N in-scope requests fail (deterministic, before the fraction)
        "fail_scope": "data",
        "fail_status": 503,
        "seed": 0,  # seeds the RNG that picks failing requests (reset by set_faults(seed=...))
        "latency": 0.0,  # seconds added before each in-scope response
        "latency_scope": "all",
        "hang": False,  # in-scope requests block until release() or until the client disconnects
        "hang_scope": "all",
        "bad_version": False,  # GET /api/version reports "2.1.0" (outside 1.1.0 <= v < 2.0.0, §1.6)
        "unauthorized": False,  # every /api request answers 401
        "garble": False,  # in-scope requests answer 200 with an HTML page (a proxy's error page)
        "garble_scope": "api",
    }

    def __init__(self) -> None:
        self.values = dict(self.DEFAULTS)
        self.rng = random.Random(0)

    def update(self, **kwargs: typing.Any) -> None:
        unknown = set(kwargs) - set(self.DEFAULTS)
        if unknown:
            raise TypeError(f"unknown fault setting(s): {sorted(unknown)}")
        for key in ("fail_scope", "latency_scope", "hang_scope", "garble_scope"):
            if key in kwargs:
                _scope_fn(kwargs[key])  # validate early
        self.values.update(kwargs)
        if "seed" in kwargs:
            self.rng = random.Random(kwargs["seed"])

    def __getattr__(self, name: str) -> typing.Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # come_back() rebinds the same port while old sockets are in TIME_WAIT

    def __init__(self, addr, handler, owner: "SimvueServer") -> None:
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(addr, handler)

    def process_request(self, request, client_address):
        with self.conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class SimvueServer:
    """In-process fake Simvue server. See the module docstring."""

    def __init__(
        self,
        port: int = 0,
        version: str = "1.3.0",
        token: str | None = None,
        *,
        upload_style: str = "post",  # "post": S3-style multipart POST with fields; "put": raw PUT
        artifact_dedup: bool = False,  # 409 {"id", "url": None} for an already-uploaded checksum
        seed: int = 0,
        validate: bool = True,  # 422 on malformed metrics/events items (extra keys, bad timestamp...)
        count_only: bool = False,  # metrics/events counted (framing parsed), not kept: for benchmarks
        ssl_context: typing.Any = None,  # an ssl.SSLContext: serve https (TLS tests)
        gzip_responses: bool = False,  # gzip JSON answers to clients that accept it
        start: bool = True,
    ) -> None:
        if upload_style not in ("post", "put"):
            raise ValueError("upload_style must be 'post' or 'put'")
        self.version = version
        self.token = token if token is not None else make_jwt()
        self.upload_style = upload_style
        self.artifact_dedup = artifact_dedup
        self.validate = validate
        self.count_only = count_only
        self.ssl_context = ssl_context
        self.gzip_responses = gzip_responses
        self.gzipped = 0  # answers sent gzip-compressed
        self._counts: dict[tuple[str, str], int] = {}
        self._requested_port = port
        self.port: int | None = None
        self._lock = threading.RLock()
        self._faults = Faults()
        self._faults.update(seed=seed)
        self._release = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._id_rng = random.Random()
        self._route_table = self._routes()
        self.reset()
        if start:
            self.start()

    # ---------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def start(self) -> "SimvueServer":
        if self._httpd is not None:
            return self
        port = self.port if self.port is not None else self._requested_port
        httpd = _HTTPServer((HOST, port), _Handler, self)
        if self.ssl_context is not None:
            httpd.socket = self.ssl_context.wrap_socket(httpd.socket, server_side=True)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"simvue-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: close the listening socket and drop open connections."""
        httpd, self._httpd = self._httpd, None
        self._release.set()  # hung handlers see the server gone and drop their connection
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def go_away(self) -> None:
        """Fault 'gone': connections to the port are refused until come_back(). Data is kept."""
        self.stop()

    def come_back(self) -> None:
        """Serve again on the same port after go_away()."""
        self._release.clear()
        self.start()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def __enter__(self) -> "SimvueServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- fault injection API
    def set_faults(self, **kwargs: typing.Any) -> None:
        """Change fault settings at runtime (keys of Faults.DEFAULTS)."""
        with self._lock:
            if kwargs.get("hang"):
                self._release.clear()
            self._faults.update(**kwargs)
            if "hang" in kwargs and not kwargs["hang"]:
                self._release.set()

    def reset_faults(self) -> None:
        with self._lock:
            seed = self._faults.seed
            self._faults = Faults()
            self._faults.update(seed=seed)
        self._release.set()

    def get_faults(self) -> dict[str, typing.Any]:
        with self._lock:
            return {k: (v if not callable(v) else repr(v)) for k, v in self._faults.values.items()}

    @contextlib.contextmanager
    def faults(self, **kwargs: typing.Any) -> typing.Iterator["SimvueServer"]:
        """Scoped fault injection: ``with srv.faults(fail_fraction=0.3, seed=1): ...``."""
        with self._lock:
            saved = dict(self._faults.values)
        self.set_faults(**kwargs)
        try:
            yield self
        finally:
            with self._lock:
                self._faults.values = saved
            if not saved["hang"]:
                self._release.set()

    def release(self) -> None:
        """Release requests held by ``hang`` (and stop hanging new ones)."""
        with self._lock:
            self._faults.values["hang"] = False
        self._release.set()

    # ---------------------------------------------------------------- store
    def reset(self) -> None:
        """Forget everything recorded (fault settings are kept)."""
        with self._lock:
            self._folders: dict[str, dict] = {}
            self._runs: dict[str, dict] = {}
            self._run_history: dict[str, list[dict]] = {}
            self._metrics: dict[str, list[dict]] = {}
            self._metric_batches: dict[str, list[int]] = {}
            self._events: dict[str, list[dict]] = {}
            self._alerts: dict[str, dict] = {}
            self._alert_status: dict[tuple[str, str], list[str]] = {}
            self._artifacts: dict[str, dict] = {}
            self._tags: dict[str, dict] = {}
            self._heartbeats: dict[str, int] = {}
            self._aborts: dict[str, dict] = {}
            self._requests: list[dict] = []
            self._ids: set[str] = set()
            self._generated_names: set[str] = set()  # run ids whose name the server chose

    def _new_id(self) -> str:
        while True:
            new = "".join(self._id_rng.choice(ID_ALPHABET) for _ in range(22))
            if new not in self._ids:
                self._ids.add(new)
                return new

    # accessors: all return deep copies, safe to keep and mutate
    def _copy(self, obj: typing.Any) -> typing.Any:
        with self._lock:
            return copy.deepcopy(obj)

    def runs(self) -> dict[str, dict]:
        """{run_id: current run state} (as GET /api/runs/{id} would show it, alerts as ids)."""
        return self._copy(self._runs)

    def run(self, run_id: str) -> dict:
        """Current state of one run (KeyError if unknown)."""
        return self._copy(self._runs[run_id])

    def run_by_name(self, name: str) -> dict:
        with self._lock:
            matches = [r for r in self._runs.values() if r.get("name") == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} runs named {name!r}")
        return self._copy(matches[0])

    def name_was_generated(self, run_id: str) -> bool:
        """True if the run was created without a name and the server chose one."""
        with self._lock:
            return run_id in self._generated_names

    def run_history(self, run_id: str) -> list[dict]:
        """Every body received for the run, in order: [{"method": "POST"|"PUT", "body": {...}}, ...]."""
        return self._copy(self._run_history[run_id])

    def metrics(self, run_id: str) -> list[dict]:
        """Metric items for a run, in arrival order, as decoded from msgpack."""
        return self._copy(self._metrics.get(run_id, []))

    def count(self, kind: str, run_id: str) -> int:
        """Items received for the run ("metrics" or "events") in ``count_only`` mode."""
        with self._lock:
            return self._counts.get((kind, run_id), 0)

    def metric_batches(self, run_id: str) -> list[int]:
        """Number of items in each accepted POST /api/metrics for the run."""
        return self._copy(self._metric_batches.get(run_id, []))

    def events(self, run_id: str) -> list[dict]:
        return self._copy(self._events.get(run_id, []))

    def folders(self) -> dict[str, dict]:
        """{folder_id: folder state}."""
        return self._copy(self._folders)

    def folder_by_path(self, path: str) -> dict:
        with self._lock:
            for f in self._folders.values():
                if f["path"] == path:
                    return copy.deepcopy(f)
        raise KeyError(path)

    def alerts(self) -> dict[str, dict]:
        """{alert_id: alert definition as stored}."""
        return self._copy(self._alerts)

    def alert_status(self, alert_id: str, run_id: str) -> list[str]:
        """History of statuses PUT for (alert, run); last one is current. [] if none."""
        return self._copy(self._alert_status.get((alert_id, run_id), []))

    def artifacts(self) -> dict[str, dict]:
        """{artifact_id: {"id", "meta" (POST body), "uploaded" (PUT flag), "runs" {run: category},
        "data" (bytes or None), "upload": {"method", "fields", "authorization" (header value or None),
        "content_type", "filename"} or None, "uploads" (count)}}."""
        return self._copy(self._artifacts)

    def tags(self) -> dict[str, dict]:
        return self._copy(self._tags)

    def heartbeats(self, run_id: str | None = None) -> typing.Any:
        """Heartbeat count for a run, or {run_id: count} without an argument."""
        with self._lock:
            return self._heartbeats.get(run_id, 0) if run_id else dict(self._heartbeats)

    def abort(self, run_id: str, reason: str = "test abort") -> None:
        """Set the abort flag of a run (what PUT /api/runs/{id}/abort does)."""
        with self._lock:
            self._aborts[run_id] = {"status": True, "reason": reason}

    def abort_state(self, run_id: str) -> dict:
        with self._lock:
            return dict(self._aborts.get(run_id, {"status": False}))

    def requests(self) -> list[dict]:
        """Request log: [{"method", "path", "query", "status", "fault", "auth", "content_type",
        "content_length", "time"}]; fault is None or "fail"/"hang-dropped"/"unauthorized"."""
        return self._copy(self._requests)

    def count_requests(self, method: str | None = None, path: str | None = None, status: int | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self._requests
                if (method is None or r["method"] == method)
                and (path is None or r["path"] == path or re.fullmatch(path, r["path"]))
                and (status is None or r["status"] == status)
            )

    def snapshot(self, *, binary: str = "base64") -> dict:
        """The whole store as a JSON-serialisable dict (artifact bytes base64-encoded)."""
        with self._lock:
            arts = copy.deepcopy(self._artifacts)
            for art in arts.values():
                data = art.pop("data")
                art["data_base64"] = base64.b64encode(data).decode() if data is not None else None
                art["data_sha256"] = hashlib.sha256(data).hexdigest() if data is not None else None
                art["data_size"] = len(data) if data is not None else None
            return copy.deepcopy(
                {
                    "url": self.url,
                    "version": self.version,
                    "folders": self._folders,
                    "runs": self._runs,
                    "run_history": self._run_history,
                    "metrics": self._metrics,
                    "events": self._events,
                    "alerts": self._alerts,
                    "alert_status": {f"{a}/{r}": s for (a, r), s in self._alert_status.items()},
                    "artifacts": arts,
                    "tags": self._tags,
                    "heartbeats": self._heartbeats,
                    "aborts": self._aborts,
                    "requests": self._requests,
                }
            )

    # ---------------------------------------------------------------- request dispatch
    def _log(self, entry: dict) -> None:
        with self._lock:
            self._requests.append(entry)

    def _pick_fault(self, method: str, path: str) -> dict:
        """Decide, under the lock, which faults apply to this request."""
        with self._lock:
            f = self._faults
            out = {"latency": 0.0, "hang": False, "fail": None,
                   "garble": bool(f.garble and _scope_fn(f.garble_scope)(method, path))}
            if f.latency and _scope_fn(f.latency_scope)(method, path):
                out["latency"] = float(f.latency)
            if f.hang and _scope_fn(f.hang_scope)(method, path):
                out["hang"] = True
            if _scope_fn(f.fail_scope)(method, path):
                if f.fail_next > 0:
                    f.values["fail_next"] -= 1
                    out["fail"] = f.fail_status
                elif f.fail_fraction and f.rng.random() < f.fail_fraction:
                    out["fail"] = f.fail_status
            return out

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
            ("POST", r"/api/events", self._post_events),
            ("POST", r"/api/alerts", self._post_alert),
            ("GET", r"/api/alerts", lambda q: self._list(q, self._alerts)),
            ("GET", r"/api/alerts/([^/]+)", self._get_alert),
            ("PUT", r"/api/alerts/([^/]+)", self._put_alert),
            ("PUT", r"/api/alerts/([^/]+)/status/([^/]+)", self._put_alert_status),
            ("GET", r"/api/alerts/([^/]+)/status/([^/]+)", self._get_alert_status),
            ("POST", r"/api/artifacts", self._post_artifact),
            ("GET", r"/api/artifacts/([^/]+)", self._get_artifact),
            ("PUT", r"/api/artifacts/([^/]+)", self._put_artifact),
            ("POST", r"/api/tags", self._post_tag),
            ("GET", r"/api/tags/([^/]+)", self._get_tag),
            ("PUT", r"/api/tags/([^/]+)", self._put_tag),
        ]
        return [(m, re.compile(p + r"/?"), h) for m, p, h in r]

    # ------------------------------------------------------------------ endpoints
    # §1.6, config/user.py (version check): 200 {"version"}; 1.1.0 <= v < 2.0.0 accepted.
    def _get_version(self, req: "_Request") -> tuple[int, dict]:
        with self._lock:
            bad = self._faults.bad_version
        return 200, {"version": "2.1.0" if bad else self.version}

    # §3.1 step 2, §7.1, run.py:756-762 Folder.new().commit(): 200 {"id"}; an existing path -> 409
    # carrying the existing "id", which the client treats as success (base.py _post_single).
    def _post_folder(self, req: "_Request") -> tuple[int, dict]:
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
    def _get_folder(self, req: "_Request", fid: str) -> tuple[int, dict]:
        with self._lock:
            f = {k: v for k, v in self._folder_or_404(fid).items() if k != "history"}
            return 200, f

    # §7.1 set_folder_details, run.py:2271-2286: PUT partial {metadata?, tags?, description?}; 200 JSON.
    def _put_folder(self, req: "_Request", fid: str) -> tuple[int, dict]:
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
    def _post_run(self, req: "_Request") -> tuple[int, typing.Any]:
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
        """GET shape: alerts as [{"alert": {..., "id"}, "status": ...}] (api/objects/run.py:551-570, §7.4)."""
        view = copy.deepcopy(run)
        view["alerts"] = [
            {"alert": {"id": aid, **{k: v for k, v in self._alerts.get(aid, {}).items() if k != "history"}},
             "status": (self._alert_status.get((aid, run["id"])) or [None])[-1]}
            for aid in run.get("alerts", [])
        ]
        return view

    # §13 row 6, base.py _get: run JSON with name, status, tags, metadata, alerts:[{alert:{id}}],
    # created/started/endtime in DATETIME_FORMAT (api/objects/run.py:575-680 parse them).
    def _get_run(self, req: "_Request", rid: str) -> tuple[int, dict]:
        with self._lock:
            return 200, self._run_view(self._run_or_404(rid))

    # §3.2, base.py _put: partial update; metadata merged, other fields replaced; 200 JSON object.
    def _put_run(self, req: "_Request", rid: str) -> tuple[int, dict]:
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
    def _put_heartbeat(self, req: "_Request", rid: str) -> tuple[int, dict]:
        with self._lock:
            self._run_or_404(rid)
            self._heartbeats[rid] = self._heartbeats.get(rid, 0) + 1
            return 200, {"id": rid}

    # §3.4, api/objects/run.py:777-800 abort_trigger: 200 {"status": bool}.
    def _get_abort(self, req: "_Request", rid: str) -> tuple[int, dict]:
        with self._lock:
            self._run_or_404(rid)
            return 200, {"status": bool(self._aborts.get(rid, {}).get("status", False))}

    # §13 row 10, Client.abort_run: PUT {"reason"}; 200 JSON.
    def _put_abort(self, req: "_Request", rid: str) -> tuple[int, dict]:
        body = req.json_object()
        with self._lock:
            self._run_or_404(rid)
            self._aborts[rid] = {"status": True, "reason": body.get("reason")}
            return 200, {"id": rid, "status": True}

    # api/objects/run.py:803-825 Run.artifacts: 200 JSON list.
    def _get_run_artifacts(self, req: "_Request", rid: str) -> tuple[int, list]:
        with self._lock:
            self._run_or_404(rid)
            return 200, [self._artifact_view(a) | {"category": a["runs"][rid]}
                         for a in self._artifacts.values() if rid in a["runs"]]

    # §6.1 step 5, artifact/base.py:89-125 attach_to_run: PUT {"category"}; expects exactly 200 JSON.
    def _put_run_artifact(self, req: "_Request", rid: str, aid: str) -> tuple[int, dict]:
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
    def _post_data(self, req: "_Request", key: str, check: typing.Callable[[typing.Any, list], None]) -> tuple[int, dict]:
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
            return 200, {}

    def _count_data(self, req: "_Request", key: str) -> tuple[int, dict]:
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

    def _post_metrics(self, req: "_Request") -> tuple[int, dict]:
        return self._post_data(req, "metrics", _check_metric_item)

    def _post_events(self, req: "_Request") -> tuple[int, dict]:
        return self._post_data(req, "events", _check_event_item)

    # ---- alerts (§7.3-7.5)
    @staticmethod
    def _alert_key(body: dict) -> str:
        return json.dumps({k: body.get(k) for k in ("name", "source", "alert", "notification", "description")},
                          sort_keys=True)

    # §0.3 / §7.3, alert/*.py new(): POST ?deduplicate=True; 200 {"id"}; an identical alert ->
    # 409 {"id": existing} which the client takes as the alert (base.py _post_single).
    def _post_alert(self, req: "_Request") -> tuple[int, dict]:
        body = req.json_object()
        for k in ("name", "source"):
            if not body.get(k):
                raise validation_error([k], "Field required", "missing")
        if body["source"] not in ("metrics", "events", "user"):
            raise validation_error(["source"], "Input should be 'metrics', 'events' or 'user'", "literal_error", body["source"])
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
    def _get_alert(self, req: "_Request", aid: str) -> tuple[int, dict]:
        with self._lock:
            return 200, {k: v for k, v in self._alert_or_404(aid).items() if k != "history"}

    # §13 row 22, sender re-upload (PUT of the staged keys, possibly {}): 200 JSON.
    def _put_alert(self, req: "_Request", aid: str) -> tuple[int, dict]:
        body = req.json_object()
        with self._lock:
            a = self._alert_or_404(aid)
            self._merge_update(a, copy.deepcopy(body))
            a["history"].append({"method": "PUT", "body": copy.deepcopy(body)})
            return 200, {k: v for k, v in a.items() if k != "history"}

    # §7.5, alert/user.py:117-136 log_alert: PUT {"status": "ok"|"critical"}; 200 JSON.
    def _put_alert_status(self, req: "_Request", aid: str, rid: str) -> tuple[int, dict]:
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
    def _get_alert_status(self, req: "_Request", aid: str, rid: str) -> tuple[int, dict]:
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
    def _post_artifact(self, req: "_Request") -> tuple[int, dict]:
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

    # §6.1 step 6, artifact/base.py (self.name in an f-string): 200 JSON that includes "name".
    def _get_artifact(self, req: "_Request", aid: str) -> tuple[int, dict]:
        with self._lock:
            return 200, self._artifact_view(self._artifact_or_404(aid))

    # §6.1 step 4, artifact/base.py:186-190: PUT {"uploaded": true}; 200 JSON.
    def _put_artifact(self, req: "_Request", aid: str) -> tuple[int, dict]:
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
    def _storage_upload(self, req: "_Request", aid: str) -> tuple[int, typing.Any]:
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
            a["data"] = data
            a["upload"] = upload
            a["uploads"] += 1
        return status, None

    # ---- tags (§7.2, tag.py): POST {name, colour?, description?} -> 200 {"id"} / 409 {"id"}; PUT partial.
    def _post_tag(self, req: "_Request") -> tuple[int, dict]:
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

    def _get_tag(self, req: "_Request", tid: str) -> tuple[int, dict]:
        with self._lock:
            if tid not in self._tags:
                raise not_found(f"Tag '{tid}' not found")
            return 200, copy.deepcopy(self._tags[tid])

    def _put_tag(self, req: "_Request", tid: str) -> tuple[int, dict]:
        body = req.json_object()
        with self._lock:
            if tid not in self._tags:
                raise not_found(f"Tag '{tid}' not found")
            self._tags[tid].update(copy.deepcopy(body))
            return 200, copy.deepcopy(self._tags[tid])

    # §2.4 get_paginated: ?count=&start= -> {"data": [...], "count": total}.
    def _list(self, req: "_Request", table: dict, view: typing.Callable[[dict], dict] | None = None) -> tuple[int, dict]:
        start = int(req.query.get("start", ["0"])[0] or 0)
        count = int(req.query.get("count", ["100"])[0] or 100)
        with self._lock:
            items = [view(v) if view else {k: x for k, x in v.items() if k != "history"} for v in table.values()]
            return 200, {"data": copy.deepcopy(items[start:start + count]), "count": len(items)}

    # ---- control API for shell-driven tests (CLI); not part of Simvue, never needs auth
    def _control(self, req: "_Request", what: str) -> tuple[int, typing.Any]:
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


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, tuple[str | None, bytes]]]:
    """Minimal multipart/form-data parser: (fields, {name: (filename, bytes)}) in part order."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise HttpError(400, "multipart body without boundary")
    delim = b"--" + m.group(1).encode()
    fields: dict[str, str] = {}
    files: dict[str, tuple[str | None, bytes]] = {}
    for part in body.split(delim)[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part
        head, _, content = part.partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        disp = headers.get("content-disposition", "")
        name_m = re.search(r'\bname="([^"]*)"', disp)
        file_m = re.search(r'\bfilename="([^"]*)"', disp)
        if not name_m:
            continue
        if file_m:
            files[name_m.group(1)] = (file_m.group(1), content)
        else:
            fields[name_m.group(1)] = content.decode("utf-8")
    return fields, files


class _Request:
    def __init__(self, method: str, path: str, query: dict, headers, body: bytes) -> None:
        self.method, self.path, self.query, self.headers, self.body = method, path, query, headers, body

    def json_body(self) -> typing.Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise HttpError(422, [{"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error"}]) from None

    def json_object(self) -> dict:
        body = self.json_body()
        if not isinstance(body, dict):
            raise validation_error([], "Input should be a valid dictionary", "dict_type", body)
        return body

    def json_or_msgpack(self) -> typing.Any:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/json":
            return self.json_body()
        if msgpack is None:
            raise HttpError(415, "msgpack is not installed on the test server")
        try:
            return msgpack.unpackb(self.body, raw=False)
        except Exception:
            raise HttpError(422, [{"type": "msgpack_invalid", "loc": ["body"], "msg": "msgpack decode error"}]) from None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server behind a proxy
    server: _HTTPServer
    server_version = "SimvueTestServer/1.0"

    def log_message(self, format: str, *args: typing.Any) -> None:  # quiet
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, obj: typing.Any) -> None:
        data = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        owner = self.server.owner
        if data and owner.gzip_responses and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            # A real server behind nginx compresses; the client must accept it (§1.4).
            data = gzip.compress(data)
            self.send_header("Content-Encoding", "gzip")
            with owner._lock:
                owner.gzipped += 1
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _client_gone(self) -> bool:
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if r:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True
        return False

    def _handle(self) -> None:
        owner = self.server.owner
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        body = self._read_body()
        method = self.command
        entry = {"method": method, "path": path, "query": split.query, "status": None, "fault": None,
                 "auth": self.headers.get("Authorization") is not None,
                 "content_type": self.headers.get("Content-Type"), "content_length": len(body),
                 "time": time.time()}
        status, obj = 500, {"detail": "internal error"}
        try:
            fault = owner._pick_fault(method, path)
            if fault["hang"]:
                while not owner._release.wait(0.05) or owner._httpd is not self.server:
                    if self._client_gone() or owner._httpd is not self.server:
                        entry["fault"] = "hang-dropped"
                        self.close_connection = True
                        return
            if fault["latency"]:
                time.sleep(fault["latency"])
            if fault["garble"]:  # nothing is recorded: the request never reached the API
                entry["fault"] = "garble"
                status = 200
                page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                with contextlib.suppress(OSError):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                return
            status, obj = self._dispatch(owner, method, path, query, body, fault)
            if fault["fail"] is not None and status == fault["fail"]:
                entry["fault"] = "fail"
        except HttpError as e:
            status, obj = e.status, e.body
            if e.status == 401 and owner.get_faults()["unauthorized"]:
                entry["fault"] = "unauthorized"
        except Exception as e:  # a server bug must show up as a 500 in the log, not a hang
            status, obj = 500, {"detail": f"test server error: {type(e).__name__}: {e}"}
        finally:
            entry["status"] = None if entry["fault"] == "hang-dropped" else status
            owner._log(entry)
        with contextlib.suppress(OSError):
            self._send(status, obj)

    def _dispatch(self, owner: SimvueServer, method: str, path: str, query: dict, body: bytes,
                  fault: dict) -> tuple[int, typing.Any]:
        req = _Request(method, path, query, self.headers, body)
        if path.startswith("/_control/"):
            return owner._control(req, path[len("/_control/"):].strip("/"))
        m = re.fullmatch(r"/storage/([A-Za-z0-9]+)/?", path)
        if m and method in ("POST", "PUT"):
            if fault["fail"] is not None:
                return fault["fail"], {"detail": "injected failure"}
            return owner._storage_upload(req, m.group(1))
        if path.startswith("/api"):
            with owner._lock:
                unauthorized = owner._faults.unauthorized
            if unauthorized or self.headers.get("Authorization") != f"Bearer {owner.token}":
                raise HttpError(401, "Not authenticated" if not unauthorized else "Could not validate credentials")
        if fault["fail"] is not None:  # injected failure: nothing is recorded, the client must retry
            return fault["fail"], {"detail": "injected failure (test server)"}
        for r_method, rx, handler in owner._route_table:
            mm = rx.fullmatch(path)
            if mm and r_method == method:
                return handler(req, *mm.groups())
        # GET /api/nosim/version (§0.1) and everything unknown -> 404 {"detail": "Not Found"}
        return 404, {"detail": "Not Found"}

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle  # noqa: N815


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--version", default="1.3.0", help="version reported by GET /api/version")
    ap.add_argument("--token", default=None, help="bearer token to require (default: a fresh JWT-looking token)")
    ap.add_argument("--upload-style", choices=("post", "put"), default="post")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--record", metavar="FILE", help="write the recorded store as JSON on SIGTERM/SIGINT")
    ap.add_argument("--token-file", metavar="FILE", help="also write the token to FILE")
    args = ap.parse_args(argv)

    srv = SimvueServer(port=args.port, version=args.version, token=args.token,
                       upload_style=args.upload_style, seed=args.seed)
    if args.token_file:
        with open(args.token_file, "w") as fh:
            fh.write(srv.token)
    # first line: the URL; second line: the token
    print(srv.url, flush=True)
    print(srv.token, flush=True)

    done = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not done.wait(0.2):
        pass
    srv.stop()
    if args.record:
        with open(args.record, "w") as fh:
            json.dump(srv.snapshot(), fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
