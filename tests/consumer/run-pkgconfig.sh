#!/usr/bin/env bash
# ctest driver: builds tests/consumer with its Makefile and `pkg-config --cflags --libs simvue`
# (and simvue-fortran) against the libsimvue installed in PREFIX, and runs the programs.
# Usage: run-pkgconfig.sh PREFIX BUILD_DIR LIBDIR CC CXX [FC]
set -euo pipefail
prefix=$1 build=$2 libdir=$3 cc=$4 cxx=$5 fc=${6:-}
src=$(cd "$(dirname "$0")" && pwd)
rm -rf "$build"
mkdir -p "$build"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
unset PKG_CONFIG_LIBDIR LD_LIBRARY_PATH
echo "pkg-config --cflags --libs simvue: $(pkg-config --cflags --libs simvue)"
[ -n "$fc" ] && echo "pkg-config --cflags --libs simvue-fortran: $(pkg-config --cflags --libs simvue-fortran)"
make -C "$build" -f "$src/Makefile" SRC="$src" CC="$cc" CXX="$cxx" FC="$fc" all
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
HOME="$cache" SIMVUE_OFFLINE_DIRECTORY="$cache/simvue" \
    make -C "$build" -f "$src/Makefile" SRC="$src" CC="$cc" CXX="$cxx" FC="$fc" check
