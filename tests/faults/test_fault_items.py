"""The faults of issue 11, one test each, driven from C (tests/faults/c/faulty.c) against the
test server (tests/server/simvue_server.py). Only 127.0.0.1 is contacted."""

from __future__ import annotations

import socket
import time

from .fault_helpers import SimvueServer, TOKEN, cache_docs, describe, env, kv, no_token, run


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# 9: a password in SIMVUE_URL is never printed
def test_a_password_in_the_url_is_redacted_from_init_errors(tmp_path):
    url = f"http://alice:pw-CANARY-77@127.0.0.1:{closed_port()}"
    res = run(["log", "3", "0", "1"], tmp_path, env(tmp_path, url, retries="1"))
    out = kv(res.stdout)
    assert out["init_rc"] == "SIMVUE_ERROR_NETWORK", describe(res)
    assert "alice:***@127.0.0.1" in out["init_msg"], describe(res)
    assert "pw-CANARY-77" not in res.stdout + res.stderr, describe(res)
    no_token(res.stdout, res.stderr, dirs=(tmp_path,))


# 9: set_status twice: the last status wins, as in the Python client
def test_the_last_status_set_wins(tmp_path):
    with SimvueServer(token=TOKEN) as srv:
        res = run(["status"], tmp_path, env(tmp_path, srv.url))
        out = kv(res.stdout)
        assert out["close_rc"] == "SIMVUE_OK" and out["log_errors"] == "0", describe(res)
        assert srv.run(out["run_id"])["status"] == "completed"


# 1: snapshots of different files sharing a name, from threads and from processes sharing the
# cache, each get their own copy, and every record matches its copy's bytes
def test_concurrent_snapshots_never_share_a_copy(tmp_path):
    import hashlib
    import json
    import subprocess

    from .fault_helpers import exe

    threads, saves, procs = 8, 60, 3
    e = env(tmp_path, "http://127.0.0.1:9", mode="offline")
    running = []
    for p in range(procs):
        d = tmp_path / f"files{p}"
        d.mkdir()
        (tmp_path / "cwd").mkdir(exist_ok=True)
        running.append(subprocess.Popen([exe(), "snap", str(threads), str(saves), str(d)],
                                         cwd=tmp_path / "cwd", env=e, text=True,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outs = [(p, *p.communicate(timeout=120)) for p in running]
    for p, out, err in outs:
        res = kv(out)
        assert res.get("log_errors") == "0" and res.get("close_rc") == "SIMVUE_OK", (out, err)
    records = cache_docs(tmp_path / "cache", "artifacts")
    assert len(records) == threads * saves * procs
    copies = [doc["file_path"] for _, doc in records]
    assert len(set(copies)) == len(copies), "two records point at one copy"
    wrong = []
    for _, doc in records:
        data = open(doc["file_path"], "rb").read()
        t, s = doc["name"].removesuffix(".txt").split("-")
        if (hashlib.sha256(data).hexdigest() != doc["checksum"]
                or not data.startswith(f"thread {t[1:]} save {s[1:]} ".encode())):
            wrong.append(json.dumps(doc))
    assert wrong == [], f"{len(wrong)} records do not match their copy, e.g. {wrong[:2]}"


# 6: a server that accepts but never answers holds init up for at most the init timeout
# (default 10 s), after which the run is recorded offline; defaults everywhere else
DEFAULT_HTTP = {"timeout": "10", "retries": "5", "backoff": "0.5"}


def test_init_against_a_hung_server_falls_back_offline_within_the_init_timeout(tmp_path):
    with SimvueServer(token=TOKEN) as srv:
        srv.set_faults(hang=True, hang_scope="all")
        t0 = time.monotonic()
        res = run(["log", "3", "0", "1"], tmp_path, env(tmp_path, srv.url, **DEFAULT_HTTP),
                  timeout=40)
        elapsed = time.monotonic() - t0
        srv.release()
    out = kv(res.stdout)
    assert out["init_rc"] == "SIMVUE_ERROR_NETWORK", describe(res)
    assert out["run_id"].startswith("offline_") and out["close_rc"] == "SIMVUE_OK", describe(res)
    assert elapsed < 13, f"init took {elapsed:.1f} s against a hung server"
    assert len(cache_docs(tmp_path / "cache", "metrics")) >= 1


# 6: a server that hangs mid-run holds close up for at most the close timeout (default 15 s);
# the rest is spilled and simvue-sender delivers it
def test_close_against_a_hung_server_spills_within_the_close_timeout(tmp_path):
    from .fault_helpers import finish, read_until, send, start

    with SimvueServer(token=TOKEN) as srv:
        proc = start(["log", "5", "100", "1"], tmp_path, env(tmp_path, srv.url, **DEFAULT_HTTP))
        lines: list[str] = []
        assert read_until(proc, "run_id=", lines), "".join(lines)
        srv.set_faults(hang=True, hang_scope="all")
        t0 = time.monotonic()
        out, err = finish(proc, lines, timeout=60)
        elapsed = time.monotonic() - t0
        # A server that never stores what it hung on: every held request is dropped before the
        # release (otherwise one whose client gave up a moment ago would be stored late, and
        # the copy spilled at close would be a second one, as the warning then says).
        srv.wait_until_none_held()
        srv.reset_faults()
        assert elapsed < 15 + 1 + 2, f"close took {elapsed:.1f} s against a hung server\n{err}"
        rid = out["run_id"]
        send(tmp_path / "cache", srv, tmp_path)
        steps = sorted(m["step"] for m in srv.metrics(rid))
        assert steps == list(range(5)), steps  # each once (issue 11, item 5)
        assert {e["message"] for e in srv.events(rid)} >= {f"e{i}" for i in range(5)}
        assert srv.run(rid)["status"] == "completed"


# 8: a self-signed server certificate (CA:TRUE, as `openssl req -x509` makes it) configured as
# the server's CA is accepted, as the Python client accepts it; another one is still refused
def _self_signed(d, name):
    import shutil
    import subprocess

    import pytest

    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    d.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", f"{name}.key", "-out", f"{name}.pem"],
                   cwd=d, check=True, capture_output=True)
    return d / f"{name}.pem", d / f"{name}.key"


def test_a_configured_self_signed_server_certificate_is_accepted(tmp_path):
    import ssl

    cert, key = _self_signed(tmp_path / "tls", "server")
    other, _ = _self_signed(tmp_path / "tls", "other")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    with SimvueServer(token=TOKEN, ssl_context=ctx) as srv:
        ok = run(["log", "2", "0", "1"], tmp_path / "ok",
                 env(tmp_path / "ok", srv.url, SIMVUE_SERVER_CA_CERTIFICATE=str(cert)))
        out = kv(ok.stdout)
        assert out["init_rc"] == "SIMVUE_OK", describe(ok)
        assert sorted(m["step"] for m in srv.metrics(out["run_id"])) == [0, 1]
        bad = run(["log", "2", "0", "1"], tmp_path / "bad",
                  env(tmp_path / "bad", srv.url, retries="1",
                      SIMVUE_SERVER_CA_CERTIFICATE=str(other)))
        assert kv(bad.stdout)["init_rc"] != "SIMVUE_OK", describe(bad)
        assert len(srv.runs()) == 1


# 3: a server that answers 200 with an HTML page (a proxy's error page): every kind of object
# is spilled and delivered by simvue-sender, the run ends completed; at init, the run falls
# back offline as for an unreachable server
def _delivered(srv, rid, steps):
    assert sorted(m["step"] for m in srv.metrics(rid)) == list(range(steps))
    assert sorted(e["message"] for e in srv.events(rid)) == sorted(f"e{i}" for i in range(steps))
    run_ = srv.run(rid)
    assert run_["status"] == "completed", run_
    assert run_["metadata"].get("steps_done") == steps, run_["metadata"]
    arts = [(a["meta"]["name"], a["data"], a["runs"]) for a in srv.artifacts().values()
            if a["uploaded"]]
    assert arts == [("summary.txt", f"steps {steps}\n".encode(), {rid: "output"})], arts


def test_html_answers_mid_run_spill_every_kind_of_object(tmp_path):
    from .fault_helpers import finish, read_until, send, start

    with SimvueServer(token=TOKEN) as srv:
        proc = start(["log", "4", "50", "1"], tmp_path, env(tmp_path, srv.url))
        lines: list[str] = []
        assert read_until(proc, "run_id=", lines), "".join(lines)
        srv.set_faults(garble=True, garble_scope="api")
        out, err = finish(proc, lines, timeout=60)
        srv.reset_faults()
        rid = out["run_id"]
        assert srv.run(rid)["status"] == "running"
        send(tmp_path / "cache", srv, tmp_path)
        _delivered(srv, rid, 4)


def test_html_answers_at_init_fall_back_offline(tmp_path):
    from .fault_helpers import send

    with SimvueServer(token=TOKEN) as srv:
        srv.set_faults(garble=True, garble_scope="api")
        res = run(["log", "3", "0", "1"], tmp_path, env(tmp_path, srv.url))
        srv.reset_faults()
        out = kv(res.stdout)
        assert out["init_rc"] == "SIMVUE_ERROR_NETWORK", describe(res)
        assert out["run_id"].startswith("offline_"), describe(res)
        assert srv.runs() == {}
        send(tmp_path / "cache", srv, tmp_path)
        (rid,) = srv.runs()
        _delivered(srv, rid, 3)


# 4 (part): a file size limit (ulimit -f) makes writes fail with an I/O error the library
# reports; the solver is not killed by SIGXFSZ
def test_a_file_size_limit_does_not_kill_the_solver(tmp_path):
    import resource
    import subprocess

    from .fault_helpers import exe

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    e = env(tmp_path, "http://127.0.0.1:9", mode="offline")
    (tmp_path / "cwd").mkdir()
    res = subprocess.run([exe(), "log", "400", "0", "1"], cwd=tmp_path / "cwd", env=e,
                         capture_output=True, text=True, timeout=60, preexec_fn=limit)
    assert res.returncode == 0, f"killed by signal {-res.returncode}\n{describe(res)}"
    assert "DONE" in res.stdout, describe(res)
    assert "File too large" in res.stderr, describe(res)


# 4: a disk that is full for a while (a file size limit the solver lifts again) loses nothing:
# what could not be written is kept in memory and written when there is room again
def test_a_disk_full_episode_loses_nothing(tmp_path):
    import resource
    import subprocess

    from .fault_helpers import exe

    def limit():  # files over 4 KiB fail (EFBIG) until the driver raises the soft limit
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))

    steps, back_at = 600, 400
    e = env(tmp_path, "http://127.0.0.1:9", mode="offline", FAULTY_FSIZE_BACK_AT=str(back_at))
    (tmp_path / "cwd").mkdir()
    res = subprocess.run([exe(), "log", str(steps), "5", "1"], cwd=tmp_path / "cwd", env=e,
                         capture_output=True, text=True, timeout=60, preexec_fn=limit)
    out = kv(res.stdout)
    assert res.returncode == 0 and "space_back" in res.stdout, describe(res)
    assert "File too large" in res.stderr, f"the disk was never full\n{describe(res)}"
    assert (out["close_rc"], out["lost_metrics"], out["lost_events"]) == ("SIMVUE_OK", "0", "0"), \
        describe(res)
    cache = tmp_path / "cache"
    got = sorted(m["step"] for _, doc in cache_docs(cache, "metrics") for m in doc["metrics"])
    assert got == list(range(steps)), f"{steps - len(set(got))} sets missing\n{describe(res)}"
    msgs = sorted(ev["message"] for _, doc in cache_docs(cache, "events") for ev in doc["events"])
    assert msgs == sorted(f"e{i}" for i in range(steps))
    (_, run_doc), = cache_docs(cache, "runs")
    assert run_doc["status"] == "completed"


# 4: writes that never succeed (the cache's metrics/ is a file) are counted, close says so and
# fails, and the run does not claim a clean completion
def test_data_that_cannot_be_written_is_counted_lost_and_the_run_ends_lost(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "metrics").write_text("not a directory")
    res = run(["log", "50", "0", "1"], tmp_path, env(tmp_path, "http://127.0.0.1:9",
                                                      mode="offline"))
    out = kv(res.stdout)
    assert "DONE" in res.stdout, describe(res)
    assert out["close_rc"] == "SIMVUE_ERROR_IO", describe(res)
    assert "50 metric sets and 0 events" in out["close_msg"] and "lost" in out["close_msg"]
    assert (out["lost_metrics"], out["lost_events"]) == ("50", "0"), describe(res)
    assert "50 metric sets and 0 events could not be written" in res.stderr, describe(res)
    (_, run_doc), = cache_docs(cache, "runs")
    assert run_doc["status"] == "lost", run_doc
    assert (cache / "runs" / f"{out['run_id']}.closed").exists()
    msgs = sorted(ev["message"] for _, doc in cache_docs(cache, "events") for ev in doc["events"])
    assert msgs == sorted(f"e{i}" for i in range(50))
