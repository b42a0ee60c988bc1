"""set_status and close wait until the files saved before them are attached, so the final
status is the last change the server sees (issue 12, "Runs"), as with the Python client,
whose save_file returns once the file is attached. The test server makes each upload slow."""

from __future__ import annotations

import re

import pytest

from .helpers import env_for, kv, run_ok


@pytest.mark.parametrize("end", ["status", "close"])
def test_final_status_comes_after_the_files_saved_before(end, exes, servers, tmp_path):
    srv = servers()
    work = tmp_path / end
    (work / "cwd").mkdir(parents=True)
    files = []
    for i in range(3):
        f = work / "cwd" / f"out{i}.txt"
        f.write_text(f"output {i}\n" * 100)
        files.append(f)
    with srv.faults(latency=0.4, latency_scope=r"(POST|PUT) /storage/.*"):
        out = run_ok([exes["status_order"], end, *files], cwd=work / "cwd",
                     env=env_for(work, srv.url, mode="online"))
    rid = kv(out.stdout)["run_id"]
    final = "failed" if end == "status" else "completed"
    assert srv.run(rid)["status"] == final
    arts = [a for a in srv.artifacts().values() if rid in a["runs"]]
    assert sorted(a["meta"]["name"] for a in arts) == ["out0.txt", "out1.txt", "out2.txt"]
    assert all(a["uploaded"] and a["data"] is not None for a in arts)
    # In the order the server answered: every attach before the PUT that sets the status.
    log = [(r["method"], r["path"]) for r in srv.requests()]
    attaches = [i for i, (m, p) in enumerate(log)
                if m == "PUT" and re.fullmatch(rf"/api/runs/{rid}/artifacts/\w+/?", p)]
    status_puts = [i for i, h in enumerate(srv.run_history(rid)) if h["body"].get("status") == final]
    assert len(attaches) == 3 and len(status_puts) == 1
    run_puts = [i for i, (m, p) in enumerate(log) if m == "PUT" and p.rstrip("/") == f"/api/runs/{rid}"]
    last_run_put = run_puts[-1]
    assert srv.run_history(rid)[-1]["body"].get("status") == final
    assert max(attaches) < last_run_put, log
