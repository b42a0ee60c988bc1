"""Upload time of one offline cache by `simvue send` and by the Python `simvue-sender` 2.6.2,
side by side, to the local test server (tests/server/simvue_server/, in count_only mode: it
counts metric sets and uploaded bytes instead of keeping them, so that it does not measure
itself). The cache is written by this library: the `logger` test program logs RECORDS metric
sets of 3 values (one run), the `saver` test program saves FILES files totalling FILE_MB
megabytes (another run); both senders get a copy of the same cache. Files are uploaded with the
raw PUT style (no multipart parsing in the server).
Not a test: prints figures. Run through bench/send.sh, or directly:

    python bench/bench_send.py --simvue target/release/simvue --sender .venv/bin/simvue-sender \\
        --logger <logger> --saver <saver> [--records 1000000] [--file-mb 1024] [--files 4]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "server"))
from simvue_server import SimvueServer, make_jwt  # noqa: E402


def base_env(tmp: pathlib.Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMVUE_") and not k.upper().endswith("_PROXY")}
    env.update(HOME=str(tmp), NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    return env


def write_cache(tmp: pathlib.Path, args) -> pathlib.Path:
    cache = tmp / "cache"
    env = base_env(tmp)
    env.update(SIMVUE_MODE="offline", SIMVUE_OFFLINE_DIRECTORY=str(cache))
    # The Python client needs a JWT even offline; the library does not, but the sender does.
    t0 = time.perf_counter()
    subprocess.run([args.logger, str(args.records), "0", "-", "0"], env=env, cwd=tmp, check=True,
                   stdout=subprocess.DEVNULL)
    data = tmp / "data"
    data.mkdir()
    ops = []
    chunk = os.urandom(1 << 20)
    for i in range(args.files):
        f = data / f"field_{i}.bin"
        with open(f, "wb") as fh:
            for _ in range(args.file_mb // args.files):
                fh.write(chunk)
        ops += ["save", str(f), "1", "application/octet-stream", "0", "-", "0"]
    if ops:
        subprocess.run([args.saver, "1", *ops], env=env, cwd=tmp, check=True, stdout=subprocess.DEVNULL)
    size = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
    print(f"cache: {args.records} metric records (3 values each), {args.files} files of "
          f"{args.file_mb // max(args.files, 1)} MB; {size / 1e6:.0f} MB of cache files, "
          f"written in {time.perf_counter() - t0:.1f} s")
    return cache


def send(name: str, cmd: list, cache: pathlib.Path, tmp: pathlib.Path, args) -> tuple[float, str]:
    srv = SimvueServer(token=make_jwt(), count_only=True, upload_style="put")
    try:
        env = base_env(tmp)
        env.update(SIMVUE_URL=srv.url, SIMVUE_TOKEN=srv.token, SIMVUE_OFFLINE_DIRECTORY=str(tmp / "unused"))
        t0 = time.perf_counter()
        out = subprocess.run([*cmd, "-i", str(cache)], env=env, cwd=tmp, capture_output=True, text=True,
                             timeout=args.timeout)
        elapsed = time.perf_counter() - t0
        runs = srv.runs()
        records = sum(srv.count("metrics", rid) for rid in runs)
        bytes_up = sum(a.get("received", 0) for a in srv.snapshot()["artifacts"].values())
        ok = out.returncode == 0 and records == args.records and bytes_up == args.files * (args.file_mb // max(args.files, 1)) << 20
        status = "ok" if ok else f"rc={out.returncode}, {records} records, {bytes_up} bytes received"
        if out.returncode != 0:
            print(out.stdout[-2000:], out.stderr[-2000:], file=sys.stderr)
        return elapsed, status
    finally:
        srv.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--simvue", required=True)
    ap.add_argument("--sender", default=None, help="simvue-sender of simvue 2.6.2 (optional)")
    ap.add_argument("--logger", required=True)
    ap.add_argument("--saver", required=True)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--file-mb", type=int, default=1024)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=3600)
    args = ap.parse_args()
    for k in ("simvue", "sender", "logger", "saver"):
        if getattr(args, k):
            setattr(args, k, str(pathlib.Path(getattr(args, k)).resolve()))
    with tempfile.TemporaryDirectory(prefix="simvue-bench-send-") as d:
        tmp = pathlib.Path(d)
        cache = write_cache(tmp, args)
        results = []
        senders = [("simvue send", [args.simvue, "send", "--progress", "none"])]
        if args.sender:
            senders.append(("simvue-sender (Python 2.6.2)", [args.sender]))
        for name, cmd in senders:
            copy = tmp / f"copy-{len(results)}"
            shutil.copytree(cache, copy)
            elapsed, status = send(name, cmd, copy, tmp, args)
            results.append((name, elapsed, status))
            shutil.rmtree(copy)
        print(f"{'sender':<30} {'seconds':>9}  {'records/s':>10}  {'MB/s (files)':>12}  check")
        for name, elapsed, status in results:
            print(f"{name:<30} {elapsed:>9.1f}  {args.records / elapsed:>10.0f}  "
                  f"{args.file_mb / elapsed:>12.1f}  {status}")
        if len(results) == 2:
            print(f"simvue send is {results[1][1] / results[0][1]:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
