#!/usr/bin/env bash
# ctest install_static_only: libsimvue configured with -DSIMVUE_INSTALL_SHARED=OFF (Spack's
# libs=static) installs no libsimvue.so, and tests/consumer builds and runs against that prefix:
# simvue::simvue is then the static library, and the programs need no libsimvue at run time.
# Reuses the cargo output of the calling build (the same CARGO_TARGET_DIR), so nothing compiles
# again but the Fortran module.
# Usage: static-only.sh WORK_DIR CARGO_TARGET_DIR CC CXX [FC]
set -euo pipefail
work=$1 target=$2 cc=$3 cxx=$4 fc=${5:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"
args=(-DCMAKE_BUILD_TYPE=Release -DCARGO_TARGET_DIR="$target" -DSIMVUE_INSTALL_SHARED=OFF
      -DSIMVUE_BUILD_TESTS=OFF -DSIMVUE_BUILD_EXAMPLES=OFF -DCMAKE_C_COMPILER="$cc"
      -DCMAKE_CXX_COMPILER="$cxx")
consumer=(-DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx")
if [ -n "$fc" ]; then
    args+=(-DCMAKE_Fortran_COMPILER="$fc")
    consumer+=(-DCMAKE_Fortran_COMPILER="$fc")
else
    args+=(-DSIMVUE_ENABLE_FORTRAN=OFF)
    consumer+=(-DCONSUMER_FORTRAN=OFF)
fi
cmake -S "$src" -B "$work/build" "${args[@]}" >/dev/null
cmake --build "$work/build" -j2 >/dev/null
cmake --install "$work/build" --prefix "$work/prefix" >/dev/null
if ls "$work/prefix"/lib*/libsimvue.so* >/dev/null 2>&1; then
    echo "libsimvue.so installed although SIMVUE_INSTALL_SHARED=OFF"; exit 1
fi
cmake -S "$src/tests/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" \
    "${consumer[@]}" >/dev/null
cmake --build "$work/consumer" -j2 >/dev/null
for exe in "$work/consumer"/consumer_c "$work/consumer"/consumer_cpp; do
    if readelf -d "$exe" | grep -q 'NEEDED.*libsimvue'; then
        echo "$exe needs libsimvue.so"; exit 1
    fi
done
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
HOME="$cache" SIMVUE_OFFLINE_DIRECTORY="$cache/simvue" ctest --test-dir "$work/consumer" --output-on-failure
echo "static-only install: the consumers link libsimvue.a"
