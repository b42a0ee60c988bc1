"""Saved files (artifacts) through the C API: simvue_run_save, _save_directory, _save_all and
_save_bytes, online against tests/server/simvue_server/, offline into a cache uploaded by the
real simvue-sender, bad input, the Python client 2.6.2 as reference, upload retries, MIME guesses
for every extension Python knows, and online runs whose uploads fail (kept for simvue-sender).

Protocol references (docs/protocol.md): §6 (artifacts), §0 item 4 (upload
styles, whole file re-sent on retry), §8.2/§8.5 (offline artifact records).

    SIMVUE_PYREF=/tmp/pyref/bin/python /tmp/pyref/bin/python -m pytest -q tests/artifacts
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from .helpers import (CODE, INPUT, OUTPUT, SNAPSHOT, WAIT, describe, kv, make_big_file,
                               program_env, run_program, sha256_file)

BIG_SIZE = 300 * 1000 * 1000  # the "few hundred MB" output field
MAX_RSS_KB = 64 * 1024  # the C process must stay far below the file size
CATEGORY = {INPUT: "input", OUTPUT: "output", CODE: "code"}
FILE_KEYS = ["obj_type", "name", "storage", "original_path", "size", "mime_type", "checksum",
             "metadata", "file_path", "runs"]  # §8.2 file artifact, in Python's order
OBJECT_KEYS = ["obj_type", "original_path", "name", "storage", "size", "mime_type", "checksum",
               "metadata", "obj", "runs"]  # §8.2 object artifact
SUMMARY = {"a": 1, "b": [1, 2], "name": "heat"}
SUMMARY_TEXT = json.dumps(SUMMARY)  # what Python's save_object of the dict serialises (§6.2)
PARAMS = "nx = 64\nalpha = 0.01\n"
FIELD = "x,T\n0.0,1.0\n0.5,0.75\n1.0,0.5\n"


@pytest.fixture(scope="session")
def saver(exes) -> Path:
    """The compiled ``tests/artifacts/c/saver.c``."""
    return exes["saver"]


def py_mime(name: str) -> str:
    """The type Python's client guesses (utilities.get_mimetype_for_file)."""
    mimetypes.init()
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_saver(saver: Path, cwd: Path, env: dict, ops: list, *, running: int = 1,
              timeout: float = 120) -> tuple:
    res = run_program([saver, running, *ops], cwd=cwd, env=env, timeout=timeout)
    assert res.returncode == 0 and "DONE" in res.stdout, describe(res)
    out = kv(res.stdout)
    assert out.get("init_rc") == "SIMVUE_OK", describe(res)
    return res, out


def op_results(out: dict) -> list[tuple[str, str]]:
    """[(rc name, message)] of every operation, in order."""
    res = []
    i = 0
    while f"op{i}_rc" in out:
        res.append((out[f"op{i}_rc"], out.get(f"op{i}_msg", "")))
        i += 1
    return res


def by_name(srv) -> dict[str, dict]:
    arts = srv.artifacts()
    names = [a["meta"]["name"] for a in arts.values()]
    assert len(names) == len(set(names)), f"an artifact was created twice: {sorted(names)}"
    return {a["meta"]["name"]: a for a in arts.values()}


def check_received(art: dict, *, run_id: str, category: str, mime: str, checksum: str, size: int,
                   original_path: str | None) -> None:
    """One artifact as the server holds it: announced == received, uploaded, attached."""
    meta = art["meta"]
    name = meta["name"]
    assert art["data"] is not None, f"{name}: no bytes were uploaded"
    assert meta["checksum"] == checksum, f"{name}: announced checksum {meta['checksum']} != {checksum}"
    assert meta["size"] == size, f"{name}: announced size {meta['size']} != {size}"
    assert len(art["data"]) == size, f"{name}: received {len(art['data'])} bytes, expected {size}"
    assert sha(art["data"]) == checksum, f"{name}: received bytes do not have the announced sha256"
    assert meta["mime_type"] == mime, f"{name}: mime {meta['mime_type']!r} != {mime!r}"
    if original_path is not None:
        assert meta["original_path"] == original_path, name
    assert meta.get("metadata") is None, name
    assert set(meta) <= {"name", "original_path", "size", "mime_type", "checksum", "metadata"}, (
        f"{name}: unexpected keys in POST /api/artifacts: {sorted(meta)}")
    assert art["uploaded"] is True, f"{name}: never marked uploaded"
    assert art["runs"] == {run_id: category}, f"{name}: attached as {art['runs']}"
    assert art["upload"]["authorization"] is None, f"{name}: the storage upload carried Authorization"


def metric_values(srv, run_id: str, name: str = "m") -> list[float]:
    return [m["values"][name] for m in srv.metrics(run_id) if name in m["values"]]


# --------------------------------------------------------------------------------------------------
# 1. Online, both upload styles, with a 300 MB output file


@pytest.fixture(scope="session")
def big_file(tmp_path_factory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("big") / "field_300MB.dat"
    return path, make_big_file(path, BIG_SIZE)


def write_small_inputs(cwd: Path) -> None:
    cwd.mkdir(parents=True, exist_ok=True)
    (cwd / "params.in").write_text(PARAMS)
    (cwd / "empty.py").write_bytes(b"")
    (cwd / "field.csv").write_text(FIELD)


@pytest.mark.parametrize("style", ["post", "put"])
def test_online_save_small_empty_bytes_and_300MB(style, saver, servers, big_file, tmp_path):
    big, big_sha = big_file
    srv = servers(upload_style=style)
    cwd = tmp_path / "cwd"
    write_small_inputs(cwd)
    env = program_env(tmp_path / "home", tmp_path / "cache", srv.url)
    ops = ["metric", "m", "1",
           "save", "params.in", INPUT, "-", 0, "-", 0,
           "save", "empty.py", CODE, "-", 0, "-", 0,
           "save", cwd / "field.csv", OUTPUT, "-", 0, "-", WAIT,
           "bytes", "summary.json", OUTPUT, "application/json", 0, SUMMARY_TEXT,
           "save", "deck.txt", INPUT, "-", 0, "-", SNAPSHOT,
           "write", "deck.txt", "OVERWRITTEN\n",
           "bytes0", "nothing.bin", OUTPUT, "-", 0,
           "save", big, OUTPUT, "-", 0, "-", 0,
           "metric", "m", "2"]
    (cwd / "deck.txt").write_text(PARAMS)
    res, out = run_saver(saver, cwd, env, ops, timeout=180)
    assert [rc for rc, _ in op_results(out)] == ["SIMVUE_OK"] * 10, describe(res)
    assert out["close_rc"] == "SIMVUE_OK", describe(res)
    run_id = out["run_id"]

    arts = by_name(srv)
    assert sorted(arts) == sorted(["params.in", "empty.py", "field.csv", "summary.json", "deck.txt",
                                   "nothing.bin", big.name])
    check_received(arts["params.in"], run_id=run_id, category="input", mime="application/octet-stream",
                   checksum=sha(PARAMS.encode()), size=len(PARAMS), original_path=str(cwd / "params.in"))
    check_received(arts["empty.py"], run_id=run_id, category="code", mime=py_mime("empty.py"),
                   checksum=sha(b""), size=0, original_path=str(cwd / "empty.py"))
    assert arts["empty.py"]["meta"]["mime_type"] == "text/x-python"
    check_received(arts["field.csv"], run_id=run_id, category="output", mime="text/csv",
                   checksum=sha(FIELD.encode()), size=len(FIELD), original_path=str(cwd / "field.csv"))
    check_received(arts["summary.json"], run_id=run_id, category="output", mime="application/json",
                   checksum=sha(SUMMARY_TEXT.encode()), size=len(SUMMARY_TEXT), original_path="")
    assert arts["summary.json"]["data"] == SUMMARY_TEXT.encode()
    check_received(arts["nothing.bin"], run_id=run_id, category="output", mime="application/octet-stream",
                   checksum=sha(b""), size=0, original_path="")
    check_received(arts[big.name], run_id=run_id, category="output", mime="application/octet-stream",
                   checksum=big_sha, size=BIG_SIZE, original_path=str(big))
    # The snapshot: the content at save time, read from the copy in <cache>/artifacts, which is
    # deleted once uploaded (file.py:143-144).
    snap = Path(arts["deck.txt"]["meta"]["original_path"])
    assert snap.parent == tmp_path / "cache" / "artifacts" and snap.suffix == ".file", snap
    check_received(arts["deck.txt"], run_id=run_id, category="input", mime="text/plain",
                   checksum=sha(PARAMS.encode()), size=len(PARAMS), original_path=None)
    assert not snap.exists(), "the uploaded snapshot copy was left in the cache"
    assert (cwd / "deck.txt").read_text() == "OVERWRITTEN\n"

    # The storage request itself: the style the server asked for, no token anywhere near it.
    for name, a in arts.items():
        up = a["upload"]
        assert a["uploads"] == 1, f"{name} uploaded {a['uploads']} times"
        if style == "post":
            assert up["method"] == "POST", name
            assert up["fields"] == {"key": f"artifacts/{a['id']}", "policy": "dGVzdA==",
                                    "x-amz-signature": "0" * 16}, name
            assert up["field_order"] == ["key", "policy", "x-amz-signature", "file"], name
            if name in ("summary.json", "nothing.bin"):
                assert up["filename"] == "file", name
            elif name != "deck.txt":  # the snapshot copy's own name for deck.txt
                assert up["filename"] == name, name
            assert up["content_type"].startswith("multipart/form-data"), name
        else:
            assert up["method"] == "PUT", name
    storage = [r for r in srv.requests() if r["path"].startswith("/storage/")]
    assert len(storage) == 7 and not any(r["auth"] for r in storage), storage

    # Everything else of the run arrived.
    assert metric_values(srv, run_id) == [1.0, 2.0]
    assert srv.run(run_id)["status"] == "completed"
    # Streaming: the process never held the 300 MB file (nor a large part of it).
    hwm = int(out["vmhwm_kb"])
    print(f"\n[{style}] peak memory of the C process: VmHWM={hwm} kB, ru_maxrss={out['maxrss_kb']} kB "
          f"while saving a {BIG_SIZE // 10**6} MB file (close took {out['close_seconds']} s)")
    assert 0 < hwm < MAX_RSS_KB, f"VmHWM {hwm} kB: the file was held in memory"
    # (ru_maxrss is not used: Linux carries it over execve from the forked pytest process.)
    assert "error" not in res.stderr.lower() and "fail" not in res.stderr.lower(), res.stderr


# --------------------------------------------------------------------------------------------------
# 2. Offline cache, snapshot, uploaded by the real simvue-sender


def read_artifact_records(cache: Path) -> dict[str, tuple[Path, dict]]:
    recs = {}
    for f in sorted((cache / "artifacts").glob("*.json")):
        raw = f.read_text()
        assert raw.isascii(), f"{f} is not ASCII-only JSON"
        d = json.loads(raw)
        recs[d["name"]] = (f, d)
    return recs


def test_offline_records_snapshot_and_real_sender(saver, sender_exe, servers, tmp_path):
    cwd = tmp_path / "cwd"
    write_small_inputs(cwd)
    medium = cwd / "medium.bin"
    medium_sha = make_big_file(medium, 24 * 1024 * 1024 + 7, seed=2)
    cache = tmp_path / "cache"
    env = program_env(tmp_path / "home", cache, "http://127.0.0.1:1", mode="offline")
    ops = ["metric", "m", "1",
           "save", "params.in", INPUT, "-", 0, "-", 0,
           "save", cwd / "empty.py", CODE, "-", 0, "-", 0,
           "save", "field.csv", OUTPUT, "-", 0, "-", SNAPSHOT,
           "write", "field.csv", "OVERWRITTEN AFTER SAVE\n",
           "bytes", "summary.json", OUTPUT, "application/json", 0, SUMMARY_TEXT,
           "save", "medium.bin", OUTPUT, "-", 0, "-", WAIT,
           "metric", "m", "2"]
    res, out = run_saver(saver, cwd, env, ops)
    assert all(rc == "SIMVUE_OK" for rc, _ in op_results(out)), describe(res)
    assert out["close_rc"] == "SIMVUE_OK", describe(res)
    run_id = out["run_id"]
    assert run_id.startswith("offline_"), run_id
    assert (cwd / "field.csv").read_text() == "OVERWRITTEN AFTER SAVE\n"

    recs = read_artifact_records(cache)
    assert sorted(recs) == ["empty.py", "field.csv", "medium.bin", "params.in", "summary.json"]
    expected = {  # name: (file_path as given, category, mime, content sha, size)
        "params.in": ("params.in", "input", "application/octet-stream", sha(PARAMS.encode()), len(PARAMS)),
        "empty.py": (str(cwd / "empty.py"), "code", "text/x-python", sha(b""), 0),
        "field.csv": (None, "output", "text/csv", sha(FIELD.encode()), len(FIELD)),  # snapshot: see below
        "medium.bin": ("medium.bin", "output", "application/octet-stream", medium_sha, medium.stat().st_size),
    }
    for name, (given, cat, mime, checksum, size) in expected.items():
        f, d = recs[name]
        assert list(d) == FILE_KEYS, f"{name}: keys {list(d)}"
        assert d["obj_type"] == "FileArtifact"
        assert d["storage"] is None and d["metadata"] is None
        # A snapshot's file_path is its copy in the cache, as simvue 2.6.2 records it.
        assert d["file_path"] == (given if given is not None else d["original_path"]), (name, d["file_path"])
        assert d["runs"] == {run_id: cat}, (name, d["runs"])
        assert d["mime_type"] == mime == py_mime(name), (name, d["mime_type"])
        assert d["checksum"] == checksum and d["size"] == size, (name, d)
        assert os.path.isabs(d["original_path"]), d["original_path"]
        assert sha256_file(Path(d["original_path"])) == checksum, f"{name}: original_path content changed"
        if name != "field.csv":
            assert d["original_path"] == str(cwd / name)
    # The snapshot: a copy in <cache>/artifacts named <stem>_<YYYY-MM-DD_HH-MM-SS_mmm>.file.
    snap = Path(recs["field.csv"][1]["original_path"])
    assert snap.parent == cache / "artifacts", snap
    assert snap.name.startswith("field_") and snap.suffix == ".file", snap
    assert snap.read_text() == FIELD
    # The buffer: an ObjectArtifact plus <id>.object.
    f, d = recs["summary.json"]
    assert list(d) == OBJECT_KEYS, list(d)
    assert d["obj_type"] == "ObjectArtifact" and d["original_path"] == "" and d["obj"] is None
    assert d["mime_type"] == "application/json" and d["runs"] == {run_id: "output"}
    assert d["checksum"] == sha(SUMMARY_TEXT.encode()) and d["size"] == len(SUMMARY_TEXT)
    obj_file = f.with_suffix(".object")
    assert obj_file.read_bytes() == SUMMARY_TEXT.encode()

    # The real sender, with the same configured cache (so it deletes the snapshot copy).
    srv = servers(upload_style="post")
    senv = program_env(tmp_path / "sender-home", cache, srv.url, mode="online")
    sres = run_program([sender_exe, "-i", cache], cwd=tmp_path / "sender-cwd", env=senv, timeout=120)
    assert sres.returncode == 0, f"simvue-sender failed\n{describe(sres)}"
    (online_id, run), = srv.runs().items()
    assert run["status"] == "completed"
    arts = by_name(srv)
    assert sorted(arts) == sorted(recs)
    for name, (given, cat, mime, checksum, size) in expected.items():
        check_received(arts[name], run_id=online_id, category=cat, mime=mime, checksum=checksum,
                       size=size, original_path=None)
    assert arts["field.csv"]["data"] == FIELD.encode(), "the server got the overwritten file, not the snapshot"
    assert arts["summary.json"]["data"] == SUMMARY_TEXT.encode()
    assert arts["summary.json"]["runs"] == {online_id: "output"} and arts["summary.json"]["uploaded"]
    assert not snap.exists(), "simvue-sender did not delete the snapshot copy"
    assert not obj_file.exists()
    assert list((cache / "artifacts").iterdir()) == [], list((cache / "artifacts").iterdir())
    assert (cwd / "params.in").exists() and (cwd / "medium.bin").exists(), "the sender deleted a user file"
    assert metric_values(srv, online_id) == [1.0, 2.0]


# --------------------------------------------------------------------------------------------------
# 3. Bad input: a clear error, the run goes on, nothing else lost


def test_bad_input_is_refused_and_the_run_goes_on(saver, servers, tmp_path):
    srv = servers(upload_style="put")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "good.txt").write_text("good\n")
    (cwd / "adir").mkdir()
    os.mkfifo(cwd / "fifo")
    (tmp_path / "outside.txt").write_text("outside\n")
    tree = cwd / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a\n")
    (tree / "b.csv").write_text("b,1\n")
    (tree / "sub" / "c.json").write_text('{"c": 3}')
    os.mkfifo(tree / "pipe")
    (cwd / "late.dat").write_bytes(b"\x00\x01late")

    cases = [  # (label, op words, expected rc, text the message must contain)
        ("missing file", ["save", "missing.txt", INPUT, "-", 0, "-", 0], "SIMVUE_ERROR_NOT_FOUND", "missing.txt"),
        ("directory to save", ["save", "adir", INPUT, "-", 0, "-", 0], "SIMVUE_ERROR_INVALID_ARGUMENT", "adir"),
        ("fifo", ["save", "fifo", INPUT, "-", 0, "-", 0], None, "fifo"),
        ("unknown category", ["save", "good.txt", 7, "-", 0, "-", 0], "SIMVUE_ERROR_UNKNOWN_ENUM", ""),
        ("unknown mime", ["save", "good.txt", INPUT, "text/nonsense", 0, "-", 0],
         "SIMVUE_ERROR_INVALID_ARGUMENT", "text/nonsense"),
        ("escaping path", ["save", "../outside.txt", INPUT, "-", 1, "-", 0],
         "SIMVUE_ERROR_INVALID_ARGUMENT", "outside"),
        ("bad bytes name", ["bytes", "a|b", OUTPUT, "-", 0, "xyz"], "SIMVUE_ERROR_INVALID_ARGUMENT", ""),
        ("bytes unknown mime", ["bytes", "ok.bin", OUTPUT, "no/such-type", 0, "xyz"],
         "SIMVUE_ERROR_INVALID_ARGUMENT", "no/such-type"),
        ("unknown category, bytes", ["bytes", "ok.bin", 3, "-", 0, "xyz"], "SIMVUE_ERROR_UNKNOWN_ENUM", ""),
        ("unknown category, dir", ["dir", "tree", -1, "-", 0, 0], "SIMVUE_ERROR_UNKNOWN_ENUM", ""),
        ("dir on a file", ["dir", "good.txt", INPUT, "-", 0, 0], "SIMVUE_ERROR_INVALID_ARGUMENT", "good.txt"),
        ("dir missing", ["dir", "nodir", INPUT, "-", 0, 0], "SIMVUE_ERROR_NOT_FOUND", "nodir"),
    ]
    ops: list = ["metric", "m", "0"]
    for i, (_, words, _, _) in enumerate(cases):
        ops += words + ["metric", "m", str(i + 1)]
    n_bad = len(cases)
    # Good saves after all of that, including save_directory over a tree holding a FIFO and
    # save_all with one missing entry.
    ops += ["dir", "tree", INPUT, "-", 0, 0,
            "all", 3, "late.dat", "missing2.txt", "adir", CODE, "-", 0, 0,
            "save", "good.txt", INPUT, "-", 0, "-", WAIT,
            "metric", "m", str(n_bad + 1)]
    env = program_env(tmp_path / "home", tmp_path / "cache", srv.url)
    res, out = run_saver(saver, cwd, env, ops, timeout=60)
    results = op_results(out)
    assert len(results) == 1 + 2 * n_bad + 4, describe(res)
    problems = []
    for i, (label, _, want, text) in enumerate(cases):
        rc, msg = results[1 + 2 * i]
        if want is None:
            ok = rc not in ("SIMVUE_OK", "SIMVUE_ERROR_PANIC")
        else:
            ok = rc == want
        if not ok or not msg.strip() or text not in msg:
            problems.append(f"{label}: got {rc} {msg!r}, expected {want or 'an error'} mentioning {text!r}")
        assert float(out[f"op{2 + 2 * i}_seconds"]) < 5, f"{label} took long"
    assert not problems, "\n".join(problems) + "\n" + describe(res)
    # Every metric call succeeded.
    metric_ops = [results[0]] + [results[2 + 2 * i] for i in range(n_bad)] + [results[-1]]
    assert all(rc == "SIMVUE_OK" for rc, _ in metric_ops), describe(res)
    dir_rc, all_rc, good_rc = (r for r, _ in results[-4:-1])
    # save_directory skips the FIFO (os.walk + FilePath in Python skips/ignores it too).
    assert dir_rc == "SIMVUE_OK", describe(res)
    # save_all: the missing entry is reported, the rest saved.
    all_msg = results[-3][1]
    assert all_rc == "SIMVUE_ERROR_NOT_FOUND" and "missing2.txt" in all_msg, describe(res)
    assert good_rc == "SIMVUE_OK", describe(res)
    assert out["close_rc"] == "SIMVUE_OK", describe(res)

    run_id = out["run_id"]
    arts = by_name(srv)
    assert sorted(arts) == ["a.txt", "b.csv", "c.json", "good.txt", "late.dat"], sorted(arts)
    contents = {"a.txt": b"a\n", "b.csv": b"b,1\n", "c.json": b'{"c": 3}', "good.txt": b"good\n",
                "late.dat": b"\x00\x01late"}
    cats = {"late.dat": "code"}
    for name, data in contents.items():
        check_received(arts[name], run_id=run_id, category=cats.get(name, "input"), mime=py_mime(name),
                       checksum=sha(data), size=len(data), original_path=None)
    assert metric_values(srv, run_id) == [float(i) for i in range(n_bad + 2)]
    assert srv.run(run_id)["status"] == "completed"


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: a chmod 000 file and a directory "
                    "without x permission are readable by root (the FIFO case of the test above "
                    "covers a file that cannot be read as a regular file)")
def test_unreadable_files_are_refused(saver, servers, tmp_path):
    srv = servers()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "locked.txt").write_text("secret\n")
    os.chmod(cwd / "locked.txt", 0)
    (cwd / "nox").mkdir()
    (cwd / "nox" / "inner.txt").write_text("inner\n")
    os.chmod(cwd / "nox", 0o600)
    (cwd / "ok.txt").write_text("ok\n")
    try:
        ops = ["metric", "m", "1",
               "save", "locked.txt", INPUT, "-", 0, "-", 0,
               "save", "nox/inner.txt", INPUT, "-", 0, "-", 0,
               "save", "ok.txt", INPUT, "-", 0, "-", 0,
               "metric", "m", "2"]
        env = program_env(tmp_path / "home", tmp_path / "cache", srv.url)
        res, out = run_saver(saver, cwd, env, ops)
    finally:
        os.chmod(cwd / "nox", 0o700)
    results = op_results(out)
    assert results[1][0] == "SIMVUE_ERROR_IO" and "locked.txt" in results[1][1], describe(res)
    assert results[2][0] not in ("SIMVUE_OK", "SIMVUE_ERROR_PANIC") and "inner.txt" in results[2][1], describe(res)
    assert [r for r, _ in (results[0], results[3], results[4])] == ["SIMVUE_OK"] * 3, describe(res)
    assert sorted(by_name(srv)) == ["ok.txt"]
    assert metric_values(srv, out["run_id"]) == [1.0, 2.0]


def test_output_refused_while_run_is_only_created(saver, servers, tmp_path):
    srv = servers()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "out.txt").write_text("out\n")
    (cwd / "in.txt").write_text("in\n")
    (cwd / "d").mkdir()
    (cwd / "d" / "x.txt").write_text("x\n")
    ops = ["save", "out.txt", OUTPUT, "-", 0, "-", 0,
           "bytes", "o.json", OUTPUT, "application/json", 0, "{}",
           "dir", "d", OUTPUT, "-", 0, 0,
           "all", 1, "out.txt", OUTPUT, "-", 0, 0,
           "save", "in.txt", INPUT, "-", 0, "-", WAIT]
    env = program_env(tmp_path / "home", tmp_path / "cache", srv.url)
    res, out = run_saver(saver, cwd, env, ops, running=0)
    results = op_results(out)
    assert [rc for rc, _ in results[:4]] == ["SIMVUE_ERROR_STATE"] * 4, describe(res)
    assert all(msg for _, msg in results[:4]), describe(res)
    assert results[4][0] == "SIMVUE_OK", describe(res)  # inputs are allowed (run.py:2004 only checks output)
    run_id = out["run_id"]
    arts = by_name(srv)
    assert sorted(arts) == ["in.txt"]
    check_received(arts["in.txt"], run_id=run_id, category="input", mime="text/plain",
                   checksum=sha(b"in\n"), size=3, original_path=str(cwd / "in.txt"))
    assert srv.run(run_id)["status"] == "created"


# --------------------------------------------------------------------------------------------------
# 4. Same records as the Python client 2.6.2


COMPARE_FILES = {  # relative path: (category, file_type or None, preserve_path, content)
    "params.in": (INPUT, None, 0, PARAMS.encode()),
    "empty.py": (CODE, None, 0, b""),
    "field.csv": (OUTPUT, None, 0, FIELD.encode()),
    "notes.txt": (OUTPUT, None, 0, b"some notes\n"),
    "archive.tar.gz": (OUTPUT, None, 0, b"\x1f\x8b\x08\x00fake"),
    "mesh.h5": (INPUT, None, 0, b"\x89HDF\r\n\x1a\n"),
    "weird.xyz123": (OUTPUT, None, 0, b"?"),
    "README": (CODE, None, 0, b"readme\n"),
    "table.dat": (OUTPUT, "text/csv", 0, b"1,2\n"),
    "sub/deep/kept.txt": (OUTPUT, None, 1, b"kept path\n"),
    "big.bin": (OUTPUT, None, 0, None),  # 3 MB, generated
    "Grüße+ (1).CSV": (INPUT, None, 0, b"u,1\n"),
    "sub/../sub/deep/again.txt": (INPUT, None, 1, b"normalised name\n"),
}

PY_SCRIPT = """
import json, sys, warnings
warnings.simplefilter("ignore")
from simvue import Run
spec = json.loads(sys.argv[1])
with Run() as run:
    run.init(name="python-reference", folder="/artifacts", retention_period=None)
    for path, (cat, ftype, keep) in spec["files"].items():
        ok = run.save_file(path, category=cat, file_type=ftype, preserve_path=bool(keep))
        assert ok, path
    ok = run.save_object(json.loads(spec["object"]), category="output", name="summary.json")
    assert ok
    print("RUN_ID=" + run.id)
"""


def test_records_match_the_python_client(saver, pyref, servers, tmp_path):
    cwd = tmp_path / "cwd"
    for rel, (_, _, _, content) in COMPARE_FILES.items():
        p = (cwd / rel).resolve()
        p.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            make_big_file(p, 3 * 1024 * 1024 + 1, seed=4)
        else:
            p.write_bytes(content)

    ours_srv = servers()
    (cwd / "sub" / "abs.txt").write_text("given as an absolute path\n")
    ops: list = []
    for rel, (cat, ftype, keep, _) in COMPARE_FILES.items():
        ops += ["save", rel, cat, ftype or "-", keep, "-", 0]
    ops += ["save", cwd / "sub" / "abs.txt", CODE, "-", 1, "-", 0]
    ops += ["bytes", "summary.json", OUTPUT, "application/json", 0, SUMMARY_TEXT]
    res, out = run_saver(saver, cwd, program_env(tmp_path / "home", tmp_path / "c1", ours_srv.url), ops)
    assert all(rc == "SIMVUE_OK" for rc, _ in op_results(out)), describe(res)
    assert out["close_rc"] == "SIMVUE_OK", describe(res)

    py_srv = servers()
    spec = {"files": {rel: (CATEGORY[c], t, k) for rel, (c, t, k, _) in COMPARE_FILES.items()},
            "object": json.dumps(SUMMARY)}
    spec["files"][str(cwd / "sub" / "abs.txt")] = ("code", None, 1)
    pres = run_program([pyref, "-c", textwrap.dedent(PY_SCRIPT), json.dumps(spec)], cwd=cwd,
                       env=program_env(tmp_path / "home-py", tmp_path / "c2", py_srv.url), timeout=120)
    assert pres.returncode == 0, describe(pres)
    py_run = kv(pres.stdout)["RUN_ID"]

    def records(srv, run_id):
        recs = {}
        for name, a in by_name(srv).items():
            m = a["meta"]
            recs[name] = {"name": name, "size": m["size"], "checksum": m["checksum"],
                          "mime_type": m["mime_type"], "category": a["runs"].get(run_id),
                          "original_path": m["original_path"], "uploaded": a["uploaded"],
                          "received_sha": sha(a["data"]) if a["data"] is not None else None}
        return recs

    ours = records(ours_srv, out["run_id"])
    theirs = records(py_srv, py_run)
    assert sorted(ours) == sorted(theirs), (sorted(ours), sorted(theirs))
    # §6.2: the Python client announces sys.getsizeof(bytes) = len + 33 for objects; we send len.
    assert theirs["summary.json"]["size"] == len(SUMMARY_TEXT) + 33
    assert ours["summary.json"]["size"] == len(SUMMARY_TEXT)
    theirs["summary.json"]["size"] = ours["summary.json"]["size"]
    diffs = [f"{n}: ours {ours[n]} vs python {theirs[n]}" for n in sorted(ours) if ours[n] != theirs[n]]
    assert not diffs, "\n".join(diffs)
    assert {"sub/deep/kept.txt", "sub/deep/again.txt", "sub/abs.txt", "Grüße+ (1).CSV"} <= set(ours)
    assert ours["Grüße+ (1).CSV"]["mime_type"] == "text/csv"
    assert ours["table.dat"]["mime_type"] == "text/csv"
    assert ours["weird.xyz123"]["mime_type"] == "application/octet-stream"


# --------------------------------------------------------------------------------------------------
# 5. Retries of the storage upload re-send the whole file


@pytest.mark.parametrize("style,faults", [
    ("post", {"fail_next": 2}),
    ("put", {"fail_next": 2}),
    ("post", {"fail_fraction": 0.5, "seed": 7}),
    ("put", {"fail_fraction": 0.5, "seed": 11}),
], ids=["post-next2", "put-next2", "post-half", "put-half"])
def test_storage_upload_retries_resend_the_whole_file(style, faults, saver, servers, tmp_path):
    srv = servers(upload_style=style)
    srv.set_faults(fail_scope="upload", **faults)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    files = {}
    for i, size in enumerate([5 * 1024 * 1024 + 3, 1000, 1, 64 * 1024]):
        p = cwd / f"part{i}.bin"
        files[p.name] = make_big_file(p, size, seed=10 + i) if size > 70000 else None
        if files[p.name] is None:
            p.write_bytes(os.urandom(size))
            files[p.name] = sha256_file(p)
    ops: list = ["metric", "m", "1"]
    for name in files:
        ops += ["save", name, OUTPUT, "-", 0, "-", 0]
    ops += ["bytes", "blob.json", OUTPUT, "application/json", 0, SUMMARY_TEXT, "metric", "m", "2"]
    env = program_env(tmp_path / "home", tmp_path / "cache", srv.url, SIMVUE_HTTP_RETRIES="8")
    res, out = run_saver(saver, cwd, env, ops)
    assert all(rc == "SIMVUE_OK" for rc, _ in op_results(out)), describe(res)
    assert out["close_rc"] == "SIMVUE_OK", describe(res)
    run_id = out["run_id"]
    arts = by_name(srv)
    assert sorted(arts) == sorted([*files, "blob.json"])
    for name, checksum in files.items():
        size = (cwd / name).stat().st_size
        check_received(arts[name], run_id=run_id, category="output", mime="application/octet-stream",
                       checksum=checksum, size=size, original_path=str(cwd / name))
    check_received(arts["blob.json"], run_id=run_id, category="output", mime="application/json",
                   checksum=sha(SUMMARY_TEXT.encode()), size=len(SUMMARY_TEXT), original_path="")
    # Each failed attempt carried the whole body too, and the successful one is the last.
    storage = [r for r in srv.requests() if r["path"].startswith("/storage/")]
    failed = [r for r in storage if r["fault"] == "fail"]
    assert failed, "no upload failed: the fault injection did not apply"
    for aid, a in srv.artifacts().items():
        attempts = [r for r in storage if r["path"].rstrip("/") == f"/storage/{aid}"]
        lengths = {r["content_length"] for r in attempts}
        assert len(lengths) == 1, f"{a['meta']['name']}: attempts of different lengths {lengths}"
        assert attempts[-1]["fault"] is None and attempts[-1]["status"] in (200, 204)
        assert a["uploads"] == 1
        if style == "put":
            assert lengths == {a["meta"]["size"]}
    assert not any(r["auth"] for r in storage)
    assert metric_values(srv, run_id) == [1.0, 2.0]


# --------------------------------------------------------------------------------------------------
# 6. MIME guesses: every extension Python's mimetypes knows, as the reference interpreter guesses


MIME_SCRIPT = """
import json, mimetypes, sys
mimetypes.init()
exts = set(mimetypes.types_map) | set(mimetypes.suffix_map) | set(mimetypes.common_types)
names = set()
for e in exts:
    names |= {"a" + e, "B" + e.upper(), "c" + e.lower(), "d" + e + ".gz", "e" + e + ".bz2", "f" + e + ".GZ"}
names |= {".hidden", "noext", "x.", "x..csv", "dots.a.b.csv", "y.TGZ", "q.csv.Z", "w.svgz", "..csv",
          "v.CsV", "a.tar.xz", "b.tar.br"}
names = sorted(n for n in names if "/" not in n)
print(json.dumps({n: mimetypes.guess_type(n)[0] or "application/octet-stream" for n in names}))
"""


def test_mime_guesses_match_python_for_every_known_extension(saver, pyref, tmp_path):
    pres = run_program([pyref, "-c", MIME_SCRIPT], cwd=tmp_path, env=dict(os.environ), timeout=60)
    assert pres.returncode == 0, describe(pres)
    expected = json.loads(pres.stdout)
    cwd = tmp_path / "cwd"
    (cwd / "files").mkdir(parents=True)
    for n in expected:
        (cwd / "files" / n).write_bytes(b"")
    env = program_env(tmp_path / "home", tmp_path / "cache", "http://127.0.0.1:1", mode="offline")
    res, out = run_saver(saver, cwd, env, ["dir", "files", INPUT, "-", 0, 0])
    assert out["op0_rc"] == "SIMVUE_OK" and out["close_rc"] == "SIMVUE_OK", describe(res)
    got = {d["name"]: d["mime_type"] for _, d in read_artifact_records(tmp_path / "cache").values()}
    assert sorted(got) == sorted(expected)
    wrong = sorted((n, got[n], expected[n]) for n in expected if got[n] != expected[n])
    assert not wrong, (f"{len(wrong)} of {len(expected)} names get another type than Python's "
                       f"mimetypes.guess_type (name, ours, python): {wrong[:12]}")


# --------------------------------------------------------------------------------------------------
# 7. Online runs whose uploads cannot complete: the artifact goes to the cache for simvue-sender


def start_paused(saver: Path, cwd: Path, env: dict, ops: list, sync: Path):
    """Starts saver with a ``pause`` op; returns the process once it printed PAUSE."""
    cwd.mkdir(parents=True, exist_ok=True)
    p = subprocess.Popen([str(saver), "1", *[str(o) for o in ops]], cwd=cwd, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in p.stdout:
        lines.append(line)
        if line.strip() == "PAUSE":
            return p, lines
    p.wait()
    pytest.fail(f"saver ended before pausing:\n{''.join(lines)}\n{p.stderr.read()}")


def test_server_gone_artifacts_are_kept_for_the_sender(saver, sender_exe, servers, tmp_path):
    srv = servers()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "deck.txt").write_text(PARAMS)
    (cwd / "field.csv").write_text(FIELD)
    sync = tmp_path / "go"
    cache = tmp_path / "cache"
    env = program_env(tmp_path / "home", cache, srv.url)
    ops = ["metric", "m", "1", "pause", sync,
           "save", "deck.txt", INPUT, "-", 0, "-", SNAPSHOT,
           "write", "deck.txt", "OVERWRITTEN\n",
           "save", "field.csv", OUTPUT, "-", 0, "-", 0,
           "bytes", "summary.json", OUTPUT, "application/json", 0, SUMMARY_TEXT,
           "metric", "m", "2"]
    p, lines = start_paused(saver, cwd, env, ops, sync)
    srv.go_away()
    sync.write_text("")
    stdout, stderr = p.communicate(timeout=60)
    out = kv("".join(lines) + stdout)
    assert p.returncode == 0 and "DONE" in stdout, stdout + stderr
    results = op_results(out)
    assert all(rc == "SIMVUE_OK" for rc, _ in results), stdout  # saves were queued, not waited for
    run_id = out["run_id"]
    assert srv.artifacts() == {}
    recs = read_artifact_records(cache)
    assert sorted(recs) == ["deck.txt", "field.csv", "summary.json"], stderr
    for name, (_, d) in recs.items():
        (alias, cat), = d["runs"].items()
        assert (cache / "server_ids" / f"{alias}.txt").read_text() == run_id
    srv.come_back()
    sres = run_program([sender_exe, "-i", cache], cwd=tmp_path / "scwd",
                       env=program_env(tmp_path / "shome", cache, srv.url), timeout=120)
    assert sres.returncode == 0, describe(sres)
    arts = by_name(srv)
    check_received(arts["deck.txt"], run_id=run_id, category="input", mime="text/plain",
                   checksum=sha(PARAMS.encode()), size=len(PARAMS), original_path=None)
    check_received(arts["field.csv"], run_id=run_id, category="output", mime="text/csv",
                   checksum=sha(FIELD.encode()), size=len(FIELD), original_path=str(cwd / "field.csv"))
    assert arts["summary.json"]["data"] == SUMMARY_TEXT.encode()
    assert arts["summary.json"]["runs"] == {run_id: "output"}
    assert [f.name for f in (cache / "artifacts").iterdir()] == []
    assert srv.run(run_id)["status"] == "completed"
    assert metric_values(srv, run_id) == [1.0, 2.0]


def test_storage_refusing_every_upload_keeps_the_artifact_and_the_run_closes(saver, sender_exe, servers,
                                                                             tmp_path):
    """Only the storage fails (503 on every attempt); the API works. The save with WAIT reports
    the failure, the artifact is kept in the cache for simvue-sender, and the run itself is
    unaffected: metrics arrive and close succeeds."""
    srv = servers(upload_style="put")
    srv.set_faults(fail_scope="upload", fail_fraction=1.0)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "out.txt").write_text("result\n")
    cache = tmp_path / "cache"
    env = program_env(tmp_path / "home", cache, srv.url, SIMVUE_HTTP_RETRIES="3")
    ops = ["metric", "m", "1",
           "save", "out.txt", OUTPUT, "-", 0, "-", WAIT,
           "metric", "m", "2"]
    res, out = run_saver(saver, cwd, env, ops)
    results = op_results(out)
    assert results[1][0] not in ("SIMVUE_OK", "SIMVUE_ERROR_PANIC") and results[1][1], describe(res)
    assert results[0][0] == results[2][0] == "SIMVUE_OK", describe(res)
    run_id = out["run_id"]
    assert metric_values(srv, run_id) == [1.0, 2.0]
    assert srv.run(run_id)["status"] == "completed"
    assert out["close_rc"] == "SIMVUE_OK", (
        "close failed although only an artifact upload had failed\n" + describe(res))
    srv.reset_faults()
    sres = run_program([sender_exe, "-i", cache], cwd=tmp_path / "scwd",
                       env=program_env(tmp_path / "shome", cache, srv.url), timeout=120)
    assert sres.returncode == 0, describe(sres)
    done = [a for a in srv.artifacts().values() if a["uploaded"]]
    assert len(done) == 1 and done[0]["data"] == b"result\n" and done[0]["runs"] == {run_id: "output"}


# --------------------------------------------------------------------------------------------------
# 8. A snapshot of a 300 MB file is copied in chunks too


def test_offline_snapshot_of_300MB_streams(saver, big_file, tmp_path):
    big, big_sha = big_file
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    cache = tmp_path / "cache"
    env = program_env(tmp_path / "home", cache, "http://127.0.0.1:1", mode="offline")
    res, out = run_saver(saver, cwd, env, ["save", big, OUTPUT, "-", 0, "-", SNAPSHOT | WAIT])
    assert out["op0_rc"] == "SIMVUE_OK" and out["close_rc"] == "SIMVUE_OK", describe(res)
    (_, d), = read_artifact_records(cache).values()
    snap = Path(d["original_path"])
    assert snap.parent == cache / "artifacts" and d["file_path"] == str(snap)
    assert d["size"] == BIG_SIZE and d["checksum"] == big_sha == sha256_file(snap)
    hwm = int(out["vmhwm_kb"])
    print(f"\n[offline snapshot] VmHWM={hwm} kB for a {BIG_SIZE // 10**6} MB snapshot "
          f"(save took {out['op0_seconds']} s)")
    assert 0 < hwm < MAX_RSS_KB
