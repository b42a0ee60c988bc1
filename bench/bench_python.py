"""The libsimvue log_metrics benchmark's workload, run with the Python client (simvue 2.6.2).

Usage: python bench/bench_python.py [n3 [n100 [n_runs]]]   (defaults 20000 2000 10)

Offline mode (no HTTP calls are made), resource metrics off, queue_blocking=True; HOME and
SIMVUE_OFFLINE_DIRECTORY are fresh temporary directories, SIMVUE_URL is http://127.0.0.1:1 and
SIMVUE_TOKEN an unsigned JWT-shaped token whose exp lies in the future (the client checks it).
The metric names are the same every call, as in the C benchmark. If BENCH_KV names a file, the
figures are also written there as "key value" lines (bench/run.sh uses them for the ratios).

This is a benchmark, not a test: it prints figures.
"""

import base64
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import time


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _fake_token() -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps({"sub": "bench", "exp": int(time.time()) + 86400}).encode())
    return f"{header}.{payload}.{_b64(b'unsigned')}"


def main() -> int:
    n3 = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    n100 = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 10

    kv_path = os.environ.get("BENCH_KV")
    if kv_path:
        kv_path = os.path.abspath(kv_path)

    tmp = tempfile.mkdtemp(prefix="simvue-pybench-")
    home = os.path.join(tmp, "home")
    cache = os.path.join(tmp, "offline")
    os.makedirs(home)
    os.environ.update(
        HOME=home,
        SIMVUE_OFFLINE_DIRECTORY=cache,
        SIMVUE_URL="http://127.0.0.1:1",
        SIMVUE_TOKEN=_fake_token(),
    )
    os.environ.pop("SIMVUE_MODE", None)
    os.chdir(home)  # no simvue.toml of the repository is picked up

    import simvue  # after the environment is set

    def start_run(name: str) -> "simvue.Run":
        run = simvue.Run(mode="offline")
        run.config(disable_resources_metrics=True, queue_blocking=True)
        run.init(name=name, folder="/bench")
        return run

    def bench_metrics(metrics: dict, iters: int) -> tuple[float, float]:
        # warm-up in a separate run, so the timed close only flushes the timed calls
        run = start_run("bench-warmup")
        for _ in range(max(iters // 10, 100)):
            run.log_metrics(metrics)
        run.close()

        run = start_run("bench-metrics")
        keys = list(metrics)
        t0 = time.perf_counter()
        for i in range(iters):
            metrics[keys[i % len(keys)]] += 1.0
            run.log_metrics(metrics)
        t1 = time.perf_counter()
        run.close()
        t2 = time.perf_counter()
        return (t1 - t0) * 1e9 / iters, (t2 - t0) * 1e9 / iters

    def bench_init_close(n: int) -> float:
        run = start_run("bench-init-warmup")
        run.close()
        t0 = time.perf_counter()
        for _ in range(n):
            run = start_run("bench-init")
            run.close()
        return (time.perf_counter() - t0) * 1e6 / n

    m3 = {"residual": 0.0, "t_max": 1.0, "error": 2.0}
    m100 = {f"field/v{k:03d}": float(k) for k in range(100)}
    m3_call, m3_flush = bench_metrics(m3, n3)
    m100_call, m100_flush = bench_metrics(m100, n100)
    ic = bench_init_close(runs)

    print(
        f"python simvue {importlib.metadata.version('simvue')}: "
        "Run.log_metrics (offline, resource metrics off, queue_blocking=True)"
    )
    print(f"  {'workload':<46} {'N':>9} {'per call':>14}")
    rows = [
        ("log_metrics 3 values, call cost", n3, m3_call, "ns"),
        ("log_metrics 3 values, including flush (close)", n3, m3_flush, "ns"),
        ("log_metrics 100 values, call cost", n100, m100_call, "ns"),
        ("log_metrics 100 values, including flush (close)", n100, m100_flush, "ns"),
        ("Run()+init+close (offline, no metrics)", runs, ic, "us"),
    ]
    for label, n, value, unit in rows:
        print(f"  {label:<46} {n:>9} {value:>11.1f} {unit}")

    if kv_path:
        with open(kv_path, "w") as f:
            f.write(
                f"m3_call_ns {m3_call:.3f}\nm3_flush_ns {m3_flush:.3f}\n"
                f"m100_call_ns {m100_call:.3f}\nm100_flush_ns {m100_flush:.3f}\n"
                f"init_close_us {ic:.3f}\n"
            )
    os.chdir("/")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
