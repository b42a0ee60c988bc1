"""Helpers for the artifact (saved files) tests; the fixtures are in tests/conftest.py.

``tests/artifacts/c/saver.c`` is compiled against ``libsimvue.so`` (``SIMVUE_LIB_DIR``, default
``<repo>/target/release``; build it with ``cargo build --release``) and runs against the
in-process Simvue-compatible server of ``tests/server/simvue_server/`` (127.0.0.1 only).

``SIMVUE_PYREF``: a Python interpreter with ``simvue==2.6.2``; its ``simvue-sender`` uploads the
offline caches and the client itself is the reference for the records. Tests that need it are
skipped when it is unset.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
from pathlib import Path

import harness
from harness import REPO_ROOT, TOKEN, describe, kv  # noqa: F401

HERE = Path(__file__).resolve().parent

# simvue.h constants
INPUT, OUTPUT, CODE = 0, 1, 2
SNAPSHOT, WAIT = 1, 2


def program_env(home: Path, cache: Path, url: str, *, token: str = TOKEN, mode: str = "online",
                **extra: str) -> dict[str, str]:
    """The clean environment of harness, with short backoff."""
    kw = {"timeout": "10", "retries": "5", "backoff": "0.05", "PYTHONUNBUFFERED": "1", **extra}
    return harness.program_env(home, cache, url, token=token, mode=mode, **kw)


def run_program(cmd: list, *, cwd: Path, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return harness.run_program(cmd, cwd=cwd, env=env, timeout=timeout)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_big_file(path: Path, size: int, seed: int = 1) -> str:
    """A ``size``-byte file made quickly (sparse, with distinct 64 KiB blocks every 4 MiB and at
    the very end so that any lost, reordered or truncated chunk changes its sha256); returns it."""
    rnd = random.Random(seed)
    with open(path, "wb") as f:
        f.truncate(size)
        for off in list(range(0, size - (1 << 16), 4 << 20)) + [size - (1 << 16)]:
            f.seek(off)
            f.write(rnd.randbytes(1 << 16))
    return sha256_file(path)
