"""Configuration details as the Python client 2.6.2 has them (issue 12, "Configuration"), with
tests/online/c/initfail.c (it reports init's result and message) and the Python client:

- SIMVUE_NO_SERVER_CHECK: no GET /api/version (a server whose version is refused still works);
- an expired token is refused before the first request, saying when it expired;
- `~` in [offline] cache: 2.6.2 makes a directory named `~` in the working directory, where
  simvue-sender would not look; libsimvue refuses it with a message saying so;
- a server URL, token or offline cache in pyproject.toml: refused, as in Python.
(mTLS is in tests/online/test_tls.py; profiles in test_init_options.py.)"""

from __future__ import annotations

import pytest

from .helpers import env_for, kv
from harness import describe, run_program
from simvue_server import make_jwt

PY_INIT = "import simvue\nwith simvue.Run(mode='{mode}') as r:\n    r.init(name='cfg', folder='/cfg')\nprint('init_ok')\n"


def _c(exes, work, env):
    (work / "cwd").mkdir(parents=True, exist_ok=True)
    return run_program([exes["initfail"], "3", "1"], cwd=work / "cwd", env=env, timeout=60)


def _py(pyref, work, env, mode="online"):
    (work / "cwd").mkdir(parents=True, exist_ok=True)
    return run_program([pyref, "-c", PY_INIT.format(mode=mode)], cwd=work / "cwd", env=env, timeout=120)


@pytest.mark.parametrize("who", ["python", "c"])
def test_no_server_check_skips_the_version_check(who, exes, pyref, servers, tmp_path):
    srv = servers()
    srv.set_faults(bad_version=True)
    run = (lambda w, e: _py(pyref, w, e)) if who == "python" else (lambda w, e: _c(exes, w, e))
    refused = run(tmp_path / "check", env_for(tmp_path / "check", srv.url, mode="online"))
    if who == "c":
        assert kv(refused.stdout)["init_rc"] == "SIMVUE_ERROR_UNSUPPORTED", describe(refused)
    else:
        assert refused.returncode != 0 and "init_ok" not in refused.stdout, describe(refused)
    before = srv.count_requests("GET", "/api/version")
    res = run(tmp_path / "nocheck", env_for(tmp_path / "nocheck", srv.url, mode="online",
                                            SIMVUE_NO_SERVER_CHECK="1"))
    if who == "c":
        assert kv(res.stdout)["init_rc"] == "SIMVUE_OK", describe(res)
    else:
        assert res.returncode == 0 and "init_ok" in res.stdout, describe(res)
    assert srv.count_requests("GET", "/api/version") == before
    assert len(srv.runs()) == 1


@pytest.mark.parametrize("who", ["python", "c"])
def test_an_expired_token_is_refused_before_any_request(who, exes, pyref, servers, tmp_path):
    token = make_jwt(subject="expired", exp_in=-3600)
    srv = servers(token=token)
    env = env_for(tmp_path, srv.url, mode="online", token=token)
    if who == "c":
        res = _c(exes, tmp_path, env)
        out = kv(res.stdout)
        assert out["init_rc"] == "SIMVUE_ERROR_AUTH", describe(res)
        assert "expired at" in out["init_msg"] and "UTC" in out["init_msg"], describe(res)
        assert token not in res.stdout + res.stderr
    else:
        res = _py(pyref, tmp_path, env)
        assert res.returncode != 0 and "token has expired" in res.stderr, describe(res)
    assert srv.requests() == []


def test_a_tilde_in_the_cache_path(exes, pyref, tmp_path):
    for who in ("python", "c"):
        work = tmp_path / who
        (work / "cwd").mkdir(parents=True)
        (work / "cwd" / "simvue.toml").write_text(
            f'[server]\nurl = "http://127.0.0.1:1"\ntoken = "{make_jwt()}"\n\n[offline]\ncache = "~/sv-cache"\n')
        env = env_for(work, "http://127.0.0.1:1", mode="offline")
        del env["SIMVUE_OFFLINE_DIRECTORY"]
        if who == "python":
            res = _py(pyref, work, env, mode="offline")
            # 2.6.2's outcome: a directory named "~" in the working directory
            assert res.returncode == 0, describe(res)
            assert (work / "cwd" / "~" / "sv-cache" / "runs").is_dir()
            assert not (work / "home" / "sv-cache").exists()
        else:
            res = _c(exes, work, env)
            out = kv(res.stdout)
            assert out["init_rc"] == "SIMVUE_ERROR_CONFIG", describe(res)
            assert "'~'" in out["init_msg"] and "full path" in out["init_msg"], describe(res)
            assert not (work / "cwd" / "~").exists() and not (work / "home" / "sv-cache").exists()


@pytest.mark.parametrize("who", ["python", "c"])
def test_secrets_in_pyproject_are_refused(who, exes, pyref, servers, tmp_path):
    srv = servers()
    (tmp_path / "cwd").mkdir(parents=True)
    (tmp_path / "cwd" / "pyproject.toml").write_text(f'[tool.simvue.server]\nurl = "{srv.url}"\n')
    env = env_for(tmp_path, srv.url, mode="online")
    if who == "c":
        res = _c(exes, tmp_path, env)
        out = kv(res.stdout)
        assert out["init_rc"] == "SIMVUE_ERROR_CONFIG" and "[tool.simvue]" in out["init_msg"], describe(res)
    else:
        res = _py(pyref, tmp_path, env)
        assert res.returncode != 0 and "pyproject.toml is not allowed" in res.stderr, describe(res)
    assert srv.runs() == {}
