"""What the library says about a run on stderr (issue 10, part 4 of the issue, "Feedback"): one
line at init (online: the run's page; offline: the cache and the command that uploads it) and
one at close (the status; what was sent or written, written to the cache, dropped, lost; files
saved). SIMVUE_QUIET=1 or simvue_run_set_quiet silence both; SIMVUE_QUIET=0 wins over the
program."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .helpers import cache_runs, describe, kv, offline_env, online_env
from harness import write_simvue_toml


def _lines(err: str) -> list[str]:
    return [l for l in err.splitlines() if l.startswith("[simvue] run ")]


def test_offline_says_where_the_run_is_and_how_to_upload_it(exes, tmp_path):
    cwd = tmp_path / "cwd"
    write_simvue_toml(cwd)
    res = subprocess.run([str(exes["heat1d"]), "16", "40"], cwd=cwd, env=offline_env(tmp_path),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, describe(res)
    cache = tmp_path / "cache"
    (run,) = cache_runs(cache).values()
    start, end = _lines(res.stderr)
    assert start == (f"[simvue] run {run['name']} is recorded offline in {cache}; upload it with "
                     f"`simvue send -i {cache}` (or Python's `simvue-sender -i {cache}`)"), start
    m = re.fullmatch(rf"\[simvue\] run {run['name']} closed as completed: (\d+) metric sets and "
                     r"(\d+) events written, (\d+) files saved", end)
    assert m and int(m[1]) >= 4 and int(m[2]) >= 2 and int(m[3]) >= 2, end


def test_online_gives_the_runs_page(exes, servers, tmp_path):
    srv = servers()
    res = subprocess.run([str(exes["heat1d"]), "16", "40"], cwd=tmp_path,
                         env=online_env(tmp_path, srv.url), capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, describe(res)
    (run,) = srv.runs().values()
    start, end = _lines(res.stderr)
    assert start == f"[simvue] run {run['name']}: {srv.url}/dashboard/runs/run/{run['id']}", start
    assert re.fullmatch(rf"\[simvue\] run {run['name']} closed as completed: \d+ metric sets and "
                        r"\d+ events sent, \d+ files saved", end), end


def test_quiet_from_the_environment_or_the_program(exes, tmp_path):
    def run(tag: str, *args: str, **env: str) -> list[str]:
        t = tmp_path / tag
        write_simvue_toml(t / "cwd")
        res = subprocess.run([str(exes["monitored"]), "0.1", *args], cwd=t / "cwd",
                             env=offline_env(t, **env), capture_output=True, text=True,
                             timeout=60)
        assert res.returncode == 0 and kv(res.stdout)["close_rc"] == "SIMVUE_OK", describe(res)
        return _lines(res.stderr)

    assert len(run("default")) == 2
    assert run("env", SIMVUE_QUIET="1") == []
    assert run("program", "quiet") == []
    assert len(run("env-wins", "quiet", SIMVUE_QUIET="0")) == 2
