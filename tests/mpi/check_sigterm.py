"""The examples stopped by SIGTERM as a batch system stops a job at its walltime (ctest:
example_*_sigterm): the run is flushed, marked `terminated` and closed, with an event naming the
signal, and the program ends by the signal.

A serial program is signalled directly. An MPI program runs under mpiexec and its ranks get
SIGTERM, as SLURM and PBS signal every process of a job; rank 0, which owns the run, first. (A
SIGTERM sent to Open MPI's mpirun alone is no test of the library: mpirun forwards it and kills
the job with SIGKILL as soon as the first rank has died of it, before rank 0 can write anything;
see the README.)

Usage: check_sigterm.py [--mpiexec MPIEXEC] PROGRAM
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RANKS = 4
problems: list[str] = []


def expect(cond: bool, what: str) -> None:
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        problems.append(what)


def wait_for(cond, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mpiexec")
    ap.add_argument("program")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "home").mkdir()
        (work / "pids").mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIMVUE_")}
        env.update(HOME=str(work / "home"), CACHES=str(work / "caches"), PIDS=str(work / "pids"))
        # Far more steps than it can do before it is stopped.
        prog = [str(Path(a.program).resolve()), "64", "1000000000"]
        if a.mpiexec:
            version = subprocess.run([a.mpiexec, "--version"], capture_output=True, text=True).stdout
            flags = ["-n", str(RANKS)]
            if "Open MPI" in version or "OpenRTE" in version:
                flags.append("--oversubscribe")
                if os.geteuid() == 0:
                    flags.append("--allow-run-as-root")
            wrapper = ('r="${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-${PMIX_RANK:-}}}"; '
                       'echo $$ > "$PIDS/rank$r"; '
                       'SIMVUE_OFFLINE_DIRECTORY="$CACHES/rank$r" exec "$@"')
            cmd = [a.mpiexec, *flags, "sh", "-c", wrapper, "sh", *prog]
            ranks = RANKS
        else:
            wrapper = 'echo $$ > "$PIDS/rank0"; SIMVUE_OFFLINE_DIRECTORY="$CACHES/rank0" exec "$@"'
            cmd = ["sh", "-c", wrapper, "sh", *prog]
            ranks = 1
        print("$ " + " ".join(cmd))
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        cache = work / "caches" / "rank0"
        started = wait_for(lambda: len(list((work / "pids").iterdir())) == ranks
                           and any((cache / "metrics").glob("*.json")), 120)
        expect(started, "the program runs and rank 0 has written metrics")
        pids = {int(p.name[4:]): int(p.read_text()) for p in (work / "pids").iterdir()}
        # Rank 0 first, then the others once it has ended: when every rank gets the signal at
        # once, the first rank to die makes Open MPI kill the rest with SIGKILL, a race with
        # rank 0 that a loaded test machine could lose.
        os.kill(pids.pop(0), signal.SIGTERM)
        wait_for(lambda: (cache / "runs").is_dir() and any((cache / "runs").glob("*.closed")), 30)
        for pid in pids.values():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        print(out)
        if a.mpiexec:
            expect(proc.returncode != 0, f"mpiexec reports the job killed: exit {proc.returncode}")
        else:
            expect(proc.returncode == -signal.SIGTERM,
                   f"the program ended by SIGTERM: {proc.returncode}")
        expect("[simvue] SIGTERM: run " in out and "closed as terminated" in out,
               "the library said what it did")
        runs = list((cache / "runs").glob("*.json"))
        expect(len(runs) == 1, f"one run: {runs}")
        if len(runs) != 1:
            return 1
        run = json.loads(runs[0].read_text())
        expect(run["status"] == "terminated", f"status {run['status']}")
        expect(runs[0].with_suffix(".closed").exists(), "the run is closed (.closed)")
        events = [e["message"] for f in (cache / "events").glob("*.json")
                  for e in json.loads(f.read_text())["events"]]
        expect(any("received SIGTERM" in m for m in events), f"an event names the signal: {events}")
        sets = sum(len(json.loads(f.read_text())["metrics"]) for f in (cache / "metrics").glob("*.json"))
        expect(sets > 0, f"metrics kept: {sets} sets")
        others = sorted(p.name for p in (work / "caches").iterdir())
        expect(others == ["rank0"], f"only rank 0 wrote: {others}")

    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
