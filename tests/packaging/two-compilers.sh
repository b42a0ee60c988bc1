#!/usr/bin/env bash
# Installs two build folders of libsimvue made with different Fortran compilers (gfortran and
# LLVM flang, by scripts/test.sh) into one prefix, then builds and runs tests/consumer against
# it with each compiler: each finds its own Fortran module and library, the other's stays apart.
# Usage: two-compilers.sh BUILD_A BUILD_B WORK_DIR
set -euo pipefail
a=$1 b=$2 work=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"
prefix="$work/prefix"
cache_var() { sed -n "s/^$2:[A-Z]*=//p" "$1/CMakeCache.txt"; }
for build in "$a" "$b"; do
    cmake --install "$build" --prefix "$prefix" >/dev/null
done
tags=$(ls "$prefix/include/simvue/fortran")
echo "Fortran modules in $prefix/include/simvue/fortran: $(echo $tags)"
[ "$(echo "$tags" | wc -w)" = 2 ] || { echo "expected the modules of two compilers"; exit 1; }
for build in "$a" "$b"; do
    fc=$(cache_var "$build" CMAKE_Fortran_COMPILER)
    echo "== consumer built with $fc"
    bash "$src/tests/consumer/run-cmake.sh" "$prefix" "$work/consumer-$(basename "$build")" \
        "$(cache_var "$build" CMAKE_PROJECT_VERSION)" "$(cache_var "$build" CMAKE_C_COMPILER)" \
        "$(cache_var "$build" CMAKE_CXX_COMPILER)" "$fc" >"$work/consumer-$(basename "$build").log" 2>&1 ||
        { cat "$work/consumer-$(basename "$build").log"; exit 1; }
    tail -n 1 "$work/consumer-$(basename "$build").log"
done
echo "two compilers, one prefix: ok"
