"""`simvue send` when things go wrong: a server answering 503s, one that carries out requests
and then reports them failed, one that stops in the middle and comes back, and the sender
itself killed with SIGKILL at random moments. Every record, and every array of tensor metrics,
arrives exactly once."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from harness import NOTES, TOKEN, describe

from .helpers import (assert_exactly_once, cache_contents, cache_files, cache_tensors, kill, library_cache,
                      native_send, sender_env, start_native, tensor_view, token_absent, wait_for)

# Every request but the version check.
NOT_VERSION = r"^(?!GET /api/version$)"


def faulty_cache(tmp_path, exes):
    """Two solver runs with files and two runs with many small batches."""
    return library_cache(tmp_path, exes, ("heat1d", "32", "400"), ("heat1d", "24", "300"),
                         ("logger", "1500", "0", "-", "25", "64"),
                         ("logger", "1500", "0", "-", "25", "64"))


def send_until_done(simvue_cli, cache, env, tries=8):
    """Runs `simvue send` until it says everything was sent; returns the results."""
    results = []
    for _ in range(tries):
        res = native_send(simvue_cli, cache, env)
        results.append(res)
        assert res.returncode in (0, 1), describe(res)
        if res.returncode == 0:
            return results
        assert "left in the cache" in res.stdout, describe(res)
    raise AssertionError("never finished:\n" + describe(results[-1]))


def test_thirty_percent_503s(tmp_path, servers, simvue_cli, exes):
    cache = faulty_cache(tmp_path, exes)
    expected = cache_contents(cache)
    srv = servers()
    srv.set_faults(fail_fraction=0.3, fail_scope=NOT_VERSION, seed=11)
    results = send_until_done(simvue_cli, cache, sender_env(tmp_path, srv, retries="6"))
    srv.reset_faults()
    assert srv.count_requests(status=503) > 50
    assert_exactly_once(srv, expected)
    assert cache_files(cache) == []
    assert all(token_absent(TOKEN, r.stdout, r.stderr) for r in results)
    NOTES.append(f"simvue send with 30% 503s: {len(results)} pass(es), "
                 f"{srv.count_requests(status=503)} requests answered 503")


def rebatch(cache: Path, kind: str, split) -> None:
    """Replaces the ``kind`` batches of a one-run cache with the batches ``split(records)``
    returns (records in logging order), to be sent in that order."""
    files = sorted((cache / kind).glob("*.json"))
    first = json.loads(files[0].read_text())
    records = [r for f in files for r in json.loads(f.read_text())[kind]]
    records.sort(key=lambda r: (r["timestamp"], r.get("step", 0)))
    for f in files:
        f.unlink()
    for i, part in enumerate(split(records)):
        path = cache / kind / f"batch-{i}.json"
        path.write_text(json.dumps(dict(first, **{kind: part})))
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))  # the sender sends in mtime order


@pytest.mark.parametrize("kind", ["metrics", "events"])
def test_retried_batch_whose_records_the_batch_before_holds(tmp_path, servers, simvue_cli, exes, kind):
    """Calls logged within one microsecond share a timestamp, and a batch can begin inside that
    microsecond. Here the second batch holds only records stamped as the first batch's last
    one: metric sets with other steps, or that event twice. Its POST is answered 503 and the
    retry first asks whether it arrived: the first batch's records must not answer yes (steps
    differ; the event is held once, the batch needs it twice), or the batch is never sent."""
    cache = library_cache(tmp_path, exes, ("logger", "40", "0", "-", "5", "64"))
    if kind == "metrics":
        rebatch(cache, kind, lambda sets: (sets[:20], [dict(m, timestamp=sets[19]["timestamp"]) for m in sets[20:]]))
    else:
        rebatch(cache, kind, lambda events: (events[:4], [events[3], events[3]]))
    expected = cache_contents(cache)
    srv = servers()
    srv.set_faults(fail_skip=1, fail_next=1, fail_scope=kind)
    send_until_done(simvue_cli, cache, sender_env(tmp_path, srv, retries="3"))
    assert srv.count_requests("POST", f"/api/{kind}", status=503) == 1
    assert_exactly_once(srv, expected)
    assert cache_files(cache) == []


def test_requests_carried_out_then_reported_failed(tmp_path, servers, simvue_cli, exes):
    """A gateway that times out while the server goes on: each retry must first ask whether
    the failed attempt arrived (runs, batches, artifact records)."""
    cache = faulty_cache(tmp_path, exes)
    expected = cache_contents(cache)
    srv = servers()
    srv.set_faults(fail_fraction=0.25, fail_status=504, fail_after_processing=True,
                   fail_scope=r"^POST /api/(runs|metrics|events|artifacts)$", seed=5)
    send_until_done(simvue_cli, cache, sender_env(tmp_path, srv, retries="6"))
    failed_posts = srv.count_requests("POST", status=504)
    srv.reset_faults()
    assert failed_posts > 10
    assert_exactly_once(srv, expected)


def test_array_and_grid_requests_carried_out_then_reported_failed(tmp_path, servers, simvue_cli, exes):
    """A gateway that times out while the server goes on, for grids and arrays: before each
    retry of an array batch the sender asks which of its arrays arrived (protocol doc §8.7), so
    every array arrives exactly once, with one read per metric and step of a batch in doubt
    and none for the others. A grid made twice leaves only an empty, unattached copy (no
    listing of grids is known to look for it), which the sender said."""
    cache = library_cache(tmp_path, exes, ("grids",), ("tensors", "tensor-run", "90", "8"))
    expected, arrays = cache_contents(cache), cache_tensors(cache)
    keys = max(len(steps_of(b)) for b in batches(cache))
    srv = servers()
    srv.set_faults(fail_fraction=0.35, fail_status=504, fail_after_processing=True,
                   fail_scope=r"^POST /api/(grids|runs/[^/]+/metrics/)$", seed=3)
    results = send_until_done(simvue_cli, cache, sender_env(tmp_path, srv, retries="6"))
    failed = srv.count_requests("POST", status=504)
    failed_arrays = srv.count_requests("POST", ARRAYS_POST, status=504)
    srv.reset_faults()
    assert failed >= 3 and failed_arrays >= 3
    assert_exactly_once(srv, expected)
    err = "".join(r.stderr for r in results)
    assert "may be stored twice" not in err, err
    view = tensor_view(srv)
    for run, want in arrays.items():
        got = Counter(a[:3] for a in view["runs"][run]["arrays"])
        assert set(got) == set(want), f"every array of {run} arrives"
        assert max(got.values()) == 1, f"no array of {run} twice: {sorted(k for k, n in got.items() if n > 1)}"
    asked = srv.count_requests("GET", VALUES_GET)
    assert 0 < asked <= failed_arrays * keys, (asked, failed_arrays, keys)
    assert [(g[0], g[3]) for g in view["runs"]["grids"]["grids"]] == [("mesh", "T"), ("mesh", "rho"),
                                                                     ("prof", "prof")]
    assert [(g[0], g[3]) for g in view["runs"]["tensor-run"]["grids"]] == [("mesh", "T"), ("prof", "prof")]
    grid_retries = len(re.findall(r"grid \S+ \(.*\): created again after a failed attempt", err))
    assert len(view["unattached"]) <= grid_retries
    assert cache_files(cache) == []
    NOTES.append(f"simvue send with 35% 504s after processing on grid and array POSTs: {failed} such "
                 f"answers ({failed_arrays} on array batches), {asked} reads of a step's arrays, "
                 f"0 arrays stored twice, {len(view['unattached'])} empty grid(s) left unattached")


def test_server_stops_mid_upload_and_comes_back(tmp_path, servers, simvue_cli, exes):
    cache = faulty_cache(tmp_path, exes)
    expected = cache_contents(cache)
    srv = servers()
    srv.set_faults(latency=0.01)
    env = sender_env(tmp_path, srv, retries="8", backoff="0.25")
    proc = start_native(simvue_cli, cache, env)
    wait_for(lambda: len(srv.requests()) > 60, what="the upload to be under way")
    srv.go_away()
    time.sleep(1.5)
    srv.come_back()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    assert_exactly_once(srv, expected)
    assert cache_files(cache) == []


def test_server_gone_for_good_leaves_the_rest_and_says_so(tmp_path, servers, simvue_cli, exes):
    cache = faulty_cache(tmp_path, exes)
    expected = cache_contents(cache)
    srv = servers()
    srv.set_faults(latency=0.03)  # slow enough that the upload is still going when it goes
    env = sender_env(tmp_path, srv, retries="3", backoff="0.05")
    proc = start_native(simvue_cli, cache, env)
    wait_for(lambda: len(srv.requests()) > 60, what="the upload to be under way")
    srv.go_away()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, out + err
    assert "finished with items left" in out and "left in the cache" in out
    assert "unreachable" in out or "Connection refused" in out or "connection" in out.lower()
    left = len(cache_files(cache))
    assert left > 0
    srv.come_back()
    srv.reset_faults()
    res = native_send(simvue_cli, cache, env)
    assert res.returncode == 0, describe(res)
    assert_exactly_once(srv, expected)
    assert cache_files(cache) == []


def test_sigkill_at_random_moments_then_rerun(tmp_path, servers, simvue_cli, exes):
    """20 kills at random points of the upload (several requests in flight at once, -w 5),
    each followed by a new `simvue send` that takes over the dead one's lock and continues."""
    # Mostly small batches, so that kills land among several requests in flight.
    cache = library_cache(tmp_path, exes, ("heat1d", "32", "400"),
                          *[("logger", "1500", "0", "-", "10", "8")] * 2)
    expected = cache_contents(cache)
    srv = servers()
    srv.set_faults(latency=0.02)
    # A request the killed sender left with the server counts as settled after its timeout:
    # a short one keeps the re-runs quick.
    env = sender_env(tmp_path, srv, timeout="1")
    rng = random.Random(20240607)
    kills = in_flight = 0
    takeovers = 0
    while kills < 20:
        proc = start_native(simvue_cli, cache, env)
        time.sleep(rng.uniform(0.05, 0.3))
        if proc.poll() is not None:
            out, err = proc.communicate()
            assert proc.returncode == 0, out + err
            break  # finished before the kill: nothing left to interrupt
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        takeovers += "took over the stale lock" in err
        kills += 1
        in_flight += bool(list((cache / ".simvue-send" / "pending").glob("*.json")))
    assert kills == 20, "the cache should need more than 20 interrupted passes"
    srv.reset_faults()
    res = native_send(simvue_cli, cache, env)
    assert res.returncode == 0, describe(res)
    assert "took over the stale lock" in res.stderr
    assert_exactly_once(srv, expected)
    assert cache_files(cache) == []
    assert not list((cache / ".simvue-send" / "pending").glob("*"))
    assert in_flight >= 5, f"only {in_flight} kills caught a request in flight"
    NOTES.append(f"simvue send SIGKILL campaign: {kills} kills, {in_flight} with requests in flight, "
                 f"{takeovers + 1} stale locks taken over; every record once")


def test_sigkill_during_array_uploads_then_rerun(tmp_path, servers, simvue_cli, exes):
    """Kills while tensor metrics are being sent (-w 5, 100 small batches). A batch whose
    request a kill cut off is settled by asking the server which of its arrays it holds
    (protocol doc §8.7): every array arrives exactly once, as everything else does, and the
    reads asked are bounded by the batches left in doubt."""
    cache = library_cache(tmp_path, exes, ("tensors", "tensor-run", "600", "8"))
    expected, arrays = cache_contents(cache), cache_tensors(cache)["tensor-run"]
    assert len(arrays) == 800 and len(list((cache / "grid_metrics").glob("*.json"))) >= 90
    keys = max(len(steps_of(b)) for b in batches(cache))
    srv = servers()
    env = sender_env(tmp_path, srv, timeout="1")
    first = native_send(simvue_cli, cache, env, "-o", "folders", "-o", "runs", "-o", "grids", "-o", "metrics")
    assert first.returncode == 0, describe(first)
    srv.set_faults(latency=0.05)
    rng = random.Random(20240611)
    kills = in_flight = in_doubt = 0
    outputs = []
    while kills < 12:
        proc = start_native(simvue_cli, cache, env)
        time.sleep(rng.uniform(0.1, 0.4))
        if proc.poll() is not None:
            out, err = proc.communicate()
            assert proc.returncode == 0, out + err
            outputs.append(out + err)
            break
        proc.send_signal(signal.SIGKILL)
        outputs.append(proc.communicate(timeout=30)[1])
        kills += 1
        pending = len(list((cache / ".simvue-send" / "pending").glob("grid_metrics.*.json")))
        in_flight += bool(pending)
        in_doubt += pending
    srv.reset_faults()
    res = native_send(simvue_cli, cache, env)
    assert res.returncode == 0, describe(res)
    outputs.append(res.stdout + res.stderr)
    assert_exactly_once(srv, expected)
    assert cache_files(cache) == []
    assert not list((cache / ".simvue-send" / "pending").glob("*"))
    assert "may be stored twice" not in "".join(outputs)
    view = tensor_view(srv)
    got = Counter(a[:3] for a in view["runs"]["tensor-run"]["arrays"])
    assert set(got) == set(arrays), "every array arrives"
    assert max(got.values()) == 1, f"arrays stored twice: {sorted(k for k, n in got.items() if n > 1)}"
    assert [g[3] for g in view["runs"]["tensor-run"]["grids"]] == ["T", "prof"] and view["unattached"] == []
    assert kills >= 3 and in_flight >= 2, (kills, in_flight)
    asked = srv.count_requests("GET", VALUES_GET)
    assert 0 < asked <= in_doubt * keys, (asked, in_doubt, keys)
    already = sum(int(m) for m in re.findall(r"grid_metrics\s+(?:\d+ sent, )?(\d+) already on the server",
                                             "".join(outputs)))
    posts = srv.count_requests("POST", ARRAYS_POST)
    NOTES.append(f"simvue send SIGKILL during array uploads: {kills} kills, {in_flight} with an array batch "
                 f"in flight ({in_doubt} batch(es) left in doubt); {asked} reads of a step's arrays, "
                 f"{already} batch(es) found already stored by the last pass, {posts} array POSTs for "
                 f"{len(set(arrays.values()))} batches; 0 of {len(arrays)} arrays stored twice, everything "
                 f"else once")


@pytest.mark.parametrize("readable", [True, False], ids=["asked", "no-read"])
def test_array_batch_in_doubt_partly_stored(tmp_path, servers, simvue_cli, exes, readable):
    """A batch whose request a kill left in doubt, of which the server holds only some arrays
    (a backend that stored part of it): the next pass sends only the others. A server without
    the read of a step's arrays (its route answers 404 Not Found) gets the whole batch again,
    with a note that it may be stored twice, as before: at least once, never lost."""
    cache = library_cache(tmp_path, exes, ("tensors", "tensor-run", "60", "8"))
    expected, arrays = cache_contents(cache), cache_tensors(cache)["tensor-run"]
    srv = servers()
    srv.grid_values = readable
    env = sender_env(tmp_path, srv, timeout="1")
    first = native_send(simvue_cli, cache, env, "-o", "folders", "-o", "runs", "-o", "grids", "-o", "metrics")
    assert first.returncode == 0, describe(first)
    # Killed while its first array request hangs: nothing stored, the journal entry left.
    srv.set_faults(hang=True, hang_scope=f"^POST {ARRAYS_POST}$")
    proc = start_native(simvue_cli, cache, env, "-w", "1")
    wait_for(lambda: srv.held_requests() == 1, what="an array request to hang")
    kill(proc)
    srv.wait_until_none_held()
    srv.reset_faults()
    pending = list((cache / ".simvue-send" / "pending").glob("grid_metrics.*.json"))
    assert len(pending) == 1, pending
    batch_id = pending[0].name.split(".")[1]
    batch = json.loads((cache / "grid_metrics" / f"{batch_id}.json").read_text())
    ids = {p.stem: p.read_text() for p in (cache / "server_ids").glob("*.txt")}
    run_id = ids[batch["run"]]
    # The server holds every other array of it (across its steps and metrics).
    stored = [dict(i, grid=ids[i["grid"]]) for i in batch["data"][::2]]
    n, k = len(batch["data"]), len(stored)
    assert 2 <= k < n
    assert post_msgpack(srv, f"/api/runs/{run_id}/metrics/", stored) == 200
    before = srv.count_requests("GET", VALUES_GET)
    res = native_send(simvue_cli, cache, env)
    assert res.returncode == 0, describe(res)
    assert_exactly_once(srv, expected)
    assert cache_files(cache) == [] and not list((cache / ".simvue-send" / "pending").glob("*"))
    got = Counter(a[:3] for a in tensor_view(srv)["runs"]["tensor-run"]["arrays"])
    assert set(got) == set(arrays), "every array arrives"
    twice = {key for key, c in got.items() if c > 1}
    asked = srv.count_requests("GET", VALUES_GET) - before
    assert asked == len(steps_of(batch)), "one read per metric and step of the batch in doubt, no more"
    if readable:
        assert twice == set(), sorted(twice)
        assert f"grid metrics {batch_id}: an interrupted attempt had stored {k} of its {n} array(s); " \
               f"the other {n - k} sent" in res.stderr, res.stderr
        assert "may be stored twice" not in res.stderr
    else:
        assert twice == {(i["metric"], i["step"], i["timestamp"]) for i in stored}
        assert f"grid metrics {batch_id}: an interrupted attempt may have stored {n} array(s) the server " \
               f"cannot be asked about" in res.stderr, res.stderr
        assert "may be stored twice" in res.stderr
    NOTES.append(f"simvue send, an array batch in doubt of which the server holds {k} of {n} arrays "
                 f"({'with' if readable else 'without'} the read of a step's arrays): {asked} reads, "
                 f"{n - k if readable else n} arrays sent again, {len(twice)} stored twice")


# The tensor metrics POST, and the read of a step's arrays (as the request log records them).
ARRAYS_POST = r"/api/runs/[^/]+/metrics/"
VALUES_GET = r"/api/runs/[^/]+/metrics/[^/]+/values"


def batches(cache):
    """The tensor metrics batches of a cache, as read."""
    return [json.loads(p.read_text()) for p in (cache / "grid_metrics").glob("*.json")]


def steps_of(batch) -> set:
    """The distinct (metric, step) pairs of a tensor metrics batch."""
    return {(i["metric"], i["step"]) for i in batch["data"]}


def post_msgpack(srv, path: str, body) -> int:
    """POSTs ``body`` as msgpack with the server's token; the status."""
    import msgpack

    req = urllib.request.Request(srv.url + path, data=msgpack.packb(body, use_bin_type=True), method="POST")
    req.add_header("Authorization", f"Bearer {srv.token}")
    req.add_header("Content-Type", "application/msgpack")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status
