"""Issue 11, item 5: a request whose outcome is unknown (the answer never came: a connection
closed after the server stored it, a server that hangs and stores late) is neither sent again
nor spilled until the server says whether it holds it (protocol doc §4.7), so every metric set
and event is stored exactly once: counted on the test server after the run and after the real
simvue-sender uploaded what was spilled. Driven from C (tests/faults/c/faulty.c)."""

from __future__ import annotations

import time

from .fault_helpers import (SimvueServer, TOKEN, cache_docs, delivered_once, env, finish,
                            read_until, send, start)


def _log(tmp_path, srv, steps, pause_ms, at_step):
    proc = start(["log", str(steps), str(pause_ms), "1"], tmp_path, env(tmp_path, srv.url))
    lines: list[str] = []
    assert read_until(proc, f"step={at_step}", lines), "".join(lines)
    return proc, lines


def test_batches_stored_without_an_answer_are_not_stored_twice(tmp_path):
    steps = 40
    with SimvueServer(token=TOKEN) as srv:
        proc, lines = _log(tmp_path, srv, steps, 50, 5)
        srv.set_faults(drop_next=2, drop_scope="data")
        out, err = finish(proc, lines, timeout=60)
        rid = out["run_id"]
        assert [r["fault"] for r in srv.requests()].count("drop") == 2, "the fault did not fire"
        delivered_once(srv, rid, steps)
        cache = tmp_path / "cache"
        assert cache_docs(cache, "metrics") == [] and cache_docs(cache, "events") == [], err
        assert out["close_rc"] == "SIMVUE_OK", err
        assert srv.run(rid)["status"] == "completed"


def test_a_hung_server_that_stores_late_gets_every_batch_once(tmp_path):
    """The server accepts but answers nothing (reads included) for 3 s, then stores every request
    it held, those whose client gave up included; what was spilled meanwhile goes through
    simvue-sender."""
    steps = 80
    with SimvueServer(token=TOKEN) as srv:
        proc, lines = _log(tmp_path, srv, steps, 50, 5)
        srv.set_faults(hang=True, hang_scope="all", hang_processes=True)
        time.sleep(3)
        srv.release()
        out, err = finish(proc, lines, timeout=90)
        rid = out["run_id"]
        assert any(r["fault"] == "hang-late" for r in srv.requests()), "nothing was stored late"
        send(tmp_path / "cache", srv, tmp_path)
        delivered_once(srv, rid, steps)
        assert srv.run(rid)["status"] == "completed"


def test_a_server_whose_writes_hang_while_reads_answer_gets_every_batch_once(tmp_path):
    """Only the POSTs of data hang (a stalled ingestion): asked, the server truly holds nothing
    yet, but the batch may still be stored, so it is not sent again while that can happen."""
    steps = 80
    with SimvueServer(token=TOKEN) as srv:
        proc, lines = _log(tmp_path, srv, steps, 50, 5)
        srv.set_faults(hang=True, hang_scope="data", hang_processes=True)
        time.sleep(3)
        srv.release()
        out, err = finish(proc, lines, timeout=90)
        rid = out["run_id"]
        assert any(r["fault"] == "hang-late" for r in srv.requests()), "nothing was stored late"
        send(tmp_path / "cache", srv, tmp_path)
        delivered_once(srv, rid, steps)
        assert srv.run(rid)["status"] == "completed"
