"""Fixtures for the offline-cache compatibility tests.

- ``SIMVUE_LIB_DIR``: directory holding ``libsimvue.so`` (default ``<repo>/target/release``;
  build it first with ``cargo build --release``).
- ``SIMVUE_PYREF``: a Python interpreter with ``simvue==2.6.2`` installed. Without it the tests
  that compare against the official client are skipped.

Every program runs with ``HOME`` pointing to a temporary directory, without any inherited
``SIMVUE_*`` variable, and with ``SIMVUE_OFFLINE_DIRECTORY`` set to a temporary cache.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTS_DIR = Path(__file__).resolve().parent
HEAT_NX = 32
HEAT_STEPS = 200
PYREF_VERSION = "2.6.2"


def make_jwt(lifetime_s: int = 24 * 3600) -> str:
    """A JWT with ``exp`` in the future, as simvue 2.6.2 demands even offline.

    Only the payload is decoded (``verify_signature=False``), so the signature is a dummy.
    """

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    header = {"alg": "HS256", "typ": "JWT"}
    payload = {"sub": "libsimvue-tests", "exp": int(time.time()) + lifetime_s}
    return ".".join(
        [
            b64(json.dumps(header).encode()),
            b64(json.dumps(payload).encode()),
            b64(b"not-a-real-signature"),
        ]
    )


def write_simvue_toml(directory: Path) -> None:
    """A simvue.toml for offline runs: a loopback URL nothing listens on and a valid-looking token."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "simvue.toml").write_text(
        f'[server]\nurl = "http://127.0.0.1:1"\ntoken = "{make_jwt()}"\n'
    )


def clean_env(home: Path, cache: Path) -> dict[str, str]:
    """The environment for a tracked program: no SIMVUE_* from outside, a temporary HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMVUE_")}
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env["SIMVUE_OFFLINE_DIRECTORY"] = str(cache)
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="session")
def lib_dir() -> Path:
    d = Path(os.environ.get("SIMVUE_LIB_DIR", REPO_ROOT / "target" / "release")).resolve()
    if not (d / "libsimvue.so").is_file():
        pytest.fail(
            f"libsimvue.so not found in {d}: build it with `cargo build --release` in "
            f"{REPO_ROOT}, or point SIMVUE_LIB_DIR at the directory that holds it",
            pytrace=False,
        )
    return d


@pytest.fixture(scope="session")
def compile_c(lib_dir: Path):
    """Returns ``compile(source: Path, exe: Path, *extra_flags) -> Path`` linking against
    libsimvue."""
    cc = os.environ.get("CC") or shutil.which("cc")
    if not cc:
        pytest.fail("no C compiler: install `cc` or set CC", pytrace=False)

    def compile_(source: Path, exe: Path, *extra_flags: str) -> Path:
        cmd = [
            cc, "-std=c99", "-Wall", f"-I{REPO_ROOT / 'include'}", *extra_flags, str(source),
            "-o", str(exe), f"-L{lib_dir}", "-lsimvue", "-lm", f"-Wl,-rpath,{lib_dir}",
        ]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            pytest.fail(f"compiling {source} failed:\n{' '.join(cmd)}\n{res.stderr}", pytrace=False)
        return exe

    return compile_


@pytest.fixture(scope="session")
def pyref() -> str:
    """The interpreter with simvue 2.6.2, from SIMVUE_PYREF; skip when unset."""
    exe = os.environ.get("SIMVUE_PYREF")
    if not exe:
        pytest.skip(
            "SIMVUE_PYREF is not set: point it at a python with simvue==2.6.2 installed "
            "(python -m venv v && v/bin/pip install simvue==2.6.2; SIMVUE_PYREF=v/bin/python) "
            "to compare against the official client"
        )
    res = subprocess.run(
        [exe, "-c", "import importlib.metadata as m; print(m.version('simvue'))"],
        capture_output=True, text=True,
    )
    if res.returncode != 0:
        pytest.fail(f"SIMVUE_PYREF={exe} cannot import simvue:\n{res.stderr}", pytrace=False)
    version = res.stdout.strip()
    if version != PYREF_VERSION:
        pytest.fail(
            f"SIMVUE_PYREF={exe} has simvue {version}, the reference is {PYREF_VERSION}",
            pytrace=False,
        )
    return exe


def run_checked(cmd: list[str], *, cwd: Path, env: dict[str, str], what: str, timeout: float = 300):
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        pytest.fail(
            f"{what} exited with {res.returncode}\ncmd: {cmd}\nstdout:\n{res.stdout}\n"
            f"stderr:\n{res.stderr}",
            pytrace=False,
        )
    return res


@pytest.fixture(scope="module")
def heat_workdir(tmp_path_factory) -> Path:
    """One working directory (with a simvue.toml) for both heat runs, so ``system.cwd`` matches."""
    work = tmp_path_factory.mktemp("heat")
    write_simvue_toml(work / "cwd")
    return work


@pytest.fixture(scope="module")
def ours_heat_cache(heat_workdir: Path, compile_c) -> Path:
    """The offline cache written by examples-c/heat1d.c through libsimvue."""
    source = REPO_ROOT / "examples-c" / "heat1d.c"
    # heat1d saves its own source as code, by the path the build gives it
    exe = compile_c(source, heat_workdir / "heat1d", f'-DHEAT1D_SOURCE="{source}"')
    cache = heat_workdir / "ours"
    res = run_checked(
        [str(exe), str(HEAT_NX), str(HEAT_STEPS)],
        cwd=heat_workdir / "cwd",
        env=clean_env(heat_workdir / "home-ours", cache),
        what="heat1d",
    )
    if "failed" in res.stderr:
        pytest.fail(f"heat1d reported failed calls:\n{res.stderr}", pytrace=False)
    return cache


@pytest.fixture(scope="module")
def python_heat_cache(heat_workdir: Path, pyref: str) -> Path:
    """The offline cache written by simvue 2.6.2 for the same scenario (scenario_heat.py)."""
    cache = heat_workdir / "python"
    run_checked(
        [pyref, str(TESTS_DIR / "scenario_heat.py"), str(HEAT_NX), str(HEAT_STEPS)],
        cwd=heat_workdir / "cwd",
        env=clean_env(heat_workdir / "home-python", cache),
        what="scenario_heat.py (simvue 2.6.2)",
    )
    return cache


@pytest.fixture
def run_env(tmp_path: Path):
    """``(cwd, env, cache)`` for a small C program writing to a fresh offline cache."""
    cwd = tmp_path / "cwd"
    write_simvue_toml(cwd)
    cache = tmp_path / "cache"
    return cwd, clean_env(tmp_path / "home", cache), cache
