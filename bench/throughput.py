"""Throughput benchmark: every figure of issue 14's table, libsimvue next to the Python client
simvue 2.6.2, in one run. Each scenario is its own process (so peak RSS is its own), into a
fresh cache; online scenarios talk to bench/discard_server.c on 127.0.0.1, which answers at
once and throws the data away, so that the client and not the server is measured; what
arrived is what that server counted (online) or what the cache holds (offline).

    python bench/throughput.py --c-bin BENCH_THROUGHPUT --server-bin DISCARD_SERVER \
        [--python PYTHON_WITH_SIMVUE_2_6_2] [--quick]

bench/run.sh builds the two programs and runs this. Figures depend on the machine and on
what else runs on it: the header prints the load average. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent


def fake_token() -> str:
    """An unsigned JWT whose exp lies ahead: simvue 2.6.2 checks the token's shape and expiry."""
    def b64(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64({'sub': 'bench', 'exp': int(time.time()) + 86400})}.c2ln"


class Discard:
    """The discarding server, for the online scenarios."""

    def __init__(self, binary: str):
        self.proc = subprocess.Popen([binary], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        self.url = f"http://127.0.0.1:{line[1]}"

    def call(self, path: str, method: str = "GET") -> dict:
        req = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"{}")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def cache_sets(cache: pathlib.Path) -> tuple[int, int]:
    """(metric sets, files) in a cache's metrics/ (offline writes, or online spills)."""
    sets = files = 0
    for f in (cache / "metrics").glob("*.json"):
        doc = json.loads(f.read_text())
        sets += len(doc.get("metrics", []))
        files += 1
    return sets, files


def run_scenario(client: str, args: argparse.Namespace, server: Discard | None, **kw) -> dict | None:
    """Runs one scenario in its own process; adds 'kept' (sets that arrived) and 'spilled'."""
    cmd = ([args.c_bin] if client == "c" else [args.python, str(HERE / "bench_throughput.py")])
    cmd += [f"{k}={v}" for k, v in kw.items()]
    # The file system writes back what earlier scenarios wrote first: on a 2-core machine that
    # work otherwise takes the writer's core from the next scenario (the paced rate halved).
    os.sync()
    work = pathlib.Path(tempfile.mkdtemp(prefix="simvue-tp-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMVUE_") and not k.upper().endswith("_PROXY")}
    env.update(HOME=str(work), SIMVUE_OFFLINE_DIRECTORY=str(work / "cache"), NO_PROXY="127.0.0.1")
    if server or client == "py":
        # simvue 2.6.2 wants a URL and a token in every mode; offline nothing is contacted.
        env.update(SIMVUE_URL=server.url if server else "http://127.0.0.1:1", SIMVUE_TOKEN=fake_token())
    if server:
        server.call("/_reset", "POST")
    try:
        p = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            print(f"  ({client} {kw}: failed: {p.stderr.strip()[-300:]})", file=sys.stderr)
            return None
        r = json.loads(p.stdout.strip().splitlines()[-1])
        sets, files = cache_sets(work / "cache")
        if kw.get("mode") == "online":
            r["kept"] = server.call("/_stats")["metric_sets"]
            r["spilled_sets"], r["spilled_files"] = sets, files
        elif kw.get("mode") == "offline" and not kw.get("search"):
            r["kept"] = sets
        return r
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fmt_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    if ns >= 1e4:
        return f"{ns / 1e3:.1f} us"
    return f"{ns:.0f} ns"


def fmt_rate(r: float) -> str:
    return f"{r / 1e6:.2f} M/s" if r >= 1e5 else f"{r / 1e3:.1f} k/s"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--c-bin", required=True)
    ap.add_argument("--server-bin", required=True)
    ap.add_argument("--python", default=os.environ.get("SIMVUE_PYREF"))
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    args = ap.parse_args()
    scale = 0.2 if args.quick else 1.0
    c_n = {1: 2_000_000, 3: 1_000_000, 10: 500_000, 100: 100_000, 1000: 10_000}
    py_n = {1: 20_000, 3: 20_000, 10: 10_000, 100: 2_000, 1000: 300}
    c_n = {k: max(100, int(v * scale)) for k, v in c_n.items()}
    py_n = {k: max(50, int(v * scale)) for k, v in py_n.items()}
    clients = ["c"] + (["py"] if args.python else [])

    load = os.getloadavg()
    print(f"throughput benchmark: {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
          "(other work on the machine inflates every figure)")
    if not args.python:
        print("(no --python / SIMVUE_PYREF: libsimvue only)")
    # The machine's own pauses of a busy thread: a latency figure below cannot be smaller. A
    # virtual machine's cores may stop for milliseconds when all of them are busy.
    for t in sorted({1, os.cpu_count() or 1}):
        p = subprocess.run([args.c_bin, f"jitter={t}", "secs=2"], capture_output=True, text=True, timeout=60)
        if p.returncode == 0:
            j = json.loads(p.stdout.strip().splitlines()[-1])
            print(f"machine: {t} busy thread(s) reading the clock for 2 s: longest pause {fmt_ns(j['max_gap_ns'])}, "
                  f"{j['gaps_over_1ms']} pauses over 1 ms")
    print(f"  {'figure':<58} {'libsimvue':>22} {'simvue 2.6.2 (Python)':>24}")

    def row(label: str, cells: dict[str, str]) -> None:
        print(f"  {label:<58} {cells.get('c', 'n/a'):>22} {cells.get('py', '-'):>24}", flush=True)

    def both(label: str, cell, server: Discard | None = None, **kw) -> None:
        cells = {}
        sizes = {cl: kw.pop("_n_" + cl, None) for cl in ("c", "py")}
        for cl in clients:
            extra = {"n": sizes[cl]} if sizes[cl] is not None else {}
            r = run_scenario(cl, args, server, **kw, **extra)
            cells[cl] = "failed" if r is None else cell(r)
        row(label, cells)

    def kept(r: dict) -> str:
        return f"{100 * r['kept'] / r['calls']:.0f} %" if r.get("calls") else "?"

    server = Discard(args.server_bin)
    try:
        print("-- offline, default config (queue_size 10000, queue_blocking off), resource metrics off")
        for k in (1, 3, 10, 100, 1000):
            both(f"{k} values: call cost (loop only); sets kept",
                 lambda r: f"{fmt_ns(r['call_ns'])}; {kept(r)}",
                 mode="offline", config="default", k=k, _n_c=c_n[k], _n_py=py_n[k])
        both("3 values: CPU per call, page faults (the logging thread)",
             lambda r: f"{fmt_ns(r['cpu_call_ns'])}, {r['loop_faults']} faults",
             mode="offline", config="default", k=3, _n_c=c_n[3], _n_py=py_n[3])
        both("3 values: highest paced rate with nothing dropped",
             lambda r: fmt_rate(r["best_rate"]), mode="offline", config="default", k=3, search=1)
        both("100 values: peak RSS (loop + close)",
             lambda r: f"{r['rss_kb'] / 1024:.0f} MB", mode="offline", config="default", k=100,
             _n_c=c_n[100], _n_py=py_n[100])

        print("-- offline, tuned: queue_blocking=1 (nothing dropped)")
        for k in (1, 3, 10, 100, 1000):
            both(f"{k} values: sustained cost (loop + close); sets/s",
                 lambda r: f"{fmt_ns(r['total_s'] * 1e9 / r['calls'])}; {fmt_rate(r['calls'] / r['total_s'])}"
                 + ("" if r.get("kept", r["calls"]) == r["calls"] else " LOST"),
                 mode="offline", config="blocking", k=k, _n_c=c_n[k], _n_py=py_n[k])
        for t in (1, 2, 4):
            both(f"3 values, {t} thread(s): sets/s, all threads (loop + close)",
                 lambda r: fmt_rate(r["calls"] / r["total_s"]), mode="offline", config="blocking",
                 k=3, threads=t, _n_c=c_n[3] // t, _n_py=py_n[3] // t)
        print("-- offline, roomy: queue_blocking=1 and queue_size = every call (the call, not the writer)")
        roomy_n = min(c_n[3], 200_000)  # 200000 3-value sets are 13.6 MB: within the 16 MiB held
        # The wall-clock cost counts time the logging thread waited for a core (three busy
        # threads on two cores); the CPU time does not.
        wall_cpu = lambda r: f"{fmt_ns(r['call_ns'])} (CPU {fmt_ns(r['cpu_call_ns'])})"
        both("3 values, fixed names: call cost, wall (CPU)", wall_cpu,
             mode="offline", config="roomy", k=3, _n_c=roomy_n, _n_py=py_n[3])
        both("3 values, 2 call sites taking turns: call cost, wall (CPU)", wall_cpu,
             mode="offline", config="roomy", k=3, alt=1, _n_c=roomy_n, _n_py=py_n[3])
        both("3 values: call latency p50 / p99 / max",
             lambda r: f"{fmt_ns(r['p50_ns'])} / {fmt_ns(r['p99_ns'])} / {fmt_ns(r['max_ns'])}",
             mode="offline", config="roomy", k=3, lat=1, _n_c=roomy_n, _n_py=py_n[3])
        print("-- offline, queue_blocking=1 again: latency while the writer is the limit")
        for k in (3, 100):
            both(f"{k} values: call latency p50 / p99 / max",
                 lambda r: f"{fmt_ns(r['p50_ns'])} / {fmt_ns(r['p99_ns'])} / {fmt_ns(r['max_ns'])}",
                 mode="offline", config="blocking", k=k, lat=1, _n_c=c_n[k], _n_py=py_n[k])
        both("100 values: peak RSS (loop + close)", lambda r: f"{r['rss_kb'] / 1024:.0f} MB",
             mode="offline", config="blocking", k=100, _n_c=c_n[100], _n_py=py_n[100])
        both("1000 values: peak RSS (loop + close)", lambda r: f"{r['rss_kb'] / 1024:.0f} MB",
             mode="offline", config="blocking", k=1000, _n_c=c_n[1000], _n_py=py_n[1000])

        print("-- disabled mode")
        both("3 values: call cost (net of the loop, when measured)",
             lambda r: f"{r['call_ns']:.1f} ns" + (f" ({r['call_ns'] - r['empty_loop_ns']:.1f} net)"
                                                   if "empty_loop_ns" in r else ""),
             mode="disabled", k=3, _n_c=50 * c_n[3], _n_py=20 * py_n[3])

        print("-- online, a local server that discards (bench/discard_server.c), default config")
        both("10 values: call cost; sets kept; spilled batches",
             lambda r: f"{fmt_ns(r['call_ns'])}; {kept(r)}; {r['spilled_files']}",
             server, mode="online", config="default", k=10, _n_c=c_n[10], _n_py=py_n[10])
        both("10 values: highest paced rate with nothing dropped",
             lambda r: fmt_rate(r["best_rate"]), server, mode="online", config="default", k=10, search=1)
        print("-- online, tuned: queue_blocking=1")
        for k in (10, 100):
            both(f"{k} values: values/s (loop + close); spilled batches",
                 lambda r, k=k: f"{fmt_rate(r['kept'] * k / r['total_s'])}; {r['spilled_files']}"
                 + ("" if r["kept"] == r["calls"] else " LOST"),
                 server, mode="online", config="blocking", k=k, _n_c=c_n[k], _n_py=py_n[k])
        both("100 values: peak RSS (loop + close)", lambda r: f"{r['rss_kb'] / 1024:.0f} MB",
             server, mode="online", config="blocking", k=100, _n_c=c_n[100], _n_py=py_n[100])
    finally:
        server.stop()
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
