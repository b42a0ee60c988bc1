"""Tags and alerts a run adds are merged with what the server has, as the Python client 2.6.2
does it (it reads the run first), so that a tag or alert added in the web UI during the run is
kept; set_tags replaces the tags (issue 12, "Runs"). tests/parity/c/merge.c and
tests/parity/py/merge.py do the same: the test adds a tag and an alert on the server while
they wait, as the UI would."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request

import pytest

from .helpers import PY_DIR, env_for, kv, read_cache, run_ok, server_view
from harness import TOKEN


def _api(srv, method: str, path: str, body=None):
    req = urllib.request.Request(f"{srv.url}/api{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", f"Bearer {TOKEN}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _run_with_ui(cmd, srv, work, env) -> tuple[str, str]:
    """Runs `cmd` (which prints READY and waits for the go file); meanwhile adds the tag
    "ui-tag" and the alert "ui-alert" to its run on the server. Returns (run id, output)."""
    go = work / "go"
    (work / "cwd").mkdir(parents=True, exist_ok=True)
    p = subprocess.Popen([str(c) for c in cmd], cwd=work / "cwd", env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    out = ""
    for line in p.stdout:
        out += line
        if line.strip() == "READY":
            break
    rid = kv(out).get("run_id")
    assert rid, out + (p.stderr.read() if p.poll() is not None else "")
    # the run's own update (tag b) must have reached the server before the UI changes anything
    deadline = time.monotonic() + 30
    while "b" not in srv.run(rid)["tags"] and time.monotonic() < deadline:
        time.sleep(0.05)
    run = _api(srv, "GET", f"/runs/{rid}")
    ui_alert = _api(srv, "POST", "/alerts", {"name": "ui-alert", "source": "user", "notification": "none",
                                             "description": None, "enabled": True, "abort": False})["id"]
    _api(srv, "PUT", f"/runs/{rid}", {"tags": run["tags"] + ["ui-tag"],
                                     "alerts": [a["alert"]["id"] for a in run["alerts"]] + [ui_alert]})
    go.touch()
    rest, err = p.communicate(timeout=120)
    assert p.returncode == 0, out + rest + err
    return rid, out + rest


@pytest.mark.parametrize("who", ["python", "c"])
def test_added_tags_and_alerts_keep_what_the_ui_added(who, exes, pyref, servers, tmp_path):
    srv = servers()
    work = tmp_path / who
    cmd = [pyref, PY_DIR / "merge.py", work / "go"] if who == "python" else [exes["merge"], work / "go"]
    rid, out = _run_with_ui(cmd, srv, work, env_for(work, srv.url, mode="online"))
    view = server_view(srv.snapshot(), rid)
    assert view["tags"] == ["a", "b", "c", "ui-tag"], out
    assert view["alerts"] == ["ua2", "ui-alert"], out


@pytest.mark.parametrize("who", ["python", "c"])
def test_set_tags_replaces_them(who, exes, pyref, servers, tmp_path):
    srv = servers()
    work = tmp_path / who
    cmd = ([pyref, PY_DIR / "merge.py", work / "go", "set"] if who == "python"
           else [exes["merge"], work / "go", "set"])
    rid, out = _run_with_ui(cmd, srv, work, env_for(work, srv.url, mode="online"))
    assert srv.run(rid)["tags"] == ["x", "y"], out
    assert srv.run_history(rid)[-2]["body"] == {"tags": ["x", "y"]}  # then the final status


def test_set_tags_offline(exes, tmp_path):
    work = tmp_path / "offline"
    (work / "go").parent.mkdir(parents=True, exist_ok=True)
    (work / "go").touch()
    run_ok([exes["merge"], work / "go", "set"], cwd=work / "cwd",
           env=env_for(work, "http://127.0.0.1:1", mode="offline"))
    run = next(iter(read_cache(work / "cache")["runs"].values()))
    assert run["tags"] == ["x", "y"]
