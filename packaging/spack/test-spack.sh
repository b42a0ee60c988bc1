#!/usr/bin/env bash
# Installs libsimvue with Spack the way an HPC centre would, end to end, and uses the installed
# package as a user's project would. Not part of the test suite (that runs without Spack): run
# it by hand, given a Spack checkout.
#
#   packaging/spack/test-spack.sh SPACK_ROOT [SPEC...]
#
# SPACK_ROOT  a Spack checkout (or SIMVUE_SPACK_ROOT); without one the script says it skips and
#             exits 0. Written for Spack 1.x (run with 1.1.0); Spack needs clingo in the Python
#             it runs with (SPACK_PYTHON), or network to bootstrap it.
# SPEC...     what to install, default: "simvue+mpi" "simvue" "simvue~fortran libs=static".
#             The first is installed with --test=root (ctest runs in the build; set
#             SIMVUE_SPACK_TEST=none to skip that).
#
# Environment: SIMVUE_SPACK_BUILTIN, the builtin package repository to use instead of the one
# Spack 1.x clones (a spack-packages checkout's repos/spack_repo/builtin: needed offline);
# SIMVUE_SPACK_WORK, the work folder (default: a new temporary one; it is kept, with the logs).
#
# What it does, all inside the work folder (Spack's user configuration, caches, install tree
# and stage go there; neither ~/.spack nor the checkout's opt/ is touched):
#  1. scripts/dist.sh makes the release tarball; it goes into a Spack mirror (file://).
#  2. `spack repo create` makes a package repository holding packaging/spack/package.py as
#     copied from this repository (never edited there); `spack repo add` registers it.
#  3. `spack compiler find` and `spack external find --not-buildable` register this machine's
#     gcc/gfortran, cmake, make, rust/cargo, pkgconf, python and MPI, so that Spack builds
#     simvue alone.
#  4. `spack install --fresh --no-checksum SPEC` for each SPEC, without network (`unshare -n` where
#     allowed). --no-checksum because the recipe's version() has no sha256: the tarball is made
#     from the working tree and changes with every commit, so no recipe can know its sha256
#     before a release; the script checks instead that the mirror holds the very tarball
#     dist.sh wrote (its sha256), which is what Spack fetched.
#  5. For each installed spec: `spack load` it, then build tests/consumer with CMake
#     (find_package(simvue CONFIG), found through the CMAKE_PREFIX_PATH `spack load` set) and
#     with its Makefile (pkg-config simvue, through PKG_CONFIG_PATH), and run the programs: each
#     writes one offline run into an empty cache, without network.
set -euo pipefail

spack_root=${1:-${SIMVUE_SPACK_ROOT:-}}
if [ -z "$spack_root" ]; then
    echo "test-spack.sh: SKIPPED: no Spack checkout given" \
        "(usage: packaging/spack/test-spack.sh SPACK_ROOT [SPEC...])"
    exit 0
fi
[ $# -gt 0 ] && shift
if [ ! -x "$spack_root/bin/spack" ]; then
    echo "test-spack.sh: $spack_root/bin/spack not found: not a Spack checkout"
    exit 1
fi
spack_root=$(cd "$spack_root" && pwd)
specs=("$@")
[ ${#specs[@]} -gt 0 ] || specs=("simvue+mpi" "simvue" "simvue~fortran libs=static")

src=$(cd "$(dirname "$0")/../.." && pwd)
work=${SIMVUE_SPACK_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/simvue-spack.XXXXXX")}
mkdir -p "$work"
work=$(cd "$work" && pwd)
echo "== work folder: $work"

# Spack sees none of this user's configuration: only its own defaults, the site's, and ours.
export SPACK_USER_CONFIG_PATH="$work/config" SPACK_USER_CACHE_PATH="$work/cache"
unset SPACK_DISABLE_LOCAL_CONFIG SPACK_ENV
# Written anew on each run (a work folder may be given again: its install tree is reused).
rm -rf "$SPACK_USER_CONFIG_PATH"
mkdir -p "$SPACK_USER_CONFIG_PATH"
spack() { "$spack_root/bin/spack" "$@"; }
echo "== Spack $(spack --version)"

# Without network: a network namespace of its own, with only the loopback interface up (the
# ctest tests talk to a local test server, and Open MPI's compiler wrappers fail, which FindMPI
# takes for no MPI, where no interface at all is up).
offline=()
if unshare -n ip link set lo up 2>/dev/null; then
    offline=(unshare -n sh -c 'ip link set lo up && exec "$@"' offline)
fi
echo "== offline: ${offline[*]:-no network namespace allowed here (unshare -n): with network}"

cat >"$SPACK_USER_CONFIG_PATH/config.yaml" <<EOF
config:
  install_tree:
    root: $work/opt
  build_stage: [$work/stage]
  source_cache: $work/source-cache
  misc_cache: $work/cache/misc
  test_stage: $work/cache/test
EOF
if [ -n "${SIMVUE_SPACK_BUILTIN:-}" ]; then
    cat >"$SPACK_USER_CONFIG_PATH/repos.yaml" <<EOF
repos::
  builtin: $(cd "$SIMVUE_SPACK_BUILTIN" && pwd)
EOF
fi

# 1. The release tarball, in a mirror.
echo "== scripts/dist.sh"
tarball=$("$src/scripts/dist.sh" "$work/dist")
sha=$(sha256sum "$tarball" | cut -d' ' -f1)
name=$(basename "$tarball")
version=${name#simvue-}
version=${version%.tar.gz}
mkdir -p "$work/mirror/simvue"
cp "$tarball" "$work/mirror/simvue/"
spack mirror add --scope user simvue-dist "file://$work/mirror"
echo "tarball $name, sha256 $sha"

# 2. A package repository holding the recipe.
rm -rf "$work/repo"
repo=$(spack repo create "$work/repo" simvue | sed -n 's/^ *spack repo add //p')
[ -d "$repo/packages" ] || { echo "spack repo create made no packages/ folder in '$repo'"; exit 1; }
mkdir -p "$repo/packages/simvue"
cp "$src/packaging/spack/package.py" "$repo/packages/simvue/package.py"
spack repo add --scope user "$repo"
spack repo list

# 3. This machine's tools, as externals Spack does not build.
echo "== spack compiler find, spack external find"
spack compiler find --scope user
spack external find --scope user --not-buildable cmake gmake rust pkgconf python openmpi mpich
spack config get packages >"$work/packages.yaml"

# 4. and 5., for each spec.
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
for i in "${!specs[@]}"; do
    spec=${specs[$i]}
    test_arg=()
    [ "$i" = 0 ] && [ "${SIMVUE_SPACK_TEST:-root}" = root ] && test_arg=(--test=root)
    log="$work/install-$i.log"
    echo "== spack install --fresh --no-checksum ${test_arg[*]} $spec (log: $log)"
    start=$(date +%s)
    # shellcheck disable=SC2086  # a spec may be several words (variants)
    # --fresh: each spec as the recipe's defaults make it, not an installed one that
    # satisfies it (plain `simvue` is satisfied by simvue+mpi).
    if ! "${offline[@]}" "$spack_root/bin/spack" install --fresh --no-checksum "${test_arg[@]}" $spec \
        >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "FAIL: spack install $spec"
        exit 1
    fi
    echo "installed in $(($(date +%s) - start)) s"
    grep -E '^  Stage: .*Total:' "$log" | tail -n 1 || true
    prefix=$(sed -n 's|^\[+\] \(/.*/simvue-[^/ ]*\)$|\1|p' "$log" | tail -n 1)
    [ -d "$prefix" ] || { echo "no simvue prefix in the install log"; exit 1; }
    hash=${prefix##*-}
    echo "prefix $prefix"
    # What Spack fetched is the tarball dist.sh wrote.
    fetched=$(sed -n 's|^==> Fetching file://\(.*/simvue-[^/]*\.tar\.gz\)$|\1|p' "$log" | tail -n 1)
    if [ -n "$fetched" ]; then
        [ "$(sha256sum "$fetched" | cut -d' ' -f1)" = "$sha" ] ||
            { echo "Spack fetched $fetched, not the tarball dist.sh wrote"; exit 1; }
    fi

    # The installed package, as a user's project uses it after `spack load`.
    (
        unset CMAKE_PREFIX_PATH PKG_CONFIG_PATH LD_LIBRARY_PATH
        eval "$(spack load --sh "/$hash")"
        fortran=ON fc=gfortran pkgconfig=pkg-config
        # shellcheck disable=SC2254
        case " $spec " in *~fortran*) fortran=OFF fc= ;; esac
        # Only libsimvue.a: pkg-config's --static adds the system libraries it needs.
        [ -e "$prefix/lib/libsimvue.so" ] || pkgconfig="pkg-config --static"
        echo "-- CMAKE_PREFIX_PATH from spack load: ${CMAKE_PREFIX_PATH:-}"
        build="$work/consumer-$i"
        rm -rf "$build" "$cache"/*
        cmake -S "$src/tests/consumer" -B "$build/cmake" -DCMAKE_BUILD_TYPE=Release \
            -DCONSUMER_FORTRAN=$fortran -DSIMVUE_EXPECTED_VERSION="$version" >"$build.log" 2>&1 ||
            { cat "$build.log"; exit 1; }
        grep 'found simvue' "$build.log"
        case $(sed -n 's/^-- found simvue [^ ]* in //p' "$build.log") in
            "$prefix"/*) ;;
            *) echo "find_package(simvue) found another simvue than $prefix"; exit 1 ;;
        esac
        cmake --build "$build/cmake" -j2 >>"$build.log" 2>&1 || { cat "$build.log"; exit 1; }
        HOME="$cache" SIMVUE_OFFLINE_DIRECTORY="$cache/cmake" \
            "${offline[@]}" ctest --test-dir "$build/cmake" --output-on-failure
        n_cmake=$(find "$cache/cmake/runs" -name '*.json' | wc -l)
        echo "-- pkg-config: $($pkgconfig --cflags --libs simvue)"
        [ "$($pkgconfig --variable=prefix simvue)" = "$prefix" ] ||
            { echo "pkg-config found another simvue than $prefix"; exit 1; }
        mkdir -p "$build/make"
        make -s -C "$build/make" -f "$src/tests/consumer/Makefile" SRC="$src/tests/consumer" \
            PKG_CONFIG="$pkgconfig" CC=gcc CXX=g++ FC="$fc" all
        HOME="$cache" SIMVUE_OFFLINE_DIRECTORY="$cache/make" "${offline[@]}" \
            make -s -C "$build/make" -f "$src/tests/consumer/Makefile" SRC="$src/tests/consumer" \
            PKG_CONFIG="$pkgconfig" CC=gcc CXX=g++ FC="$fc" check
        n_make=$(find "$cache/make/runs" -name '*.json' | wc -l)
        echo "-- offline runs written: $n_cmake (CMake consumers), $n_make (pkg-config consumers)"
        # One run per program: C (shared and static), C++ and Fortran; pkg-config: C, C++, Fortran.
        want_cmake=3 want_make=2
        [ "$fortran" = ON ] && want_cmake=4 want_make=3
        [ "$n_cmake" = "$want_cmake" ] && [ "$n_make" = "$want_make" ] ||
            { echo "FAIL: expected $want_cmake and $want_make runs"; exit 1; }
    )
    echo "ok: $spec"
done
echo "== test-spack.sh: ${#specs[@]} spec(s) installed with Spack and used: ${specs[*]}"
