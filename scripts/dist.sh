#!/usr/bin/env bash
# Writes dist/simvue-<version>.tar.gz, the release tarball: the sources, every crate they need
# vendored in vendor/ (`cargo vendor`), and .cargo/config.toml telling cargo to use those and
# never the network. Unpacked on a machine with no network and an empty CARGO_HOME,
#
#   cmake -S simvue-<version> -B build && cmake --build build && cmake --install build
#
# builds and installs libsimvue (tests/packaging/dist-build.sh checks it).
#
# The sources are the checkout's files that git tracks or would track (untracked files that are
# not ignored: what a commit would hold), as they are in the working tree. Crates only needed on
# other systems than Linux (windows-*, wasm-*, ...) are vendored as stubs: their manifest and an
# empty library, which is all cargo reads of a package it does not build (this is what keeps the
# tarball small: the Windows import libraries alone weigh 370 MB).
#
# Usage: scripts/dist.sh [OUT_DIR]      (default dist/; prints the tarball's path, and its
#                                       sha256 for the Spack and EasyBuild recipes on stderr)
# Needs git, cargo (crates it has not cached are downloaded once) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)

version=$(python3 -c 'import tomllib; print(tomllib.load(open("Cargo.toml", "rb"))["package"]["version"])')
name="simvue-$version"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"

# 1. The sources.
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done |
    tar --null --files-from=- -cf - | tar -xf - -C "$stage/$name"

# 2. The crates, for every platform (Cargo.lock names them all), then the stubs.
cargo vendor --locked --quiet --manifest-path "$stage/$name/Cargo.toml" "$stage/$name/vendor" \
    >/dev/null
linux_targets=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu powerpc64le-unknown-linux-gnu)
cargo tree --locked --offline --manifest-path "$stage/$name/Cargo.toml" --prefix none \
    -e normal,build,dev ${linux_targets[@]/#/--target } >"$stage/linux-crates.txt"
python3 - "$stage/$name/vendor" "$stage/linux-crates.txt" <<'PY'
"""Replaces each vendored crate that no Linux build uses by a stub cargo accepts."""
import json, shutil, sys, tomllib
from pathlib import Path

vendor, tree = Path(sys.argv[1]), Path(sys.argv[2]).read_text()
used = {tuple(line.split()[:2]) for line in tree.splitlines() if line.strip()}
stubbed = 0
for crate in sorted(p for p in vendor.iterdir() if p.is_dir()):
    manifest = tomllib.loads((crate / "Cargo.toml").read_text())
    pkg = manifest["package"]
    if (pkg["name"], "v" + pkg["version"]) in used:
        continue
    checksum = json.loads((crate / ".cargo-checksum.json").read_text())
    keep = (crate / "Cargo.toml").read_bytes()
    shutil.rmtree(crate)
    crate.mkdir()
    (crate / "Cargo.toml").write_bytes(keep)
    # Every source file the manifest names exists, empty: cargo reads the manifest only.
    paths = {"src/lib.rs"}
    lib = manifest.get("lib", {})
    if "path" in lib:
        paths.add(lib["path"])
    if isinstance(pkg.get("build"), str):
        paths.add(pkg["build"])
    for kind in ("bin", "example", "test", "bench"):
        paths.update(t["path"] for t in manifest.get(kind, []) if "path" in t)
    for rel in paths:
        (crate / rel).parent.mkdir(parents=True, exist_ok=True)
        (crate / rel).write_text("")
    # The package checksum (Cargo.lock's) stays; no file is checked.
    (crate / ".cargo-checksum.json").write_text(
        json.dumps({"files": {}, "package": checksum.get("package")}))
    stubbed += 1
print(f"dist: {len(list(vendor.iterdir()))} crates vendored, {stubbed} of them as stubs "
      "(not used on Linux)", file=sys.stderr)
PY

# 3. The cargo configuration that uses them.
mkdir -p "$stage/$name/.cargo"
cat >"$stage/$name/.cargo/config.toml" <<'EOF'
# Written by scripts/dist.sh: build with the crates in vendor/, never with the network.
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "vendor"

[net]
offline = true
EOF

# 4. The tarball: files in a fixed order, owned by root, dated by the last commit.
mtime=$(git log -1 --format=%ct 2>/dev/null || date +%s)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" \
    -C "$stage" -cf - "$name" | gzip -n >"$out/$name.tar.gz"
sha=$(sha256sum "$out/$name.tar.gz" | cut -d' ' -f1)
echo "dist: sha256 $sha (Spack: version(\"$version\", sha256=\"$sha\");" \
    "EasyBuild: checksums = ['$sha'])" >&2
echo "$out/$name.tar.gz"
