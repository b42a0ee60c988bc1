"""Checks a `cmake --install` of libsimvue (ctest: packaging_files).

- the files: libsimvue.so.<version> with the links libsimvue.so.<soversion> and libsimvue.so,
  libsimvue.a, the headers, the CMake package (exported targets), the pkg-config files, the
  Fortran modules and library in folders named by the compiler and its module format, bin/simvue;
- `readelf -d`: the SONAME is libsimvue.so.0.<minor> while the version is 0.x (every 0.x minor
  release may change the ABI), libsimvue.so.<major> from 1.0 on;
- `nm -D`: the library exports the simvue_* functions of simvue.h and nothing else;
- one version everywhere: Cargo.toml, SIMVUE_VERSION in simvue.h, simvue_version() of the
  installed library, the file name, simvueConfigVersion.cmake, `pkg-config --modversion` and
  `simvue --version`.

Usage: check_install.py --prefix P --source S --libdir lib --fortran ON|OFF
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import subprocess
import sys
from pathlib import Path

problems: list[str] = []


def expect(cond: bool, what: str) -> None:
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        problems.append(what)


def run(*cmd: str, env: dict | None = None) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", type=Path, required=True)
    ap.add_argument("--source", type=Path, required=True)
    ap.add_argument("--libdir", default="lib")
    ap.add_argument("--fortran", default="OFF")
    a = ap.parse_args()
    prefix, lib = a.prefix, a.prefix / a.libdir
    fortran = a.fortran.upper() in ("ON", "TRUE", "1", "YES")

    cargo = (a.source / "Cargo.toml").read_text()
    version = re.search(r'^\[package\][^\[]*?^version\s*=\s*"([^"]+)"', cargo, re.M | re.S).group(1)
    major, minor = version.split(".")[:2]
    soname = f"libsimvue.so.0.{minor}" if major == "0" else f"libsimvue.so.{major}"
    print(f"Cargo.toml version {version}")

    real = lib / f"libsimvue.so.{version}"
    expect(real.is_file() and not real.is_symlink(), f"{real.name} is a file")
    expect((lib / soname).is_symlink() and os.readlink(lib / soname) == real.name,
           f"{soname} -> {real.name}")
    expect((lib / "libsimvue.so").is_symlink() and os.readlink(lib / "libsimvue.so") == soname,
           f"libsimvue.so -> {soname}")
    for rel in ("libsimvue.a", "cmake/simvue/simvueConfig.cmake",
                "cmake/simvue/simvueConfigVersion.cmake", "cmake/simvue/simvueTargets.cmake",
                "cmake/simvue/SimvueFortranTag.cmake", "pkgconfig/simvue.pc"):
        expect((lib / rel).is_file(), f"{a.libdir}/{rel}")
    for h in ("simvue.h", "simvue.hpp", "simvue_mpi.h"):
        expect((prefix / "include" / h).is_file(), f"include/{h}")
    exe = prefix / "bin" / "simvue"
    expect(exe.is_file() and os.access(exe, os.X_OK), "bin/simvue (the simvue command)")

    # SONAME
    dyn = run("readelf", "-d", str(real))
    m = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", dyn)
    expect(m is not None and m.group(1) == soname, f"readelf -d: SONAME {m.group(1) if m else None}")

    # Exported symbols: exactly the functions declared in simvue.h.
    header = (prefix / "include" / "simvue.h").read_text()
    declared = set(re.findall(r"\b(simvue_[a-z0-9_]+)\(", header))
    nm = run("nm", "-D", "--defined-only", str(real))
    exported = {line.split()[-1].split("@")[0] for line in nm.splitlines() if line.strip()}
    others = sorted(s for s in exported if not s.startswith("simvue_"))
    expect(not others, f"nm -D: only simvue_ symbols (others: {others[:10]})")
    expect(exported == declared,
           f"nm -D: the {len(declared)} functions of simvue.h "
           f"(missing {sorted(declared - exported)}, extra {sorted(exported - declared)})")

    # One version everywhere.
    hv = re.search(r'#define SIMVUE_VERSION "([^"]+)"', header).group(1)
    expect(hv == version, f"simvue.h SIMVUE_VERSION {hv}")
    libv = ctypes.CDLL(str(real))
    libv.simvue_version.restype = ctypes.c_char_p
    rv = libv.simvue_version().decode()
    expect(rv == version, f"simvue_version() {rv}")
    cv = (lib / "cmake/simvue/simvueConfigVersion.cmake").read_text()
    m = re.search(r'set\(PACKAGE_VERSION "([^"]+)"\)', cv)
    expect(m is not None and m.group(1) == version, f"simvueConfigVersion.cmake {m and m.group(1)}")
    env = dict(os.environ, PKG_CONFIG_PATH=str(lib / "pkgconfig"))
    env.pop("PKG_CONFIG_LIBDIR", None)
    pv = run("pkg-config", "--modversion", "simvue", env=env).strip()
    expect(pv == version, f"pkg-config --modversion simvue {pv}")
    if exe.is_file():
        ev = run(str(exe), "--version").strip()
        expect(ev == f"simvue {version}", f"simvue --version: {ev}")

    # pkg-config contents.
    flags = run("pkg-config", "--cflags", "--libs", "simvue", env=env).split()
    expect(f"-I{prefix / 'include'}" in flags and f"-L{lib}" in flags and "-lsimvue" in flags,
           f"pkg-config --cflags --libs simvue: {' '.join(flags)}")
    static = run("pkg-config", "--static", "--libs", "simvue", env=env).split()
    expect(all(f"-l{x}" in static for x in ("pthread", "dl", "m", "gcc_s")),
           f"pkg-config --static --libs simvue: {' '.join(static)}")

    if fortran:
        moddir = Path(run("pkg-config", "--variable=fmoddir", "simvue-fortran", env=env).strip())
        tag = moddir.name
        expect((moddir / "simvue.mod").is_file(), f"fmoddir {moddir} holds simvue.mod")
        # The compiler and its module format (GNU-mod15, LLVMFlang-mod1), not its exact version.
        expect(moddir.parent == prefix / "include/simvue/fortran"
               and re.fullmatch(r"[A-Za-z]+-(mod\d+|\d+)", tag) is not None,
               f"modules in include/simvue/fortran/<compiler-id>-mod<format>: {tag}")
        flib = lib / "simvue/fortran" / tag / "libsimvue_fortran.a"
        expect(flib.is_file(), f"{flib.relative_to(prefix)}")
        expect((lib / f"cmake/simvue/simvue-fortran-{tag}.cmake").is_file(),
               f"{a.libdir}/cmake/simvue/simvue-fortran-{tag}.cmake")
        expect((lib / f"pkgconfig/simvue-fortran-{tag}.pc").is_file(),
               f"{a.libdir}/pkgconfig/simvue-fortran-{tag}.pc")
        fv = run("pkg-config", "--modversion", "simvue-fortran", env=env).strip()
        expect(fv == version, f"pkg-config --modversion simvue-fortran {fv}")
        ff = run("pkg-config", "--cflags", "--libs", "simvue-fortran", env=env).split()
        expect(f"-I{moddir}" in ff and f"-L{flib.parent}" in ff
               and "-lsimvue_fortran" in ff and "-lsimvue" in ff
               and ff.index("-lsimvue_fortran") < ff.index("-lsimvue"),
               f"pkg-config --cflags --libs simvue-fortran: {' '.join(ff)}")

    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
