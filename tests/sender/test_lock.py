"""One sender per cache: two `simvue send` at once, a stale lock from a dead process, and the
Python `simvue-sender`'s own lock, both ways."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

from harness import describe

from .helpers import (assert_exactly_once, cache_contents, cache_files, library_cache,
                      native_send, python_send, sender_env, start_native, wait_for)


def held_setup(tmp_path, servers, exes):
    """A cache and a server that holds metrics uploads until released, so that a sender stays
    busy (and holds its lock) for as long as the test needs."""
    cache = library_cache(tmp_path, exes, ("heat1d", "32", "400"), ("logger", "600", "0", "-", "20", "16"))
    srv = servers()
    srv.set_faults(hang=True, hang_scope="metrics")
    return cache, srv, sender_env(tmp_path, srv, timeout="60")


def test_two_senders_at_once(tmp_path, servers, simvue_cli, exes):
    cache, srv, env = held_setup(tmp_path, servers, exes)
    expected = cache_contents(cache)
    first = start_native(simvue_cli, cache, env)
    wait_for(lambda: srv.count_requests("POST", "/api/runs") == 2, what="the first sender to be under way")
    second = native_send(simvue_cli, cache, env)
    assert second.returncode == 3, describe(second)
    assert f"another simvue send (pid {first.pid} on {socket.gethostname()}" in second.stderr
    srv.release()
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert_exactly_once(srv, expected)
    assert not (cache / "simvue-send.lock").exists() and not (cache / "sender.lock").exists()


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path, servers, simvue_cli, exes):
    cache = library_cache(tmp_path, exes, ("heat1d", "16", "100"))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (cache / "simvue-send.lock").write_text(json.dumps(
        {"host": socket.gethostname(), "pid": int(dead), "start": 0, "since": "earlier"}))
    (cache / "sender.lock").write_text(dead)  # a dead Python sender's lock is ignored, as 2.6.2 does
    srv = servers()
    res = native_send(simvue_cli, cache, sender_env(tmp_path, srv))
    assert res.returncode == 0, describe(res)
    assert "took over the stale lock" in res.stderr and f"its process {dead} is gone" in res.stderr
    assert cache_files(cache) == [] and len(srv.runs()) == 1


def test_a_lock_held_on_another_host_is_respected_until_stale(tmp_path, servers, simvue_cli, exes):
    cache = library_cache(tmp_path, exes, ("heat1d", "16", "100"))
    (cache / "simvue-send.lock").write_text(json.dumps(
        {"host": "login-node-7", "pid": 12345, "start": 0, "since": "earlier"}))
    srv = servers()
    env = sender_env(tmp_path, srv)
    busy = native_send(simvue_cli, cache, env)
    assert busy.returncode == 3 and "pid 12345 on login-node-7" in busy.stderr, describe(busy)
    assert srv.runs() == {}
    old = time.time() - 3600
    os.utime(cache / "simvue-send.lock", (old, old))
    res = native_send(simvue_cli, cache, env, "--stale-lock-after", "1800")
    assert res.returncode == 0, describe(res)
    assert "not refreshed for" in res.stderr and len(srv.runs()) == 1


def test_a_running_python_sender_keeps_simvue_send_out(tmp_path, servers, simvue_cli, exes):
    cache = library_cache(tmp_path, exes, ("heat1d", "16", "100"))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (cache / "sender.lock").write_text(str(sleeper.pid))
        srv = servers()
        env = sender_env(tmp_path, srv)
        res = native_send(simvue_cli, cache, env)
        assert res.returncode == 3, describe(res)
        assert f"a Python simvue-sender (pid {sleeper.pid}) is uploading this cache" in res.stderr
        assert srv.runs() == {}
    finally:
        sleeper.kill()
        sleeper.wait()
    res = native_send(simvue_cli, cache, env)
    assert res.returncode == 0, describe(res)


def test_simvue_send_keeps_a_python_sender_out(tmp_path, servers, simvue_cli, sender_exe, exes):
    cache, srv, env = held_setup(tmp_path, servers, exes)
    expected = cache_contents(cache)
    ours = start_native(simvue_cli, cache, env)
    wait_for(lambda: srv.count_requests("POST", "/api/runs") == 2, what="simvue send to be under way")
    assert (cache / "sender.lock").read_text() == str(ours.pid)
    theirs = python_send(sender_exe, cache, env)
    assert theirs.returncode != 0 and "A sender is already running" in theirs.stderr, describe(theirs)
    srv.release()
    out, err = ours.communicate(timeout=120)
    assert ours.returncode == 0, out + err
    assert_exactly_once(srv, expected)
