#!/usr/bin/env bash
# ctest driver: a Fortran package manager (fpm) project that depends on this source tree's
# fpm.toml (the module `simvue`) builds, links the libsimvue installed in PREFIX, and runs.
# Usage: run-fpm.sh FPM PREFIX LIBDIR BUILD_DIR FC
set -euo pipefail
fpm=$1 prefix=$2 libdir=$3 build=$4 fc=$5
src=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$build"
mkdir -p "$build/app"
cp "$src/tests/consumer/consumer.f90" "$build/app/main.f90"
# fpm wants a relative path to a local dependency.
rel=$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$src" "$build")
cat >"$build/fpm.toml" <<TOML
name = "simvue_fpm_consumer"
version = "0.1.0"
[build]
auto-tests = false
auto-examples = false
[dependencies]
simvue = { path = "$rel" }
TOML
export LIBRARY_PATH="$prefix/$libdir${LIBRARY_PATH:+:$LIBRARY_PATH}"
export LD_LIBRARY_PATH="$prefix/$libdir" FPM_FC="$fc"
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
cd "$build"
"$fpm" build
HOME="$cache" SIMVUE_OFFLINE_DIRECTORY="$cache/simvue" "$fpm" run
n_runs=$(find "$cache/simvue/runs" -name '*.json' | wc -l)
[ "$n_runs" = 1 ] || { echo "expected 1 run in the cache, found $n_runs"; exit 1; }
echo "consumer (fpm): 1 run written"
