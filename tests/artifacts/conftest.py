"""Fixtures for the artifact (saved files) tests.

``tests/artifacts/c/saver.c`` is compiled against ``libsimvue.so`` (``SIMVUE_LIB_DIR``, default
``<repo>/target/release``; build it with ``cargo build --release``) and runs against the
in-process Simvue-compatible server of ``tests/server/simvue_server/`` (127.0.0.1 only).

``SIMVUE_PYREF``: a Python interpreter with ``simvue==2.6.2``; its ``simvue-sender`` uploads the
offline caches and the client itself is the reference for the records. Tests that need it are
skipped when it is unset.

    SIMVUE_PYREF=/tmp/pyref/bin/python /tmp/pyref/bin/python -m pytest -q tests/artifacts
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from artifacts_helpers import HERE, PYREF_VERSION, REPO_ROOT, TOKEN, SimvueServer  # noqa: E402


@pytest.fixture(scope="session")
def lib_dir() -> Path:
    d = Path(os.environ.get("SIMVUE_LIB_DIR", REPO_ROOT / "target" / "release")).resolve()
    if not (d / "libsimvue.so").is_file():
        pytest.fail(f"libsimvue.so not found in {d}: run `cargo build --release` in {REPO_ROOT} "
                    f"or set SIMVUE_LIB_DIR", pytrace=False)
    return d


@pytest.fixture(scope="session")
def saver(tmp_path_factory, lib_dir: Path) -> Path:
    """The compiled ``saver`` program."""
    cc = os.environ.get("CC") or shutil.which("cc")
    if not cc:
        pytest.fail("no C compiler: install `cc` or set CC", pytrace=False)
    out = tmp_path_factory.mktemp("bin")
    # The library's soname may be libsimvue.so.0: give the rpath directory both names.
    libdir = out / "lib"
    libdir.mkdir()
    (libdir / "libsimvue.so").symlink_to(lib_dir / "libsimvue.so")
    (libdir / "libsimvue.so.0").symlink_to(lib_dir / "libsimvue.so")
    exe = out / "saver"
    cmd = [cc, "-std=c99", "-Wall", "-Wextra", f"-I{REPO_ROOT / 'include'}", str(HERE / "c" / "saver.c"),
           "-o", str(exe), f"-L{libdir}", "-lsimvue", "-lm", f"-Wl,-rpath,{libdir}"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"compiling saver.c failed:\n{' '.join(cmd)}\n{res.stderr}", pytrace=False)
    return exe


@pytest.fixture(scope="session")
def pyref() -> str:
    """The interpreter with simvue 2.6.2, from SIMVUE_PYREF; skip when unset."""
    exe = os.environ.get("SIMVUE_PYREF")
    if not exe:
        pytest.skip("SIMVUE_PYREF is not set: point it at a python with simvue==2.6.2 installed")
    res = subprocess.run([exe, "-c", "import importlib.metadata as m; print(m.version('simvue'))"],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"SIMVUE_PYREF={exe} cannot import simvue:\n{res.stderr}", pytrace=False)
    if res.stdout.strip() != PYREF_VERSION:
        pytest.fail(f"SIMVUE_PYREF={exe} has simvue {res.stdout.strip()}, not {PYREF_VERSION}",
                    pytrace=False)
    return exe


@pytest.fixture(scope="session")
def sender_exe(pyref: str) -> Path:
    exe = Path(pyref).parent / "simvue-sender"
    if not exe.is_file():
        pytest.fail(f"no simvue-sender next to SIMVUE_PYREF={pyref}", pytrace=False)
    return exe


@pytest.fixture
def servers():
    """``make(**kwargs) -> SimvueServer`` (token TOKEN unless given); all stopped afterwards."""
    made: list[SimvueServer] = []

    def make(**kwargs) -> SimvueServer:
        kwargs.setdefault("token", TOKEN)
        srv = SimvueServer(**kwargs)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.stop()
