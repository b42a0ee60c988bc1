"""libsimvue's offline cache against the one the official Python client (simvue 2.6.2) writes.

``simvue-sender`` (Python) uploads whatever is in the cache, so libsimvue must write the same
files, with the same keys in the same order and the same JSON types, as ``simvue.Run`` does
offline.  The heat1d C example and ``scenario_heat.py`` (the same tracking calls in Python)
each write a cache; the tests compare them structurally.  Values that cannot match (ids,
timestamps, timings, the Python package list) are excluded, each with the reason where it is
excluded.

Run:  SIMVUE_PYREF=/path/to/venv-with-simvue-2.6.2/bin/python python3 -m pytest -q tests/python
(the fixtures shared with the rest of the Python suite are in tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import mimetypes
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness import offline_env, write_simvue_toml

TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
OFFLINE_ID_RE = re.compile(r"^offline_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
OBJECT_DIRS = ("folders", "runs", "alerts", "metrics", "events", "artifacts")
SNAPSHOT_RE = re.compile(r"^heat1d_field_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\d{3}\.file$")
HERE = Path(__file__).resolve().parent
HEAT_NX = 32
HEAT_STEPS = 200
METRIC_ITEM_KEYS = ["time", "timestamp", "step", "values"]
EVENT_ITEM_KEYS = ["message", "log_level", "timestamp"]


# --------------------------------------------------------------------------------------------
# helpers


def jtype(value) -> str:
    """The JSON type of a value as json.load returns it (int and float told apart)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(type(value))


def diff_shape(ours, theirs, path: str = "$", skip: frozenset[str] = frozenset()) -> list[str]:
    """Differences in keys, key order and JSON types between two JSON values, recursively.

    Values are not compared.  Paths in ``skip`` (e.g. ``$.metadata``) are not descended into.
    For arrays, the sets of element types are compared, and the first elements when both
    hold objects.
    """
    if path in skip:
        return []
    to, tt = jtype(ours), jtype(theirs)
    if to != tt:
        return [f"{path}: type ours={to} python={tt}"]
    out: list[str] = []
    if to == "object":
        missing = [k for k in theirs if k not in ours]
        extra = [k for k in ours if k not in theirs]
        if missing:
            out.append(f"{path}: keys missing in ours: {missing}")
        if extra:
            out.append(f"{path}: keys only in ours: {extra}")
        order_o = [k for k in ours if k in theirs]
        order_t = [k for k in theirs if k in ours]
        if order_o != order_t:
            out.append(f"{path}: key order ours={order_o} python={order_t}")
        for k in order_t:
            out += diff_shape(ours[k], theirs[k], f"{path}.{k}", skip)
    elif to == "array" and ours and theirs:
        so = sorted({jtype(v) for v in ours})
        st = sorted({jtype(v) for v in theirs})
        if so != st:
            out.append(f"{path}[]: element types ours={so} python={st}")
        elif so == ["object"]:
            out += diff_shape(ours[0], theirs[0], f"{path}[0]", skip)
    return out


class Cache:
    """An offline cache directory, loaded."""

    def __init__(self, root: Path):
        assert root.is_dir(), f"no cache was written at {root}"
        self.root = root
        self.subdirs = sorted(p.name for p in root.iterdir() if p.is_dir())
        self.json: dict[str, dict[str, object]] = {}  # subdir -> {stem: parsed}
        self.text: dict[Path, str] = {}
        for sub in self.subdirs:
            self.json[sub] = {}
            for f in sorted((root / sub).glob("*.json")):
                raw = f.read_bytes()
                self.text[f] = raw.decode("ascii", errors="replace")
                # simvue reads with the locale's default encoding; ASCII is checked separately
                self.json[sub][f.stem] = json.loads(raw.decode("utf-8"))

    def objects(self, sub: str) -> dict[str, dict]:
        return self.json.get(sub, {})

    def markers(self) -> dict[str, list[str]]:
        """{run id: sorted suffixes of its files in runs/}"""
        out: dict[str, list[str]] = {}
        runs = self.root / "runs"
        if runs.is_dir():
            for f in runs.iterdir():
                if f.name.startswith("."):
                    continue
                stem, _, suffix = f.name.partition(".")
                out.setdefault(stem, []).append(suffix)
        return {k: sorted(v) for k, v in out.items()}

    def single_run(self) -> tuple[str, dict]:
        runs = self.objects("runs")
        assert len(runs) == 1, f"{self.root}: expected one run, found {list(runs)}"
        return next(iter(runs.items()))

    def items(self, sub: str, key: str, run_id: str) -> list[dict]:
        """All metric sets / events of a run, batch files in the order of their first timestamp."""
        batches = [obj for obj in self.objects(sub).values() if obj.get("run") == run_id]
        batches.sort(key=lambda b: min((i.get("timestamp", "") for i in b.get(key, [])), default=""))
        return [item for b in batches for item in b.get(key, [])]


def fmt(diffs: list[str], what: str) -> str:
    return f"{what}: {len(diffs)} difference(s) from simvue 2.6.2:\n  " + "\n  ".join(diffs)


def python_dump_diff(text: str, compact: bool = False) -> str | None:
    """None if ``text`` is byte-for-byte what Python's json.dump(obj, indent=2) writes (with
    ``compact``: json.dump(obj, separators=(",", ":")), on one line)."""
    try:
        obj = json.loads(text)
    except ValueError as e:
        return f"not valid JSON for Python's json module: {e}"
    # ensure_ascii=True, no trailing newline
    expected = json.dumps(obj, separators=(",", ":")) if compact else json.dumps(obj, indent=2)
    if text == expected:
        return None
    if compact:
        at = next((i for i, (g, e) in enumerate(zip(text, expected)) if g != e), None)
        if at is None:
            return f"{len(text)} characters, json.dump writes {len(expected)}"
        return f"at {at}: ours {text[at - 20:at + 20]!r}, json.dump writes {expected[at - 20:at + 20]!r}"
    got_lines, exp_lines = text.split("\n"), expected.split("\n")
    for i, (g, e) in enumerate(zip(got_lines, exp_lines)):
        if g != e:
            return f"line {i + 1}: ours {g!r}, json.dump(indent=2) writes {e!r}"
    if text.endswith("\n") and not expected.endswith("\n"):
        return "trailing newline (json.dump writes none)"
    return f"{len(got_lines)} lines, json.dump(indent=2) writes {len(exp_lines)}"


def mask_numbers(message: str) -> str:
    return re.sub(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", "<n>", message)


def same_float(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300)
    return a == b


# --------------------------------------------------------------------------------------------
# fixtures local to this module


def run_checked(cmd: list[str], *, cwd: Path, env: dict[str, str], what: str, timeout: float = 300):
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        pytest.fail(
            f"{what} exited with {res.returncode}\ncmd: {cmd}\nstdout:\n{res.stdout}\n"
            f"stderr:\n{res.stderr}",
            pytrace=False,
        )
    return res


@pytest.fixture(scope="module")
def heat_workdir(tmp_path_factory) -> Path:
    """One working directory (with a simvue.toml) for both heat runs, so ``system.cwd`` matches."""
    work = tmp_path_factory.mktemp("heat")
    write_simvue_toml(work / "cwd")
    return work


@pytest.fixture(scope="module")
def ours_heat_cache(heat_workdir: Path, exes) -> Path:
    """The offline cache written by examples-c/heat1d.c through libsimvue."""
    cache = heat_workdir / "ours"
    res = run_checked(
        [str(exes["heat1d"]), str(HEAT_NX), str(HEAT_STEPS)],
        cwd=heat_workdir / "cwd",
        env=offline_env(heat_workdir / "home-ours", cache),
        what="heat1d",
    )
    if "failed" in res.stderr:
        pytest.fail(f"heat1d reported failed calls:\n{res.stderr}", pytrace=False)
    return cache


@pytest.fixture(scope="module")
def python_heat_cache(heat_workdir: Path, pyref: str) -> Path:
    """The offline cache written by simvue 2.6.2 for the same scenario (scenario_heat.py)."""
    cache = heat_workdir / "python"
    run_checked(
        [pyref, str(HERE / "scenario_heat.py"), str(HEAT_NX), str(HEAT_STEPS)],
        cwd=heat_workdir / "cwd",
        env=offline_env(heat_workdir / "home-python", cache),
        what="scenario_heat.py (simvue 2.6.2)",
    )
    return cache


@pytest.fixture
def run_env(tmp_path: Path):
    """``(cwd, env, cache)`` for a small C program writing to a fresh offline cache."""
    cwd = tmp_path / "cwd"
    write_simvue_toml(cwd)
    cache = tmp_path / "cache"
    return cwd, offline_env(tmp_path / "home", cache), cache


@pytest.fixture(scope="module")
def ours(ours_heat_cache: Path) -> Cache:
    return Cache(ours_heat_cache)


@pytest.fixture(scope="module")
def theirs(python_heat_cache: Path) -> Cache:
    return Cache(python_heat_cache)


@pytest.fixture(params=["ours", "python"])
def any_cache(request) -> Cache:
    return request.getfixturevalue("ours" if request.param == "ours" else "theirs")


# --------------------------------------------------------------------------------------------
# our files, on their own


def test_our_files_are_what_python_json_dump_writes(ours: Cache):
    """Every JSON file parses with Python's json module, is pure ASCII, and is exactly what
    ``json.dump(obj, indent=2)`` writes (2-space indent, ", "/": " separators, non-ASCII
    escaped, no trailing newline) -- simvue writes its cache that way and reads it with
    json.load in the locale's encoding. Metrics batches, the bulk of a cache, are written
    compact instead: exactly ``json.dump(obj, separators=(",", ":"))``, the same tokens and
    float digits without the whitespace, which json.load reads alike."""
    problems = []
    for path in sorted(ours.root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(ours.root)
        raw = path.read_bytes()
        if path.name.endswith(".json"):
            if path.name.startswith(".") or not OFFLINE_ID_RE.match(path.stem):
                problems.append(f"{rel}: not an offline_<uuid> name (a temp file?)")
            if not raw:
                problems.append(f"{rel}: empty")
                continue
            if not raw.isascii():
                problems.append(f"{rel}: not pure ASCII")
            err = python_dump_diff(raw.decode("utf-8", errors="replace"),
                                   compact=path.parent.name == "metrics")
            if err:
                problems.append(f"{rel}: {err}")
        elif path.parent.name == "runs" and path.suffix in (".heartbeat", ".closed"):
            if raw:
                problems.append(f"{rel}: marker file is not empty")
        elif path.parent.name == "artifacts" and path.suffix == ".object":
            # a saved buffer's bytes, next to its record (as simvue writes a saved object)
            if not path.with_suffix(".json").is_file():
                problems.append(f"{rel}: no record {path.stem}.json next to it")
        elif path.parent.name == "artifacts" and SNAPSHOT_RE.match(path.name):
            pass  # the snapshot copy of heat1d_field.csv, named as simvue names it
        else:
            problems.append(f"{rel}: unexpected file after a clean close (left-over temp file?)")
    assert not problems, "our cache files:\n  " + "\n  ".join(problems)


def test_our_timestamps_and_references(any_cache: Cache):
    """Timestamps have Python's format (naive UTC, microseconds, 'T'), and every reference
    (metrics/events ``run``, the run's ``alerts``) names a file in the cache.  Checked on the
    Python cache too, to validate the checks themselves."""
    c = any_cache
    problems = []
    runs = c.objects("runs")
    alerts = c.objects("alerts")
    for rid, run in runs.items():
        for key in ("created", "started", "endtime"):
            if key in run and not TIMESTAMP_RE.match(str(run[key])):
                problems.append(f"runs/{rid}.json: {key}={run[key]!r}")
        for aid in run.get("alerts", []):
            if aid not in alerts:
                problems.append(f"runs/{rid}.json: alert {aid} has no alerts/{aid}.json")
        if not any(f.get("path") == run.get("folder") for f in c.objects("folders").values()):
            problems.append(f"runs/{rid}.json: folder {run.get('folder')!r} has no folders/ file")
    for oid, art in c.objects("artifacts").items():
        if not art.get("runs") or any(r not in runs for r in art["runs"]):
            problems.append(f"artifacts/{oid}.json: runs {art.get('runs')!r} have no runs/ file")
    for sub, key in (("metrics", "metrics"), ("events", "events")):
        for oid, obj in c.objects(sub).items():
            if obj.get("run") not in runs:
                problems.append(f"{sub}/{oid}.json: run {obj.get('run')!r} has no runs/ file")
            for i, item in enumerate(obj.get(key, [])):
                if not TIMESTAMP_RE.match(str(item.get("timestamp"))):
                    problems.append(f"{sub}/{oid}.json: {key}[{i}].timestamp={item.get('timestamp')!r}")
    for sub in OBJECT_DIRS:
        for oid in c.objects(sub):
            if not OFFLINE_ID_RE.match(oid):
                problems.append(f"{sub}/{oid}.json: file name is not offline_<uuid>")
    assert not problems, f"{c.root}:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------------------------
# ours against simvue 2.6.2


def test_same_layout(ours: Cache, theirs: Cache):
    assert ours.subdirs == theirs.subdirs, (
        f"subdirectories: ours={ours.subdirs} python={theirs.subdirs}"
    )
    # metrics/events files are dispatcher batches (about one per second in both), so their
    # number depends on timing; the items inside are compared below.
    for sub in ("folders", "runs", "alerts", "artifacts"):
        assert len(ours.objects(sub)) == len(theirs.objects(sub)), (
            f"{sub}/: ours has {len(ours.objects(sub))} files, python {len(theirs.objects(sub))}"
        )
    for sub in ("metrics", "events"):
        assert ours.objects(sub), f"ours wrote no {sub}/ file"
    assert sorted(ours.markers().values()) == sorted(theirs.markers().values()), (
        f"runs/ marker files: ours={ours.markers()} python={theirs.markers()}"
    )
    assert all(s == ["closed", "heartbeat", "json"] for s in ours.markers().values())


def test_folder_matches(ours: Cache, theirs: Cache):
    (fo,) = ours.objects("folders").values()
    (ft,) = theirs.objects("folders").values()
    diffs = diff_shape(fo, ft)
    # folders hold no ids or times: every value must match (set_folder_details included)
    if fo != ft:
        diffs.append(f"values: ours={fo} python={ft}")
    assert not diffs, fmt(diffs, "folders/*.json")


def test_run_matches(ours: Cache, theirs: Cache):
    rid_o, ro = ours.single_run()
    rid_t, rt = theirs.single_run()
    # metadata: Python adds "python": {"environment": {<package>: <version>}} (the installed
    # packages); a C library has no equivalent, so only the user keys are compared, below.
    diffs = diff_shape(ro, rt, skip=frozenset({"$.metadata"}))

    # Values that must agree.  Not compared: "created"/"started"/"endtime" (times),
    # "alerts" (offline ids; compared by alert name below).  "tags" is compared as a set
    # because Python's update_tags does list(set(...)), so its order is arbitrary.
    # system: both programs ran in the same cwd on the same host, so everything matches
    # except system.pythonversion (Python's version; we write "", there is no Python).
    for key in ("obj_type", "folder", "status", "description", "name", "visibility", "ttl",
                "heartbeat_timeout", "notifications"):
        if ro.get(key) != rt.get(key):
            diffs.append(f"$.{key}: ours={ro.get(key)!r} python={rt.get(key)!r}")
    if sorted(ro.get("tags", [])) != sorted(rt.get("tags", [])):
        diffs.append(f"$.tags: ours={ro.get('tags')} python={rt.get('tags')}")
    so = dict(ro.get("system") or {})
    st = dict(rt.get("system") or {})
    so.pop("pythonversion", None)
    st.pop("pythonversion", None)
    if so != st:
        diffs.append(f"$.system (without pythonversion): ours={so} python={st}")

    # alerts: offline ids differ; Python's run.alerts is list(set(...)), so order is arbitrary.
    # Compare the names of the alerts they point to.
    def alert_names(c: Cache, run: dict) -> list:
        return sorted(c.objects("alerts").get(a, {}).get("name", a) for a in run.get("alerts", []))

    if alert_names(ours, ro) != alert_names(theirs, rt):
        diffs.append(f"$.alerts: ours -> {alert_names(ours, ro)} python -> {alert_names(theirs, rt)}")

    # metadata: the user keys (nx, alpha, scheme, dt, language, t_final) with their JSON types
    # and values (same solver, same parameters).  Key order is not compared: it only depends on
    # how each program merges the pre-init keys into the init metadata.
    mo = dict(ro.get("metadata") or {})
    mt = dict(rt.get("metadata") or {})
    assert isinstance(mt.pop("python", None), dict), "python run has no metadata.python"
    if sorted(mo) != sorted(mt):
        diffs.append(f"$.metadata keys: ours={sorted(mo)} python={sorted(mt)}")
    for k in sorted(set(mo) & set(mt)):
        if jtype(mo[k]) != jtype(mt[k]):
            diffs.append(f"$.metadata.{k}: type ours={jtype(mo[k])} python={jtype(mt[k])}")
        elif not same_float(mo[k], mt[k]):
            diffs.append(f"$.metadata.{k}: ours={mo[k]!r} python={mt[k]!r}")
    assert not diffs, fmt(diffs, f"runs/{rid_o}.json vs runs/{rid_t}.json")


def test_alerts_match(ours: Cache, theirs: Cache):
    by_name_o = {a["name"]: a for a in ours.objects("alerts").values()}
    by_name_t = {a["name"]: a for a in theirs.objects("alerts").values()}
    assert sorted(by_name_o) == sorted(by_name_t), (
        f"alert names: ours={sorted(by_name_o)} python={sorted(by_name_t)}"
    )
    diffs = []
    for name in sorted(by_name_t):
        ao, at = by_name_o[name], by_name_t[name]
        diffs += [f"[{name}] {d}" for d in diff_shape(ao, at)]
        # alert files hold no ids or times: the definitions must be identical
        for k in at:
            if k in ao and ao[k] != at[k]:
                diffs.append(f"[{name}] $.{k}: ours={ao[k]!r} python={at[k]!r}")
    assert not diffs, fmt(diffs, "alerts/*.json")


def test_metrics_match(ours: Cache, theirs: Cache):
    rid_o, _ = ours.single_run()
    rid_t, _ = theirs.single_run()
    diffs = []
    for oid, obj in ours.objects("metrics").items():
        # top level of every batch file: obj_type, run, metrics (same order and types)
        diffs += [f"metrics/{oid}.json {d}" for d in
                  diff_shape(obj, next(iter(theirs.objects("metrics").values())),
                             skip=frozenset({"$.metrics"}))]
    io = ours.items("metrics", "metrics", rid_o)
    it = theirs.items("metrics", "metrics", rid_t)
    for i, item in enumerate(io):
        if list(item) != METRIC_ITEM_KEYS:
            diffs.append(f"metrics[{i}] keys {list(item)}, expected {METRIC_ITEM_KEYS}")
        if jtype(item.get("values")) != "object" or not all(
            jtype(v) in ("float", "int") for v in item.get("values", {}).values()
        ):
            diffs.append(f"metrics[{i}].values: {item.get('values')!r}")
    if io and it:
        diffs += [f"metrics[0]{d[1:]}" for d in diff_shape(io[0], it[0])]
        # item types: time float, timestamp string, step int, values object
        types_o = sorted({tuple(jtype(x[k]) for k in METRIC_ITEM_KEYS if k in x) for x in io})
        types_t = sorted({tuple(jtype(x[k]) for k in METRIC_ITEM_KEYS if k in x) for x in it})
        if types_o != types_t:
            diffs.append(f"item types (time, timestamp, step, values): ours={types_o} python={types_t}")
    # steps are explicit (log_metrics with step=n): same sequence of (step, names)
    seq_o = [(x.get("step"), list(x.get("values", {}))) for x in io]
    seq_t = [(x.get("step"), list(x.get("values", {}))) for x in it]
    if seq_o != seq_t:
        diffs.append(f"(step, metric names) sequence:\n    ours={seq_o}\n    python={seq_t}")
    else:
        # same solver, same libm: the values agree (checks our float formatting round-trips)
        for x, y in zip(io, it):
            for k in y["values"]:
                if not same_float(x["values"][k], y["values"][k]):
                    diffs.append(f"step {x['step']} {k}: ours={x['values'][k]!r} "
                                 f"python={y['values'][k]!r}")
    assert not diffs, fmt(diffs, "metrics")


def test_events_match(ours: Cache, theirs: Cache):
    rid_o, _ = ours.single_run()
    rid_t, _ = theirs.single_run()
    diffs = []
    for oid, obj in ours.objects("events").items():
        diffs += [f"events/{oid}.json {d}" for d in
                  diff_shape(obj, next(iter(theirs.objects("events").values())),
                             skip=frozenset({"$.events"}))]
    eo = ours.items("events", "events", rid_o)
    et = theirs.items("events", "events", rid_t)
    for i, item in enumerate(eo):
        if list(item) != EVENT_ITEM_KEYS or not all(jtype(v) == "string" for v in item.values()):
            diffs.append(f"events[{i}]: {item!r}, expected string keys {EVENT_ITEM_KEYS}")
    # numbers in messages ("finished 200 steps, t = 8.3247, ...") come from the solver;
    # compare messages with the numbers masked, and the levels exactly.
    mo = [(mask_numbers(e.get("message", "")), e.get("log_level")) for e in eo]
    mt = [(mask_numbers(e.get("message", "")), e.get("log_level")) for e in et]
    if mo != mt:
        diffs.append(f"(message, log_level) sequence:\n    ours={mo}\n    python={mt}")
    assert not diffs, fmt(diffs, "events")


def test_artifacts_match(ours: Cache, theirs: Cache):
    """The saved files: heat1d.c and scenario_heat.py save the input deck (input), their own
    source (code), the final field as a snapshot (output) and a summary from memory (output).
    Each record has simvue's keys in its order and its JSON types; the deck and the field have
    the same bytes in both; the source differs (C and Python), so only its presence, category and
    type (Python's guess for its name) are compared."""
    rid_o, _ = ours.single_run()
    rid_t, _ = theirs.single_run()
    diffs: list[str] = []

    def by_name(c: Cache, rid: str, what: str) -> dict[str, dict]:
        out = {}
        for oid, art in c.objects("artifacts").items():
            if art.get("name") in out:
                diffs.append(f"{what}: artifact {art['name']} recorded twice")
            out[art.get("name")] = dict(art, _id=oid)
            if art.get("runs") != {rid: art.get("runs", {}).get(rid)}:
                diffs.append(f"{what}: {art.get('name')} runs {art.get('runs')}, not just {rid}")
        return out

    ao, at = by_name(ours, rid_o, "ours"), by_name(theirs, rid_t, "python")
    run_ids = frozenset({"$.runs"})  # {run id: category}: checked above and by category below

    # the code artifact: one in each, named by the source's base name, type guessed from it
    def code(arts: dict[str, dict], what: str, source: str) -> dict | None:
        found = [a for a in arts.values() if a["runs"] and next(iter(a["runs"].values())) == "code"]
        if len(found) != 1:
            diffs.append(f"{what}: {len(found)} code artifacts")
            return None
        a = found[0]
        guess = mimetypes.guess_type(a["name"])[0] or "application/octet-stream"
        if (a["name"], Path(a["file_path"]).name, a["obj_type"], a["mime_type"]) != (
                source, source, "FileArtifact", guess):
            diffs.append(f"{what}: code artifact {a['name']} ({a['file_path']}, {a['mime_type']}), "
                         f"expected {source} ({guess})")
        del arts[a["name"]]
        return a

    co, ct = code(ao, "ours", "heat1d.c"), code(at, "python", "scenario_heat.py")
    if co and ct:
        diffs += [f"code artifact {d}" for d in diff_shape(co, ct, skip=run_ids)]

    names = ["heat1d.in", "heat1d_field.csv", "summary.json"]
    if sorted(ao) != names or sorted(at) != names:
        diffs.append(f"artifact names (without the code): ours={sorted(ao)} python={sorted(at)}")
    for name in sorted(set(ao) & set(at) & set(names)):
        o, t = ao[name], at[name]
        diffs += [f"[{name}] {d}" for d in diff_shape(o, t, skip=run_ids)]
        for key in ("obj_type", "storage", "mime_type", "metadata"):
            if o.get(key) != t.get(key):
                diffs.append(f"[{name}] $.{key}: ours={o.get(key)!r} python={t.get(key)!r}")
        if list(o["runs"].values()) != list(t["runs"].values()):
            diffs.append(f"[{name}] category: ours={o['runs']} python={t['runs']}")

    # the deck and the field: the same bytes (same checksum and size); the field's record points
    # at the snapshot copy in each cache, which holds those bytes; file_path is the name given
    # for the deck and, as simvue 2.6.2 writes it, the copy's absolute path for the snapshot.
    for name in ("heat1d.in", "heat1d_field.csv"):
        o, t = ao.get(name), at.get(name)
        if not (o and t):
            continue
        if (o["checksum"], o["size"]) != (t["checksum"], t["size"]):
            diffs.append(f"[{name}] checksum/size: ours={o['checksum']}/{o['size']} "
                         f"python={t['checksum']}/{t['size']}")
        snapshot = name == "heat1d_field.csv"
        want = o.get("original_path") if snapshot else name
        if o.get("file_path") != want:
            diffs.append(f"[{name}] ours file_path={o.get('file_path')!r}, expected {want!r}")
        if snapshot and Path(t.get("file_path", "")).parent.name != "artifacts":
            diffs.append(f"[{name}] python file_path={t.get('file_path')!r} is not a snapshot copy")
    for c, a, what in ((ours, ao.get("heat1d_field.csv"), "ours"),
                       (theirs, at.get("heat1d_field.csv"), "python")):
        if not a:
            continue
        snap = Path(a["original_path"])
        if snap.parent != c.root / "artifacts" or not SNAPSHOT_RE.match(snap.name):
            diffs.append(f"{what}: the field's original_path {snap} is not a snapshot copy")
        elif hashlib.sha256(snap.read_bytes()).hexdigest() != a["checksum"]:
            diffs.append(f"{what}: the snapshot copy {snap.name} does not hold the recorded checksum")
    deck = f"nx = {HEAT_NX}\nsteps = {HEAT_STEPS}\nalpha = 0.01\n".encode()
    if ao.get("heat1d.in", {}).get("checksum") != hashlib.sha256(deck).hexdigest():
        diffs.append(f"heat1d.in: ours does not hold {deck!r}")

    # the summary: an ObjectArtifact whose bytes are in <id>.object. Its checksum is not compared:
    # Python writes json.dumps of floats (shortest repr), heat1d.c "%.6f"; parsed, both are the
    # same object. Size: simvue 2.6.2 records sys.getsizeof(bytes) = len + 33 (§6.2), we len.
    o, t = ao.get("summary.json"), at.get("summary.json")
    if o and t:
        bo = (ours.root / "artifacts" / f"{o['_id']}.object").read_bytes()
        bt = (theirs.root / "artifacts" / f"{t['_id']}.object").read_bytes()
        if (o["size"], o["checksum"]) != (len(bo), hashlib.sha256(bo).hexdigest()):
            diffs.append(f"[summary.json] ours size/checksum {o['size']}/{o['checksum']} do not "
                         f"describe its .object file")
        if (t["size"], t["checksum"]) != (len(bt) + 33, hashlib.sha256(bt).hexdigest()):
            diffs.append(f"[summary.json] python size/checksum {t['size']}/{t['checksum']}: "
                         f"not getsizeof/sha256 of its .object file (the reference changed?)")
        jo, jt = json.loads(bo), json.loads(bt)
        diffs += [f"[summary.json] content {d}" for d in diff_shape(jo, jt)]
        if jo != jt:
            diffs.append(f"[summary.json] content: ours={jo} python={jt}")
    assert not diffs, fmt(diffs, "artifacts")


# --------------------------------------------------------------------------------------------
# NaN and infinities

NAN_C = r"""
#include <math.h>
#include <stdio.h>
#include "simvue.h"
int main(void) {
    simvue_run *run = NULL;
    if (simvue_run_new(SIMVUE_MODE_OFFLINE, &run) != SIMVUE_OK) return 1;
    simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP);
    if (simvue_run_init(run, "nan-check", NULL, NULL, 0, NULL, "/tests", 1) != SIMVUE_OK) return 2;
    const char *names[] = {"nan_check", "inf_check", "ninf_check"};
    double values[] = {NAN, INFINITY, -INFINITY};
    if (simvue_run_log_metrics(run, names, values, 3) != SIMVUE_OK) return 3;
    if (simvue_run_close(run) != SIMVUE_OK) return 4;
    simvue_run_free(run);
    return 0;
}
"""


def test_nan_and_infinity_metrics(tmp_path: Path, compile_c, run_env):
    """NaN/inf metric values are written as Python's json.dump writes them: the bare tokens
    NaN, Infinity and -Infinity (not null, not strings), which json.load reads back."""
    src = tmp_path / "nan.c"
    src.write_text(NAN_C)
    exe = compile_c(src, tmp_path / "nan")
    cwd, env, cache = run_env
    run_checked([str(exe)], cwd=cwd, env=env, what="nan program")
    files = sorted((cache / "metrics").glob("*.json"))
    assert len(files) == 1, f"expected one metrics file, found {files}"
    text = files[0].read_text(encoding="ascii")
    for token in ('"nan_check":NaN', '"inf_check":Infinity', '"ninf_check":-Infinity'):
        assert token in text, f"{token!r} not in {files[0].name}:\n{text}"
    err = python_dump_diff(text, compact=True)
    assert err is None, f"{files[0].name}: {err}"
    (item,) = json.loads(text)["metrics"]
    values = item["values"]
    assert math.isnan(values["nan_check"])
    assert math.isinf(values["inf_check"]) and values["inf_check"] > 0
    assert math.isinf(values["ninf_check"]) and values["ninf_check"] < 0


# --------------------------------------------------------------------------------------------
# killed while writing

SPIN_C = r"""
#include <stdio.h>
#include "simvue.h"
int main(void) {
    simvue_run *run = NULL;
    if (simvue_run_new(SIMVUE_MODE_OFFLINE, &run) != SIMVUE_OK) return 1;
    simvue_run_config(run, SIMVUE_KEEP, /*queue_blocking=*/1, SIMVUE_KEEP, 1, SIMVUE_KEEP);
    if (simvue_run_init(run, "spin", "{\"k\": 1}", NULL, 0, NULL, "/tests/spin", 1) != SIMVUE_OK)
        return 2;
    printf("ready\n");
    fflush(stdout);
    const char *names[] = {"a", "b", "c/d"};
    for (long n = 0;; n++) {
        double values[] = {(double)n, 0.5 * n, 1.0 / (n + 1)};
        simvue_run_log_metrics(run, names, values, 3);
        if (n % 1000 == 0) {
            char msg[64];
            snprintf(msg, sizeof msg, "step %ld", n);
            simvue_run_log_event(run, msg, NULL);
            simvue_run_set_metadata_int(run, "n", n);
        }
    }
}
"""


@pytest.mark.parametrize("delay", [0.4, 1.0, 1.7])
def test_sigkill_leaves_only_complete_json(tmp_path: Path, compile_c, run_env, delay: float):
    """SIGKILL while metrics, events and run updates are being written: every ``*.json`` in the
    cache (what the sender globs, dotfiles included) is a complete, parsable, non-empty file,
    never a temp file.  Temp files (``.<id>.json.tmp...``) may remain, but must not end in
    ``.json``.  (The empty ``runs/*.heartbeat`` marker is empty by design.)"""
    src = tmp_path / "spin.c"
    src.write_text(SPIN_C)
    exe = compile_c(src, tmp_path / "spin")
    cwd, env, cache = run_env
    proc = subprocess.Popen([str(exe)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "ready", f"spin did not start: {line!r} {proc.stderr.read()}"
        time.sleep(delay)
        assert proc.poll() is None, f"spin exited early with {proc.returncode}"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    problems = []
    n_json = 0
    for path in sorted(cache.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(cache)
        if not path.name.endswith(".json"):
            continue
        n_json += 1
        if path.name.startswith(".") or ".tmp" in path.name or not OFFLINE_ID_RE.match(path.stem):
            problems.append(f"{rel}: a temp or stray file matching *.json")
        if path.stat().st_size == 0:
            problems.append(f"{rel}: empty")
            continue
        try:
            with open(path) as fh:  # as simvue-sender reads it
                obj = json.load(fh)
        except ValueError as e:
            problems.append(f"{rel}: json.load fails: {e}")
            continue
        if not isinstance(obj, dict) or "obj_type" not in obj:
            problems.append(f"{rel}: no obj_type")
    assert not problems, f"after SIGKILL at {delay}s:\n  " + "\n  ".join(problems)
    runs = list((cache / "runs").glob("*.json"))
    assert len(runs) == 1, f"expected the run file, found {runs}"
    assert list((cache / "runs").glob("*.heartbeat")), "no heartbeat marker for a live run"
    assert not list((cache / "runs").glob("*.closed")), "a killed run must not be marked closed"
    assert n_json >= 3  # folder, run, and at least one metrics or events batch
    shutil.rmtree(cache, ignore_errors=True)  # tens of MB of metrics; pytest keeps tmp dirs
