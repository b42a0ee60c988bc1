"""Where a run runs (issue 10, part 2): the shell variables chosen with ``[run]
record_shell_vars`` are recorded as the metadata ``shell`` exactly as simvue 2.6.2 records them,
and the batch job around the run as ``batch_job``, never the API token.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .helpers import cache_runs, describe, offline_env
from harness import write_simvue_toml

PY_RUN = """
import simvue
with simvue.Run(mode="offline") as run:
    run.init(name="py-context", folder="/hpc")
"""

SHELL_VARS = {"HPC_TEST_NODES": "4", "HPC_TEST_SCHEME": "ftcs", "HPC_OTHER": "no",
              "OMP_NUM_THREADS": "8"}
SLURM = {"SLURM_JOB_ID": "987654", "SLURM_JOB_NAME": "heat-campaign",
         "SLURM_JOB_PARTITION": "standard", "SLURM_JOB_NUM_NODES": "2", "SLURM_NTASKS": "256",
         "SLURM_JOB_NODELIST": "nid[001-002]", "SLURM_ARRAY_TASK_ID": "3"}


def _cwd(tmp: Path) -> Path:
    cwd = tmp / "cwd"
    write_simvue_toml(cwd)
    with open(cwd / "simvue.toml", "a") as f:
        f.write('\n[run]\nrecord_shell_vars = ["HPC_TEST_*", "OMP_NUM_THREADS", "SIMVUE_*"]\n')
    return cwd


def test_shell_vars_as_simvue_2_6_2_records_them_and_the_batch_job(exes, pyref, tmp_path):
    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "theirs"
    env = offline_env(ours_dir, **SHELL_VARS, **SLURM, SIMVUE_TOKEN="token-never-recorded")
    res = subprocess.run([str(exes["heat1d"]), "16", "20"], cwd=_cwd(ours_dir), env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, describe(res)
    (ours,) = cache_runs(ours_dir / "cache").values()

    env = offline_env(theirs_dir, **SHELL_VARS, **SLURM)
    res = subprocess.run([pyref, "-c", PY_RUN], cwd=_cwd(theirs_dir), env=env,
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, describe(res)
    (theirs,) = cache_runs(theirs_dir / "cache").values()

    want = {"HPC_TEST_NODES": "4", "HPC_TEST_SCHEME": "ftcs", "OMP_NUM_THREADS": "8",
            "SIMVUE_MODE": "offline", "SIMVUE_OFFLINE_DIRECTORY": str(theirs_dir / "cache")}
    assert theirs["metadata"]["shell"] == want, theirs["metadata"]["shell"]
    want["SIMVUE_OFFLINE_DIRECTORY"] = str(ours_dir / "cache")
    assert ours["metadata"]["shell"] == want, "the token is never recorded: " + \
        json.dumps(ours["metadata"]["shell"])
    assert "token-never-recorded" not in (ours_dir / "cache").joinpath(
        "runs", next(iter(cache_runs(ours_dir / "cache"))) + ".json").read_text()
    assert ours["metadata"]["batch_job"] == {
        "scheduler": "slurm", "id": "987654", "name": "heat-campaign", "queue": "standard",
        "nodes": 2, "tasks": 256, "nodelist": "nid[001-002]", "array_index": "3"}


def test_no_batch_job_outside_one_and_no_shell_without_patterns(exes, tmp_path):
    cwd = tmp_path / "cwd"
    write_simvue_toml(cwd)
    res = subprocess.run([str(exes["heat1d"]), "16", "20"], cwd=cwd,
                         env=offline_env(tmp_path, **SHELL_VARS), capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, describe(res)
    (run,) = cache_runs(tmp_path / "cache").values()
    assert "shell" not in run["metadata"] and "batch_job" not in run["metadata"], run["metadata"]
