"""Runs the Fortran module tests and checks the offline cache they write (ctest: test_fortran).

Usage: check_fortran.py TEST_FORTRAN TEST_FORTRAN_STOP
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

problems: list[str] = []


def expect(cond: bool, what: str) -> None:
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        problems.append(what)


def run(exe: str, work: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMVUE_")}
    env.update(HOME=str(work), SIMVUE_OFFLINE_DIRECTORY=str(work / "cache"))
    exe = str(Path(exe).resolve())
    res = subprocess.run([exe], cwd=work, env=env, capture_output=True, text=True, timeout=60)
    print(f"$ {Path(exe).name} (exit {res.returncode})\n{res.stdout}{res.stderr}")
    return res


def load(cache: Path, kind: str) -> dict[str, dict]:
    return {f.stem: json.loads(f.read_text()) for f in (cache / kind).glob("*.json")}


def main() -> int:
    test, stop = sys.argv[1:3]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        res = run(test, work)
        expect(res.returncode == 0 and "done 0" in res.stdout, "test_fortran: every check passed")
        expect("continued after a suppressed error" in res.stdout, "suppressed error: went on")
        # The library prints a suppressed error itself; the binding must not print it again.
        expect("[simvue] error: the run is closed" in res.stderr and "simvue: log_metrics: " not in res.stderr,
               "suppressed error: printed by the library, not again by the binding")
        ids = dict(line.split()[1:3] for line in res.stdout.splitlines() if line.startswith("RUN "))
        cache = work / "cache"
        runs, metrics, events = load(cache, "runs"), load(cache, "metrics"), load(cache, "events")
        alerts, folders = load(cache, "alerts"), load(cache, "folders")
        expect(len(runs) == 2, f"two runs in the cache (the disabled one writes nothing): {len(runs)}")

        d = runs.get(ids.get("defaults"), {})
        expect(d.get("folder") == "/" and "-" in d.get("name", ""),
               f"absent arguments: folder / and a random name ({d.get('folder')}, {d.get('name')})")
        expect(d.get("tags") == [] and d.get("description") is None and d.get("status") == "completed",
               f"absent arguments: no tags, no description, completed ({d.get('tags')}, "
               f"{d.get('description')!r}, {d.get('status')})")
        sets = [m for b in metrics.values() if b["run"] == ids.get("defaults") for m in b["metrics"]]
        expect([m["values"] for m in sets] == [{"a": 1.0}],
               f"absent arguments: one metric set, nothing logged after close ({sets})")

        t = runs.get(ids.get("trim"), {})
        expect(t.get("name") == "trim-test", f"name trimmed: {t.get('name')!r}")
        expect(t.get("folder") == "/fortran/trim", f"folder trimmed: {t.get('folder')!r}")
        expect(t.get("description") == "described", f"description trimmed: {t.get('description')!r}")
        expect(t.get("tags") == ["a", "bb", "ccc", "later"], f"tags trimmed: {t.get('tags')}")
        expect(t.get("status") == "terminated", f"status set through a copy: {t.get('status')}")
        expect((t.get("ttl"), t.get("heartbeat_timeout"), t.get("notifications"), t.get("visibility"))
               == (1800, None, {"state": "error"}, {"tenant": False, "public": False, "users": ["alice", "bob"]}),
               f"init options: {t.get('ttl')}, {t.get('heartbeat_timeout')}, {t.get('notifications')}, "
               f"{t.get('visibility')}")
        expect(t.get("metadata", {}).get("shell") == {"HOME": str(work)}, f"record_shell_vars: {t.get('metadata')}")
        md = t.get("metadata", {})
        want = {"int32": 7, "int64": 8000000000, "real32": 0.5, "real64": 0.0, "logical": True,
                "string": "  leading kept, trailing trimmed", "json": 1, "updated": True}
        for k, v in want.items():
            got = md.get(k, "<missing>")
            expect(got == v and type(got) is type(v), f"metadata {k} = {got!r} ({type(got).__name__})")
        sets = [m for b in metrics.values() if b["run"] == ids.get("trim") for m in b["metrics"]]
        got = [(m["step"], m["values"]) for m in sets]
        expect(got == [(5, {"m1": 1.0, "m2": 2.0}), (6, {"m3": 3.0}), (7, {"m4": 4.0}),
                       (8, {"m5": 5.0}), (9, {"m1": 1.5})], f"metric names trimmed, steps given: {got}")
        arrays = [i for f in load(cache, "grid_metrics").values() for i in f["data"]]
        expect([(i["metric"], i["step"], i["array"]) for i in arrays]
               == [("field", 10, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])],
               f"a column-major array lands as the nested list of its rows along x: {arrays}")
        units = md.get("simvue", {}).get("metrics", {})
        expect(units == {"m1": {"units": "km", "mks_conversion": 1000.0, "mks_units": "m"},
                         "m2": {"units": "weird", "mks_conversion": 2.0, "mks_units": "m"}},
               f"set_metric_units: {units}")
        art_md = sorted((a["name"], a["metadata"]) for a in load(cache, "artifacts").values()
                        if a["metadata"] is not None)
        expect(art_md == [("input.txt", {"kind": "deck"}), ("ints.bin", {"n": 2})],
               f"artifact metadata: {art_md}")
        expect(sets and sets[0]["time"] == 1.5 and sets[0]["timestamp"] == "2024-01-02T03:04:05.000006",
               f"time and timestamp given: {sets[0]['time'] if sets else None}, "
               f"{sets[0]['timestamp'] if sets else None}")
        evs = [e for b in events.values() if b["run"] == ids.get("trim") for e in b["events"]]
        expect([(e["message"], e["log_level"]) for e in evs] == [("event with blanks", "warning")],
               f"event message trimmed, level given: {evs}")
        names = sorted(a["name"] for a in alerts.values())
        expect(names == ["above", "ev", "events-alert", "rg", "th", "ua"], f"alerts: {names}")
        by_name = {a["name"]: a for a in alerts.values()}
        th, rg, ua = by_name.get("th", {}), by_name.get("rg", {}), by_name.get("ua", {})
        expect((th.get("metric"), th.get("description"), th.get("window"), th.get("frequency"),
                th.get("aggregation"), th.get("notification"), th.get("abort"))
               == ("m1", "dd", 3, 2, "at least one", "email", True), f"threshold alert options: {th}")
        expect((rg.get("window"), rg.get("frequency"), rg.get("aggregation"), rg.get("notification"),
                rg.get("abort"), rg.get("description")) == (1, 1, "average", "none", False, None),
               f"range alert with Python's defaults: {rg}")
        expect(by_name.get("ev", {}).get("pattern") == "boom", "event alert pattern trimmed")
        expect(ua.get("source") == "user" and list(ua.get("status", {}).values()) == ["critical"],
               f"user alert and its state: {ua}")
        attached = sorted(alerts[a]["name"] for a in t.get("alerts", []) if a in alerts)
        expect(attached == ["above", "ev", "rg", "th", "ua"], f"alerts attached to the run: {attached}")
        above = next((a for a in alerts.values() if a["name"] == "above"), {})
        expect(above.get("metric") == "m1" and above.get("window") == 2,
               f"alert metric trimmed, window defaults to the frequency: {above}")
        arts = sorted((a["name"], a["size"], next(iter(a["runs"].values())), a["obj_type"])
                      for a in load(cache, "artifacts").values())
        expect(arts == [("field.bin", 24, "output", "ObjectArtifact"),
                        ("input.txt", 6, "code", "FileArtifact"),
                        ("input.txt", 6, "input", "FileArtifact"),
                        ("ints.bin", 8, "output", "ObjectArtifact"),
                        ("note.txt", 6, "output", "ObjectArtifact"),
                        ("result.txt", 5, "output", "FileArtifact")],
               f"artifacts (name, size, category): {arts}")
        fold = next((f for f in folders.values() if f["path"] == "/fortran/trim"), {})
        expect(fold.get("tags") == ["x", "y"] and fold.get("description") == "folder"
               and fold.get("metadata") == {"f": 1}, f"folder details: {fold}")

    with tempfile.TemporaryDirectory() as tmp:
        res = run(stop, Path(tmp))
        expect(res.returncode != 0, "suppress_errors off: the program stops")
        expect("simvue: log_metrics: " in res.stderr and "SIMVUE_ERROR_CLOSED" in res.stderr,
               "suppress_errors off: the message is printed")
        expect("not reached" not in res.stdout, "suppress_errors off: nothing runs after it")
        runs = {r["name"]: r for r in load(Path(tmp) / "cache", "runs").values()}
        status = {name: r["status"] for name, r in runs.items()}
        expect(status == {"stop-test": "completed", "left-open": "failed"},
               f"error stop: the run left open is failed, the closed one completed: {status}")
        evs = [e["message"] for b in load(Path(tmp) / "cache", "events").values()
               for e in b["events"]]
        expect(any(f"exited with status {res.returncode}" in m for m in evs),
               f"error stop: an event gives the exit status: {evs}")
        sets = [m["values"] for b in load(Path(tmp) / "cache", "metrics").values()
                for m in b["metrics"]]
        expect(sets == [{"b": 2.0}], f"error stop: what the open run logged is kept: {sets}")

    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
