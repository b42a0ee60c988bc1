"""The heat1d examples in C++ and Fortran write the same offline records as the C one.

Each program runs with the same arguments into its own offline cache; every cache is compared
with the reference (examples-c/heat1d.c): the same files per kind, and in every record the same
keys in the same order, the same JSON types and the same values. Not compared: ids (offline
file names, run/alert references: alerts are matched by name), times (created, started,
endtime, metric time and timestamps, event timestamps), and the intended differences: the
metadata value `language` and the saved source (the code artifact: each program saves its own
file, so only its presence, category, record shape and MIME type, Python's guess for its name,
are compared). Metric values are compared with a tight tolerance (a Fortran compiler may
contract a*b+c into one rounding on machines with FMA).

Saved files (artifacts/): the input deck heat1d.in, the field heat1d_field.csv (a snapshot copy
in the cache) and summary.json (bytes in <id>.object) are matched by name; their records must be
equal but for the run id and the paths into each cache, and the deck, the snapshot copy and the
object bytes must be byte-identical to the reference's ("%.6f" numbers in every language).

Usage: compare_caches.py --reference heat1d PROGRAM... [--args NX STEPS]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import mimetypes
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TIMES = {"created", "started", "endtime", "time", "timestamp"}


def jtype(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    return {int: "int", float: "float", str: "string", list: "array", dict: "object"}[type(v)]


def same_number(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def diff(ours, ref, path: str, ignore_values: frozenset[str] = frozenset()) -> list[str]:
    """Keys (with order), JSON types and values of two records; times are only type-checked."""
    if jtype(ours) != jtype(ref):
        return [f"{path}: type {jtype(ours)}, reference {jtype(ref)}"]
    out: list[str] = []
    if isinstance(ref, dict):
        if list(ours) != list(ref):
            out.append(f"{path}: keys {list(ours)}, reference {list(ref)}")
        for k in ref:
            if k in ours and k not in TIMES:
                out += diff(ours[k], ref[k], f"{path}.{k}", ignore_values)
    elif isinstance(ref, list):
        if len(ours) != len(ref):
            out.append(f"{path}: {len(ours)} elements, reference {len(ref)}")
        for i, (x, y) in enumerate(zip(ours, ref)):
            out += diff(x, y, f"{path}[{i}]", ignore_values)
    elif path not in ignore_values and not same_number(ours, ref):
        out.append(f"{path}: {ours!r}, reference {ref!r}")
    return out


class Cache:
    def __init__(self, root: Path):
        self.root = root
        self.kinds = sorted(p.name for p in root.iterdir() if p.is_dir())
        self.obj = {k: {f.stem: json.loads(f.read_text()) for f in sorted((root / k).glob("*.json"))}
                    for k in self.kinds}

    def run(self) -> tuple[str, dict]:
        runs = self.obj.get("runs", {})
        assert len(runs) == 1, f"{self.root}: {len(runs)} runs"
        return next(iter(runs.items()))

    def items(self, kind: str) -> list[dict]:
        """All metric sets or events, in the order they were logged."""
        batches = sorted(self.obj.get(kind, {}).values(),
                         key=lambda b: min((i["timestamp"] for i in b[kind]), default=""))
        return [i for b in batches for i in b[kind]]

    def markers(self) -> list[str]:
        """Suffixes of the files in runs/, without `heartbeat`: the library's dispatcher thread
        writes the first heartbeat only once it has been scheduled, and a run closed before
        that has none (a race in src/dispatch.rs, reported; not a difference of the bindings)."""
        return sorted(s for f in (self.root / "runs").iterdir()
                      if (s := f.name.partition(".")[2]) != "heartbeat")


def artifacts(c: Cache, rid: str, what: str, out: list[str]) -> dict[str, tuple[str, dict]]:
    """{name: (offline id, record)} of a cache's artifacts, each checked to belong to the run."""
    arts: dict[str, tuple[str, dict]] = {}
    for oid, a in c.obj.get("artifacts", {}).items():
        if a.get("name") in arts:
            out.append(f"{what}: artifact {a.get('name')} recorded twice")
        if list(a.get("runs") or {}) != [rid]:
            out.append(f"{what}: artifact {a.get('name')} attached to {a.get('runs')}, not {rid}")
        arts[a.get("name")] = (oid, a)
    return arts


def artifact_bytes(c: Cache, oid: str, a: dict) -> bytes | None:
    """The bytes the cache holds for an artifact: a snapshot copy, a buffer's <id>.object, or
    None for a file read at upload time."""
    if a.get("obj_type") == "ObjectArtifact":
        return (c.root / "artifacts" / f"{oid}.object").read_bytes()
    p = Path(a.get("original_path", ""))
    return p.read_bytes() if p.parent == c.root / "artifacts" else None


def compare_artifacts(ours: Cache, rid_o: str, ref: Cache, rid_r: str) -> list[str]:
    out: list[str] = []
    ao = artifacts(ours, rid_o, "ours", out)
    ar = artifacts(ref, rid_r, "reference", out)

    def code(arts: dict[str, tuple[str, dict]], rid: str, what: str) -> dict | None:
        found = [n for n, (_, a) in arts.items() if (a.get("runs") or {}).get(rid) == "code"]
        if len(found) != 1:
            out.append(f"{what}: {len(found)} code artifacts")
            return None
        _, a = arts.pop(found[0])
        guess = mimetypes.guess_type(a["name"])[0] or "application/octet-stream"
        if a.get("obj_type") != "FileArtifact" or a.get("mime_type") != guess:
            out.append(f"{what}: code artifact {a['name']}: {a.get('obj_type')} {a.get('mime_type')}, "
                       f"expected a FileArtifact of type {guess}")
        if Path(a.get("file_path", "")).name != a["name"] or not Path(a["file_path"]).is_file():
            out.append(f"{what}: code artifact {a['name']} file_path {a.get('file_path')!r}")
        return a

    co, cr = code(ao, rid_o, "ours"), code(ar, rid_r, "reference")
    if co and cr:
        # another file: the same keys, order and types, and the same category
        if list(co) != list(cr):
            out.append(f"artifact[code]: keys {list(co)}, reference {list(cr)}")
        for k in cr:
            if k in co and jtype(co[k]) != jtype(cr[k]):
                out.append(f"artifact[code].{k}: type {jtype(co[k])}, reference {jtype(cr[k])}")
        for k in ("storage", "metadata"):
            if co.get(k) != cr.get(k):
                out.append(f"artifact[code].{k}: {co.get(k)!r}, reference {cr.get(k)!r}")
        if list(co["runs"].values()) != list(cr["runs"].values()):
            out.append(f"artifact[code]: category {co['runs']}, reference {cr['runs']}")

    if sorted(ao) != sorted(ar):
        out.append(f"artifact names {sorted(ao)}, reference {sorted(ar)}")
    for name in sorted(set(ao) & set(ar)):
        (oid_o, o), (oid_r, r) = ao[name], ar[name]
        path = f"artifact[{name}]"
        # the run id (a key of runs) and where a snapshot copy is (in each cache: original_path
        # and, as simvue 2.6.2 writes it, file_path) differ
        o_, r_ = dict(o, runs=list(o["runs"].values())), dict(r, runs=list(r["runs"].values()))
        ignore = {f"{path}.original_path", f"{path}.file_path"} if (
            Path(o.get("original_path", "")).parent == ours.root / "artifacts") else set()
        out += diff(o_, r_, path, frozenset(ignore))
        bo, br = artifact_bytes(ours, oid_o, o), artifact_bytes(ref, oid_r, r)
        if (bo is None) != (br is None):
            out.append(f"{path}: a copy in one cache only")
        elif bo is not None:
            if bo != br:
                out.append(f"{path}: bytes differ from the reference's")
            if hashlib.sha256(bo).hexdigest() != o.get("checksum") or len(bo) != o.get("size"):
                out.append(f"{path}: the cached bytes do not match the recorded checksum/size")
    for name in ("heat1d.in", "heat1d_field.csv", "summary.json"):
        if name not in ao:
            out.append(f"no artifact {name}")
    return out


def compare(ours: Cache, ref: Cache) -> list[str]:
    out: list[str] = []
    if ours.kinds != ref.kinds:
        return [f"kinds of records {ours.kinds}, reference {ref.kinds}"]
    for kind in ("folders", "runs", "alerts"):
        if len(ours.obj[kind]) != len(ref.obj[kind]):
            out.append(f"{kind}: {len(ours.obj[kind])} files, reference {len(ref.obj[kind])}")
    if ours.markers() != ref.markers():
        out.append(f"runs/ files {ours.markers()}, reference {ref.markers()}")

    (fo,), (fr,) = ours.obj["folders"].values(), ref.obj["folders"].values()
    out += diff(fo, fr, "folder")

    rid_o, ro = ours.run()
    rid_r, rr = ref.run()

    def alert_names(c: Cache, run: dict) -> list[str]:
        return [c.obj["alerts"][a]["name"] for a in run["alerts"]]

    if alert_names(ours, ro) != alert_names(ref, rr):
        out.append(f"run.alerts {alert_names(ours, ro)}, reference {alert_names(ref, rr)}")
    ro_, rr_ = dict(ro), dict(rr)
    ro_["alerts"], rr_["alerts"] = [], []  # ids, compared by name above
    out += diff(ro_, rr_, "run", frozenset({"run.metadata.language"}))

    by_name_o = {a["name"]: a for a in ours.obj["alerts"].values()}
    by_name_r = {a["name"]: a for a in ref.obj["alerts"].values()}
    if sorted(by_name_o) != sorted(by_name_r):
        out.append(f"alert names {sorted(by_name_o)}, reference {sorted(by_name_r)}")
    for name in sorted(set(by_name_o) & set(by_name_r)):
        out += diff(by_name_o[name], by_name_r[name], f"alert[{name}]")

    out += compare_artifacts(ours, rid_o, ref, rid_r)

    for kind in ("metrics", "events"):
        for oid, batch in ours.obj[kind].items():
            if batch.get("run") != rid_o:
                out.append(f"{kind}/{oid}: run {batch.get('run')}, not {rid_o}")
            b_ref = next(iter(ref.obj[kind].values()))
            if list(batch) != list(b_ref):
                out.append(f"{kind}/{oid}: keys {list(batch)}, reference {list(b_ref)}")
        out += diff(ours.items(kind), ref.items(kind), kind)
    return out


def record(program: str, args: list[str], work: Path) -> Cache:
    cache = work / Path(program).name
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMVUE_")}
    # Quiet: the lines the library prints about every run are not failures; errors still show.
    env.update(HOME=str(work / "home"), SIMVUE_OFFLINE_DIRECTORY=str(cache), SIMVUE_QUIET="1")
    (work / "home").mkdir(exist_ok=True)
    # The same working directory for all: the run records it (system.cwd).
    program = str(Path(program).resolve())
    res = subprocess.run([program, *args], cwd=work, env=env, capture_output=True, text=True,
                         timeout=120)
    print(f"$ {Path(program).name} {' '.join(args)}\n{res.stdout}{res.stderr}", end="")
    if res.returncode != 0:
        raise SystemExit(f"{program} exited with {res.returncode}")
    if res.stderr.strip():
        raise SystemExit(f"{program} wrote to stderr (a tracking call failed)")
    return Cache(cache)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True, help="the C example")
    ap.add_argument("--args", nargs=2, default=["32", "200"], metavar=("NX", "STEPS"))
    ap.add_argument("programs", nargs="+")
    a = ap.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ref = record(a.reference, a.args, work)
        n_metrics = len(ref.items("metrics"))
        print(f"reference: {n_metrics} metric sets, {len(ref.items('events'))} events, "
              f"{len(ref.obj['alerts'])} alerts")
        assert n_metrics > 0
        for prog in a.programs:
            d = compare(record(prog, a.args, work), ref)
            name = Path(prog).name
            if d:
                failed += 1
                print(f"FAIL {name}: {len(d)} difference(s) from {Path(a.reference).name}:\n  "
                      + "\n  ".join(d[:40]))
            else:
                print(f"ok   {name}: the same records as {Path(a.reference).name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
