"""`simvue send` against the test server: caches written by simvue 2.6.2 and by this library end
up on the server as the Python `simvue-sender` leaves them, and either sender continues what the
other started."""

from __future__ import annotations

from harness import TOKEN, describe

from .helpers import (alert_states, cache_files, copy_cache, library_cache, native_send,
                      python_cache, python_send, sender_env, server_view, tensor_view, token_absent)


def send_both(tmp_path, servers, simvue_cli, sender_exe, cache):
    """The same cache, uploaded by each sender to its own server: (native server, Python
    server, native result, native copy, Python copy)."""
    ours, theirs = copy_cache(cache, tmp_path / "ours"), copy_cache(cache, tmp_path / "theirs")
    a, b = servers(), servers()
    res = native_send(simvue_cli, ours, sender_env(tmp_path, a))
    assert res.returncode == 0, describe(res)
    py = python_send(sender_exe, theirs, sender_env(tmp_path, b))
    assert py.returncode == 0, describe(py)
    assert token_absent(TOKEN, res.stdout, res.stderr)
    return a, b, res, ours, theirs


def test_python_cache_arrives_as_simvue_sender_sends_it(tmp_path, servers, simvue_cli, sender_exe, pyref):
    cache = python_cache(tmp_path, pyref)
    a, b, res, ours, theirs = send_both(tmp_path, servers, simvue_cli, sender_exe, cache)
    mine, ref = server_view(a, (ours,)), server_view(b, (theirs,))
    assert set(mine["runs"]) == {"py-everything", "py-second"}
    for key in ("runs", "folders", "alerts", "metrics", "events", "files"):
        assert mine[key] == ref[key], key
    assert mine["orphan_files"] == ref["orphan_files"] == []
    # The values 2.6.2 writes as NaN and Infinity arrive as such; so do ints and booleans.
    loss = mine["metrics"]["py-everything"][0][3]
    assert dict(loss)["nan"] == "NaN" and dict(loss)["inf"] == float("inf")
    assert dict(loss)["ninf"] == float("-inf") and dict(loss)["flag"] in (1, True)
    run = mine["runs"]["py-everything"]
    assert run["status"] == "completed" and run["metadata"]["nested"] == {"k": [1, 2]}
    assert mine["runs"]["py-second"]["ttl"] == 3600
    assert mine["runs"]["py-second"]["notifications"] == {"state": "all"}
    assert sorted(f[0] for f in mine["files"]["py-everything"]) == ["field.csv", "input.txt", "summary"]

    # The arrays on their grids, as 2.6.2's sender leaves them.
    assert tensor_view(a) == tensor_view(b)
    tensors = tensor_view(a)["runs"]["py-everything"]
    assert [(g[0], g[3]) for g in tensors["grids"]] == [("mesh", "T"), ("prof", "prof")]
    assert [(x[0], x[1]) for x in tensors["arrays"]] == [("T", 200), ("T", 201), ("T", 202), ("prof", 300)]

    # Where we do better than 2.6.2 (protocol doc §8.6 item 5): the user alert's state and the
    # alert's abort flag reach the server.
    assert alert_states(a) == {("user-alert", "py-everything"): "critical"}
    assert alert_states(b) == {}
    aborts = {x["name"]: x.get("abort") for x in a.alerts().values()}
    assert aborts["loss-high"] is True and aborts["loss-range"] is False
    assert all("abort" not in x for x in b.alerts().values())

    # Nothing is left of ours. 2.6.2 leaves the heartbeat files for its next pass, and the
    # snapshot copy when -i is not the configured cache (it compares with that, §8.4 step 5).
    assert cache_files(ours) == []
    assert [f for f in cache_files(theirs) if not f.endswith((".heartbeat", ".file"))] == []


def test_library_cache_arrives_as_simvue_sender_sends_it(tmp_path, servers, simvue_cli, sender_exe, exes):
    cache = library_cache(tmp_path, exes, ("heat1d", "32", "400"), ("logger", "300", "0", "-", "25"))
    a, b, res, ours, theirs = send_both(tmp_path, servers, simvue_cli, sender_exe, cache)
    # 2.6.2's sender recomputes an object's size as sys.getsizeof(bytes), len + 33 (protocol
    # doc §6.2); we send the size the cache records, the true one, as online mode does.
    objects = {n: (x["meta"]["size"], x["data_size"]) for srv in (a, b)
               for n, x in [(x["meta"]["name"] + str(srv.port), x) for x in srv.snapshot()["artifacts"].values()
                            if x["meta"]["original_path"] == ""]}
    assert sorted(objects.values()) == [(85, 85), (118, 85)]
    mine, ref = server_view(a, (ours,)), server_view(b, (theirs,))
    assert set(mine["runs"]) == {"heat-1d-demo", "logger-run"}
    for key in ("runs", "folders", "alerts", "metrics", "events", "files"):
        assert mine[key] == ref[key], key
    steps = [m[1] for m in mine["metrics"]["logger-run"]]
    assert sorted(steps) == list(range(300))
    assert len(mine["files"]["heat-1d-demo"]) == 4 and mine["orphan_files"] == []
    assert cache_files(ours) == []


def test_python_sender_finishes_what_simvue_send_started(tmp_path, servers, simvue_cli, sender_exe, exes):
    cache = library_cache(tmp_path, exes, ("heat1d", "32", "400"))
    ref_cache = copy_cache(cache, tmp_path / "ref")
    ours = copy_cache(cache, tmp_path / "mixed")
    a, b = servers(), servers()
    env = sender_env(tmp_path, a)
    first = native_send(simvue_cli, ours, env, "-o", "folders", "-o", "alerts", "-o", "runs")
    assert first.returncode == 0, describe(first)
    # The run is closed, but its batches and files are still to come: its mapping stays.
    assert list((ours / "server_ids").glob("*.txt")) and list((ours / "metrics").glob("*.json"))
    rest = python_send(sender_exe, ours, env)
    assert rest.returncode == 0, describe(rest)
    last = native_send(simvue_cli, ours, env)  # tidies the closed run 2.6.2 leaves behind
    assert last.returncode == 0, describe(last)
    assert python_send(sender_exe, ref_cache, sender_env(tmp_path, b)).returncode == 0
    mine, ref = server_view(a, (ours,)), server_view(b, (ref_cache,))
    for key in ("runs", "folders", "alerts", "metrics", "events", "files"):
        assert mine[key] == ref[key], key
    # Only the snapshot copy 2.6.2 uploaded (it keeps it when -i is not the configured cache).
    assert len(a.runs()) == 1 and [f for f in cache_files(ours) if not f.endswith(".file")] == []
    # The closed run was tidied: only the folder's mapping stays (as 2.6.2 keeps it).
    assert len(list((ours / "server_ids").glob("*.txt"))) == 1


def test_simvue_send_finishes_what_the_python_sender_started(tmp_path, servers, simvue_cli, sender_exe, exes):
    cache = library_cache(tmp_path, exes, ("heat1d", "32", "400"))
    ref_cache = copy_cache(cache, tmp_path / "ref")
    mixed = copy_cache(cache, tmp_path / "mixed")
    a, b = servers(), servers()
    env = sender_env(tmp_path, a)
    first = python_send(sender_exe, mixed, env, "-o", "folders", "-o", "alerts")
    assert first.returncode == 0, describe(first)
    rest = native_send(simvue_cli, mixed, env)
    assert rest.returncode == 0, describe(rest)
    assert python_send(sender_exe, ref_cache, sender_env(tmp_path, b)).returncode == 0
    mine, ref = server_view(a, (mixed,)), server_view(b, (ref_cache,))
    for key in ("runs", "folders", "alerts", "metrics", "events", "files"):
        assert mine[key] == ref[key], key
    # Nothing was created twice: the folder and alerts 2.6.2 created were reused.
    assert len(a.alerts()) == 3 and a.count_requests("POST", "/api/alerts") == 3
    assert cache_files(mixed) == []


def test_library_tensor_metrics_arrive_as_simvue_sender_sends_them(tmp_path, servers, simvue_cli, sender_exe,
                                                                    exes):
    """Grids, their attachments and the arrays of two runs (one with 2 metrics on one grid,
    one with many small batches) end up on the server as 2.6.2's sender leaves them."""
    cache = library_cache(tmp_path, exes, ("grids",), ("tensors", "tensor-run", "40", "8"))
    assert len(list((cache / "grid_metrics").glob("*.json"))) > 5
    a, b, res, ours, theirs = send_both(tmp_path, servers, simvue_cli, sender_exe, cache)
    mine, ref = server_view(a, (ours,)), server_view(b, (theirs,))
    for key in ("runs", "folders", "alerts", "metrics", "events", "files"):
        assert mine[key] == ref[key], key
    assert tensor_view(a) == tensor_view(b)
    view = tensor_view(a)
    assert view["unattached"] == []
    assert [(g[0], g[3]) for g in view["runs"]["grids"]["grids"]] == [("mesh", "T"), ("mesh", "rho"),
                                                                      ("prof", "prof")]
    arrays = view["runs"]["tensor-run"]["arrays"]
    assert len(arrays) == 40 + 14 and len(set(arrays)) == len(arrays)
    t7 = next(x for x in arrays if x[:2] == ("T", 7))
    assert t7[4] == "mesh" and t7[5] == repr([[7000.0, 7001.0, 7002.0], [7010.0, 7011.0, 7012.0]])
    assert "grids: 4 sent" in res.stderr and "grid_metrics:" in res.stderr, describe(res)
    assert cache_files(ours) == []
    # The closed runs were tidied: no grid or run mapping is left (the folders' stay).
    left = {p.read_text() for p in (ours / "server_ids").glob("*.txt")}
    assert left and left <= set(a.snapshot()["folders"])


def test_python_sender_finishes_grids_simvue_send_started(tmp_path, servers, simvue_cli, sender_exe, exes):
    """simvue send uploads the runs and grids; 2.6.2's sender, in a later pass, finds the grids'
    ids in server_ids/ (where 2.6.2 itself never puts them) and posts the arrays."""
    cache = library_cache(tmp_path, exes, ("grids",))
    ref_cache, ours = copy_cache(cache, tmp_path / "ref"), copy_cache(cache, tmp_path / "mixed")
    a, b = servers(), servers()
    env = sender_env(tmp_path, a)
    first = native_send(simvue_cli, ours, env, "-o", "folders", "-o", "runs", "-o", "grids")
    assert first.returncode == 0, describe(first)
    assert not list((ours / "grids").glob("*.json")) and list((ours / "grid_metrics").glob("*.json"))
    rest = python_send(sender_exe, ours, env)
    assert rest.returncode == 0, describe(rest)
    assert not list((ours / "grid_metrics").glob("*.json")), describe(rest)
    assert python_send(sender_exe, ref_cache, sender_env(tmp_path, b)).returncode == 0
    assert tensor_view(a) == tensor_view(b)
    assert len(tensor_view(a)["runs"]["grids"]["arrays"]) == 3 and len(a.snapshot()["grids"]) == 2


def test_simvue_send_finishes_grids_the_python_sender_uploaded(tmp_path, servers, simvue_cli, sender_exe,
                                                               exes):
    """simvue send uploads the runs; 2.6.2's sender the grids, whose ids it forgets with its
    pass; simvue send then finds each grid as the one the run has for the array's metric."""
    cache = library_cache(tmp_path, exes, ("grids",))
    ref_cache, mixed = copy_cache(cache, tmp_path / "ref"), copy_cache(cache, tmp_path / "mixed")
    a, b = servers(), servers()
    env = sender_env(tmp_path, a)
    first = native_send(simvue_cli, mixed, env, "-o", "folders", "-o", "runs")
    assert first.returncode == 0, describe(first)
    grids = python_send(sender_exe, mixed, env, "-o", "grids")
    assert grids.returncode == 0, describe(grids)
    assert not list((mixed / "grids").glob("*.json")) and len(a.snapshot()["grids"]) == 2
    rest = native_send(simvue_cli, mixed, env)
    assert rest.returncode == 0, describe(rest)
    assert rest.stderr.count("uploaded by simvue-sender") == 2, describe(rest)
    assert python_send(sender_exe, ref_cache, sender_env(tmp_path, b)).returncode == 0
    assert tensor_view(a) == tensor_view(b)
    assert len(a.snapshot()["grids"]) == 2 and cache_files(mixed) == []
