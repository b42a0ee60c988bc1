#!/usr/bin/env bash
# Upload time of an offline cache by `simvue send` and by the Python `simvue-sender`, side by
# side (bench/bench_send.py). Not a test: it prints figures and exits 0.
#
# Usage (from the repository root):  bash bench/send.sh [--records N] [--file-mb M] [--files K]
#   default: 1000000 metric records and 1024 MB of files in 4 files.
#   SIMVUE_PYREF=/path/to/venv/bin/python   also time its simvue-sender (simvue 2.6.2); the
#                                           python runs the benchmark and the test server
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
for prog in tests/online/c/logger.c tests/artifacts/c/saver.c; do
    name="$(basename "$prog" .c)"
    if ! "${CC:-cc}" -std=c99 -O2 -Iinclude "$prog" -L"$root/target/release" -lsimvue -lm \
            -Wl,-rpath,"$root/target/release" -o "$tmp/$name"; then
        echo "bench: compiling $prog failed; no figures" >&2
        exit 0
    fi
done

python="${SIMVUE_PYREF:-python3}"
sender_args=()
if [ -n "${SIMVUE_PYREF:-}" ] && [ -x "$(dirname "$SIMVUE_PYREF")/simvue-sender" ]; then
    sender_args=(--sender "$(dirname "$SIMVUE_PYREF")/simvue-sender")
else
    echo "(SIMVUE_PYREF not set: timing simvue send only)"
fi
"$python" bench/bench_send.py --simvue "$root/target/release/simvue" --logger "$tmp/logger" \
    --saver "$tmp/saver" "${sender_args[@]}" "$@" || echo "bench: bench_send.py failed" >&2
exit 0
