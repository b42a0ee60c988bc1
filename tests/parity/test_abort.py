"""What an abort requested from the server does (issue 12, "Alerts"): the Python client's
abort_on_alert policies. tests/online/c/abort.c polls the flag every step; the test server
sets the run's abort flag (what the web UI or an alert with trigger_abort does).

- ignore: the flag and the callback only (tests/online/test_online.py covers it);
- run (libsimvue's default): the callback, the flag, and the run ended as terminated by the
  library; the solver goes on, and what it logs afterwards is refused;
- terminate (Python's default): the callback, then every open run flushed and closed as
  terminated, and the process exits with code 1 (Python's os._exit(1)), its buffered output
  written out."""

from __future__ import annotations

import re
import subprocess
import threading
import time

from .helpers import describe, env_for, kv

POLICY_RUN, POLICY_TERMINATE = 0, 1


def _abort_run(exes, srv, work, policy, *extra):
    """Runs the abort program until it has logged 20 steps, aborts its run from the server,
    and waits for it. Its output is a pipe, read as it comes (as a terminal or a batch
    system's spooler would), so that the program never waits for it."""
    (work / "cwd").mkdir(parents=True)
    err_path = work / "stderr"
    with open(err_path, "wb") as err_f:
        p = subprocess.Popen([str(exes["abort"]), "3000", str(policy), *extra], cwd=work / "cwd",
                             env=env_for(work, srv.url, mode="online"), stdout=subprocess.PIPE,
                             stderr=err_f)
    chunks = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: p.stdout.read1(1 << 16), b"")))
    reader.start()
    deadline = time.monotonic() + 60
    rid = None
    while rid is None and time.monotonic() < deadline:
        runs = srv.runs()
        rid = next(iter(runs), None)
        time.sleep(0.05)
    assert rid, "no run was created"
    # some steps first
    while len(srv.metrics(rid)) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    srv.abort(rid)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    reader.join()
    out = b"".join(chunks).decode(errors="replace")
    err = err_path.read_text(errors="replace")
    return rid, subprocess.CompletedProcess(p.args, p.returncode, out, err)


def test_policy_run_ends_the_run_and_the_solver_goes_on(exes, servers, tmp_path):
    srv = servers()
    rid, res = _abort_run(exes, srv, tmp_path / "run", POLICY_RUN)
    out = kv(res.stdout)
    assert res.returncode == 0 and "DONE" in res.stdout, describe(res)
    m = re.search(r"aborted_at=(\d+) callback=(\d) user_flag=(\d)", res.stdout)
    assert m and (m.group(2), m.group(3)) == ("1", "1"), describe(res)
    assert out["refused_after"] == "5", describe(res)
    run = srv.run(rid)
    assert run["status"] == "terminated", run["status"]
    # the library set it (the program set no status), after every metric it accepted
    steps = [i["values"]["step_value"] for i in srv.metrics(rid)]
    assert steps == [float(s) for s in range(len(steps))] and len(steps) >= 20
    statuses = [h["body"]["status"] for h in srv.run_history(rid) if "status" in h["body"]]
    assert statuses[-1] == "terminated" and "completed" not in statuses, statuses


def test_policy_terminate_closes_the_run_and_exits_with_code_1(exes, servers, tmp_path):
    srv = servers()
    rid, res = _abort_run(exes, srv, tmp_path / "terminate", POLICY_TERMINATE)
    assert res.returncode == 1, describe(res)
    assert "DONE" not in res.stdout, describe(res)
    assert "exiting with code 1" in res.stderr, describe(res)
    # the program's own buffered output was written out at exit
    printed = [int(s) for s in re.findall(r"^step=(\d+)$", res.stdout, re.M)]
    assert printed and printed == list(range(len(printed))), describe(res)
    # the run was flushed and closed as terminated
    run = srv.run(rid)
    assert run["status"] == "terminated", run["status"]
    assert run.get("endtime")
    steps = [i["values"]["step_value"] for i in srv.metrics(rid)]
    assert steps == [float(s) for s in range(len(steps))] and len(steps) >= 20


def test_terminate_writes_out_what_a_thread_still_printing_buffered(exes, servers, tmp_path):
    """The library exits from its own thread while the solver's main thread prints a line every
    2 microseconds into stdout's buffer: glibc's exit flushes buffers without their locks, so
    the library takes stdout's lock first. What comes out is whole lines, in order, a prefix of
    each sequence the program printed (before, lines went missing from the middle)."""
    srv = servers()
    rid, res = _abort_run(exes, srv, tmp_path / "chatter", POLICY_TERMINATE, "chatter")
    assert res.returncode == 1, describe(res)
    assert "exiting with code 1" in res.stderr, res.stderr
    body = res.stdout.split("run_id=", 1)[1].split("\n", 1)[1]
    assert body.endswith("\n"), body[-200:]
    steps, chats = [], []
    for line in body.splitlines():
        m = re.fullmatch(r"(step|chat)=(\d+)|aborted_at=\d+ callback=1 user_flag=1", line)
        assert m, f"line {line!r}"
        if m.group(1):
            (steps if m.group(1) == "step" else chats).append(int(m.group(2)))
    assert steps == list(range(len(steps))) and len(steps) >= 20, steps[:50]
    assert len(chats) > 1000 and chats == list(range(len(chats))), next(
        (f"chat {k} is {c}" for k, c in enumerate(chats) if c != k), len(chats))
    assert srv.run(rid)["status"] == "terminated"
