"""`simvue check` and `simvue show`, `--help` on every subcommand, and the executable needing
neither libsimvue.so nor Python."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess

import pytest
from harness import TOKEN, describe, run_program
from simvue_server import make_jwt

from .helpers import library_cache, native_send, python_cache, sender_env, token_absent


def check(simvue_cli, tmp_path, env):
    return run_program([simvue_cli, "check"], cwd=tmp_path / "work", env=env, timeout=60)


def test_check_says_what_is_in_effect_and_that_online_mode_works(tmp_path, servers, simvue_cli):
    srv = servers()
    res = check(simvue_cli, tmp_path, sender_env(tmp_path, srv))
    assert res.returncode == 0, describe(res)
    out = res.stdout
    assert f"URL          {srv.url}/api (from SIMVUE_URL)" in out
    assert "token        well formed (JWT); expires on" in out and "(from SIMVUE_TOKEN)" in out
    assert "API version 1.3.0 (supported: 1.1.0 <= version < 2.0.0)" in out
    assert "SIMVUE_MODE=offline" in out  # noted, not obeyed
    assert "cache        " in out and "online mode works" in out
    assert token_absent(TOKEN, res.stdout, res.stderr)


@pytest.mark.parametrize(("fault", "message"), [
    ("bad_version", 'its API version "2.1.0" is not supported'),
    ("unauthorized", "refuses the token (401)"),
])
def test_check_fails_when_the_server_would_refuse(tmp_path, servers, simvue_cli, fault, message):
    srv = servers()
    srv.set_faults(**{fault: True})
    res = check(simvue_cli, tmp_path, sender_env(tmp_path, srv))
    assert res.returncode == 1, describe(res)
    assert message in res.stdout and "online mode would not work: 1 problem(s)" in res.stdout


def test_check_fails_without_a_server_or_with_an_expired_token(tmp_path, servers, simvue_cli):
    srv = servers()
    env = sender_env(tmp_path, srv)
    srv.stop()
    res = check(simvue_cli, tmp_path, env)
    assert res.returncode == 1 and "does not answer" in res.stdout, describe(res)
    srv.start()
    expired = make_jwt(exp_in=-3600)
    res = check(simvue_cli, tmp_path, {**env, "SIMVUE_TOKEN": expired})
    assert res.returncode == 1 and "a JWT that expired on" in res.stdout, describe(res)
    assert expired not in res.stdout + res.stderr
    no_url = {k: v for k, v in env.items() if k != "SIMVUE_URL"}
    res = check(simvue_cli, tmp_path, no_url)
    assert res.returncode == 1 and "online mode needs a server URL" in res.stdout, describe(res)


def test_show_lists_runs_and_whether_they_were_sent(tmp_path, servers, simvue_cli, exes):
    cache = library_cache(tmp_path, exes, ("heat1d", "32", "400"), ("logger", "120", "0", "-", "40"))
    show = lambda *a: run_program([simvue_cli, "show", cache, *a], cwd=tmp_path, env=sender_env(tmp_path, servers()),
                                  timeout=60)
    res = show()
    assert res.returncode == 0, describe(res)
    rows = {line.split()[0]: line.split() for line in res.stdout.splitlines()[2:] if line.split()}
    assert rows["heat-1d-demo"][1:3] == ["/examples/heat", "completed"]
    assert rows["logger-run"][5:10] == ["120", "3", "1", "0", "no"]  # metrics, events, alerts, files, sent
    srv = servers()
    env = sender_env(tmp_path, srv)
    assert native_send(simvue_cli, cache, env, "-o", "folders", "-o", "alerts", "-o", "runs").returncode == 0
    rows = {line.split()[0]: line.split() for line in show().stdout.splitlines()[2:] if line.split()}
    assert rows["logger-run"][9] == "partly"
    assert native_send(simvue_cli, cache, env).returncode == 0
    res = show()
    rows = {line.split()[0]: line.split() for line in res.stdout.splitlines()[2:] if line.split()}
    assert rows["heat-1d-demo"][-2] == "yes" and rows["logger-run"][-2] == "yes", res.stdout


def test_show_draws_a_run_and_writes_its_metrics_as_csv(tmp_path, simvue_cli, exes):
    cache = library_cache(tmp_path, exes, ("heat1d", "32", "400"))
    res = run_program([simvue_cli, "show", cache, "--run", "heat-1d", "--last", "30"], cwd=tmp_path,
                      env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=60)
    assert res.returncode == 0, describe(res)
    out = res.stdout
    assert "run heat-1d-demo (offline_" in out and "metrics: 41 records, steps 0 to 399" in out
    for metric in ("residual", "t_max", "error"):
        assert f"\n  {metric}: 41 values, last " in out
    assert "█" in out and "starting time loop" in out
    target = tmp_path / "heat.csv"
    res = run_program([simvue_cli, "show", cache, "--run", "heat-1d-demo", "--csv", target], cwd=tmp_path,
                      env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=60)
    assert res.returncode == 0, describe(res)
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 41 and list(rows[0]) == ["step", "time", "timestamp", "residual", "t_max", "error"]
    assert [int(r["step"]) for r in rows][:3] == [0, 10, 20] and float(rows[-1]["t_max"]) > 0
    res = run_program([simvue_cli, "show", cache, "--run", "nope"], cwd=tmp_path,
                      env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=60)
    assert res.returncode == 1 and "no run named" in res.stderr


def test_show_reads_a_python_cache(tmp_path, simvue_cli, pyref):
    cache = python_cache(tmp_path, pyref)
    res = run_program([simvue_cli, "show", cache], cwd=tmp_path, env={"HOME": str(tmp_path)}, timeout=60)
    assert res.returncode == 0, describe(res)
    assert "py-everything" in res.stdout and "py-second" in res.stdout
    res = run_program([simvue_cli, "show", cache, "--run", "py-everything", "--csv", "-"], cwd=tmp_path,
                      env={"HOME": str(tmp_path)}, timeout=60)
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == 41 and rows[0]["nan"] == "NaN" and rows[0]["inf"] == "inf"


@pytest.mark.parametrize("sub", ["send", "show", "check"])
def test_every_subcommand_has_help(simvue_cli, sub, tmp_path):
    res = run_program([simvue_cli, sub, "--help"], cwd=tmp_path, env={}, timeout=30)
    assert res.returncode == 0 and "Usage: simvue " + sub in res.stdout, describe(res)


def test_the_executable_needs_no_libsimvue_and_no_python(simvue_cli, tmp_path):
    ldd = shutil.which("ldd")
    if ldd:
        linked = subprocess.run([ldd, str(simvue_cli)], capture_output=True, text=True).stdout
        assert "libsimvue" not in linked and "python" not in linked, linked
    lone = tmp_path / "bin" / "simvue"
    lone.parent.mkdir()
    shutil.copy(simvue_cli, lone)
    res = run_program([lone, "--version"], cwd=tmp_path, env={"LD_LIBRARY_PATH": ""}, timeout=30)
    assert res.returncode == 0 and res.stdout.startswith("simvue "), describe(res)
