"""Metric units (set_metric_units) and metadata on saved files and objects, as the Python
client 2.6.2 sends them (issue 12, "Metrics"). tests/parity/c/units.c and
tests/parity/py/units.py set the same units (some unyt knows, one it does not, some with the
MKS unit or factor given) and save a file and an object with metadata."""

from __future__ import annotations

import pytest

from .helpers import env_for, kv, read_cache, run_ok, run_python


def _run(who, exes, pyref, work, env):
    (work / "cwd").mkdir(parents=True, exist_ok=True)
    (work / "cwd" / "deck.in").write_text("nx = 64\n")
    if who == "python":
        return run_python(pyref, "units.py", cwd=work / "cwd", env=env)
    return run_ok([exes["units"]], cwd=work / "cwd", env=env)


def _units_puts(srv, rid):
    return [h["body"]["metadata"]["simvue"]["metrics"] for h in srv.run_history(rid)
            if "simvue" in h["body"].get("metadata", {})]


def test_units_and_artifact_metadata_online(exes, pyref, servers, tmp_path):
    puts, arts = {}, {}
    for who in ("python", "c"):
        srv = servers()
        work = tmp_path / who
        out = _run(who, exes, pyref, work, env_for(work, srv.url, mode="online"))
        rid = kv(out.stdout)["run_id"]
        puts[who] = _units_puts(srv, rid)
        arts[who] = {a["meta"]["name"]: a["meta"]["metadata"] for a in srv.artifacts().values()}
    ours, theirs = puts["c"], puts["python"]
    # The first update is the one Python sends, value for value (unyt's conversions).
    assert ours[0] == theirs[0]
    assert ours[0]["x"] == {"units": "km", "mks_conversion": 1000.0, "mks_units": "m"}
    assert ours[0]["n"] == {"units": "nonsense", "mks_conversion": None, "mks_units": None}
    assert ours[0]["y"] == {"units": "weird", "mks_conversion": 2.0, "mks_units": "m"}
    # The second: Python sends only the new unit, libsimvue every unit so far (so a server that
    # merges metadata one level deep keeps them all; protocol doc §4.5).
    assert theirs[1] == {"e": {"units": "MeV", "mks_conversion": 1.6021765619999998e-13, "mks_units": "J"}}
    assert ours[1] == {**theirs[0], **theirs[1]}
    assert arts["c"] == arts["python"] == {"deck.in": {"kind": "deck", "n": 3}, "summary": {"kind": "summary"}}


def test_units_and_artifact_metadata_offline(exes, pyref, tmp_path):
    files = {}
    for who in ("python", "c"):
        work = tmp_path / who
        _run(who, exes, pyref, work, env_for(work, "http://127.0.0.1:1", mode="offline"))
        cache = read_cache(work / "cache")
        run = next(iter(cache["runs"].values()))
        files[who] = (run["metadata"]["simvue"],
                      {a["name"]: a["metadata"] for a in cache["artifacts"].values()})
    assert files["c"] == files["python"]
    assert set(files["c"][0]["metrics"]) == {"x", "y", "z", "t", "v", "n", "g", "e"}
