"""The comparison test of issue 12: one scenario that uses every part of the Python client's
Run brought to C, C++ and Fortran (run options, tags set and added, folder details, metadata,
the four kinds of alert with options, add_alerts and log_alert by name, metric units, grids
and arrays 1-D and 2-D, scalar metrics, events, a file and an object saved with metadata),
run through the Python client 2.6.2 (tests/parity/py/scenario.py), the C API
(tests/parity/c/scenario.c) and the Fortran module (tests/parity/fortran/scenario.f90)
against a test server each: the three servers must hold the same objects."""

from __future__ import annotations

import base64

from .helpers import env_for, kv, run_ok, run_python, server_view

SHELL = {"PARITY_SHELL_SITE": "archer2", "PARITY_OTHER": "not recorded"}


def objects(snap: dict, rid: str) -> dict:
    """Everything the server holds of the run, without ids and times."""
    view = server_view(snap, rid)
    grids = snap["grids"]
    view["grids"] = {g["name"]: (g["grid"], g["labels"]) for g in grids.values()}
    view["attached_grids"] = sorted((grids[g]["name"], m) for g, m in snap["run_grids"].get(rid, []))
    view["arrays"] = sorted((i["metric"], i["step"], grids[i["grid"]]["name"], repr(i["array"]))
                            for i in snap["grid_metrics"].get(rid, []))
    arts = {}
    for a in snap["artifacts"].values():
        if rid in a["runs"]:
            m = a["meta"]
            data = base64.b64decode(a["data_base64"]) if a["data_base64"] else None
            arts[m["name"]] = {"category": a["runs"][rid], "metadata": m["metadata"],
                               "mime_type": m["mime_type"], "uploaded": a["uploaded"],
                               # an object's bytes are the client's own serialisation
                               "data": data if m["original_path"] else None}
    view["artifacts"] = arts
    f = next(f for f in snap["folders"].values() if f["path"] == "/parity/all")
    view["folder"] = (f["metadata"], f["tags"], f["description"])
    # the run's metrics: every value, each step once (Python sends them in one batch, a C
    # program may send several)
    view["metrics"] = sorted(view["metrics"], key=lambda m: m[0])
    return view


def test_python_c_and_fortran_leave_the_same_objects_on_the_server(exes, fortran_exes, pyref, servers,
                                                                     tmp_path):
    views = {}
    for who in ("python", "c", "fortran"):
        srv = servers()
        work = tmp_path / who
        (work / "cwd").mkdir(parents=True)
        (work / "cwd" / "deck.in").write_text("nx = 5\nsteps = 3\n")
        env = env_for(work, srv.url, mode="online", **SHELL)
        if who == "python":
            out = run_python(pyref, "scenario.py", cwd=work / "cwd", env=env)
        elif who == "c":
            out = run_ok([exes["scenario"]], cwd=work / "cwd", env=env)
        else:
            out = run_ok([fortran_exes["scenario"]], cwd=work / "cwd", env=env)
        snap = srv.snapshot()
        rid = kv(out.stdout)["run_id"]
        views[who] = objects(snap, rid)
        bad = [r for r in snap["requests"] if r["status"] >= 400 and r["path"] != "/api/nosim/version"]
        assert not bad, (who, bad)
    ours = views["c"]
    # a few of the things that must be there, so that equal views mean something
    assert ours["run"] == {"name": "parity", "folder": "/parity/all", "status": "completed",
                           "description": "the parity scenario",
                           "visibility": {"tenant": True, "public": False, "users": []},
                           "ttl": 172800, "heartbeat_timeout": 300, "notifications": {"state": "error"}}
    assert ours["tags"] == ["a", "b", "c", "d"]
    assert ours["metadata"]["shell"] == {"PARITY_SHELL_SITE": "archer2"}
    assert ours["metadata"]["simvue"]["metrics"]["t_max"] == {"units": "degC", "mks_conversion": 274.15,
                                                               "mks_units": "K"}
    assert ours["alerts"] == ["diverged", "manual", "residual-high", "t-range"]
    assert ours["alert_status"] == {"manual": ["critical"]}
    assert len(ours["arrays"]) == 6 and ours["artifacts"]["deck.in"]["data"] == b"nx = 5\nsteps = 3\n"
    assert ours["folder"] == ({"project": "parity"}, ["f"], "folder")
    for who in ("python", "fortran"):
        for key in ours:
            assert views[who][key] == ours[key], (who, key, views[who][key], ours[key])
