#!/usr/bin/env bash
# Runs the whole test suite from a fresh checkout: Rust unit and integration tests, the C API
# tests (also under valgrind) through CMake/ctest, and the comparison with the Python client
# simvue 2.6.2 (installed from PyPI into .venv). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== cargo build (release) and header check"
cargo build --release --locked
if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet -- include/simvue.h; then
    echo "include/simvue.h changed when rebuilt: commit the regenerated header" >&2
    git diff --stat -- include/simvue.h >&2
    exit 1
fi

echo "== cargo fmt, clippy"
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings

echo "== cargo test"
cargo test --locked

echo "== C tests (ctest)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2
ctest --test-dir build --output-on-failure

echo "== Python-side tests: comparison with simvue 2.6.2, test server, online mode, saving files"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import simvue, pytest, msgpack' 2>/dev/null; then
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q "simvue==2.6.2" pytest
fi
export SIMVUE_PYREF="$PWD/.venv/bin/python" SIMVUE_LIB_DIR="$PWD/target/release"
# Each directory has its own conftest.py; separate runs keep them apart.
failed=0
for dir in tests/python tests/server tests/online tests/artifacts; do
    echo "-- pytest $dir"
    .venv/bin/python -m pytest -q "$dir" || failed=1
done
exit $failed
