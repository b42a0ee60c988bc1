"""Alerts as the Python client 2.6.2 makes them (issue 12, "Alerts"): description, aggregation,
notification, trigger_abort and attach_to_run for metric threshold, metric range and events
alerts; user alerts and their state (log_alert by id, and by name online); attaching existing
alerts (add_alerts by id, and by name online). The scenario is tests/parity/py/alerts.py and
tests/parity/c/alerts.c; online both run against a test server each and the servers must hold
the same objects; offline both caches must hold the same alert files, and the real
simvue-sender must make the same objects of them."""

from __future__ import annotations

from .helpers import (
    SimvueServer,
    env_for,
    kv,
    only_run,
    read_cache,
    run_ok,
    run_python,
    run_sender,
    server_view,
)


def test_alerts_online_same_objects_as_python(exes, pyref, servers, tmp_path):
    views = {}
    for who in ("python", "c"):
        srv = servers()
        work = tmp_path / who
        env = env_for(work, srv.url, mode="online")
        if who == "python":
            out = run_python(pyref, "alerts.py", cwd=work / "cwd", env=env)
        else:
            out = run_ok([exes["alerts"]], cwd=work / "cwd", env=env)
        snap = srv.snapshot()
        rid = only_run(snap)
        assert kv(out.stdout)["run_id"] == rid
        views[who] = server_view(snap, rid)
        # every request answered (404 only for the noSim probe of the Python client)
        bad = [r for r in snap["requests"] if r["status"] >= 400 and r["path"] != "/api/nosim/version"]
        assert not bad, (who, bad)
    ours, theirs = views["c"], views["python"]
    assert ours["alert_definitions"] == theirs["alert_definitions"]
    assert ours["alerts"] == theirs["alerts"] == ["ev", "rg", "th", "ua"]
    assert ours["alert_status"] == theirs["alert_status"] == {"ua": ["critical", "ok"]}
    # the options reached the server: aggregation, notification, description, abort
    th = ours["alert_definitions"]["th"]
    assert (th["alert"]["aggregation"], th["notification"], th["description"], th["abort"]) == \
        ("at least one", "email", "dd", True)
    assert ours == theirs


def _alert_files(cache) -> dict[str, dict]:
    """{alert name: file}, with the run ids of user-alert states replaced by the run's name."""
    files = read_cache(cache)
    run_names = {rid: r["name"] for rid, r in files["runs"].items()}
    out = {}
    for a in files["alerts"].values():
        if "status" in a:
            a["status"] = {run_names[r]: s for r, s in a["status"].items()}
        out[a["name"]] = a
    return out


def test_alerts_offline_same_cache_and_same_objects_after_the_real_sender(exes, pyref, sender_exe,
                                                                           servers, tmp_path):
    caches, views = {}, {}
    for who in ("python", "c"):
        work = tmp_path / who
        env = env_for(work, "http://127.0.0.1:1", mode="offline")
        (work / "cwd").mkdir(parents=True)
        if who == "python":
            # simvue 2.6.2 wants a URL and a JWT even offline
            run_python(pyref, "alerts.py", cwd=work / "cwd", env=env)
        else:
            run_ok([exes["alerts"]], cwd=work / "cwd", env=env)
        caches[who] = work / "cache"
        srv = servers()
        run_sender(sender_exe, caches[who], srv, work)
        snap = srv.snapshot()
        views[who] = server_view(snap, only_run(snap))
    ours, theirs = _alert_files(caches["c"]), _alert_files(caches["python"])
    assert ours == theirs
    assert ours["ua"]["status"] == {"alerts": "critical"} and ours["th"]["abort"] is True
    run = next(iter(read_cache(caches["c"])["runs"].values()))
    names = {aid: a["name"] for aid, a in read_cache(caches["c"])["alerts"].items()}
    assert sorted(names[a] for a in run["alerts"]) == ["ev", "rg", "th", "ua"]
    # What simvue-sender makes of both caches is the same (2.6.2's sender drops "abort" and the
    # user alert's state on a first upload: docs/protocol.md §8.6 item 5).
    assert views["c"] == views["python"]
    assert views["c"]["alerts"] == ["ev", "rg", "th", "ua"]
