#!/usr/bin/env bash
# ctest driver: configures, builds and runs tests/consumer against the libsimvue installed in
# PREFIX, with find_package(simvue CONFIG), in a build folder outside the source tree.
# Usage: run-cmake.sh PREFIX BUILD_DIR VERSION CC CXX [FC]
set -euo pipefail
prefix=$1 build=$2 version=$3 cc=$4 cxx=$5 fc=${6:-}
src=$(cd "$(dirname "$0")" && pwd)
rm -rf "$build"
args=(-S "$src" -B "$build" -DCMAKE_PREFIX_PATH="$prefix" -DSIMVUE_EXPECTED_VERSION="$version"
      -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release)
if [ -n "$fc" ]; then
    args+=(-DCMAKE_Fortran_COMPILER="$fc")
else
    args+=(-DCONSUMER_FORTRAN=OFF)
fi
cmake "${args[@]}"
cmake --build "$build" -j2
# The programs must find the installed library by their RPATH alone.
unset LD_LIBRARY_PATH
for exe in "$build"/consumer_c "$build"/consumer_cpp; do
    readelf -d "$exe" | grep -q 'NEEDED.*\[libsimvue\.so\.[0-9][0-9.]*\]' ||
        { echo "$exe does not need libsimvue.so.<soversion>"; exit 1; }
done
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
HOME="$cache" SIMVUE_OFFLINE_DIRECTORY="$cache/simvue" ctest --test-dir "$build" --output-on-failure
n_runs=$(find "$cache/simvue/runs" -name '*.json' | wc -l)
expected=3
[ -n "$fc" ] && expected=4
[ "$n_runs" = "$expected" ] || { echo "expected $expected runs in the cache, found $n_runs"; exit 1; }
echo "consumer (CMake): $n_runs runs written"
