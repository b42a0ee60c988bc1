"""One scenario of the throughput benchmark, with the Python client simvue 2.6.2: the same
arguments and the same JSON line as bench/bench_throughput.c (bench/throughput.py runs both).

    python bench/bench_throughput.py mode=offline config=default k=3 n=20000 threads=1 alt=0 \
        pace=0 lat=0 search=0 secs=0.5

The environment (HOME, SIMVUE_OFFLINE_DIRECTORY, SIMVUE_URL, SIMVUE_TOKEN) is the caller's.
"default" is simvue's own defaults with resource metrics off; "blocking" adds
queue_blocking=True. The Python client's queues have no bound, so it never drops: what it
keeps is counted by the caller (the cache's files, or the discarding server). Not a test.
"""

import json
import math
import resource
import sys
import threading
import time


def peak_rss_kb() -> int:
    """VmHWM: getrusage's ru_maxrss would also count the parent's memory at fork time."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def main() -> int:
    cfg = {"mode": "offline", "config": "default", "k": "3", "n": "20000", "threads": "1",
           "alt": "0", "pace": "0", "lat": "0", "search": "0", "secs": "0.5"}
    for arg in sys.argv[1:]:
        key, _, value = arg.partition("=")
        if key not in cfg:
            print(f"bench_throughput.py: unknown key {key}", file=sys.stderr)
            return 2
        cfg[key] = value
    # "roomy" (a queue_size of every call) is simvue's own behaviour: its queues have no bound.
    mode, blocking = cfg["mode"], cfg["config"] in ("blocking", "roomy")
    k, n, threads = int(cfg["k"]), int(cfg["n"]), int(cfg["threads"])
    alt, pace, lat = cfg["alt"] == "1", float(cfg["pace"]), cfg["lat"] == "1"
    search, secs = cfg["search"] == "1", float(cfg["secs"])

    import simvue  # after the environment is read

    sites = [{f"{s}/v{j:03d}": 0.5 * j for j in range(k)} for s in ("field", "other")]

    def one_run(n: int, pace: float, timed: bool) -> dict:
        run = simvue.Run(mode=mode)
        if blocking:
            run.config(disable_resources_metrics=True, queue_blocking=True)
        else:
            run.config(disable_resources_metrics=True)
        run.init(name="bench-throughput", folder="/bench")
        latencies: list[int] = []
        ends: list[float] = []
        used = {"cpu_ns": 0, "faults": 0}  # the logging threads' CPU time and page faults

        def logger() -> None:
            period = threads / pace if pace > 0 else 0.0
            cpu0 = time.thread_time_ns()
            faults0 = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
            next_at = time.perf_counter()
            for i in range(n):
                metrics = sites[i & 1] if alt else sites[0]
                key = next(iter(metrics))
                metrics[key] += 1.0
                if period:
                    while time.perf_counter() < next_at:
                        pass
                    next_at += period
                if timed:
                    a = time.perf_counter_ns()
                    run.log_metrics(metrics)
                    latencies.append(time.perf_counter_ns() - a)
                else:
                    run.log_metrics(metrics)
            ends.append(time.perf_counter())
            used["cpu_ns"] += time.thread_time_ns() - cpu0
            used["faults"] += resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - faults0

        t0 = time.perf_counter()
        workers = [threading.Thread(target=logger) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        t_loop = max(ends)
        if mode != "disabled":  # a disabled simvue.Run refuses close ("not initialised")
            run.close()
        t_end = time.perf_counter()
        r = {"calls": n * threads, "loop_s": t_loop - t0, "total_s": t_end - t0,
             "call_ns": (t_loop - t0) * 1e9 / n, "cpu_call_ns": used["cpu_ns"] / (n * threads),
             "loop_faults": used["faults"]}
        if timed:
            latencies.sort()
            r.update(p50_ns=latencies[len(latencies) // 2],
                     p99_ns=latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)],
                     max_ns=latencies[-1])
        return r

    out = {"client": "python"}
    if search:
        # Python's queues never drop: the limit is keeping the pace.
        good, rate = 0.0, 1000.0
        while rate < 1e7:
            r = one_run(max(1, int(rate * secs / threads)), rate, False)
            if r["loop_s"] > secs * 1.05:
                break
            good, rate = rate, rate * 2
        out["best_rate"] = good
    else:
        out.update(one_run(n, pace, False))
        if lat:
            t = one_run(n, pace, True)
            out.update({key: t[key] for key in ("p50_ns", "p99_ns", "max_ns")})
    out["rss_kb"] = peak_rss_kb()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
