"""Sustained upload throughput to the local test server (tests/server/simvue_server/):
libsimvue in online mode against the Python client simvue 2.6.2 on the same workload. The server
runs in count_only mode (it parses the msgpack framing and counts the metric sets received
instead of building Python objects, which would make the server the bottleneck); "received"
is what the server counted.
Not a test: prints figures. Run through bench/run.sh, with SIMVUE_PYREF set, or directly:

    SIMVUE_PYREF=/path/python $SIMVUE_PYREF bench/bench_upload.py <bench_upload binary>
"""

import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "server"))
from simvue_server import SimvueServer  # noqa: E402

PY_CLIENT = r"""
import sys, time, simvue
n, k = int(sys.argv[1]), int(sys.argv[2])
names = [f"m{j:02d}" for j in range(k)]
with simvue.Run(mode="online") as run:
    run.config(disable_resources_metrics=True)
    run.init(name="upload-bench-python", folder="/bench")
    t0 = time.perf_counter()
    for i in range(n):
        run.log_metrics({name: i + j * 1e-3 for j, name in enumerate(names)})
    t1 = time.perf_counter()
t2 = time.perf_counter()
print(n, k, t1 - t0, t2 - t0, 0)
"""


def env_for(srv, tmp):
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    env.update(
        NO_PROXY="127.0.0.1,localhost",
        SIMVUE_URL=srv.url,
        SIMVUE_TOKEN=srv.token,
        SIMVUE_OFFLINE_DIRECTORY=str(tmp / "cache"),
        HOME=str(tmp),
    )
    env.pop("SIMVUE_MODE", None)
    return env


def measure(cmd, srv, tmp, run_name):
    out = subprocess.run(cmd, env=env_for(srv, tmp), cwd=tmp, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        print(out.stdout, out.stderr, file=sys.stderr)
        return None
    n, k, t_log, t_total, _ = out.stdout.split()[-5:]
    n, k, t_log, t_total = int(n), int(k), float(t_log), float(t_total)
    run = srv.run_by_name(run_name)
    received = srv.count("metrics", run["id"]) * k if run else 0
    return n * k, received, t_log, t_total


def main():
    binary = sys.argv[1]
    n_c = int(os.environ.get("BENCH_UPLOAD_N", "200000"))
    n_py = int(os.environ.get("BENCH_UPLOAD_N_PY", "30000"))
    k = int(os.environ.get("BENCH_UPLOAD_K", "10"))
    print(f"upload throughput to the local test server, {k} values per metric set")
    print(f"  {'client':<24}{'values':>10}{'received':>10}{'log loop':>11}{'until closed':>14}{'values/s':>13}")
    rates = {}
    for label, cmd, n, name in [
        ("libsimvue (C)", [binary, str(n_c), str(k)], n_c, "upload-bench"),
        ("simvue 2.6.2 (Python)", [sys.executable, "-c", PY_CLIENT, str(n_py), str(k)], n_py, "upload-bench-python"),
    ]:
        with tempfile.TemporaryDirectory() as d, SimvueServer(validate=False, count_only=True) as srv:
            r = measure(cmd, srv, pathlib.Path(d), name)
        if r is None:
            print(f"  {label:<24} failed")
            continue
        sent, received, t_log, t_total = r
        rates[label] = received / t_total
        print(f"  {label:<24}{sent:>10}{received:>10}{t_log:>10.2f}s{t_total:>13.2f}s{rates[label]:>13,.0f}")
    if len(rates) == 2:
        c, p = rates["libsimvue (C)"], rates["simvue 2.6.2 (Python)"]
        print(f"  ratio libsimvue / python: {c / p:.1f}x   target >= 1,000,000 values/s: {'met' if c >= 1e6 else 'NOT met'}")


if __name__ == "__main__":
    main()
