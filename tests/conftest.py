"""Fixtures for the whole Python side of the suite (tests/python, tests/server, tests/online,
tests/artifacts), run in one pytest call: ``python -m pytest tests`` from the repository root.

- ``SIMVUE_LIB_DIR``: directory holding ``libsimvue.so`` (default ``<repo>/target/release``;
  build it first with ``cargo build --release``).
- ``SIMVUE_PYREF``: a Python interpreter with ``simvue==2.6.2`` installed (``scripts/test.sh``
  makes ``.venv``). Without it the tests that need the official client or its ``simvue-sender``
  are skipped.

Only 127.0.0.1 is ever contacted. Helpers that are not fixtures are in ``harness.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from harness import NOTES, PYREF_VERSION, REPO_ROOT, TESTS_DIR, TOKEN
from simvue_server import SimvueServer

# The C programs the tests run, by name: the example solver and the small drivers in */c/.
C_PROGRAMS = {"heat1d": REPO_ROOT / "examples-c" / "heat1d.c",
              **{p.stem: p for p in sorted(TESTS_DIR.glob("*/c/*.c"))}}


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if NOTES:
        terminalreporter.section("libsimvue measurements")
        for note in NOTES:
            terminalreporter.write_line(note)


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


def _soname() -> str:
    """The SONAME build.rs gives libsimvue.so, from the crate's version."""
    import tomllib

    version = tomllib.loads((REPO_ROOT / "Cargo.toml").read_text())["package"]["version"]
    major, minor = version.split(".")[:2]
    return f"libsimvue.so.0.{minor}" if major == "0" else f"libsimvue.so.{major}"


@pytest.fixture(scope="session")
def simvue_cli(lib_dir: Path) -> Path:
    """The ``simvue`` command (``cargo build --release`` builds it next to libsimvue.so)."""
    exe = lib_dir / "simvue"
    if not exe.is_file():
        pytest.fail(f"{exe} not found: build it with `cargo build --release` in {REPO_ROOT}",
                    pytrace=False)
    return exe


@pytest.fixture(scope="session")
def compile_c(tmp_path_factory, lib_dir: Path):
    """Returns ``compile(source: Path, exe: Path, *extra_flags) -> Path`` linking against
    libsimvue."""
    cc = os.environ.get("CC") or shutil.which("cc")
    if not cc:
        pytest.fail("no C compiler: install `cc` or set CC", pytrace=False)
    # Programs look for the library by its SONAME (libsimvue.so.0.<minor> while the version is
    # 0.x, build.rs): give the rpath directory both names.
    libdir = tmp_path_factory.mktemp("lib")
    (libdir / "libsimvue.so").symlink_to(lib_dir / "libsimvue.so")
    (libdir / _soname()).symlink_to(lib_dir / "libsimvue.so")

    def compile_(source: Path, exe: Path, *extra_flags: str) -> Path:
        cmd = [cc, "-std=c99", "-Wall", "-Wextra", f"-I{REPO_ROOT / 'include'}",
               f"-I{TESTS_DIR / 'c'}", *extra_flags,
               str(source), "-o", str(exe), f"-L{libdir}", "-lsimvue", "-lm", f"-Wl,-rpath,{libdir}"]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            pytest.fail(f"compiling {source} failed:\n{' '.join(cmd)}\n{res.stderr}", pytrace=False)
        return exe

    return compile_


@pytest.fixture(scope="session")
def exes(tmp_path_factory, compile_c) -> dict[str, Path]:
    """The compiled C_PROGRAMS: heat1d (the C example), logger, initfail, abort, updater,
    saver..."""
    out = tmp_path_factory.mktemp("bin")
    built = {}
    for name, src in C_PROGRAMS.items():
        # heat1d saves its own source as code, by the path the build gives it
        flags = [f'-DHEAT1D_SOURCE="{src}"'] if name == "heat1d" else []
        built[name] = compile_c(src, out / name, *flags)
    return built


# The Fortran programs the tests run, by name (tests/*/fortran/*.f90, with the simvue module).
FORTRAN_PROGRAMS = {p.stem: p for p in sorted(TESTS_DIR.glob("*/fortran/*.f90"))}


@pytest.fixture(scope="session")
def fortran_exes(tmp_path_factory, lib_dir: Path) -> dict[str, Path]:
    """The compiled FORTRAN_PROGRAMS (gfortran, fortran/simvue.f90); skip without gfortran."""
    fc = os.environ.get("FC") or shutil.which("gfortran")
    if not fc:
        pytest.skip("no Fortran compiler (gfortran, or FC)")
    out = tmp_path_factory.mktemp("fortran")
    libdir = out / "lib"
    libdir.mkdir()
    (libdir / "libsimvue.so").symlink_to(lib_dir / "libsimvue.so")
    (libdir / _soname()).symlink_to(lib_dir / "libsimvue.so")

    def run(cmd: list) -> None:
        res = subprocess.run([str(c) for c in cmd], cwd=out, capture_output=True, text=True)
        if res.returncode != 0:
            pytest.fail(f"{' '.join(map(str, cmd))} failed:\n{res.stderr}", pytrace=False)

    run([fc, "-std=f2008", "-c", REPO_ROOT / "fortran" / "simvue.f90", "-o", out / "simvue.o"])
    built = {}
    for name, src in FORTRAN_PROGRAMS.items():
        run([fc, "-std=f2008", src, out / "simvue.o", "-o", out / name, f"-L{libdir}", "-lsimvue",
             f"-Wl,-rpath,{libdir}"])
        built[name] = out / name
    return built


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
        pytest.fail(f"SIMVUE_PYREF={exe} has simvue {version}, the reference is {PYREF_VERSION}",
                    pytrace=False)
    return exe


@pytest.fixture(scope="session")
def sender_exe(pyref: str) -> Path:
    """``simvue-sender`` of the SIMVUE_PYREF environment; skip when unset."""
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
