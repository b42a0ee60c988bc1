"""Helpers of tests/sender: making caches (with the real simvue 2.6.2 and with this library),
copying them, running the two senders, and a comparable view of what a server ended up with."""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from harness import TESTS_DIR, describe, offline_env, program_env, run_program, write_simvue_toml
from simvue_server import SimvueServer

SCENARIO = TESTS_DIR / "sender" / "scenario_python.py"


# ------------------------------------------------------------------------------ making caches

def python_cache(tmp: Path, pyref: str) -> Path:
    """The cache scenario_python.py writes with simvue 2.6.2."""
    work, cache = tmp / "py-work", tmp / "py-cache"
    write_simvue_toml(work)
    res = run_program([pyref, SCENARIO], cwd=work, env=offline_env(tmp / "py-home", cache), timeout=120)
    assert res.returncode == 0, describe(res)
    return cache


def library_cache(tmp: Path, exes: dict, *runs: tuple) -> Path:
    """A cache written by this library: each of ``runs`` is (program name, args...)."""
    cache = tmp / "lib-cache"
    for i, (name, *args) in enumerate(runs):
        env = offline_env(tmp / "lib-home", cache)
        env["SIMVUE_MODE"] = "offline"
        res = run_program([exes[name], *args], cwd=tmp / f"lib-work-{i}", env=env, timeout=120)
        assert res.returncode == 0, describe(res)
    return cache


def copy_cache(src: Path, dst: Path) -> Path:
    """A copy of a cache whose snapshot records point at the copy's own files."""
    shutil.copytree(src, dst)
    for record in (dst / "artifacts").glob("*.json"):
        text = record.read_text()
        record.write_text(text.replace(str(src.resolve()), str(dst.resolve())).replace(str(src), str(dst)))
    return dst


def cache_files(cache: Path) -> list[str]:
    """The files left in a cache, relative, ignoring what only the senders keep."""
    skip = ("server_ids/", ".simvue-send/", "version.json", "simvue-send.lock", "sender.lock")
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*")
                  if p.is_file() and not str(p.relative_to(cache)).startswith(skip))


# ------------------------------------------------------------------------------ running senders

def sender_env(tmp: Path, srv: SimvueServer, **extra: str) -> dict:
    """The environment both senders run in. SIMVUE_MODE=offline, as a job script leaves it, must
    not stop `simvue send` (it uploads whatever the mode)."""
    return program_env(tmp / "send-home", tmp / "unused-cache", srv.url, mode="offline",
                       timeout=extra.pop("timeout", "5"), retries=extra.pop("retries", "5"),
                       backoff=extra.pop("backoff", "0.05"), **extra)


def native_send(simvue_cli: Path, cache: Path, env: dict, *args: str, timeout: float = 120):
    return run_program([simvue_cli, "send", "-i", cache, "--progress", "log", *args], cwd=cache.parent,
                       env=env, timeout=timeout)


def python_send(sender_exe: Path, cache: Path, env: dict, *args: str, timeout: float = 120):
    return run_program([sender_exe, "-i", cache, *args], cwd=cache.parent, env=env, timeout=timeout)


def start_native(simvue_cli: Path, cache: Path, env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([str(simvue_cli), "send", "-i", str(cache), "--progress", "log", *args],
                            cwd=cache.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for(predicate, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)


# ------------------------------------------------------------------------------ the server's view

def _number(v):
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    return v


def server_view(srv: SimvueServer, cache_roots: tuple[Path, ...] = ()) -> dict:
    """What a user sees on the server, keyed by names instead of server ids: runs, folders,
    alerts, metrics, events and files per run. Left out, and compared separately where it
    matters: `abort` of alerts and user-alert states (2.6.2's sender drops them), an object's
    `size` (2.6.2 sends len + 33)."""
    snap = srv.snapshot()
    alerts = snap["alerts"]
    runs = snap["runs"]
    name_of_run = {rid: r["name"] for rid, r in runs.items()}

    def alert_def(a):
        return {k: v for k, v in a.items() if k not in ("id", "created", "history", "abort")}

    def path(p):
        for root in cache_roots:
            p = p.replace(str(root.resolve()), "<cache>").replace(str(root), "<cache>")
        return p

    view_runs = {}
    for rid, r in runs.items():
        v = {k: val for k, val in r.items() if k not in ("id", "created", "user", "alerts")}
        v["alerts"] = sorted(alerts[a]["name"] for a in r.get("alerts", []))
        view_runs[r["name"]] = v
    files = {}
    for a in snap["artifacts"].values():
        for rid, cat in a["runs"].items():
            meta = dict(a["meta"])
            meta["original_path"] = path(meta.get("original_path", ""))
            if meta["original_path"] == "":
                # An object's size: 2.6.2's sender sends len + 33 (sys.getsizeof, protocol doc
                # §6.2), ours the recorded size; the bytes themselves are compared.
                meta["size"] = None
            files.setdefault(name_of_run[rid], []).append(
                (meta["name"], cat, a["uploaded"], a["data_sha256"], a["uploads"] >= 1,
                 tuple(sorted((k, str(v)) for k, v in meta.items()))))
    return {
        "runs": view_runs,
        "folders": {f["path"]: {k: v for k, v in f.items() if k not in ("id", "created", "history")}
                    for f in snap["folders"].values()},
        "alerts": sorted((alert_def(a) for a in alerts.values()), key=lambda a: repr(sorted(a.items()))),
        "metrics": {name_of_run[rid]: sorted(
            ((m["timestamp"], m["step"], m["time"], tuple(sorted((k, _number(v)) for k, v in m["values"].items())))
             for m in items), key=repr) for rid, items in snap["metrics"].items() if items},
        "events": {name_of_run[rid]: sorted((e["timestamp"], e["message"], e.get("log_level")) for e in items)
                   for rid, items in snap["events"].items() if items},
        "files": {k: sorted(v, key=repr) for k, v in files.items()},
        "orphan_files": sorted(a["meta"]["name"] for a in snap["artifacts"].values() if not a["runs"]),
    }


def tensor_view(srv: SimvueServer) -> dict:
    """The tensor metrics a user sees, keyed by names instead of server ids: per run, the grids
    attached (grid name, axes, labels, metric) and the arrays (metric, step, timestamp, time,
    grid name, values); and the grids attached to no run (the empty copies an interrupted grid
    creation may leave, protocol doc §8.7)."""
    snap = srv.snapshot()
    grids, runs = snap["grids"], snap["runs"]
    attached = {g for pairs in snap["run_grids"].values() for g, _ in pairs}
    out: dict = {}
    for rid, run in runs.items():
        pairs = snap["run_grids"].get(rid, [])
        items = snap["grid_metrics"].get(rid, [])
        if not pairs and not items:
            continue
        out[run["name"]] = {
            "grids": sorted((grids[g]["name"], repr(grids[g]["grid"]), tuple(grids[g]["labels"]), m)
                            for g, m in pairs),
            "arrays": sorted((i["metric"], i["step"], i["timestamp"], float(i["time"]),
                              grids[i["grid"]]["name"], repr(i["array"])) for i in items),
        }
    return {"runs": out, "unattached": sorted(g["name"] for gid, g in grids.items() if gid not in attached)}


def cache_tensors(cache: Path) -> dict:
    """The arrays a cache holds, per run name: {(metric, step, timestamp): grid_metrics file id}."""
    import json as _json

    names = {p.stem: _json.loads(p.read_text())["name"] for p in (cache / "runs").glob("*.json")}
    out: dict = {}
    for p in (cache / "grid_metrics").glob("*.json"):
        j = _json.loads(p.read_text())
        for i in j["data"]:
            out.setdefault(names[j["run"]], {})[(i["metric"], i["step"], i["timestamp"])] = p.stem
    return out


def alert_states(srv: SimvueServer) -> dict:
    """{(alert name, run name): last state}."""
    snap = srv.snapshot()
    out = {}
    for key, states in snap["alert_status"].items():
        aid, rid = key.split("/")
        out[(snap["alerts"][aid]["name"], snap["runs"][rid]["name"])] = states[-1]
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def env_without_token(env: dict) -> dict:
    return {k: v for k, v in env.items() if k != "SIMVUE_TOKEN"}


def token_absent(token: str, *outputs: str) -> bool:
    """The token, and its signature part on its own, appear in none of the outputs."""
    sig = token.rsplit(".", 1)[-1]
    return all(token not in o and sig not in o for o in outputs)


__all__ = [name for name in dir() if not name.startswith("_")] + ["os"]


def cache_contents(cache: Path) -> dict:
    """What a cache holds, per run (name, start time): metric sets (as (step, timestamp)
    pairs), events (timestamp, message) and file names."""
    import json as _json

    def load(p: Path):
        return _json.loads(p.read_text())

    names = {p.stem: (load(p)["name"], load(p).get("started")) for p in (cache / "runs").glob("*.json")}
    out: dict = {name: {"metrics": [], "events": [], "files": []} for name in names.values()}
    for p in (cache / "metrics").glob("*.json"):
        j = load(p)
        out[names[j["run"]]]["metrics"] += [(m["step"], m["timestamp"]) for m in j["metrics"]]
    for p in (cache / "events").glob("*.json"):
        j = load(p)
        out[names[j["run"]]]["events"] += [(e["timestamp"], e["message"]) for e in j["events"]]
    for p in (cache / "artifacts").glob("*.json"):
        j = load(p)
        for rid in j["runs"]:
            out[names[rid]]["files"].append(j["name"])
    for v in out.values():
        for k in v:
            v[k].sort()
    return out


def assert_exactly_once(srv: SimvueServer, expected: dict) -> None:
    """The server holds every record of ``expected`` (from cache_contents) once, and no more:
    no run twice, no metric set or event twice, every file once, uploaded with its bytes, and
    no artifact record left unattached."""
    snap = srv.snapshot()
    runs = snap["runs"]
    key = {rid: (r["name"], r.get("started")) for rid, r in runs.items()}
    assert sorted(key.values()) == sorted(expected), "each run once"
    for rid, r in runs.items():
        want = expected[key[rid]]
        got_metrics = sorted((m["step"], m["timestamp"]) for m in snap["metrics"].get(rid, []))
        assert got_metrics == want["metrics"], f"metrics of {r['name']}"
        got_events = sorted((e["timestamp"], e["message"]) for e in snap["events"].get(rid, []))
        assert got_events == want["events"], f"events of {r['name']}"
        files = [a for a in snap["artifacts"].values() if rid in a["runs"]]
        assert sorted(a["meta"]["name"] for a in files) == want["files"], f"files of {r['name']}"
        for a in files:
            assert a["uploaded"] and a["data_sha256"] == a["meta"]["checksum"], a["meta"]["name"]
    assert all(a["runs"] for a in snap["artifacts"].values()), "an artifact record left unattached"
