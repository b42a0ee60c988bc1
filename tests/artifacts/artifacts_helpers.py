"""Helpers shared by tests/artifacts/conftest.py and test_artifacts.py."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

sys.path.insert(0, str(REPO_ROOT / "tests" / "server"))
from simvue_server import SimvueServer, make_jwt  # noqa: E402

TOKEN = make_jwt(subject="libsimvue-artifact-tests", exp_in=7 * 24 * 3600)
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "ftp_proxy", "no_proxy")
PYREF_VERSION = "2.6.2"

# simvue.h constants
INPUT, OUTPUT, CODE = 0, 1, 2
SNAPSHOT, WAIT = 1, 2


def program_env(home: Path, cache: Path, url: str, *, token: str = TOKEN, mode: str = "online",
                **extra: str) -> dict[str, str]:
    """Environment of a tracked program: no SIMVUE_*/proxy variables from outside, loopback only,
    short timeouts and backoff."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SIMVUE_") and k.lower() not in PROXY_VARS}
    env.pop("PYTHONPATH", None)
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        SIMVUE_MODE=mode,
        SIMVUE_URL=url,
        SIMVUE_TOKEN=token,
        SIMVUE_OFFLINE_DIRECTORY=str(cache),
        SIMVUE_HTTP_TIMEOUT="10",
        SIMVUE_HTTP_RETRIES="5",
        SIMVUE_HTTP_BACKOFF="0.05",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run_program(cmd: list, *, cwd: Path, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def describe(res: subprocess.CompletedProcess) -> str:
    return (f"cmd: {res.args}\nrc: {res.returncode}\nstdout:\n{res.stdout[-5000:]}\n"
            f"stderr:\n{res.stderr[-5000:]}")


def kv(stdout: str) -> dict[str, str]:
    """``key=value`` lines of a program's stdout (first occurrence wins)."""
    out: dict[str, str] = {}
    for line in stdout.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), v)
    return out


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
