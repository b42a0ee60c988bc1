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
import time

from .helpers import describe, env_for, kv

POLICY_RUN, POLICY_TERMINATE = 0, 1


def _abort_run(exes, srv, work, policy):
    (work / "cwd").mkdir(parents=True)
    p = subprocess.Popen([str(exes["abort"]), "3000", str(policy)], cwd=work / "cwd",
                         env=env_for(work, srv.url, mode="online"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
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
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
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
