"""Run metadata recorded automatically, as the Python client 2.6.2 records it (issue 12,
"Runs"): the git information of the working directory (read from .git by libsimvue: no git is
run, and the C program runs without git on its PATH), the project environment (Cargo.lock,
Project.toml, package-lock.json), the host (`system`), and the switches that turn them off
([run.metadata] in simvue.toml, SIMVUE_DISABLE_*_METRICS). tests/online/c/initfail.c and a
few lines of the Python client run offline in the same directory; their run files are
compared."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .helpers import env_for, read_cache
from harness import describe, run_program
from simvue_server import make_jwt

PY_INIT = "import simvue\nwith simvue.Run(mode='offline') as r:\n    r.init(name='meta', folder='/meta')\n"
GIT = shutil.which("git")
needs_git = pytest.mark.skipif(not GIT, reason="git is needed to make the test repository")


def _git(repo: Path, *args: str, **env: str) -> None:
    subprocess.run([GIT, *args], cwd=repo, check=True, capture_output=True,
                   env={"PATH": "/usr/bin:/bin", "HOME": str(repo.parent), **env})


def _commit(repo: Path, name: str, email: str, msg: str, when: str, path: str, text: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    _git(repo, "add", path)
    _git(repo, "commit", "-q", "-m", msg, GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email,
         GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email, GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A repository with several authors (one a bot, one noreply), an annotated tag on HEAD, a
    branch, an origin remote, packed objects and refs, and a subdirectory to run from."""
    if not GIT:
        pytest.skip("git is needed to make the test repository")
    root = tmp_path_factory.mktemp("git") / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "dev@example.org")
    _commit(root, "Alice", "alice@example.org", "first\n\nwith a body", "2024-01-02T03:04:05+0100",
            "src/solver.f90", "program p\nend program p\n" * 50)
    _commit(root, "Bob", "bob@example.org", "second", "2024-02-03T04:05:06-0500",
            "src/solver.f90", "program p\n  ! changed\nend program p\n" * 50)
    _commit(root, "dependabot[bot]", "bot@example.org", "bump", "2024-03-01T00:00:00+0000", "deps.txt", "x\n")
    _git(root, "checkout", "-q", "-b", "feature")
    _commit(root, "Carol", "carol@example.org", "on a branch", "2024-03-02T00:00:00+0000", "f.txt", "f\n")
    _git(root, "checkout", "-q", "main")
    _commit(root, "Dan", "12345+dan@users.noreply.github.com", "  last one  \n", "2024-04-05T06:07:08+0200",
            "run/deck.in", "nx = 64\n")
    _git(root, "tag", "-a", "v1.0", "-m", "release")
    _git(root, "remote", "add", "origin", "https://example.org/solver.git")
    _git(root, "gc", "-q", "--aggressive")
    (root / "run").mkdir(exist_ok=True)
    return root


def _runs(who: str, exes, pyref, cwd: Path, work: Path, **env_extra: str) -> dict:
    """The run file that `who` writes offline from `cwd`."""
    env = env_for(work, "http://127.0.0.1:1", mode="offline", **env_extra)
    env["PATH"] = "/nonexistent" if who == "c" else env["PATH"]  # no git for libsimvue
    if (cwd / "simvue.toml").exists() is False:
        (cwd / "simvue.toml").write_text(f'[server]\nurl = "http://127.0.0.1:1"\ntoken = "{make_jwt()}"\n')
    cmd = [pyref, "-c", PY_INIT] if who == "python" else [exes["initfail"], "1", "1"]
    res = run_program(cmd, cwd=cwd, env=env, timeout=120)
    assert res.returncode == 0, describe(res)
    runs = read_cache(work / "cache")["runs"]
    assert len(runs) == 1
    return next(iter(runs.values()))


def _git_of(who, exes, pyref, cwd, tmp_path, **env):
    return _runs(who, exes, pyref, cwd, tmp_path / who, **env)["metadata"].get("git")


@needs_git
def test_git_information_without_git_is_python_s(repo, exes, pyref, tmp_path):
    cwd = repo / "run"
    ours = _git_of("c", exes, pyref, cwd, tmp_path / "clean")
    theirs = _git_of("python", exes, pyref, cwd, tmp_path / "clean")
    assert ours is not None and theirs is not None
    ours["authors"], theirs["authors"] = sorted(ours["authors"]), sorted(theirs["authors"])
    assert ours == theirs
    assert ours["ref"] == "v1.0" and ours["msg"] == "last one" and ours["dirty"] is False
    assert ours["authors"] == ["alice@example.org", "bob@example.org", "carol@example.org"]
    assert ours["url"] == "https://example.org/solver.git"
    assert ours["blame"] == "12345+dan@users.noreply.github.com"
    assert ours["time_stamp"] == "2024-04-05T06:07:08.000000"  # the committer's wall clock


@needs_git
@pytest.mark.parametrize("change", ["modified", "staged", "deleted", "untracked"])
def test_dirty_as_python_sees_it(change, repo, exes, pyref, tmp_path):
    work = tmp_path / "repo"
    shutil.copytree(repo, work, symlinks=True)
    if change == "modified":
        (work / "run" / "deck.in").write_text("nx = 128\n")
    elif change == "staged":
        (work / "new.txt").write_text("new\n")
        _git(work, "add", "new.txt")
    elif change == "deleted":
        (work / "deps.txt").unlink()
    else:
        (work / "scratch.txt").write_text("not tracked\n")
    ours = _git_of("c", exes, pyref, work / "run", tmp_path / change)
    theirs = _git_of("python", exes, pyref, work / "run", tmp_path / change)
    assert ours["dirty"] is theirs["dirty"] is (change != "untracked")
    assert ours["blame"] == theirs["blame"]


@needs_git
def test_the_switches_turn_metadata_off(repo, exes, pyref, tmp_path):
    cwd = tmp_path / "project"
    shutil.copytree(repo, cwd, symlinks=True)
    (cwd / "Cargo.toml").write_text('[package]\nname = "solver"\nversion = "1.2.3"\n')
    (cwd / "Cargo.lock").write_text('version = 3\n\n[[package]]\nname = "libm"\nversion = "0.2.8"\n')
    (cwd / "Project.toml").write_text('name = "Solver"\nuuid = "1234"\n\n[compat]\njulia = "1.9"\n')
    (cwd / "package-lock.json").write_text(json.dumps({
        "name": "ui", "version": "0.1.0", "lockfileVersion": 3,
        "packages": {"": {"name": "ui"}, "node_modules/left-pad": {"version": "1.3.0", "dev": False},
                     "node_modules/jest": {"version": "29.0.0", "dev": True}}}))
    both = {}
    for who in ("python", "c"):
        run = _runs(who, exes, pyref, cwd, tmp_path / f"on-{who}")
        both[who] = {k: run["metadata"].get(k) for k in ("rust", "julia", "javascript")}
        assert run["metadata"].get("git") and run["system"], who
    assert both["c"] == both["python"]
    assert both["c"]["rust"] == {"project": {"version": "1.2.3", "name": "solver"},
                                 "environment": {"libm": "0.2.8"}}
    off = {"SIMVUE_DISABLE_GIT_METRICS": "1", "SIMVUE_DISABLE_ENVIRONMENT_METRICS": "1",
           "SIMVUE_DISABLE_SYSTEM_METRICS": "1"}
    for who in ("python", "c"):
        run = _runs(who, exes, pyref, cwd, tmp_path / f"off-{who}", **off)
        md = run["metadata"]
        assert not ({"git", "rust", "julia", "javascript", "python"} & set(md)), (who, md)
        assert not run.get("system"), (who, run.get("system"))
    # [run.metadata] in simvue.toml says the same, and wins over the environment
    (cwd / "simvue.toml").write_text(f'[server]\nurl = "http://127.0.0.1:1"\ntoken = "{make_jwt()}"\n\n'
                                     '[run.metadata]\ngit = false\nsystem = false\nenvironment = true\n')
    for who in ("python", "c"):
        run = _runs(who, exes, pyref, cwd, tmp_path / f"toml-{who}", SIMVUE_DISABLE_ENVIRONMENT_METRICS="1")
        md = run["metadata"]
        assert "git" not in md and "rust" in md and not run.get("system"), (who, md)


@needs_git
def test_a_repository_without_origin(tmp_path, exes):
    # 2.6.2's init fails there (git_repo.remote() raises outside its try); libsimvue records the
    # rest of the information, with url null.
    repo = tmp_path / "noorigin"
    repo.mkdir()
    _git(repo, "init", "-q")
    _commit(repo, "Alice", "alice@example.org", "only", "2024-01-01T00:00:00+0000", "a.txt", "a\n")
    git = _git_of("c", exes, None, repo, tmp_path / "c")
    assert git["url"] is None and git["authors"] == ["alice@example.org"] and git["dirty"] is False


@needs_git
def test_a_worktree(repo, exes, pyref, tmp_path):
    work = tmp_path / "main"
    shutil.copytree(repo, work, symlinks=True)
    _git(work, "worktree", "add", "-q", str(tmp_path / "wt"), "feature")
    ours = _git_of("c", exes, pyref, tmp_path / "wt", tmp_path / "wt-c")
    theirs = _git_of("python", exes, pyref, tmp_path / "wt", tmp_path / "wt-py")
    ours["authors"], theirs["authors"] = sorted(ours["authors"]), sorted(theirs["authors"])
    assert ours == theirs and ours["msg"] == "on a branch" and ours["dirty"] is False
