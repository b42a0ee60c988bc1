"""Prove that the test server (tests/server/simvue_server/) is faithful: drive it with the REAL Python client.

The simvue client (2.6.2) runs in a subprocess with the interpreter named by $SIMVUE_PYREF
(skipped when unset). Fault injection and the CLI are exercised with plain urllib requests.

    SIMVUE_PYREF=/tmp/pyref/bin/python /tmp/pyref/bin/python -m pytest -q tests/server
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request

import pytest

from simvue_server import SimvueServer, make_jwt

PYREF = os.environ.get("SIMVUE_PYREF")
needs_pyref = pytest.mark.skipif(
    not PYREF, reason="SIMVUE_PYREF is unset: set it to a python with simvue 2.6.2 installed"
)
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$")
ID_RE = re.compile(r"^[A-Za-z0-9]{22}$")

# --------------------------------------------------------------------------------------------------
# helpers


def client_env(tmp: pathlib.Path, srv: SimvueServer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SIMVUE_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), SIMVUE_URL=srv.url, SIMVUE_TOKEN=srv.token,
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               SIMVUE_OFFLINE_DIRECTORY=str(tmp / "cache"), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_client(script: str, tmp: pathlib.Path, env: dict, *args: str, timeout: float = 60):
    """Run a script with the reference interpreter, cwd=tmp."""
    return subprocess.run([PYREF, "-c", textwrap.dedent(script), *args], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=timeout)


def last_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, f"client failed rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def http(srv: SimvueServer, method: str, path: str, body=None, *, ctype="application/json",
         auth: bool = True, timeout: float = 5):
    """(status, parsed JSON or None). Raises URLError on connection failure."""
    data = None
    if body is not None:
        if ctype == "application/msgpack":
            import msgpack
            data = msgpack.packb(body, use_bin_type=True)
        else:
            data = json.dumps(body).encode()
    req = urllib.request.Request(srv.url + path, data=data, method=method)
    if auth:
        req.add_header("Authorization", f"Bearer {srv.token}")
    if data is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, (json.loads(raw) if raw else None)


# The scenario both modes run. Offline it only writes the cache; online it talks to the server.
RUN_SCRIPT = """
import json, sys, pathlib
import simvue

mode = sys.argv[1]
pathlib.Path("input.txt").write_bytes(b"hello simvue\\n" * 10 + bytes(range(256)))
with simvue.Run(mode=mode) as run:
    run.config(suppress_errors=False, disable_resources_metrics=True)
    run.init(name="py-run-" + mode, folder="/libsimvue/tests", tags=["t1", "t2"],
             metadata={"a": 1, "b": "x", "nested": {"k": [1, 2]}}, description="a test run")
    run.log_metrics({"loss": 0.5, "acc": 1})            # implicit step 0
    run.log_metrics({"loss": 0.25})                     # implicit step 1
    run.log_metrics({"loss": 0.125}, step=10, time=2.5)  # explicit step and time
    run.log_metrics({"loss": 0.0625})                   # implicit: the counter is now 3
    run.log_event("hello event")
    run.log_event("careful", log_level="warning")
    run.update_metadata({"c": 3, "a": 2})
    run.update_tags(["t2", "t3"])
    run.set_folder_details(metadata={"fm": 1}, tags=["ft"], description="folder desc")
    a1 = run.create_metric_threshold_alert(name="loss-high", metric="loss", threshold=10.0,
                                           rule="is above", window=2)
    a2 = run.create_metric_range_alert(name="loss-range", metric="loss", range_low=-1.0,
                                       range_high=1.0, rule="is outside range")
    a3 = run.create_event_alert(name="err-event", pattern="ERROR", frequency=2)
    run.save_file("input.txt", category="input")
    run_id = run.id
print(json.dumps({"run_id": run_id, "alerts": [a1, a2, a3]}))
"""


def assert_scenario_recorded(srv: SimvueServer, run_id: str, mode: str) -> None:
    """Every object of RUN_SCRIPT arrived intact."""
    assert ID_RE.match(run_id), run_id
    run = srv.run(run_id)
    assert run["name"] == f"py-run-{mode}"
    assert run["folder"] == "/libsimvue/tests"
    assert run["description"] == "a test run"
    assert run["status"] == "completed"
    assert TS_RE.match(run["endtime"]), run["endtime"]
    assert sorted(run["tags"]) == ["t1", "t2", "t3"]  # union, order not preserved
    md = run["metadata"]
    assert md["a"] == 2 and md["b"] == "x" and md["c"] == 3 and md["nested"] == {"k": [1, 2]}
    assert run["visibility"] == {"tenant": False, "public": False, "users": []}
    assert run["heartbeat_timeout"] == 180

    # metrics: values, steps (client counter), time, timestamp format
    items = srv.metrics(run_id)
    assert [i["values"] for i in items] == [{"loss": 0.5, "acc": 1}, {"loss": 0.25}, {"loss": 0.125},
                                            {"loss": 0.0625}]
    assert [i["step"] for i in items] == [0, 1, 10, 3]
    assert items[2]["time"] == 2.5
    assert all(set(i) == {"time", "timestamp", "step", "values"} for i in items)
    assert all(TS_RE.match(i["timestamp"]) for i in items)
    assert isinstance(items[0]["values"]["loss"], float) and items[0]["values"]["acc"] == 1

    events = srv.events(run_id)
    assert [(e["message"], e["log_level"]) for e in events] == [("hello event", "info"), ("careful", "warning")]
    assert all(TS_RE.match(e["timestamp"]) for e in events)

    folder = srv.folder_by_path("/libsimvue/tests")
    assert folder["metadata"] == {"fm": 1} and folder["tags"] == ["ft"] and folder["description"] == "folder desc"

    # alerts: definitions and attachment to the run
    alerts = srv.alerts()
    by_name = {a["name"]: a for a in alerts.values()}
    assert set(run["alerts"]) == {by_name[n]["id"] for n in ("loss-high", "loss-range", "err-event")}
    th = by_name["loss-high"]
    assert th["source"] == "metrics" and th["alert"]["threshold"] == 10.0 and th["alert"]["rule"] == "is above"
    assert th["alert"]["window"] == 2 and th["alert"]["metric"] == "loss" and th["alert"]["aggregation"] == "average"
    rg = by_name["loss-range"]
    assert (rg["alert"]["range_low"], rg["alert"]["range_high"]) == (-1.0, 1.0)
    ev = by_name["err-event"]
    assert ev["source"] == "events" and ev["alert"] == {"pattern": "ERROR", "frequency": 2}

    # artifact: bytes match the announced checksum and size; never saw the token
    arts = [a for a in srv.artifacts().values() if run_id in a["runs"]]
    assert len(arts) == 1
    art = arts[0]
    assert art["runs"] == {run_id: "input"} and art["uploaded"] is True
    assert art["meta"]["name"] == "input.txt" and art["meta"]["mime_type"] == "text/plain"
    assert art["data"] is not None and len(art["data"]) == art["meta"]["size"]
    assert hashlib.sha256(art["data"]).hexdigest() == art["meta"]["checksum"]
    assert art["data"] == b"hello simvue\n" * 10 + bytes(range(256))
    assert art["upload"]["authorization"] is None
    assert art["uploads"] == 1

    assert srv.heartbeats(run_id) >= 1
    # every request the client made was answered successfully (404 only for the noSim probe)
    bad = [r for r in srv.requests() if r["status"] >= 400 and r["path"] != "/api/nosim/version"]
    assert not bad, bad
    # the token never went to the storage URL
    assert not any(r["auth"] for r in srv.requests() if r["path"].startswith("/storage/"))


# --------------------------------------------------------------------------------------------------
# (a) online run with the real client


@needs_pyref
@pytest.mark.parametrize("upload_style", ["post", "put"])
def test_online_run(tmp_path, upload_style):
    with SimvueServer(token=make_jwt(), upload_style=upload_style) as srv:
        out = last_json(run_client(RUN_SCRIPT, tmp_path, client_env(tmp_path, srv), "online"))
        assert_scenario_recorded(srv, out["run_id"], "online")
        assert set(out["alerts"]) == set(srv.run(out["run_id"])["alerts"])
        art = next(iter(srv.artifacts().values()))
        if upload_style == "post":
            assert art["upload"]["method"] == "POST"
            assert art["upload"]["field_order"][-1] == "file"
            assert art["upload"]["fields"]["key"] == f"artifacts/{art['id']}"
            assert art["upload"]["filename"] == "input.txt"
        else:
            assert art["upload"]["method"] == "PUT"
        reqs = [(r["method"], r["path"]) for r in srv.requests()]
        assert reqs[0] == ("GET", "/api/version")
        assert ("GET", "/api/nosim/version") in reqs
        assert ("GET", f"/api/runs/{out['run_id']}/abort") in reqs
        # online the run is POSTed once and then only PUT
        hist = srv.run_history(out["run_id"])
        assert hist[0]["method"] == "POST" and "created" not in hist[0]["body"]
        assert all(h["method"] == "PUT" for h in hist[1:])


@needs_pyref
def test_online_server_generated_name_and_dedup(tmp_path):
    """No name given: the client reads the server-chosen name back; identical alerts -> 409 + id."""
    script = """
    import json, simvue
    ids = []
    names = []
    for _ in range(2):
        with simvue.Run() as run:
            run.config(suppress_errors=False, disable_resources_metrics=True)
            run.init(folder="/dedup")
            ids.append(run.create_event_alert(name="same", pattern="x"))
            names.append(run.name)
            rid = run.id
    print(json.dumps({"alerts": ids, "names": names, "run": rid}))
    """
    with SimvueServer() as srv:
        proc = run_client(script, tmp_path, client_env(tmp_path, srv))
        out = last_json(proc)
        assert out["alerts"][0] == out["alerts"][1] and len(srv.alerts()) == 1
        assert srv.count_requests("POST", "/api/alerts", status=409) == 1
        assert srv.count_requests("POST", "/api/folders", status=409) == 1
        assert srv.name_was_generated(out["run"])
        assert out["names"][1] == srv.run(out["run"])["name"]


@needs_pyref
def test_python_client_reads_back_metrics_and_events(tmp_path):
    """The read endpoints libsimvue asks after a request whose outcome is unknown (protocol doc
    §4.7), as the real client reads them: Run.metrics (the summary in GET /api/runs/{id}),
    Client.get_metric_values (GET /api/metrics), Client.get_events (GET /api/events)."""
    script = """
    import json, simvue
    from simvue.api.objects import Run
    with simvue.Run() as run:
        run.config(suppress_errors=False, disable_resources_metrics=True)
        run.init(name="reader", folder="/read")
        for i in range(5):
            run.log_metrics({"x": i, "y": 2 * i})
        run.log_metrics({"x": 10})
        for i in range(3):
            run.log_event(f"event {i}")
        rid = run.id
    client = simvue.Client()
    summary = dict(Run(identifier=rid).metrics)
    values = client.get_metric_values(metric_names=["x", "y"], xaxis="step", run_ids=[rid],
                                      aggregate=False)
    events = client.get_events(rid)
    page = client.get_events(rid, start_index=1, count_limit=1)
    print(json.dumps({"run_id": rid, "summary": summary,
                      "values": {m: {str(k[0]): v for k, v in d.items()} for m, d in values.items()},
                      "events": [e["message"] for e in events], "page": [e["message"] for e in page]}))
    """
    with SimvueServer() as srv:
        out = last_json(run_client(script, tmp_path, client_env(tmp_path, srv)))
        assert out["summary"]["x"]["count"] == 6 and out["summary"]["y"]["count"] == 5
        assert out["summary"]["x"]["min"] == 0 and out["summary"]["x"]["last"] == 10
        assert out["values"]["x"] == {"0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 10}
        assert out["values"]["y"]["4"] == 8 and out["values"]["y"]["5"] is None
        assert out["events"] == ["event 0", "event 1", "event 2"] and out["page"] == ["event 1"]
        status, page = http(srv, "GET", f"/api/events?run={out['run_id']}&start=0&count=1")
        assert status == 200 and page["count"] == 3 and len(page["data"]) == 1


@needs_pyref
def test_python_client_reads_back_arrays(tmp_path):
    """The read of a run's arrays that `simvue send` asks after a tensor-metrics request whose
    outcome is unknown (protocol doc §8.7), as the real client reads it: GridMetrics.get (paged
    with count/start) and Grid.get_run_metric_values, GET /api/runs/{run}/metrics/{metric}/
    values?step=N -> {"data": [{step, time, timestamp, array, grid}], "count": n}."""
    script = """
    import json, numpy, simvue
    from simvue.api.objects import GridMetrics
    with simvue.Run() as run:
        run.config(suppress_errors=False, disable_resources_metrics=True)
        run.init(name="arrays", folder="/read")
        run.assign_metric_to_grid(metric_name="T", grid_name="mesh", axes_ticks=[[0.0, 0.5, 1.0], [0.0, 1.0]],
                                  axes_labels=["x", "y"])
        for k in range(3):
            run.log_metrics({"T": numpy.full((2, 3), float(k))}, step=k)
        run.log_metrics({"T": numpy.full((2, 3), 7.0)}, step=1)  # a second array at step 1
        rid = run.id
    pages = {str(step): list(GridMetrics.get(runs=[rid], metrics=["T"], step=step)) for step in (0, 1, 5)}
    first = list(GridMetrics.get(runs=[rid], metrics=["T"], step=1, count=1))
    print(json.dumps({"run_id": rid, "pages": pages, "first": first}))
    """
    with SimvueServer() as srv:
        env = client_env(tmp_path, srv)
        out = last_json(run_client(script, tmp_path, env))
        rid = out["run_id"]
        held = srv.grid_metrics(rid)
        assert len(held) == 4
        (gid, metric), = srv.run_grids(rid)
        assert metric == "T"
        one = out["pages"]["1"]
        assert len(one) == 1 and one[0]["count"] == 2
        assert [r["array"] for r in one[0]["data"]] == [[[1.0] * 3] * 2, [[7.0] * 3] * 2]
        assert [(r["step"], r["timestamp"], r["grid"]) for r in one[0]["data"]] == [
            (1, i["timestamp"], gid) for i in held if i["step"] == 1]
        assert all(TS_RE.match(r["timestamp"]) and isinstance(r["time"], (int, float))
                   for r in one[0]["data"])
        assert out["pages"]["0"][0]["count"] == 1 and out["pages"]["5"] == [{"data": [], "count": 0}]
        assert out["first"] == [{"data": one[0]["data"][:1], "count": 2}]  # count=1: one page of one
        values = last_json(run_client("""
            import json, sys
            from simvue.api.objects import Grid
            print(json.dumps(Grid(sys.argv[1]).get_run_metric_values(run_id=sys.argv[2], metric_name="T",
                                                                      step=2)))
            """, tmp_path, env, gid, rid))
        assert values["count"] == 1 and values["data"][0]["array"] == [[2.0] * 3] * 2
        # A server without the read answers as for any route it lacks; an unknown run is a 404.
        srv.grid_values = False
        assert http(srv, "GET", f"/api/runs/{rid}/metrics/T/values?step=1") == (404, {"detail": "Not Found"})
        srv.grid_values = True
        assert http(srv, "GET", f"/api/runs/{'x' * 22}/metrics/T/values?step=1")[0] == 404
        assert http(srv, "GET", f"/api/runs/{rid}/metrics/T/values?step=1&start=1&count=5")[1]["data"] == \
            one[0]["data"][1:]


# --------------------------------------------------------------------------------------------------
# (b) offline run, then the real simvue-sender


@needs_pyref
def test_offline_then_sender(tmp_path):
    with SimvueServer(token=make_jwt()) as srv:
        env = client_env(tmp_path, srv)
        proc = run_client(RUN_SCRIPT, tmp_path, env, "offline")
        out = last_json(proc)
        assert out["run_id"].startswith("offline_")
        assert srv.requests() == []  # offline mode makes no HTTP requests
        cache = tmp_path / "cache"
        assert list((cache / "runs").glob("*.closed"))

        sender = pathlib.Path(PYREF).parent / "simvue-sender"
        cmd = [str(sender)] if sender.exists() else [PYREF, "-m", "simvue.bin.sender"]
        proc = subprocess.run([*cmd, "-i", str(cache)], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        runs = srv.runs()
        assert len(runs) == 1
        run_id = next(iter(runs))
        assert_scenario_recorded(srv, run_id, "offline")
        assert srv.heartbeats(run_id) >= 1
        # the sender POSTs the run once, with its accumulated state
        assert [h["method"] for h in srv.run_history(run_id)] == ["POST"]
        assert not list((cache / "runs").glob("*.json")) and not list((cache / "metrics").glob("*.json"))


# --------------------------------------------------------------------------------------------------
# (c) fault injection


@needs_pyref
def test_python_client_retries_injected_503_without_loss(tmp_path):
    """The first POST /api/metrics answers 503; 2.6.2 waits 4 s and resends; nothing lost or doubled."""
    script = """
    import json, simvue
    with simvue.Run() as run:
        run.config(suppress_errors=False, disable_resources_metrics=True)
        run.init(name="retry", folder="/retry")
        for i in range(20):
            run.log_metrics({"x": i})
        rid = run.id
    print(json.dumps({"run_id": rid}))
    """
    with SimvueServer() as srv:
        srv.set_faults(fail_next=1, fail_scope="metrics")
        proc = run_client(script, tmp_path, client_env(tmp_path, srv))
        rid = last_json(proc)["run_id"]
        assert [m["values"]["x"] for m in srv.metrics(rid)] == list(range(20))
        assert srv.count_requests("POST", "/api/metrics", status=503) == 1
        assert [r["fault"] for r in srv.requests() if r["status"] == 503] == ["fail"]


@needs_pyref
@pytest.mark.parametrize(("fault", "message"), [("bad_version", "is not compatible with the current Simvue server version: 2.1.0"),
                                              ("unauthorized", "Unauthorised token")])
def test_python_client_rejects_bad_version_and_401(tmp_path, fault, message):
    script = """
    import simvue
    with simvue.Run() as run:
        run.init(name="never", folder="/never")
    """
    with SimvueServer() as srv, srv.faults(**{fault: True}):
        proc = run_client(script, tmp_path, client_env(tmp_path, srv))
        assert proc.returncode != 0 and message in proc.stderr
        assert srv.runs() == {} and srv.count_requests("GET", "/api/version") == 1


def _post_until_ok(srv, run_id, step):
    for attempt in range(50):
        st, _ = http(srv, "POST", "/api/metrics", {"run": run_id, "metrics": [
            {"time": step, "timestamp": "2025-01-01T00:00:00.000000", "step": step, "values": {"v": step}}]},
            ctype="application/msgpack")
        if st == 200:
            return attempt
        assert st == 503
    raise AssertionError("never accepted")


def _fail_pattern(seed):
    with SimvueServer(seed=seed) as srv:
        _, r = http(srv, "POST", "/api/runs", {"folder": "/f", "status": "running"})
        with srv.faults(fail_fraction=0.3, seed=seed):
            retries = [_post_until_ok(srv, r["id"], s) for s in range(40)]
        return srv, r["id"], retries


def test_fail_fraction_reproducible_nothing_lost_or_duplicated():
    srv, rid, retries = _fail_pattern(7)
    assert [m["step"] for m in srv.metrics(rid)] == list(range(40))
    n503 = srv.count_requests("POST", "/api/metrics", status=503)
    assert n503 == sum(retries) and 0 < n503 < 40
    assert srv.get_faults()["fail_fraction"] == 0.0  # scope ended
    assert _fail_pattern(7)[2] == retries  # same seed, same failures
    assert _fail_pattern(8)[2] != retries


def test_auth_version_and_errors():
    with SimvueServer(version="1.4.2") as srv:
        assert http(srv, "GET", "/api/version") == (200, {"version": "1.4.2"})
        st, body = http(srv, "GET", "/api/version", auth=False)
        assert st == 401 and "detail" in body
        assert http(srv, "GET", "/api/nosim/version") == (404, {"detail": "Not Found"})
        assert http(srv, "GET", "/api/whatever") == (404, {"detail": "Not Found"})
        with srv.faults(bad_version=True):
            assert http(srv, "GET", "/api/version")[1] == {"version": "2.1.0"}
        with srv.faults(unauthorized=True):
            assert http(srv, "GET", "/api/version")[0] == 401
            assert http(srv, "POST", "/api/folders", {"path": "/x"})[0] == 401
        assert http(srv, "GET", "/api/version")[0] == 200
        st, body = http(srv, "POST", "/api/events", {"run": "nope", "events": []}, ctype="application/msgpack")
        assert st == 422 and body["detail"][0]["loc"] == ["body", "run"]
        _, r = http(srv, "POST", "/api/runs", {"folder": "/f", "status": "running"})
        st, body = http(srv, "POST", "/api/metrics", {"run": r["id"], "metrics": [
            {"time": 0, "timestamp": "yesterday", "step": 0, "values": {"v": 1}}]}, ctype="application/msgpack")
        assert st == 422 and body["detail"][0]["loc"][-1] == "timestamp"
        assert srv.metrics(r["id"]) == []
        # PUT: metadata merged, tags replaced; abort flag
        http(srv, "PUT", f"/api/runs/{r['id']}", {"metadata": {"a": 1}, "tags": ["x"]})
        st, run = http(srv, "PUT", f"/api/runs/{r['id']}", {"metadata": {"b": 2}, "tags": ["y"]})
        assert st == 200 and run["metadata"] == {"a": 1, "b": 2} and run["tags"] == ["y"]
        assert http(srv, "GET", f"/api/runs/{r['id']}/abort") == (200, {"status": False})
        assert http(srv, "PUT", f"/api/runs/{r['id']}/abort", {"reason": "stop"})[0] == 200
        assert http(srv, "GET", f"/api/runs/{r['id']}/abort") == (200, {"status": True})


def test_user_alert_status_and_listing():
    with SimvueServer() as srv:
        _, r = http(srv, "POST", "/api/runs", {"folder": "/f", "status": "running"})
        body = {"name": "u", "description": None, "notification": "none", "source": "user", "enabled": True,
                "abort": False}
        st, a = http(srv, "POST", "/api/alerts?deduplicate=True", body)
        assert st == 200 and ID_RE.match(a["id"])
        assert http(srv, "POST", "/api/alerts?deduplicate=True", body) == (409, {"id": a["id"], "detail": "Alert already exists"})
        assert http(srv, "POST", "/api/alerts", body)[0] == 200  # without deduplicate: a new alert
        assert http(srv, "PUT", f"/api/alerts/{a['id']}/status/{r['id']}", {"status": "critical"})[0] == 200
        assert http(srv, "GET", f"/api/alerts/{a['id']}/status/{r['id']}") == (200, {"status": "critical"})
        st, page = http(srv, "GET", "/api/alerts?count=1&start=0")
        assert st == 200 and page["count"] == 2 and len(page["data"]) == 1
        http(srv, "PUT", f"/api/runs/{r['id']}", {"alerts": [a["id"]]})
        st, run = http(srv, "GET", f"/api/runs/{r['id']}")
        assert run["alerts"][0]["alert"]["id"] == a["id"] and run["alerts"][0]["status"] == "critical"


def test_drop_stores_but_never_answers_and_hang_processes_late():
    import msgpack
    import socket

    def post_events(srv, message, timeout=5):
        body = msgpack.packb({"run": rid, "events": [
            {"message": message, "timestamp": "2025-01-01T00:00:00.000000"}]}, use_bin_type=True)
        req = urllib.request.Request(srv.url + "/api/events", data=body, method="POST")
        req.add_header("Authorization", f"Bearer {srv.token}")
        req.add_header("Content-Type", "application/msgpack")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status

    with SimvueServer() as srv:
        _, r = http(srv, "POST", "/api/runs", {"folder": "/f", "status": "running"})
        rid = r["id"]
        srv.set_faults(drop_next=1, drop_scope="events")
        with pytest.raises((urllib.error.URLError, ConnectionError, http_client_errors())):
            post_events(srv, "dropped")
        assert post_events(srv, "answered") == 200
        assert [e["message"] for e in srv.events(rid)] == ["dropped", "answered"]
        assert [x["fault"] for x in srv.requests() if x["path"] == "/api/events"] == ["drop", None]

        # hang_processes: the client gives up, the request is stored when released
        srv.set_faults(hang=True, hang_scope="events", hang_processes=True)
        with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
            post_events(srv, "late", timeout=0.5)
        time.sleep(0.2)
        assert [e["message"] for e in srv.events(rid)] == ["dropped", "answered"]
        srv.release()
        deadline = time.monotonic() + 5
        while len(srv.events(rid)) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert srv.events(rid)[-1]["message"] == "late"
        assert any(x["fault"] == "hang-late" for x in srv.requests())


def http_client_errors():
    import http.client
    return http.client.HTTPException


def test_latency_hang_and_gone():
    with SimvueServer() as srv:
        with srv.faults(latency=0.3, latency_scope="api"):
            t0 = time.monotonic()
            assert http(srv, "GET", "/api/nosim/version")[0] == 404
            assert time.monotonic() - t0 >= 0.3

        # hang: the client times out; the request is dropped, not processed later
        _, r = http(srv, "POST", "/api/runs", {"folder": "/f", "status": "running"})
        srv.set_faults(hang=True, hang_scope="data")
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            http(srv, "POST", "/api/events", {"run": r["id"], "events": [
                {"message": "m", "timestamp": "2025-01-01T00:00:00.000000"}]}, ctype="application/msgpack", timeout=0.5)
        deadline = time.monotonic() + 5
        while not any(x["fault"] == "hang-dropped" for x in srv.requests()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # hang released while the client waits: processed normally
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("r", http(srv, "POST", "/api/events", {
            "run": r["id"], "events": [{"message": "late", "timestamp": "2025-01-01T00:00:00.000000"}]},
            ctype="application/msgpack", timeout=5)))
        t.start()
        time.sleep(0.3)
        assert "r" not in result
        srv.release()
        t.join()
        assert result["r"][0] == 200
        assert [e["message"] for e in srv.events(r["id"])] == ["late"]

        # gone: connection refused, then back on the same port with the data kept
        url = srv.url
        srv.go_away()
        with pytest.raises(urllib.error.URLError) as exc:
            http(srv, "GET", "/api/version", timeout=2)
        assert isinstance(exc.value.reason, ConnectionRefusedError)
        srv.come_back()
        assert srv.url == url and http(srv, "GET", "/api/version")[0] == 200
        assert srv.run(r["id"])["folder"] == "/f"


def test_storage_needs_no_auth_and_records_header():
    with SimvueServer(upload_style="put") as srv:
        st, a = http(srv, "POST", "/api/artifacts", {"name": "b.bin", "original_path": "", "size": 3,
                                                     "mime_type": "application/octet-stream",
                                                     "checksum": hashlib.sha256(b"abc").hexdigest(), "metadata": None})
        assert st == 200 and "fields" not in a and a["url"].startswith(srv.url)
        req = urllib.request.Request(a["url"], data=b"abc", method="PUT")
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200
        art = srv.artifacts()[a["id"]]
        assert art["data"] == b"abc" and art["upload"]["authorization"] is None
        req = urllib.request.Request(a["url"], data=b"abd", method="PUT", headers={"Authorization": "Bearer leak"})
        urllib.request.urlopen(req, timeout=5).close()
        assert srv.artifacts()[a["id"]]["upload"]["authorization"] == "Bearer leak"


def test_cli_prints_url_and_records_on_sigterm(tmp_path):
    record = tmp_path / "rec.json"
    proc = subprocess.Popen([sys.executable, "-m", "simvue_server", "--port", "0", "--record", str(record)],
                            cwd=pathlib.Path(__file__).resolve().parent, stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        token = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)

        def call(method, path, body=None, auth=True):
            req = urllib.request.Request(url + path, data=json.dumps(body).encode() if body is not None else None,
                                         method=method, headers={"Content-Type": "application/json"})
            if auth:
                req.add_header("Authorization", f"Bearer {token}")
            with urllib.request.urlopen(req, timeout=5) as r:
                return json.loads(r.read())

        fid = call("POST", "/api/folders", {"path": "/cli"})["id"]
        call("POST", "/_control/faults", {"latency": 0.01}, auth=False)
        assert call("GET", "/_control/faults", auth=False)["latency"] == 0.01
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    rec = json.loads(record.read_text())
    assert rec["folders"][fid]["path"] == "/cli"
    assert rec["requests"][0]["path"] == "/api/folders"
