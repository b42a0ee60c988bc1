"""Tensor metrics (issue 12, "Metrics"): a metric assigned to a grid and arrays of values on it
(assign_metric_to_grid and array-valued log_metrics of the Python client 2.6.2). One scenario
through the Python client (numpy), the C API (row-major T[y][x]) and the Fortran module
(column-major T(x, y)): the server gets the same grids and the same arrays from all three;
offline, the caches hold the same grids and arrays and the real simvue-sender uploads them."""

from __future__ import annotations

import pytest

from .helpers import env_for, kv, read_cache, run_ok, run_python, run_sender


def _run(who, exes, fortran_exes, pyref, work, env, *args):
    (work / "cwd").mkdir(parents=True, exist_ok=True)
    if who == "python":
        return run_python(pyref, "grids.py", cwd=work / "cwd", env=env)
    if who == "fortran":
        return run_ok([fortran_exes["grids"]], cwd=work / "cwd", env=env)
    return run_ok([exes["grids"], *args], cwd=work / "cwd", env=env)


def tensor_view(snap: dict, rid: str) -> dict:
    """The run's grids (by name) and tensor items (by metric), without ids and times."""
    grids = snap["grids"]
    attached = sorted((grids[g]["name"], m) for g, m in snap["run_grids"].get(rid, []))
    items = sorted(((i["metric"], i["step"], grids[i["grid"]]["name"], repr(i["array"]))
                    for i in snap["grid_metrics"].get(rid, [])))
    defs = {g["name"]: (g["grid"], g["labels"]) for g in grids.values()}
    scalars = [(i["step"], i["values"]) for i in snap["metrics"].get(rid, [])]
    return {"grids": defs, "attached": attached, "items": items, "scalars": scalars}


EXPECTED_ITEMS = [
    ("T", 0, "mesh", repr([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])),
    ("prof", 2, "prof", repr([1.0, 2.0, 3.0, 4.0])),
    ("rho", 5, "mesh", repr([[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]])),
]


def test_grids_online_python_c_and_fortran_land_the_same(exes, fortran_exes, pyref, servers, tmp_path):
    views = {}
    for who in ("python", "c", "fortran"):
        srv = servers()
        work = tmp_path / who
        out = _run(who, exes, fortran_exes, pyref, work, env_for(work, srv.url, mode="online"))
        snap = srv.snapshot()
        rid = kv(out.stdout)["run_id"]
        views[who] = tensor_view(snap, rid)
        bad = [r for r in snap["requests"] if r["status"] >= 400 and r["path"] != "/api/nosim/version"]
        assert not bad, (who, bad)
        rho = next(i for i in snap["grid_metrics"][rid] if i["metric"] == "rho")
        assert rho["time"] == 1.5, who
    assert views["c"]["items"] == EXPECTED_ITEMS
    assert views["c"]["grids"] == {"mesh": ([[0.0, 0.5, 1.0], [0.0, 1.0]], ["x", "y"]),
                                   "prof": ([[0.0, 0.3333333333333333, 0.6666666666666666, 1.0]], ["axis_0"])}
    assert views["c"]["scalars"] == [(0, {"s": 1.0})]
    assert views["c"] == views["python"]
    assert views["fortran"] == views["python"]


def test_a_3d_array_lands_as_nested_lists_on_a_3_axis_grid(exes, servers, tmp_path):
    # simvue 2.6.2 creates grids of 1 or 2 axes only; the server format takes more.
    srv = servers()
    work = tmp_path / "c3d"
    out = _run("c", exes, None, None, work, env_for(work, srv.url, mode="online"), "3d")
    snap = srv.snapshot()
    rid = kv(out.stdout)["run_id"]
    cube = next(i for i in snap["grid_metrics"][rid] if i["metric"] == "cube")
    grid = snap["grids"][cube["grid"]]
    assert grid["labels"] == ["x", "y", "z"] and [len(a) for a in grid["grid"]] == [4, 3, 2]
    arr = cube["array"]  # arr[z][y][x] = 100 z + 10 y + x
    assert len(arr) == 2 and len(arr[0]) == 3 and len(arr[0][0]) == 4
    assert arr[1][2][3] == 123.0 and arr[0][1][2] == 12.0 and arr[1][0][0] == 100.0


def _cache_view(cache) -> dict:
    files = read_cache(cache)
    grids = files.get("grids", {})
    names = {gid: g["name"] for gid, g in grids.items()}
    defs = {g["name"]: (g["grid"], g["labels"], sorted(m for _, m in g["runs"])) for g in grids.values()}
    items = sorted((i["metric"], i["step"], names[i["grid"]], repr(i["array"]))
                   for f in files.get("grid_metrics", {}).values() for i in f["data"])
    return {"grids": defs, "items": items}


def test_grids_offline_same_cache_and_the_real_sender_uploads_them(exes, fortran_exes, pyref, sender_exe,
                                                                    servers, tmp_path):
    caches, views = {}, {}
    for who in ("python", "c", "fortran"):
        work = tmp_path / who
        _run(who, exes, fortran_exes, pyref, work, env_for(work, "http://127.0.0.1:1", mode="offline"))
        caches[who] = _cache_view(work / "cache")
        srv = servers()
        run_sender(sender_exe, work / "cache", srv, work)
        snap = srv.snapshot()
        assert len(snap["runs"]) == 1
        views[who] = tensor_view(snap, next(iter(snap["runs"])))
    assert caches["c"]["items"] == EXPECTED_ITEMS
    assert caches["c"] == caches["python"] == caches["fortran"]
    assert views["c"]["items"] == EXPECTED_ITEMS
    assert views["c"] == views["python"] == views["fortran"]


def test_3d_grids_are_refused_offline(exes, tmp_path):
    work = tmp_path / "off3d"
    (work / "cwd").mkdir(parents=True)
    res = _run_expect_fail(exes, work)
    assert "rc_assign_cube=SIMVUE_ERROR_UNSUPPORTED" in res.stdout and "simvue-sender" in res.stdout, res.stdout


def _run_expect_fail(exes, work):
    from harness import run_program
    res = run_program([exes["grids"], "3d"], cwd=work / "cwd",
                      env=env_for(work, "http://127.0.0.1:1", mode="offline"), timeout=60)
    assert res.returncode == 1
    return res
