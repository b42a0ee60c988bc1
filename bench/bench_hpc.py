"""HPC figures (issue 10), not tests: they are printed.

1. The cost of one simvue_run_log_metrics call (3 values) with resource monitoring on (a sample
   every second, emission metrics, a fake GPU through tests/hpc/nvml/fake_nvml.c) and off.
2. Signal to exit: 100 000 metric sets queued, SIGTERM, until the process has ended by it, offline
   and online (to the local test server).

Usage (bench/run.sh runs it):  python bench/bench_hpc.py <bench_hpc binary> <walltime binary>
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "server"))

ROUNDS, SECONDS, QUEUED = 3, 5, 100_000


def clean_env(tmp: pathlib.Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMVUE_")}
    env.update(HOME=str(tmp), SIMVUE_OFFLINE_DIRECTORY=str(tmp / "cache"), **extra)
    return env


def monitoring_cost(bench: str, tmp: pathlib.Path) -> None:
    nvml = tmp / "nvml"
    nvml.mkdir()
    cc = os.environ.get("CC") or shutil.which("cc") or "cc"
    subprocess.run([cc, "-shared", "-fPIC", str(ROOT / "tests/hpc/nvml/fake_nvml.c"), "-o",
                    str(nvml / "libnvidia-ml.so.1")], check=True)
    figures: dict[str, list[float]] = {"off": [], "on": []}
    for r in range(ROUNDS):
        for mode in ("off", "on"):
            work = tmp / f"{mode}{r}"
            work.mkdir()
            out = subprocess.run([bench, str(SECONDS), mode], cwd=work, capture_output=True,
                                 text=True, timeout=120,
                                 env=clean_env(work, LD_LIBRARY_PATH=str(nvml)))
            kv = dict(w.split("=") for w in out.stdout.split())
            figures[mode].append(float(kv["ns_per_call"]))
            shutil.rmtree(work)
    off, on = statistics.median(figures["off"]), statistics.median(figures["on"])
    print(f"  log_metrics (3 values), monitoring off: {off:7.1f} ns/call "
          f"(rounds: {', '.join(f'{x:.1f}' for x in figures['off'])})")
    print(f"  log_metrics (3 values), monitoring on:  {on:7.1f} ns/call "
          f"(rounds: {', '.join(f'{x:.1f}' for x in figures['on'])})")
    print(f"  difference: {100 * (on - off) / off:+.1f} % "
          "(resources every second, emission metrics, one fake GPU)")


def signal_to_exit(walltime: str, tmp: pathlib.Path, env: dict[str, str]) -> float:
    proc = subprocess.Popen([walltime, str(QUEUED), str(2 * QUEUED)], cwd=tmp, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while True:
        line = proc.stdout.readline()
        if not line or line.startswith("READY"):
            break
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    elapsed = time.perf_counter() - t0
    if proc.returncode != -signal.SIGTERM:
        raise RuntimeError(f"walltime ended with {proc.returncode}")
    return elapsed


def signals(walltime: str, tmp: pathlib.Path) -> None:
    times = []
    for r in range(ROUNDS):
        work = tmp / f"offline{r}"
        work.mkdir()
        times.append(signal_to_exit(walltime, work, clean_env(work, SIMVUE_MODE="offline",
                                                              SIMVUE_QUIET="1")))
    print(f"  SIGTERM to exit, offline, {QUEUED} sets queued: {statistics.median(times):.2f} s "
          f"(rounds: {', '.join(f'{t:.2f}' for t in times)})")
    try:
        from simvue_server import SimvueServer
    except ImportError as e:
        print(f"  (online: the test server cannot be imported here: {e})")
        return
    times = []
    for r in range(ROUNDS):
        work = tmp / f"online{r}"
        work.mkdir()
        with SimvueServer() as srv:
            env = clean_env(work, SIMVUE_URL=srv.url, SIMVUE_TOKEN=srv.token, SIMVUE_QUIET="1",
                            NO_PROXY="127.0.0.1,localhost")
            times.append(signal_to_exit(walltime, work, env))
    print(f"  SIGTERM to exit, online, {QUEUED} sets queued: {statistics.median(times):.2f} s "
          f"(rounds: {', '.join(f'{t:.2f}' for t in times)})")


def main() -> int:
    bench, walltime = sys.argv[1:3]
    print(f"  (load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
          "figures from a loaded machine vary by more than the difference measured)")
    with tempfile.TemporaryDirectory() as tmp:
        t = pathlib.Path(tmp)
        (t / "m").mkdir()
        (t / "s").mkdir()
        monitoring_cost(bench, t / "m")
        signals(walltime, t / "s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
