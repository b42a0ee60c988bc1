"""Running tracked test programs against the test server: the clean environment they get and
the helpers to run them and read their output. Shared by tests/online and tests/artifacts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "ftp_proxy", "no_proxy")


def program_env(home: Path, cache: Path, url: str, *, token: str, mode: str = "online",
                timeout: str, retries: str, backoff: str = "0.05", **extra: str) -> dict[str, str]:
    """Environment of a tracked program: no SIMVUE_* or proxy variables from outside, a
    temporary HOME, loopback only, the given HTTP timeout, retries and backoff."""
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
