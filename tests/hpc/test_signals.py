"""A solver stopped from outside, as a batch system stops a job at its walltime (issue 10, part
1), through the C driver ``c/walltime.c`` and the C++ program ``cxx/uncaught.cpp``:

- SIGTERM offline and online: the run ends ``terminated`` with every metric logged before the
  signal and an event naming it (offline: uploaded by the real ``simvue-sender``), and the
  process ends by SIGTERM;
- SIGTERM with a server that hangs, then SIGKILL after a grace period (as SLURM does): the
  library gives up on the server within its deadline, spills the rest to the cache and ends by
  SIGTERM before the SIGKILL; the sender delivers the rest;
- a non-zero exit, an uncaught C++ exception (also on a std::thread) and std::terminate: the run
  ends ``failed`` with its data.

Signal-to-exit times with 100 000 queued metric sets are printed as notes.
"""

from __future__ import annotations

import collections
import signal
from pathlib import Path

import pytest

from .helpers import (
    NOTES,
    cache_event_messages,
    cache_metric_steps,
    cache_runs,
    compile_cxx,
    describe,
    kv,
    offline_env,
    online_env,
    read_until,
    start,
    stop,
)
from online.helpers import run_sender

CXX = Path(__file__).resolve().parent / "cxx"
QUEUED = 100_000  # metric sets still queued when the signal arrives


def _started(exes, tmp_path: Path, env: dict, n: int = QUEUED, action: str = "wait"):
    proc = start([exes["walltime"], n, 2 * n, action], tmp_path / "cwd", env)
    lines: list[str] = []
    assert read_until(proc, "READY", lines), "".join(lines) + proc.stderr.read()
    return proc, lines


def _check_all_metrics(steps: list[int], n: int) -> None:
    counts = collections.Counter(steps)
    assert sorted(counts) == list(range(n)), f"{n - len(counts)} of {n} metric sets missing"
    assert max(counts.values()) == 1, f"{sum(v - 1 for v in counts.values())} duplicates"


def test_sigterm_offline_terminates_the_run_with_everything_and_the_sender_uploads_it(
        exes, servers, sender_exe, tmp_path):
    proc, lines = _started(exes, tmp_path, offline_env(tmp_path))
    elapsed, out, err = stop(proc, signal.SIGTERM)
    NOTES.append(f"SIGTERM to exit, offline, {QUEUED} metric sets queued: {elapsed:.2f} s")
    assert proc.returncode == -signal.SIGTERM, describe_proc(proc, out, err)
    assert "[simvue] SIGTERM: run walltime-run flushed and closed as terminated" in err, err
    cache = tmp_path / "cache"
    (run,) = cache_runs(cache).values()
    assert run["status"] == "terminated" and run["endtime"] and run["_closed"], run
    _check_all_metrics(cache_metric_steps(cache), QUEUED)
    events = cache_event_messages(cache)
    assert events[0] == "before the signal" and "received SIGTERM" in events[-1], events

    srv = servers()
    run_sender(sender_exe, cache, srv, tmp_path)
    (online,) = srv.runs().values()
    assert online["status"] == "terminated", online
    _check_all_metrics([m["step"] for m in srv.metrics(online["id"])], QUEUED)
    assert any("received SIGTERM" in e["message"] for e in srv.events(online["id"]))


def test_sigterm_online_terminates_the_run_on_the_server_with_everything(
        exes, servers, sender_exe, tmp_path):
    """Everything logged before the signal is sent, or (a batch the outbox could not hold
    while the server was busy) written to the cache, where simvue-sender finds it."""
    srv = servers()
    proc, lines = _started(exes, tmp_path, online_env(tmp_path, srv.url))
    rid = kv("".join(lines))["run_id"]
    elapsed, out, err = stop(proc, signal.SIGTERM)
    NOTES.append(f"SIGTERM to exit, online, {QUEUED} metric sets queued: {elapsed:.2f} s")
    assert proc.returncode == -signal.SIGTERM, describe_proc(proc, out, err)
    run = srv.run(rid)
    assert run["status"] == "terminated" and run.get("endtime"), run
    cache = tmp_path / "cache"
    spilled = cache_metric_steps(cache)
    _check_all_metrics([m["step"] for m in srv.metrics(rid)] + spilled, QUEUED)
    messages = [e["message"] for e in srv.events(rid)]
    assert messages[0] == "before the signal" and "received SIGTERM" in messages[-1], messages
    if spilled:
        run_sender(sender_exe, cache, srv, tmp_path)
        _check_all_metrics([m["step"] for m in srv.metrics(rid)], QUEUED)
        assert srv.run(rid)["status"] == "terminated"


def test_sigterm_against_a_hung_server_ends_by_sigterm_before_the_sigkill(
        exes, servers, sender_exe, tmp_path):
    """SLURM sends SIGTERM, waits KillWait (30 s by default; 8 s here) and sends SIGKILL. A
    server that stopped answering must not make the library overrun: within its deadline
    (SIMVUE_SIGNAL_TIMEOUT, 4 s here) it spills what is left to the cache and the process ends
    by SIGTERM; simvue-sender delivers the rest afterwards. (A request already waiting for the
    server when the signal arrives waits up to SIMVUE_HTTP_TIMEOUT, 2 s here: the deadline
    holds when it is the longer of the two.)"""
    srv = servers()
    n = 20_000
    env = online_env(tmp_path, srv.url, SIMVUE_SIGNAL_TIMEOUT="4", timeout="2")
    proc, lines = _started(exes, tmp_path, env, n=n)
    rid = kv("".join(lines))["run_id"]
    srv.set_faults(hang=True, hang_scope="all")
    elapsed, out, err = stop(proc, signal.SIGTERM, grace=8)
    # Held requests are dropped unanswered and unrecorded, as by a server that died.
    srv.go_away()
    srv.reset_faults()
    srv.come_back()
    assert proc.returncode == -signal.SIGTERM, f"killed after {elapsed:.1f} s\n" + \
        describe_proc(proc, out, err)
    NOTES.append(f"SIGTERM to exit, hung server, deadline 4 s: {elapsed:.2f} s")
    cache = tmp_path / "cache"
    assert f"written to {cache} for `simvue send`" in err, err
    runs = list(cache_runs(cache).values())
    assert len(runs) == 1 and runs[0]["status"] == "terminated" and runs[0]["_closed"], \
        f"{runs}\n{describe_proc(proc, out, err)}"
    sent = [m["step"] for m in srv.metrics(rid)]
    _check_all_metrics(sent + cache_metric_steps(cache), n)

    run_sender(sender_exe, cache, srv, tmp_path)
    assert srv.run(rid)["status"] == "terminated"
    _check_all_metrics([m["step"] for m in srv.metrics(rid)], n)
    assert any("received SIGTERM" in e["message"] for e in srv.events(rid))


def test_a_checkpoint_callback_runs_before_the_run_is_closed(exes, tmp_path):
    proc, lines = _started(exes, tmp_path, offline_env(tmp_path), n=100, action="checkpoint=0.5")
    elapsed, out, err = stop(proc, signal.SIGUSR1, lines=lines)
    assert proc.returncode == -signal.SIGUSR1, describe_proc(proc, out, err)
    assert f"CALLBACK signal={int(signal.SIGUSR1)}" in out, out
    cache = tmp_path / "cache"
    (run,) = cache_runs(cache).values()
    assert run["status"] == "terminated" and run["_closed"], run
    events = cache_event_messages(cache)
    assert events == ["before the signal",
                      "received SIGUSR1: the run is terminated and the process ends",
                      "checkpoint written"], events


def test_a_non_zero_exit_marks_the_run_failed(exes, tmp_path):
    proc, lines = _started(exes, tmp_path, offline_env(tmp_path), n=100, action="exit1")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, describe_proc(proc, out, err)
    cache = tmp_path / "cache"
    (run,) = cache_runs(cache).values()
    assert run["status"] == "failed" and run["_closed"], run
    _check_all_metrics(cache_metric_steps(cache), 100)
    assert cache_event_messages(cache)[-1] == "the process exited with status 1"


@pytest.fixture(scope="module")
def uncaught_exe(lib_dir, tmp_path_factory) -> Path:
    return compile_cxx(CXX / "uncaught.cpp", tmp_path_factory.mktemp("cxx") / "uncaught", lib_dir)


@pytest.mark.parametrize("what, event", [
    ("throw", "uncaught exception: solver diverged"),
    ("thread", "uncaught exception: bad input on a worker thread"),
    ("terminate", "std::terminate was called"),
])
def test_cpp_uncaught_exception_or_terminate_fails_the_run_with_its_data(
        uncaught_exe, tmp_path, what, event):
    proc = start([uncaught_exe, what], tmp_path / "cwd", offline_env(tmp_path))
    out, err = proc.communicate(timeout=60)
    # The previous handler (the C++ runtime's) still ends the program, with its message.
    assert proc.returncode == -signal.SIGABRT, describe_proc(proc, out, err)
    if what != "terminate":
        assert "terminate called after throwing" in err, err
    cache = tmp_path / "cache"
    (run,) = cache_runs(cache).values()
    assert run["status"] == "failed" and run["_closed"], run
    _check_all_metrics(cache_metric_steps(cache), 500)
    assert cache_event_messages(cache) == [event]


def describe_proc(proc, out: str, err: str) -> str:
    return f"rc: {proc.returncode}\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"
