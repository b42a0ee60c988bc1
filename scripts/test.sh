#!/usr/bin/env bash
# Runs the whole test suite from a fresh checkout: Rust unit and integration tests, the C API
# tests (also under valgrind) through CMake/ctest with the packaging tests (the release tarball
# built offline among them), the API reference (Doxygen), the Fortran parts again with LLVM flang
# where it is installed, and the comparison with the Python client simvue 2.6.2 (installed from
# PyPI into .venv). Exits non-zero if anything fails. Prints how long each part took, and the
# total, at the end (also when a part fails).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

start=$(date +%s)
part_start=$start
timings=()
part_done() { # name: the part that just finished
    local now
    now=$(date +%s)
    timings+=("$(printf '%-8s %5d s' "$1" $((now - part_start)))")
    part_start=$now
}
report() {
    local rc=$?
    echo "== time per part"
    for t in "${timings[@]}"; do echo "   $t"; done
    printf '   %-8s %5d s\n' total $(($(date +%s) - start))
    return $rc
}
trap report EXIT

echo "== cargo fmt, clippy"
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings

echo "== cargo test"
cargo test --locked

part_done cargo

# CMake builds the release library with cargo into target/ (CARGO_TARGET_DIR), where the
# Python-side tests and bench/ find it, and where the flang build below finds it built.
echo "== CMake build (cargo release build) and header check"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCARGO_TARGET_DIR="$PWD/target" \
    -DSIMVUE_DOCS_WARNINGS_AS_ERRORS=ON >/dev/null
cmake --build build -j2
if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet -- include/simvue.h; then
    echo "include/simvue.h changed when rebuilt: commit the regenerated header" >&2
    git diff --stat -- include/simvue.h >&2
    exit 1
fi

echo "== C, C++, Fortran, MPI and packaging tests (ctest; the release tarball builds offline)"
ctest --test-dir build --output-on-failure
part_done ctest

echo "== API reference (Doxygen, warnings are errors)"
cmake --build build --target docs
part_done docs

# The Fortran module, examples and tests again with LLVM flang, and both compilers' modules
# installed into one prefix.
flang=${FLANG:-$(command -v flang-new-19 || command -v flang-new || command -v flang || true)}
if [ -n "$flang" ]; then
    echo "== Fortran with LLVM flang ($flang)"
    cmake -S . -B build-flang -DCMAKE_BUILD_TYPE=Release -DCARGO_TARGET_DIR="$PWD/target" \
        -DCMAKE_Fortran_COMPILER="$flang" -DSIMVUE_TEST_VALGRIND=OFF -DSIMVUE_TEST_DIST=OFF \
        >/dev/null
    cmake --build build-flang -j2
    ctest --test-dir build-flang --output-on-failure
    bash tests/packaging/two-compilers.sh build build-flang "$PWD/build-flang/two-compilers"
    part_done flang
else
    echo "== no LLVM flang (flang-new-19, flang-new or flang; FLANG=...): Fortran tested with gfortran only"
fi

echo "== Python-side tests: comparison with simvue 2.6.2, test server, online mode, saving files"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import simvue, pytest, msgpack' 2>/dev/null; then
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q "simvue==2.6.2" pytest
fi
export SIMVUE_PYREF="$PWD/.venv/bin/python" SIMVUE_LIB_DIR="$PWD/target/release"
# One run over tests/python, tests/server, tests/online, tests/artifacts and tests/sender (tests/pytest.ini,
# fixtures in tests/conftest.py).
failed=0
.venv/bin/python -m pytest -q tests || failed=1
part_done pytest
exit $failed
