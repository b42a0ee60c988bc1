"""Helpers of the parity tests: run one scenario through the Python client simvue 2.6.2 and
through libsimvue (C, Fortran, C++), then compare what each left on the test server or in its
offline cache. Fixtures are in tests/conftest.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from harness import REPO_ROOT, TOKEN, describe, kv, program_env, run_program  # noqa: F401
from simvue_server import SimvueServer  # noqa: F401

PY_DIR = Path(__file__).resolve().parent / "py"
# Metadata the Python client adds on its own (its environment: pip freeze of its interpreter),
# which a C program has no counterpart of.
PYTHON_ONLY_METADATA = ("python",)


def env_for(work: Path, url: str, *, mode: str, token: str = TOKEN, **extra: str) -> dict[str, str]:
    """A clean environment for a tracked program (C or Python) in `mode` against `url`."""
    env = program_env(work / "home", work / "cache", url, token=token, mode=mode, timeout="5",
                      retries="3", **extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_ok(cmd: list, *, cwd: Path, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    res = run_program(cmd, cwd=cwd, env=env, timeout=timeout)
    assert res.returncode == 0, describe(res)
    return res


def run_python(pyref: str, script: str, *args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """Runs tests/parity/py/<script> with the reference interpreter."""
    return run_ok([pyref, PY_DIR / script, *args], cwd=cwd, env=env)


def run_sender(sender: Path, cache: Path, srv: SimvueServer, work: Path) -> None:
    """The real simvue-sender on a copy of `cache` (the sender deletes what it uploads)."""
    copy = work / f"send-{cache.name}"
    shutil.copytree(cache, copy)
    env = env_for(work / "sender", srv.url, mode="online", token=srv.token)
    run_ok([sender, "-i", copy], cwd=work / "sender-cwd", env=env)


def alert_def(a: dict) -> dict:
    return {k: v for k, v in a.items() if k not in ("id", "created", "history")}


def server_view(snap: dict, run_id: str) -> dict:
    """What the server holds of one run, without ids and times: comparable between a run made
    by the Python client and one made by libsimvue on another server."""
    run = snap["runs"][run_id]
    alerts = snap["alerts"]
    statuses = {}
    for key, hist in snap["alert_status"].items():
        aid, rid = key.split("/")
        if rid == run_id:
            statuses[alerts[aid]["name"]] = hist
    return {
        "run": {k: run.get(k) for k in ("name", "folder", "status", "description", "visibility",
                                         "ttl", "heartbeat_timeout", "notifications")},
        "tags": sorted(run["tags"]),
        "metadata": {k: v for k, v in run["metadata"].items() if k not in PYTHON_ONLY_METADATA},
        "alerts": sorted(alerts[a]["name"] for a in run["alerts"]),
        "alert_definitions": {a["name"]: alert_def(a) for a in alerts.values()},
        "alert_status": statuses,
        "metrics": [(i["step"], i["values"]) for i in snap["metrics"].get(run_id, [])],
        "events": [(e["message"], e["log_level"]) for e in snap["events"].get(run_id, [])],
    }


def only_run(snap: dict) -> str:
    assert len(snap["runs"]) == 1, list(snap["runs"])
    return next(iter(snap["runs"]))


def read_cache(cache: Path) -> dict[str, dict[str, dict]]:
    """{kind: {offline id: json}} of an offline cache."""
    out: dict[str, dict[str, dict]] = {}
    for d in sorted(p for p in cache.iterdir() if p.is_dir()):
        for f in sorted(d.glob("*.json")):
            out.setdefault(d.name, {})[f.stem] = json.loads(f.read_text())
    return out
