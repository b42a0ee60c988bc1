"""Runs whose job died are marked lost instead of being heartbeated forever; runs still being
written to are left alone; `--watch` keeps sending while a solver writes, and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from harness import TOKEN, describe, offline_env

from .helpers import (cache_files, native_send, sender_env, start_native, token_absent,
                      wait_for)


def start_paused_logger(tmp_path, exes, cache, *, wait_for_batch=True):
    """The logger solver, offline, paused after 50 of 100 steps until `go` exists; by default
    once its first batch is in the cache (with a sender watching, it may be gone already)."""
    env = offline_env(tmp_path / "home", cache)
    env["SIMVUE_MODE"] = "offline"
    go = tmp_path / "go"
    proc = subprocess.Popen([str(exes["logger"]), "100", "50", str(go), "10"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait_for_batch:
        wait_for(lambda: list((cache / "runs").glob("*.heartbeat")) and list((cache / "metrics").glob("*.json")),
                 what="the solver to write its first batch")
    return proc, go


def test_a_run_whose_job_died_is_marked_lost(tmp_path, servers, simvue_cli, exes):
    cache = tmp_path / "cache"
    solver, _ = start_paused_logger(tmp_path, exes, cache)
    srv = servers()
    env = sender_env(tmp_path, srv)

    # Alive: its heartbeat file is fresh, so it is sent, heartbeated and left running.
    res = native_send(simvue_cli, cache, env)
    assert res.returncode == 0, describe(res)
    (run_id, run), = srv.runs().items()
    assert run["status"] == "running" and srv.heartbeats(run_id) == 1
    assert list((cache / "runs").glob("*.heartbeat"))

    # The job is killed: nothing touches the heartbeat file any more. Once it is older than the
    # run's heartbeat timeout (180 s; aged here), the run is marked lost, once.
    solver.send_signal(signal.SIGKILL)
    solver.communicate()
    heartbeat, = (cache / "runs").glob("*.heartbeat")
    old = time.time() - 181
    os.utime(heartbeat, (old, old))
    res = native_send(simvue_cli, cache, env)
    assert res.returncode == 0, describe(res)
    assert srv.run(run_id)["status"] == "lost"
    assert "marked lost: no heartbeat for 181 s (timeout 180 s)" in res.stderr
    assert "1 run(s) marked lost" in res.stdout
    assert not heartbeat.exists() and srv.heartbeats(run_id) == 1
    again = native_send(simvue_cli, cache, env)
    assert again.returncode == 0 and srv.run(run_id)["status"] == "lost"
    assert [h["body"].get("status") for h in srv.run_history(run_id)].count("lost") == 1


def test_a_paused_run_is_not_lost_and_finishes_later(tmp_path, servers, simvue_cli, exes):
    cache = tmp_path / "cache"
    solver, go = start_paused_logger(tmp_path, exes, cache)
    srv = servers()
    env = sender_env(tmp_path, srv)
    assert native_send(simvue_cli, cache, env).returncode == 0
    go.touch()
    out, err = solver.communicate(timeout=60)
    assert solver.returncode == 0, out + err
    res = native_send(simvue_cli, cache, env)
    assert res.returncode == 0, describe(res)
    (run_id, run), = srv.runs().items()
    assert run["status"] == "completed"
    assert sorted(m["step"] for m in srv.metrics(run_id)) == list(range(100))
    assert cache_files(cache) == []
    # The closed run's mapping is gone; the folder's stays (as 2.6.2 keeps it).
    assert len(list((cache / "server_ids").glob("*.txt"))) == 1


def test_watch_sends_as_the_solver_writes_and_stops_on_sigterm(tmp_path, servers, simvue_cli, exes):
    cache = tmp_path / "cache"
    cache.mkdir()
    srv = servers()
    env = sender_env(tmp_path, srv)
    watcher = start_native(simvue_cli, cache, env, "--watch", "0.2")
    solver, go = start_paused_logger(tmp_path, exes, cache, wait_for_batch=False)
    wait_for(lambda: any(len(srv.metrics(r)) for r in srv.runs()), what="the first batch to arrive")
    (run_id, _), = srv.runs().items()
    assert srv.run(run_id)["status"] == "running"
    go.touch()
    solver.communicate(timeout=60)
    wait_for(lambda: srv.run(run_id)["status"] == "completed" and cache_files(cache) == [],
             what="the rest to arrive")
    watcher.send_signal(signal.SIGTERM)
    out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, out + err
    assert "simvue send: done" in out and "(stopped)" in out
    assert sorted(m["step"] for m in srv.metrics(run_id)) == list(range(100))
    assert not (cache / "simvue-send.lock").exists() and not (cache / "sender.lock").exists()
    assert token_absent(TOKEN, out, err)


def test_watch_ends_at_max_time(tmp_path, servers, simvue_cli):
    cache = tmp_path / "cache"
    cache.mkdir()
    srv = servers()
    # Without --max-time this would watch until the test's timeout kills it.
    res = native_send(simvue_cli, cache, sender_env(tmp_path, srv), "--watch", "0.1", "--max-time", "1")
    assert res.returncode == 0, describe(res)
    assert "simvue send: done" in res.stdout and "(stopped)" in res.stdout
    assert "nothing to send" in res.stdout
