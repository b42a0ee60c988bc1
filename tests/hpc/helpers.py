"""Helpers of the HPC tests (tests/hpc): starting a tracked program and stopping it as a batch
system does, reading what its run left in the cache and on the test server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

import harness
from harness import NOTES, REPO_ROOT, TOKEN, describe, kv  # noqa: F401


def online_env(tmp: Path, url: str, **extra: str) -> dict[str, str]:
    """A program talking to the test server at ``url`` (short timeouts), caching in tmp/cache."""
    kw = {"timeout": "3", "retries": "4", "backoff": "0.05", **extra}
    return harness.program_env(tmp / "home", tmp / "cache", url, **kw)


def offline_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = harness.offline_env(tmp / "home", tmp / "cache")
    env["SIMVUE_MODE"] = "offline"
    env.update(extra)
    return env


def start(cmd: list, cwd: Path, env: dict) -> subprocess.Popen:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def read_until(proc: subprocess.Popen, marker: str, lines: list[str], timeout: float = 120) -> bool:
    """Reads stdout lines into ``lines`` until one starts with ``marker``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            return False
        lines.append(line)
        if line.startswith(marker):
            return True
    return False


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 60,
         lines: list[str] | None = None) -> tuple[float, str, str]:
    """Sends ``sig``; after ``grace`` seconds SIGKILL, as SLURM does at the end of KillWait.
    Returns (seconds from the signal to the end, stdout, stderr)."""
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    elapsed = time.monotonic() - t0
    return elapsed, "".join(lines or []) + out, err


def cache_docs(cache: Path, kind: str) -> list[dict]:
    return [json.loads(f.read_text()) for f in sorted((cache / kind).glob("*.json"))] \
        if (cache / kind).is_dir() else []


def cache_runs(cache: Path) -> dict[str, dict]:
    """``{run file stem: run JSON}`` of an offline cache, with ``_closed`` set from the marker."""
    out = {}
    for f in sorted((cache / "runs").glob("*.json")) if (cache / "runs").is_dir() else []:
        doc = json.loads(f.read_text())
        doc["_closed"] = f.with_suffix(".closed").exists()
        out[f.stem] = doc
    return out


def cache_metric_steps(cache: Path) -> list[int]:
    return [m["step"] for b in cache_docs(cache, "metrics") for m in b["metrics"]]


def cache_event_messages(cache: Path) -> list[str]:
    return [e["message"] for b in cache_docs(cache, "events") for e in b["events"]]


def compile_cxx(source: Path, exe: Path, lib_dir: Path) -> Path:
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if not cxx:
        pytest.fail("no C++ compiler: install `c++` or set CXX", pytrace=False)
    cmd = [cxx, "-std=c++17", "-Wall", "-Wextra", "-Werror", f"-I{REPO_ROOT / 'include'}",
           str(source), "-o", str(exe), f"-L{lib_dir}", "-lsimvue", "-pthread",
           f"-Wl,-rpath,{lib_dir}"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"compiling {source} failed:\n{' '.join(cmd)}\n{res.stderr}", pytrace=False)
    return exe
