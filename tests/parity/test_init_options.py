"""Run options as the Python client 2.6.2 sends them (issue 12, "Runs"): init's notification,
retention_period, timeout, visibility and record_shell_vars; a run that names its server
itself (server_url and server_token, or server_profile) without SIMVUE_URL/SIMVUE_TOKEN.
The scenario is tests/parity/py/init_options.py and tests/parity/c/init_options.c."""

from __future__ import annotations

import pytest

from .helpers import (
    TOKEN,
    env_for,
    kv,
    only_run,
    read_cache,
    run_ok,
    run_python,
    server_view,
)
from harness import describe, run_program

SHELL = {"PARITY_SHELL_A": "1", "PARITY_SHELL_B": "two", "PARITY_OTHER": "no"}


def _run(who, exes, pyref, work, env, *args):
    (work / "cwd").mkdir(parents=True, exist_ok=True)
    if who == "python":
        return run_python(pyref, "init_options.py", *args, cwd=work / "cwd", env=env)
    return run_ok([exes["init_options"], *args], cwd=work / "cwd", env=env)


def test_init_options_online_same_run_as_python(exes, pyref, servers, tmp_path):
    views = {}
    for who in ("python", "c"):
        srv = servers()
        work = tmp_path / who
        out = _run(who, exes, pyref, work, env_for(work, srv.url, mode="online", **SHELL), "env")
        snap = srv.snapshot()
        rid = only_run(snap)
        assert kv(out.stdout)["run_id"] == rid
        views[who] = server_view(snap, rid)
        # the options go with the POST that creates the run (protocol doc §3.1)
        post = snap["run_history"][rid][0]
        assert post["method"] == "POST"
        assert (post["body"]["ttl"], post["body"]["heartbeat_timeout"], post["body"]["notifications"]) \
            == (3600, 120, {"state": "all"}), (who, post["body"])
    ours, theirs = views["c"], views["python"]
    assert ours["run"]["visibility"] == {"tenant": False, "public": False, "users": ["alice", "bob"]}
    assert ours["metadata"] == {"k": 1, "shell": {"PARITY_SHELL_A": "1", "PARITY_SHELL_B": "two"}}
    assert ours == theirs


def test_init_options_offline_same_run_file_as_python(exes, pyref, tmp_path):
    runs = {}
    for who in ("python", "c"):
        work = tmp_path / who
        _run(who, exes, pyref, work, env_for(work, "http://127.0.0.1:1", mode="offline", **SHELL), "env")
        run = next(iter(read_cache(work / "cache")["runs"].values()))
        runs[who] = {k: v for k, v in run.items() if k not in ("system", "created", "started", "endtime")}
        runs[who]["metadata"].pop("python", None)
    assert runs["c"]["ttl"] == 3600 and runs["c"]["notifications"] == {"state": "all"}
    assert runs["c"] == runs["python"]


def _no_server_env(work, **extra):
    """A program environment without SIMVUE_URL and SIMVUE_TOKEN."""
    env = env_for(work, "http://127.0.0.1:1", mode="online")
    del env["SIMVUE_URL"], env["SIMVUE_TOKEN"]
    env.update(extra)
    return env


@pytest.mark.parametrize("who", ["python", "c"])
def test_a_run_names_its_server_without_a_config_file(who, exes, pyref, servers, tmp_path):
    srv = servers()
    work = tmp_path / who
    out = _run(who, exes, pyref, work, _no_server_env(work), "args", srv.url, TOKEN)
    assert kv(out.stdout)["run_id"] == only_run(srv.snapshot())
    # SIMVUE_URL in the environment wins over the run's argument, as in Python
    srv2 = servers()
    env = _no_server_env(tmp_path / f"{who}-env", SIMVUE_URL=srv2.url)
    out = _run(who, exes, pyref, tmp_path / f"{who}-env", env, "args", "http://127.0.0.1:1", TOKEN)
    assert kv(out.stdout)["run_id"] == only_run(srv2.snapshot())


@pytest.mark.parametrize("who", ["python", "c"])
def test_a_run_picks_a_server_profile(who, exes, pyref, servers, tmp_path):
    srv = servers()
    work = tmp_path / who
    (work / "cwd").mkdir(parents=True)
    (work / "cwd" / "simvue.toml").write_text(
        f'[server]\nurl = "http://127.0.0.1:1"\ntoken = "{TOKEN}"\n\n'
        f'[profiles.other]\nurl = "{srv.url}"\ntoken = "{TOKEN}"\n')
    out = _run(who, exes, pyref, work, _no_server_env(work), "profile", "other")
    assert kv(out.stdout)["run_id"] == only_run(srv.snapshot())
    # a profile the file does not define is refused (Python: RuntimeError at Run())
    cmd = ([pyref, "-c", "import simvue; simvue.Run(mode='online', server_profile='nope')"]
           if who == "python" else [exes["init_options"], "profile", "nope"])
    res = run_program(cmd, cwd=work / "cwd", env=_no_server_env(work), timeout=60)
    assert res.returncode != 0, describe(res)
    if who == "c":
        assert "rc_init=SIMVUE_ERROR_CONFIG" in res.stdout and "[profiles.nope]" in res.stdout, describe(res)
    else:
        assert "profile not found" in res.stderr, describe(res)
