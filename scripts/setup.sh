#!/usr/bin/env bash
# Installs what building and testing libsimvue needs on a fresh Debian machine: a C compiler,
# CMake, valgrind, Doxygen and Python's venv module from Debian, and (optional) gfortran, LLVM
# flang and OpenMPI; the Rust toolchain must already be there.
# Only installs what is missing, and only as root (otherwise it says what to install).
set -euo pipefail

missing=()
command -v cc >/dev/null || missing+=(gcc)
command -v c++ >/dev/null || missing+=(g++)
command -v cmake >/dev/null || missing+=(cmake)
command -v valgrind >/dev/null || missing+=(valgrind)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v doxygen >/dev/null || missing+=(doxygen)
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
# Optional: the Fortran module and the MPI examples are built and tested only when these are
# there (the Fortran parts a second time with LLVM flang, Debian's flang-19); they are installed
# as root, and otherwise only mentioned.
optional=()
command -v gfortran >/dev/null || optional+=(gfortran)
command -v flang-new-19 >/dev/null || command -v flang-new >/dev/null || optional+=(flang-19)
command -v mpicc >/dev/null || optional+=(libopenmpi-dev)
command -v mpiexec >/dev/null || optional+=(openmpi-bin)
if [ ${#optional[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        missing+=("${optional[@]}")
    else
        echo "setup: optional, for the Fortran module (gfortran, flang) and the MPI examples: ${optional[*]}" >&2
    fi
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "setup: please install: ${missing[*]}" >&2
        exit 1
    fi
fi
command -v cargo >/dev/null || { echo "setup: cargo (Rust) is required" >&2; exit 1; }
