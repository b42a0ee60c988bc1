"""Fixtures for the online-mode tests (tests/online); see helpers.py for the set-up.

tests/online is a package (it has __init__.py), so this conftest is imported as
``online.conftest`` and never shadows the ``conftest`` module that tests/python imports from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .helpers import C_DIR, NOTES, REPO_ROOT, TOKEN, SimvueServer


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if NOTES:
        terminalreporter.section("libsimvue online measurements")
        for note in NOTES:
            terminalreporter.write_line(note)


@pytest.fixture(scope="session")
def lib_dir() -> Path:
    d = Path(os.environ.get("SIMVUE_LIB_DIR", REPO_ROOT / "target" / "release")).resolve()
    if not (d / "libsimvue.so").is_file():
        pytest.fail(f"libsimvue.so not found in {d}: run `cargo build --release` in {REPO_ROOT} "
                    f"or set SIMVUE_LIB_DIR", pytrace=False)
    return d


@pytest.fixture(scope="session")
def exes(tmp_path_factory, lib_dir: Path) -> dict[str, Path]:
    """The compiled programs: heat1d (the C example), logger, initfail, abort."""
    cc = os.environ.get("CC") or shutil.which("cc")
    if not cc:
        pytest.fail("no C compiler: install `cc` or set CC", pytrace=False)
    out = tmp_path_factory.mktemp("bin")
    sources = {"heat1d": REPO_ROOT / "examples-c" / "heat1d.c",
               **{p.stem: p for p in sorted(C_DIR.glob("*.c"))}}
    built = {}
    for name, src in sources.items():
        exe = out / name
        cmd = [cc, "-std=c99", "-Wall", f"-I{REPO_ROOT / 'include'}", str(src), "-o", str(exe),
               f"-L{lib_dir}", "-lsimvue", "-lm", f"-Wl,-rpath,{lib_dir}"]
        if name == "heat1d":  # it saves its own source, by this path
            cmd.append(f'-DHEAT1D_SOURCE="{src}"')
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            pytest.fail(f"compiling {src} failed:\n{' '.join(cmd)}\n{res.stderr}", pytrace=False)
        built[name] = exe
    return built


@pytest.fixture(scope="session")
def sender_exe() -> Path:
    """``simvue-sender`` of the SIMVUE_PYREF environment; skip when unset."""
    py = os.environ.get("SIMVUE_PYREF")
    if not py:
        pytest.skip("SIMVUE_PYREF is not set: point it at a python with simvue==2.6.2 to run "
                    "the tests that upload with the real simvue-sender")
    exe = Path(py).parent / "simvue-sender"
    if not exe.is_file():
        pytest.fail(f"no simvue-sender next to SIMVUE_PYREF={py}", pytrace=False)
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
