"""What the whole Python suite shares besides fixtures (those are in tests/conftest.py): where
things are, the API token, the clean environment a tracked program runs in, and running it and
reading its output."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from simvue_server import make_jwt

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = REPO_ROOT / "tests"
PYREF_VERSION = "2.6.2"  # the Python client we match; SIMVUE_PYREF must have it
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "ftp_proxy", "no_proxy")

# A distinctive token: a JWT (simvue-sender decodes it and wants a future "exp") whose payload
# and signature segments are unique strings we can grep for.
TOKEN = make_jwt(subject="libsimvue-online-tests-CANARY-5b1e9d", exp_in=7 * 24 * 3600)

NOTES: list[str] = []  # measurements printed at the end of the session (tests/conftest.py)


def _clean_env(home: Path, cache: Path) -> dict[str, str]:
    """No SIMVUE_* and no PYTHONPATH from outside, a temporary HOME, the given offline cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMVUE_")}
    env.pop("PYTHONPATH", None)
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env["SIMVUE_OFFLINE_DIRECTORY"] = str(cache)
    return env


def offline_env(home: Path, cache: Path) -> dict[str, str]:
    """Environment of a program writing an offline cache (its cwd needs a simvue.toml:
    write_simvue_toml)."""
    return _clean_env(home, cache)


def write_simvue_toml(directory: Path) -> None:
    """A simvue.toml for offline runs: a loopback URL nothing listens on and a token that
    simvue 2.6.2 accepts (it wants a JWT with a future "exp" even offline)."""
    directory.mkdir(parents=True, exist_ok=True)
    token = make_jwt(subject="libsimvue-tests", exp_in=24 * 3600)
    (directory / "simvue.toml").write_text(f'[server]\nurl = "http://127.0.0.1:1"\ntoken = "{token}"\n')


def program_env(home: Path, cache: Path, url: str, *, token: str = TOKEN, mode: str = "online",
                timeout: str, retries: str, backoff: str = "0.05", **extra: str) -> dict[str, str]:
    """Environment of a tracked program talking to a test server: no SIMVUE_* or proxy
    variables from outside, a temporary HOME, loopback only, the given HTTP timeout, retries
    and backoff."""
    env = {k: v for k, v in _clean_env(home, cache).items() if k.lower() not in PROXY_VARS}
    env.update(
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        SIMVUE_MODE=mode,
        SIMVUE_URL=url,
        SIMVUE_TOKEN=token,
        SIMVUE_HTTP_TIMEOUT=timeout,
        SIMVUE_HTTP_RETRIES=retries,
        SIMVUE_HTTP_BACKOFF=backoff,
    )
    env.update(extra)
    return env


def run_program(cmd: list, *, cwd: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def describe(res: subprocess.CompletedProcess, tail: int = 5000) -> str:
    return (f"cmd: {res.args}\nrc: {res.returncode}\nstdout:\n{res.stdout[-tail:]}\n"
            f"stderr:\n{res.stderr[-tail:]}")


def kv(stdout: str) -> dict[str, str]:
    """``key=value`` lines of a test program's stdout (first occurrence wins)."""
    out: dict[str, str] = {}
    for line in stdout.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), v)
    return out
