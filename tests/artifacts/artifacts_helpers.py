"""Helpers shared by tests/artifacts/conftest.py and test_artifacts.py."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

sys.path.insert(0, str(REPO_ROOT / "tests" / "server"))
import client_env  # noqa: E402
from client_env import describe, kv  # noqa: E402,F401
from simvue_server import SimvueServer, make_jwt  # noqa: E402

TOKEN = make_jwt(subject="libsimvue-artifact-tests", exp_in=7 * 24 * 3600)
PYREF_VERSION = "2.6.2"

# simvue.h constants
INPUT, OUTPUT, CODE = 0, 1, 2
SNAPSHOT, WAIT = 1, 2


def program_env(home: Path, cache: Path, url: str, *, token: str = TOKEN, mode: str = "online",
                **extra: str) -> dict[str, str]:
    """The clean environment of client_env, with short backoff."""
    kw = {"timeout": "10", "retries": "5", "backoff": "0.05", "PYTHONUNBUFFERED": "1", **extra}
    return client_env.program_env(home, cache, url, token=token, mode=mode, **kw)


def run_program(cmd: list, *, cwd: Path, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return client_env.run_program(cmd, cwd=cwd, env=env, timeout=timeout)


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
