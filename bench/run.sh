#!/usr/bin/env bash
# Benchmarks of simvue_run_log_metrics (and run init/close), optionally against the Python
# client. Not a test: it prints figures and exits 0.
#
# 1. bench_log_metrics.c (+ bench_python.py): call cost, flush, disabled mode, init/close.
# 2. throughput.py (bench_throughput.c, bench_throughput.py, discard_server.c): every figure of
#    issue 14 (call cost and sets kept at the defaults, sustained rates with queue_blocking,
#    1-1000 values, 1-4 threads, alternating name sets, latency p50/p99/max, the highest paced
#    rate with nothing dropped, peak RSS; offline and online against a local server that
#    discards), libsimvue and the Python client side by side.
# 3. bench_upload.c (+ bench_upload.py): online upload to the project's test server.
#
# Usage (from the repository root):  bash bench/run.sh
#   BENCH_QUICK=1                           smaller sizes for throughput.py
#   SIMVUE_PYREF=/path/to/venv/bin/python   also run bench/bench_python.py with that
#                                           interpreter (simvue 2.6.2) and print ratios
#   BENCH_C_ARGS="n3 n100 runs"             override the C benchmark's sizes
#                                           (default 1000000 100000 50)
#   BENCH_PY_ARGS="n3 n100 runs"            override the Python sizes (default 20000 2000 10)
#   CC=...                                  C compiler (default cc)
set -u

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 0

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== cargo build --release"
if ! cargo build --release; then
    echo "bench: cargo build --release failed; no figures" >&2
    exit 0
fi

echo "== building bench/bench_log_metrics.c"
bin="$tmp/bench_log_metrics"
if ! "${CC:-cc}" -std=c99 -O2 -Wall -Iinclude bench/bench_log_metrics.c \
        -L"$root/target/release" -lsimvue -Wl,-rpath,"$root/target/release" -o "$bin"; then
    echo "bench: compiling the C benchmark failed; no figures" >&2
    exit 0
fi

echo "== C benchmark (libsimvue)"
# shellcheck disable=SC2086
if ! BENCH_KV="$tmp/c.kv" "$bin" ${BENCH_C_ARGS:-}; then
    echo "bench: the C benchmark failed" >&2
    exit 0
fi

echo
echo "== HPC: log_metrics with monitoring on and off; SIGTERM to exit with a full queue"
hpc_bin="$tmp/bench_hpc"
walltime_bin="$tmp/walltime"
if "${CC:-cc}" -std=c99 -O2 -Wall -Iinclude bench/bench_hpc.c \
        -L"$root/target/release" -lsimvue -Wl,-rpath,"$root/target/release" -o "$hpc_bin" &&
    "${CC:-cc}" -std=c99 -O2 -Wall -Iinclude tests/hpc/c/walltime.c \
        -L"$root/target/release" -lsimvue -Wl,-rpath,"$root/target/release" -o "$walltime_bin"; then
    "${SIMVUE_PYREF:-python3}" bench/bench_hpc.py "$hpc_bin" "$walltime_bin" ||
        echo "bench: the HPC benchmark failed" >&2
else
    echo "bench: compiling bench/bench_hpc.c or tests/hpc/c/walltime.c failed" >&2
fi

if [ -z "${SIMVUE_PYREF:-}" ]; then
    echo "(SIMVUE_PYREF is not set: skipping the Python client benchmarks)"
else
    echo
    echo "== Python client benchmark ($SIMVUE_PYREF)"
    # shellcheck disable=SC2086
    if ! BENCH_KV="$tmp/py.kv" "$SIMVUE_PYREF" bench/bench_python.py ${BENCH_PY_ARGS:-20000 2000 10}; then
        echo "bench: the Python benchmark failed" >&2
        exit 0
    fi

    echo
    echo "== ratio python / libsimvue (higher = libsimvue faster)"
    awk '
        FNR == NR { c[$1] = $2; next }
        { py[$1] = $2 }
        END {
            n = split("m3_call_ns:log_metrics 3 values, call cost|m3_flush_ns:log_metrics 3 values, including flush|m100_call_ns:log_metrics 100 values, call cost|m100_flush_ns:log_metrics 100 values, including flush|init_close_us:run init + close", rows, "|")
            for (i = 1; i <= n; i++) {
                split(rows[i], kv, ":")
                k = kv[1]
                if ((k in c) && (k in py) && c[k] > 0)
                    printf "  %-46s %12.0fx\n", kv[2], py[k] / c[k]
                else
                    printf "  %-46s %12s\n", kv[2], "n/a"
            }
        }' "$tmp/c.kv" "$tmp/py.kv"
fi

echo
echo "== throughput (bench/throughput.py)"
tp_bin="$tmp/bench_throughput"
server_bin="$tmp/discard_server"
if "${CC:-cc}" -std=c11 -O2 -Wall -pthread -Iinclude bench/bench_throughput.c \
        -L"$root/target/release" -lsimvue -Wl,-rpath,"$root/target/release" -lm -o "$tp_bin" &&
   "${CC:-cc}" -std=c11 -O2 -Wall -pthread bench/discard_server.c -o "$server_bin"; then
    python3 bench/throughput.py --c-bin "$tp_bin" --server-bin "$server_bin" \
        ${SIMVUE_PYREF:+--python "$SIMVUE_PYREF"} ${BENCH_QUICK:+--quick} ||
        echo "bench: throughput.py failed" >&2
else
    echo "bench: compiling the throughput benchmark failed" >&2
fi

[ -n "${SIMVUE_PYREF:-}" ] || exit 0
echo
echo "== upload throughput (online mode, local test server)"
upload_bin="$tmp/bench_upload"
if "${CC:-cc}" -std=c99 -O2 -Wall -Iinclude bench/bench_upload.c \
        -L"$root/target/release" -lsimvue -Wl,-rpath,"$root/target/release" -o "$upload_bin"; then
    "$SIMVUE_PYREF" bench/bench_upload.py "$upload_bin" || echo "bench: the upload benchmark failed" >&2
else
    echo "bench: compiling bench/bench_upload.c failed" >&2
fi
exit 0
