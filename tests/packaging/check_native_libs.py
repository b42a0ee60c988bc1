"""The system libraries the package names for libsimvue.a are the ones cargo printed when it
linked libsimvue.a (ctest: native_static_libs).

CMakeLists.txt takes the list from rustc (--print native-static-libs of an empty static
library: Rust's standard library's) at configure time; cmake/CargoBuild.cmake keeps the line
rustc printed for the crate itself. A dependency that links a system library of its own would
make them differ, and programs linking the installed libsimvue.a (simvue::simvue_static,
`pkg-config --static --libs simvue`) would then fail to link.

Usage: check_native_libs.py --printed FILE --configured "a;b;c" --pc simvue.pc
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--printed", type=Path, required=True)
    ap.add_argument("--configured", required=True)
    ap.add_argument("--pc", type=Path, required=True)
    a = ap.parse_args()
    if not a.printed.is_file():
        print(f"FAIL {a.printed} missing: the build did not record what cargo printed")
        return 1
    printed = [f.removeprefix("-l") for f in a.printed.read_text().split()]
    configured = [x for x in a.configured.split(";") if x]
    pc = a.pc.read_text()
    lines = re.findall(r"^Libs(?:\.private)?:(.*)$", pc, re.M)
    pc_libs = [f.removeprefix("-l") for line in lines for f in line.split()
               if f.startswith("-l") and f != "-lsimvue"]
    print(f"cargo printed:       {' '.join(printed)}")
    print(f"CMake package names: {' '.join(configured)}")
    print(f"simvue.pc names:     {' '.join(pc_libs)}")
    ok = printed == configured == pc_libs
    print("ok" if ok else "FAIL: the lists differ (re-run cmake with -USIMVUE_NATIVE_STATIC_LIBS, "
          "or set SIMVUE_NATIVE_STATIC_LIBS to what cargo printed)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
