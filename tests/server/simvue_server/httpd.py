"""HTTP plumbing: the threading server (which tracks connections so they can be dropped), the
request handler (body reading, faults, auth, dispatch to the route table, gzip), requests and
HTTP errors, and a minimal multipart parser."""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import select
import socket
import threading
import time
import typing
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

if typing.TYPE_CHECKING:
    from .server import SimvueServer

try:  # msgpack is only needed for metrics/events bodies; it comes with the simvue client.
    import msgpack
except ImportError:  # pragma: no cover - the JSON fallback below still works
    msgpack = None


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

class Request:
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


class HTTPServer(ThreadingHTTPServer):
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


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server behind a proxy
    # The headers and the body go out in two writes: with Nagle's algorithm on, the body waits
    # for the client's delayed ACK of the headers (40 ms a request), as no real server does.
    disable_nagle_algorithm = True
    server: HTTPServer
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
        with owner._lock:
            refused = owner._draining
            if not refused:
                owner._busy += 1
        if refused:  # going away cleanly (go_away(drain=True)): the request is not read
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            self._handle_request(owner)
        finally:
            with owner._lock:
                owner._busy -= 1

    def _handle_request(self, owner: "SimvueServer") -> None:
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
        answer = True
        try:
            fault = owner._pick_fault(method, path)
            if fault["hang"]:
                with owner._lock:
                    owner._held += 1
                try:
                    while not owner._release.wait(0.05) or owner._httpd is not self.server:
                        if owner._httpd is not self.server or (
                                not fault["hang_processes"] and self._client_gone()):
                            entry["fault"] = "hang-dropped"
                            self.close_connection = True
                            return
                finally:
                    with owner._lock:
                        owner._held -= 1
                if fault["hang_processes"] and self._client_gone():
                    entry["fault"] = "hang-late"  # stored, and nobody is told
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
            elif fault["drop"]:  # processed (stored if valid); the answer never leaves
                entry["fault"] = "drop"
                answer = False
        except HttpError as e:
            status, obj = e.status, e.body
            if e.status == 401 and owner.get_faults()["unauthorized"]:
                entry["fault"] = "unauthorized"
        except Exception as e:  # a server bug must show up as a 500 in the log, not a hang
            status, obj = 500, {"detail": f"test server error: {type(e).__name__}: {e}"}
        finally:
            entry["status"] = None if entry["fault"] == "hang-dropped" else status
            owner._log(entry)
        if not answer:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        with contextlib.suppress(OSError):
            self._send(status, obj)

    def _dispatch(self, owner: SimvueServer, method: str, path: str, query: dict, body: bytes,
                  fault: dict) -> tuple[int, typing.Any]:
        req = Request(method, path, query, self.headers, body)
        if path.startswith("/_control/"):
            return owner._control(req, path[len("/_control/"):].strip("/"))
        m = re.fullmatch(r"/storage/([A-Za-z0-9]+)/?", path)
        if m and method in ("POST", "PUT"):
            if fault["fail"] is not None:
                if fault["after"]:
                    owner._storage_upload(req, m.group(1))
                return fault["fail"], {"detail": "injected failure"}
            return owner._storage_upload(req, m.group(1))
        if path.startswith("/api"):
            with owner._lock:
                unauthorized = owner._faults.unauthorized
            if unauthorized or self.headers.get("Authorization") != f"Bearer {owner.token}":
                raise HttpError(401, "Not authenticated" if not unauthorized else "Could not validate credentials")
        if fault["fail"] is not None and not fault["after"]:
            # injected failure: nothing is recorded, the client must retry
            return fault["fail"], {"detail": "injected failure (test server)"}
        for r_method, rx, handler in owner._route_table:
            mm = rx.fullmatch(path)
            if mm and r_method == method:
                answer = handler(req, *mm.groups())
                if fault["fail"] is not None:  # carried out, then reported as failed
                    return fault["fail"], {"detail": "injected failure after processing (test server)"}
                return answer
        # GET /api/nosim/version (§0.1) and everything unknown -> 404 {"detail": "Not Found"}
        return 404, {"detail": "Not Found"}

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle  # noqa: N815
