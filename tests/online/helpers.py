"""Helpers for the online-mode tests (tests/online); the fixtures are in tests/conftest.py.

The C programs (``examples-c/heat1d.c`` and the small ones in ``tests/online/c/``) are compiled
against ``libsimvue.so`` (``SIMVUE_LIB_DIR``, default ``<repo>/target/release``; build it with
``cargo build --release``) and run against the in-process Simvue-compatible server of
``tests/server/simvue_server/``. Only 127.0.0.1 is ever contacted.

``SIMVUE_PYREF``: a Python interpreter with ``simvue==2.6.2``; its ``simvue-sender`` uploads the
offline caches. The tests that need it are skipped when it is unset.

Every program runs with a temporary ``HOME``, without inherited ``SIMVUE_*`` or proxy variables,
and with a distinctive API token (``TOKEN``) that must never show up in its output or files.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import harness
from harness import NOTES, REPO_ROOT, TOKEN, kv  # noqa: F401
from simvue_server import SimvueServer, make_jwt  # noqa: F401


def program_env(home: Path, cache: Path, url: str, *, token: str = TOKEN, mode: str = "online",
                **extra: str) -> dict[str, str]:
    """The clean environment of harness, with short timeouts and backoff so that faults
    resolve quickly."""
    kw = {"timeout": "3", "retries": "4", "backoff": "0.05", **extra}
    return harness.program_env(home, cache, url, token=token, mode=mode, **kw)


def run_program(cmd: list, *, cwd: Path, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return harness.run_program(cmd, cwd=cwd, env=env, timeout=timeout)


def describe(res: subprocess.CompletedProcess) -> str:
    return harness.describe(res, tail=4000)


def token_leaks(texts: dict[str, str], dirs: list[Path], token: str = TOKEN) -> list[str]:
    """Where the token (or its payload/signature segment) appears: names of texts and files."""
    parts = [token, *token.split(".")[1:]]
    found = []
    for name, text in texts.items():
        if any(p in text for p in parts):
            found.append(f"text {name}")
    for d in dirs:
        if not d.exists():
            continue
        for f in sorted(d.rglob("*")):
            if f.is_file() and not f.is_symlink():
                data = f.read_bytes()
                if any(p.encode() in data for p in parts):
                    found.append(f"file {f}")
    return found


def read_cache(cache: Path) -> dict[str, list[tuple[Path, dict]]]:
    """``{kind: [(path, json)]}`` for every ``<kind>/*.json`` of an offline cache."""
    out: dict[str, list[tuple[Path, dict]]] = {}
    if not cache.exists():
        return out
    for kind_dir in sorted(p for p in cache.iterdir() if p.is_dir()):
        for f in sorted(kind_dir.glob("*.json")):
            out.setdefault(kind_dir.name, []).append((f, json.loads(f.read_text())))
    return out


def run_sender(sender: Path, cache: Path, srv: SimvueServer, work: Path) -> subprocess.CompletedProcess:
    """The real ``simvue-sender -i <cache>`` against ``srv``; fails the test unless it exits 0."""
    env = program_env(work / "sender-home", cache, srv.url, token=srv.token, mode="online")
    env["PYTHONUNBUFFERED"] = "1"
    res = run_program([sender, "-i", cache], cwd=work / "sender-cwd", env=env, timeout=120)
    assert res.returncode == 0, f"simvue-sender failed\n{describe(res)}"
    return res
