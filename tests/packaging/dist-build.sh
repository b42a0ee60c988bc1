#!/usr/bin/env bash
# ctest dist_offline_build: makes the release tarball (scripts/dist.sh), unpacks it in an empty
# folder and builds and installs it the way the README says, with an empty CARGO_HOME and
# without network (in a network namespace of its own where `unshare -n` is allowed, and with
# cargo told to stay offline in any case):
#
#   cmake -S . -B build && cmake --build build && cmake --install build
#
# then builds and runs the consumer programs (tests/consumer) against the installed package.
# Usage: dist-build.sh WORK_DIR
set -euo pipefail
work=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"
mkdir -p "$work/unpacked" "$work/cargo-home"
work=$(cd "$work" && pwd)

echo "== scripts/dist.sh"
tarball=$(bash "$src/scripts/dist.sh" "$work")
ls -l "$tarball"
tar -xzf "$tarball" -C "$work/unpacked"
cd "$work/unpacked"/simvue-*
[ -f .cargo/config.toml ] && [ -d vendor ] || { echo "the tarball has no vendored crates"; exit 1; }

# The build sees nothing of this machine's cargo setup but the toolchain itself. rustc links
# with GNU ld here, as Rust before 1.90 and other targets than x86_64 Linux do everywhere (newer
# ones use their own lld on x86_64 Linux, which the main build covers).
export CARGO_HOME="$work/cargo-home" CARGO_NET_OFFLINE=true
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR CARGO_ENCODED_RUSTFLAGS
export RUSTFLAGS="-C link-arg=-fuse-ld=bfd"
offline=()
if unshare -n true 2>/dev/null; then
    offline=(unshare -n)
    echo "== building without network (unshare -n), CARGO_HOME=$CARGO_HOME (empty)"
else
    echo "== building with CARGO_NET_OFFLINE=true, CARGO_HOME=$CARGO_HOME (empty; unshare -n not allowed here)"
fi
"${offline[@]}" cmake -S . -B build
"${offline[@]}" cmake --build build -j2
"${offline[@]}" cmake --install build --prefix "$work/prefix"
if [ -n "$(ls -A "$CARGO_HOME")" ]; then
    echo "note: cargo wrote into CARGO_HOME: $(ls -A "$CARGO_HOME")"
fi
[ ! -e "$CARGO_HOME/registry" ] || { echo "cargo used a registry"; exit 1; }

echo "== the installed package, used by tests/consumer"
version=$(basename "$PWD"); version=${version#simvue-}
fc=$(sed -n 's/^CMAKE_Fortran_COMPILER:[A-Z]*=//p' build/CMakeCache.txt)
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' build/CMakeCache.txt)
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' build/CMakeCache.txt)
bash "$src/tests/consumer/run-cmake.sh" "$work/prefix" "$work/consumer" "$version" "$cc" "$cxx" $fc
echo "dist: $(basename "$tarball") builds offline and installs"
