"""Every function of the C API (include/simvue.h) is reachable from the Fortran module and the
C++ header (ctest: bindings_cover_c_api), so that a function added to the C API without its
Fortran and C++ counterparts fails a test; and the Fortran module's constants are the
header's, every result code included.

A few C functions are shorthands of others and need no binding of their own: the bindings
call the general form.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# C shorthand -> the general function the bindings call instead
SHORTHANDS = {
    "simvue_run_new": "simvue_run_new_ex",
    "simvue_run_init": "simvue_run_init_ex",
    "simvue_run_save": "simvue_run_save_ex",
    "simvue_run_save_bytes": "simvue_run_save_bytes_ex",
    "simvue_run_log_metrics": "simvue_run_log_metrics_ex",
    "simvue_run_log_metric": "simvue_run_log_metrics_ex",
    "simvue_run_log_event": "simvue_run_log_event_level",
}
# Not wrapped in C++: simvue::error carries the code of the failure.
CXX_NOT_NEEDED = {"simvue_last_error"}


def main() -> int:
    api = sorted(set(re.findall(r"\b(simvue_[a-z0-9_]+)\(", (ROOT / "include/simvue.h").read_text())))
    fortran = set(re.findall(r"name='(simvue_[a-z0-9_]+)'", (ROOT / "fortran/simvue.f90").read_text()))
    cxx = set(re.findall(r"\b(simvue_[a-z0-9_]+)\b", (ROOT / "include/simvue.hpp").read_text()))
    missing = []
    for f in api:
        target = SHORTHANDS.get(f, f)
        if target not in fortran:
            missing.append(f"fortran/simvue.f90 does not bind {f}")
        if target not in cxx and f not in CXX_NOT_NEEDED:
            missing.append(f"include/simvue.hpp does not call {f}")
    # The Fortran module's copies of the header's constants have the header's values.
    header = (ROOT / "include/simvue.h").read_text()
    c_values = {k: int(v) for k, v in re.findall(r"#define (SIMVUE_[A-Z0-9_]+) (-?\d+)\b", header)}
    c_values.update({k: int(v) for k, v in re.findall(r"\b(SIMVUE_[A-Z0-9_]+) = (-?\d+),", header)})
    f_values = {k: int(v) for k, v in re.findall(
        r"\b(SIMVUE_[A-Z0-9_]+) = (-?\d+)\b", (ROOT / "fortran/simvue.f90").read_text())}
    for k, v in sorted(f_values.items()):
        if c_values.get(k) != v:
            missing.append(f"fortran/simvue.f90: {k} = {v}, simvue.h: {c_values.get(k)}")
    # ... and every result code of the header (generated from src/ffi/result_codes.rs) is
    # one of them, so that a code added or renumbered there cannot drift from the module.
    enum = re.search(r"typedef enum simvue_result \{(.*?)\} simvue_result;", header, re.S)
    codes = dict(re.findall(r"\b(SIMVUE_[A-Z0-9_]+) = (-?\d+),", enum.group(1))) if enum else {}
    if not codes:
        missing.append("include/simvue.h: no simvue_result enum found")
    for k, v in sorted(codes.items(), key=lambda kv: int(kv[1])):
        if f_values.get(k) != int(v):
            missing.append(f"fortran/simvue.f90 lacks the result code {k} = {v}")
    print(f"{len(api)} C API functions, {len(f_values)} Fortran constants, {len(codes)} result codes")
    for m in missing:
        print("FAIL " + m)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
