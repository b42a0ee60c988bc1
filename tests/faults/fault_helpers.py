"""Helpers of the fault tests (tests/faults): the compiled C driver, the test server, a clean
environment, and readers of what a run left in its cache or on the server.

Kept free of conftest fixtures on purpose: everything here is a plain function, so these tests
run under whatever conftest layout tests/ has.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
C_DIR = Path(__file__).resolve().parent / "c"

import harness as client_env  # noqa: E402
from harness import describe, kv  # noqa: E402,F401
from simvue_server import SimvueServer, make_jwt  # noqa: E402,F401

TOKEN = make_jwt(subject="libsimvue-fault-tests-CANARY-8c2f41", exp_in=7 * 24 * 3600)


def lib_dir() -> Path:
    d = Path(os.environ.get("SIMVUE_LIB_DIR", REPO_ROOT / "target" / "release")).resolve()
    if not (d / "libsimvue.so").is_file():
        pytest.fail(f"libsimvue.so not found in {d}: run `cargo build --release` or set "
                    f"SIMVUE_LIB_DIR", pytrace=False)
    return d


@functools.cache
def exe(name: str = "faulty") -> Path:
    """``tests/faults/c/<name>.c`` compiled against libsimvue (once per session)."""
    cc = os.environ.get("CC") or shutil.which("cc")
    if not cc:
        pytest.fail("no C compiler: install `cc` or set CC", pytrace=False)
    out = Path(tempfile.mkdtemp(prefix="simvue-faults-bin-")) / name
    lib = lib_dir()
    cmd = [cc, "-std=gnu99", "-Wall", "-Wextra", "-Werror", f"-I{REPO_ROOT / 'include'}",
           str(C_DIR / f"{name}.c"), "-o", str(out), f"-L{lib}", "-lsimvue", "-lpthread",
           f"-Wl,-rpath,{lib}"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"compiling {name}.c failed:\n{' '.join(cmd)}\n{res.stderr}", pytrace=False)
    return out


def sender() -> Path:
    """``simvue-sender`` next to SIMVUE_PYREF; skip when unset."""
    py = os.environ.get("SIMVUE_PYREF")
    if not py:
        pytest.skip("SIMVUE_PYREF is not set (a python with simvue==2.6.2)")
    s = Path(py).parent / "simvue-sender"
    if not s.is_file():
        pytest.fail(f"no simvue-sender next to SIMVUE_PYREF={py}", pytrace=False)
    return s


def env(work: Path, url: str, *, mode: str = "online", **extra: str) -> dict[str, str]:
    """A clean environment writing its cache to ``work/cache``, with quick retries."""
    kw = {"timeout": "2", "retries": "3", "backoff": "0.05", **extra}
    return client_env.program_env(work / "home", work / "cache", url, token=TOKEN, mode=mode, **kw)


def run(args: list, work: Path, e: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return client_env.run_program([exe(), *args], cwd=work / "cwd", env=e, timeout=timeout)


def send(cache: Path, srv: SimvueServer, work: Path) -> subprocess.CompletedProcess:
    """The real ``simvue-sender -i cache`` against srv; the test fails unless it exits 0. A run
    that spilled nothing may have no cache at all: the sender then has nothing to do."""
    cache.mkdir(parents=True, exist_ok=True)
    e = client_env.program_env(work / "sender-home", cache, srv.url, token=srv.token,
                               timeout="5", retries="3")
    e["PYTHONUNBUFFERED"] = "1"
    res = client_env.run_program([sender(), "-i", cache], cwd=work / "sender-cwd", env=e,
                                 timeout=120)
    assert res.returncode == 0, f"simvue-sender failed\n{describe(res)}"
    return res


def cache_docs(cache: Path, kind: str) -> list[tuple[Path, dict]]:
    d = cache / kind
    return [(f, json.loads(f.read_text())) for f in sorted(d.glob("*.json"))] if d.is_dir() else []


def no_token(*texts: str, dirs: tuple[Path, ...] = ()) -> None:
    parts = [TOKEN, *TOKEN.split(".")[1:]]
    for t in texts:
        assert not any(p in t for p in parts), "the token was printed"
    for d in dirs:
        for f in d.rglob("*") if d.exists() else []:
            if f.is_file() and not f.is_symlink():
                assert not any(p.encode() in f.read_bytes() for p in parts), f"token in {f}"


def start(args: list, work: Path, e: dict) -> subprocess.Popen:
    """The C driver started in the background, stdout read line by line with read_until."""
    (work / "cwd").mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([str(exe()), *map(str, args)], cwd=work / "cwd", env=e, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1)


def read_until(proc: subprocess.Popen, prefix: str, lines: list[str]) -> str | None:
    """Reads stdout lines into ``lines`` until one starts with prefix (returned) or EOF."""
    for line in proc.stdout:
        lines.append(line)
        if line.startswith(prefix):
            return line
    return None


def finish(proc: subprocess.Popen, lines: list[str], timeout: float) -> tuple[dict, str]:
    """Waits for the driver; its key=value output (all lines) and stderr."""
    out, err = proc.communicate(timeout=timeout)
    return kv("".join(lines) + out), err


def delivered_once(srv: SimvueServer, rid: str, steps: int) -> None:
    """The server holds step 0..steps-1 of metric x and events e0..e<steps-1>, each exactly once."""
    import collections

    got = collections.Counter(m["step"] for m in srv.metrics(rid) if "x" in m["values"])
    missing = [s for s in range(steps) if s not in got]
    twice = {s: n for s, n in got.items() if n > 1}
    assert not missing and not twice and set(got) == set(range(steps)), (
        f"metric sets: {len(missing)} missing (e.g. {missing[:5]}), {len(twice)} stored more than "
        f"once (e.g. {dict(list(twice.items())[:5])})")
    ev = collections.Counter(e["message"] for e in srv.events(rid))
    want = {f"e{i}" for i in range(steps)}
    assert set(ev) == want and max(ev.values()) == 1, (
        f"events: {len(want - set(ev))} missing, {sum(n - 1 for n in ev.values())} extra")
