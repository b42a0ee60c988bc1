"""Proxies and compressed answers. The library goes through the proxy the environment names
for the server's scheme (HTTP_PROXY for http, ALL_PROXY otherwise), and not when NO_PROXY lists
the host, as Python's requests (and so the Python client) does. The proxy here is a small forwarding proxy on
127.0.0.1 that only forwards to 127.0.0.1."""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .helpers import describe, kv, program_env, run_program


class _Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _forward(self):
        target = urllib.parse.urlsplit(self.path)  # absolute-form request line
        if target.hostname != "127.0.0.1":
            self.send_error(403, "this test proxy only forwards to 127.0.0.1")
            return
        self.server.seen.append(f"{self.command} {target.path}")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
        conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=10)
        path = target.path + (f"?{target.query}" if target.query else "")
        conn.request(self.command, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = do_PUT = _forward


@pytest.fixture
def proxy():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    srv.daemon_threads = True
    srv.seen = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def proxy_env(tmp_path, url, **proxies):
    env = program_env(tmp_path / "home", tmp_path / "cache", url)
    for k in list(env):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            del env[k]
    env.update(proxies)
    return env


def test_requests_go_through_the_proxy(exes, servers, proxy, tmp_path):
    srv = servers()
    url = f"http://127.0.0.1:{proxy.server_address[1]}"
    res = run_program([exes["initfail"], "20", "1"], cwd=tmp_path / "work", env=proxy_env(tmp_path, srv.url, HTTP_PROXY=url))
    out = kv(res.stdout)
    assert out.get("init_rc") == "SIMVUE_OK" and out.get("close_rc") == "SIMVUE_OK", describe(res)
    assert "GET /api/version" in proxy.seen and "POST /api/runs" in proxy.seen, proxy.seen
    assert any(s == "POST /api/metrics" for s in proxy.seen), proxy.seen
    assert len(srv.metrics(out["run_id"])) == 20


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "127.0.0.0/8", "*"])
def test_no_proxy_bypasses_it(exes, servers, proxy, tmp_path, no_proxy):
    srv = servers()
    url = f"http://127.0.0.1:{proxy.server_address[1]}"
    env = proxy_env(tmp_path, srv.url, HTTP_PROXY=url, NO_PROXY=no_proxy)
    res = run_program([exes["initfail"], "5", "1"], cwd=tmp_path / "work", env=env)
    assert kv(res.stdout).get("init_rc") == "SIMVUE_OK", describe(res)
    assert proxy.seen == []


def test_an_https_proxy_is_not_used_for_http(exes, servers, proxy, tmp_path):
    srv = servers()
    url = f"http://127.0.0.1:{proxy.server_address[1]}"
    res = run_program([exes["initfail"], "5", "1"], cwd=tmp_path / "work", env=proxy_env(tmp_path, srv.url, HTTPS_PROXY=url))
    assert kv(res.stdout).get("init_rc") == "SIMVUE_OK", describe(res)
    assert proxy.seen == []


def test_gzip_answers_are_accepted(exes, servers, tmp_path):
    """A server (or the proxy in front of it) may compress its JSON answers."""
    srv = servers(gzip_responses=True)
    res = run_program([exes["initfail"], "10", "1"], cwd=tmp_path / "work", env=program_env(tmp_path / "home", tmp_path / "cache", srv.url))
    out = kv(res.stdout)
    assert out.get("init_rc") == "SIMVUE_OK" and out.get("close_rc") == "SIMVUE_OK", describe(res)
    assert srv.gzipped > 0
    assert srv.run(out["run_id"])["name"] == "initfail-run"
    assert len(srv.metrics(out["run_id"])) == 10
