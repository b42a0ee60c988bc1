"""An MPI example on 4 ranks records one run whose metrics hold the values reduced over the
ranks, and no rank other than 0 writes anything (ctest: example_heat1d_mpi*_4ranks).

Each rank gets its own offline cache directory (from its rank number in the environment), so a
write from any other rank than 0 would show. The reduced maxima are compared with the serial C
example's values for the same grid: the distributed solver computes every point the same way.

Usage: check_mpi.py --mpiexec MPIEXEC --serial heat1d PROGRAM [--args NX STEPS]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

RANKS = 4
STATS = ("min", "max", "mean", "sum")
problems: list[str] = []


def expect(cond: bool, what: str) -> None:
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        problems.append(what)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMVUE_")}
    env["HOME"] = str(home)
    return env


def metric_sets(cache: Path) -> list[dict]:
    batches = [json.loads(f.read_text()) for f in (cache / "metrics").glob("*.json")]
    batches.sort(key=lambda b: min(m["timestamp"] for m in b["metrics"]))
    return [m for b in batches for m in b["metrics"]]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--serial", required=True)
    ap.add_argument("--args", nargs=2, default=["32", "200"], metavar=("NX", "STEPS"))
    ap.add_argument("program")
    a = ap.parse_args()

    version = subprocess.run([a.mpiexec, "--version"], capture_output=True, text=True).stdout
    flags = ["-n", str(RANKS)]
    if "Open MPI" in version or "OpenRTE" in version:
        flags.append("--oversubscribe")  # more ranks than cores on small machines
        if os.geteuid() == 0:
            flags.append("--allow-run-as-root")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "home").mkdir()
        # Each rank writes (if it writes at all) to caches/rank<N>.
        wrapper = ('r="${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-${PMIX_RANK:-}}}"; '
                   '[ -n "$r" ] || { echo "no rank in the environment" >&2; exit 3; }; '
                   'SIMVUE_OFFLINE_DIRECTORY="$CACHES/rank$r" exec "$@"')
        env = clean_env(work / "home")
        env["CACHES"] = str(work / "caches")
        cmd = [a.mpiexec, *flags, "sh", "-c", wrapper, "sh", str(Path(a.program).resolve()), *a.args]
        print("$ " + " ".join(cmd))
        res = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=240)
        print(res.stdout + res.stderr)
        expect(res.returncode == 0, f"mpiexec exit status {res.returncode}")
        written = sorted(p.name for p in (work / "caches").iterdir()) if (work / "caches").is_dir() else []
        expect(written == ["rank0"], f"only rank 0 wrote a cache: {written}")
        expect(sorted(p.name for p in work.iterdir()) == ["caches", "home"],
               f"nothing else written in the working directory: {sorted(p.name for p in work.iterdir())}")
        expect(not any((work / "home").iterdir()), "nothing written in HOME")
        cache = work / "caches" / "rank0"
        runs = [json.loads(f.read_text()) for f in (cache / "runs").glob("*.json")] if cache.is_dir() else []
        expect(len(runs) == 1, f"one run: {len(runs)}")
        if len(runs) != 1:
            return 1
        run = runs[0]
        expect(run["name"] == "heat-1d-mpi" and run["status"] == "completed",
               f"run {run['name']}, {run['status']}")
        expect(run["metadata"].get("ranks") == RANKS, f"metadata ranks {run['metadata'].get('ranks')}")
        mpi = run["metadata"].get("mpi", {})
        expect(mpi.get("ranks") == RANKS and mpi.get("hosts") == 1
               and str(mpi.get("version", "")).count(".") == 1,
               f"simvue_mpi_record_context: metadata mpi {mpi}")

        # The serial solver on the same grid, for the reduced maxima.
        serial_cache = work / "serial"
        senv = clean_env(work / "home")
        senv["SIMVUE_OFFLINE_DIRECTORY"] = str(serial_cache)
        subprocess.run([str(Path(a.serial).resolve()), *a.args], cwd=work, env=senv, check=True,
                       capture_output=True, timeout=120)
        serial = {m["step"]: m["values"] for m in metric_sets(serial_cache)}

        all_sets = metric_sets(cache)
        res_names = [f"resources/ranks.cpu.usage.{m}.{s}" for m in ("percentage", "memory")
                     for s in ("sum", "max")]
        resources = [m for m in all_sets if sorted(m["values"]) == sorted(res_names)]
        steps = int(a.args[1])
        expect([m["step"] for m in resources] == list(range(0, steps, 100)),
               f"simvue_mpi_log_resources every 100 steps: {[m['step'] for m in resources]}")
        bad = [m["values"] for m in resources
               if not (0 <= m["values"][res_names[1]] <= m["values"][res_names[0]]
                       <= RANKS * m["values"][res_names[1]] + 1e-9
                       and 0 < m["values"][res_names[3]] <= m["values"][res_names[2]]
                       <= RANKS * m["values"][res_names[3]] + 1e-9)]
        expect(not bad, f"resources: 0 <= max <= sum <= ranks * max, memory > 0: {bad[:3]}")
        sets = [m for m in all_sets if m not in resources]
        names = [f"{m}.{s}" for m in ("residual", "t_max") for s in STATS]
        expect(bool(sets) and all(list(m["values"]) == names for m in sets),
               f"every set holds {names}")
        expect([m["step"] for m in sets] == sorted(serial), "the serial example's steps")
        bad = []
        for m in sets:
            v = m["values"]
            for name in ("residual", "t_max"):
                lo, hi, mean, total = (v[f"{name}.{s}"] for s in STATS)
                if not (lo <= mean <= hi and close(total, RANKS * mean)):
                    bad.append(f"step {m['step']} {name}: min {lo} mean {mean} max {hi} sum {total}")
            ref = serial.get(m["step"], {})
            for name in ("residual", "t_max"):
                if not close(v[f"{name}.max"], ref.get(name, math.nan)):
                    bad.append(f"step {m['step']} {name}.max {v[f'{name}.max']} != serial {ref.get(name)}")
        expect(not bad, "min <= mean <= max, sum = ranks * mean, max = the serial value"
               + ("".join("\n     " + b for b in bad[:10])))
        spread = [m for m in sets if m["values"]["t_max.min"] < m["values"]["t_max.max"]]
        expect(bool(spread), "the ranks' values differ (a real reduction, not one rank's value)")
        events = [e["message"] for f in (cache / "events").glob("*.json")
                  for e in json.loads(f.read_text())["events"]]
        expect(f"finished {a.args[1]} steps on {RANKS} ranks" in " ".join(events), f"events {events}")

    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
