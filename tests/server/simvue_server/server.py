"""The server object: settings, lifecycle (start, stop, go away, come back) and tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
import time
import typing

from .faults import FaultControl, Faults
from .httpd import Handler, HTTPServer
from .routes import Routes
from .storage import Store

HOST = "127.0.0.1"  # never listen anywhere else


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


class SimvueServer(FaultControl, Store, Routes):
    """In-process fake Simvue server. See the package docstring."""

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
        count_only: bool = False,  # metrics/events counted (framing parsed), artifact bytes not kept: benchmarks
        ssl_context: typing.Any = None,  # an ssl.SSLContext: serve https (TLS tests)
        gzip_responses: bool = False,  # gzip JSON answers to clients that accept it
        # GET /api/runs/{run}/metrics/{metric}/values exists (False: a server without that read,
        # whose route answers 404 "Not Found"); may be changed at any time
        grid_values: bool = True,
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
        self.grid_values = grid_values
        self.gzipped = 0  # answers sent gzip-compressed
        self._counts: dict[tuple[str, str], int] = {}
        self._requested_port = port
        self.port: int | None = None
        self._lock = threading.RLock()
        self._faults = Faults()
        self._faults.update(seed=seed)
        self._release = threading.Event()
        self._held = 0  # requests held by the hang fault right now
        self._busy = 0  # requests being handled right now (go_away(drain=True) waits for them)
        self._draining = False  # go_away(drain=True) under way: new requests are not read
        self._httpd: HTTPServer | None = None
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
        httpd = HTTPServer((HOST, port), Handler, self)
        if self.ssl_context is not None:
            httpd.socket = self.ssl_context.wrap_socket(httpd.socket, server_side=True)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"simvue-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self, drain: bool = False) -> None:
        """Stop serving: close the listening socket and drop open connections. With ``drain``,
        the requests being handled are answered first (up to 10 s) and no new request on an
        open connection is read: no request is stored without its answer reaching the client."""
        if drain and self._httpd is not None:
            with self._lock:
                self._draining = True
            self._httpd.shutdown()
            self._httpd.server_close()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with self._lock:
                    if self._busy - self._held <= 0:  # (held by the hang fault: dropped below)
                        break
                time.sleep(0.01)
        httpd, self._httpd = self._httpd, None
        self._release.set()  # hung handlers see the server gone and drop their connection
        if httpd is None:
            return
        if not drain:
            httpd.shutdown()
            httpd.server_close()
        httpd.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def go_away(self, drain: bool = False) -> None:
        """Fault 'gone': connections to the port are refused until come_back(). Data is kept.
        Abruptly by default: a request being handled may be stored while its answer is lost
        (its outcome is unknown to the client). With ``drain`` the server goes away cleanly:
        what it is handling is answered, and nothing more is read."""
        self.stop(drain=drain)

    def come_back(self) -> None:
        """Serve again on the same port after go_away()."""
        self._release.clear()
        with self._lock:
            self._draining = False
        self.start()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def __enter__(self) -> "SimvueServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
