"""GPU and energy metrics (issue 10, part 3), with a fake NVML (``nvml/fake_nvml.c``, built here
as ``libnvidia-ml.so.1`` and found through LD_LIBRARY_PATH) on machines without a GPU:

- the GPUs the process uses, under the Python client's names, memory as percent used; GPUs it
  does not use are left out; the run's ``system.gpu`` has the name and the driver;
- without NVML nothing GPU-related happens;
- with emission metrics, energy (the GPU's counter, the CPU estimated where RAPL cannot be
  read) and emissions from ``[eco] co2_intensity``, and where they came from in the metadata;
- the first CPU sample is a real value.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .helpers import cache_docs, cache_runs, describe, offline_env
from harness import write_simvue_toml

NVML_SRC = Path(__file__).resolve().parent / "nvml" / "fake_nvml.c"


@pytest.fixture(scope="module")
def fake_nvml(tmp_path_factory) -> Path:
    """A directory holding the fake libnvidia-ml.so.1."""
    cc = os.environ.get("CC") or shutil.which("cc")
    out = tmp_path_factory.mktemp("nvml")
    cmd = [cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", str(NVML_SRC),
           "-o", str(out / "libnvidia-ml.so.1")]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr}"
    return out


def _run(exes, tmp: Path, *args: str, nvml: Path | None = None, toml: str = "", **env):
    cwd = tmp / "cwd"
    write_simvue_toml(cwd)
    if toml:
        with open(cwd / "simvue.toml", "a") as f:
            f.write("\n" + toml)
    e = offline_env(tmp, **env)
    if nvml is not None:
        e["LD_LIBRARY_PATH"] = str(nvml)
    res = subprocess.run([str(exes["monitored"]), *args], cwd=cwd, env=e, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0 and "close_rc=SIMVUE_OK" in res.stdout, describe(res)
    cache = tmp / "cache"
    (run,) = cache_runs(cache).values()
    sets = sorted((m for b in cache_docs(cache, "metrics") for m in b["metrics"]
                   if any(k.startswith(("resources/", "sustainability.")) for k in m["values"])),
                  key=lambda m: m["step"])
    return run, sets, res


def test_the_gpus_the_process_uses_through_nvml(exes, fake_nvml, tmp_path):
    log = tmp_path / "nvml.log"
    run, sets, _ = _run(exes, tmp_path, "2.6", nvml=fake_nvml, FAKE_NVML_GPUS="3",
                        FAKE_NVML_USED="0,2", FAKE_NVML_LOG=str(log))
    assert run["system"]["gpu"] == {"name": "NVIDIA Fake A100 #0", "driver": "999.99.01"}
    assert len(sets) >= 2, sets
    for m in sets:
        v = m["values"]
        assert v["resources/gpu.utilisation.percent.0"] == 40.0, v
        assert v["resources/gpu.utilisation.memory.0"] == 25.0, v
        assert v["resources/gpu.utilisation.percent.2"] == 42.0, v
        assert v["resources/gpu.utilisation.memory.2"] == 37.5, v
        assert not any(k.endswith(".1") for k in v), f"GPU 1 is not used by the process: {v}"
    assert log.read_text() == "init\n", "NVML is initialised once per process"


def test_without_nvml_nothing_gpu_related_happens_and_the_first_cpu_sample_is_real(exes,
                                                                                    tmp_path):
    run, sets, _ = _run(exes, tmp_path, "2.6")
    assert run["system"]["gpu"] == {"name": "", "driver": ""}
    assert sets and all(sorted(m["values"]) == ["resources/cpu.usage.memory",
                                                  "resources/cpu.usage.percentage"]
                        for m in sets), sets
    first = sets[0]["values"]["resources/cpu.usage.percentage"]
    assert first > 10.0, f"the first sample measures the busy loop since init: {first}%"


def test_emission_metrics_from_measured_gpu_energy_and_the_cpu_estimate(exes, fake_nvml,
                                                                       tmp_path):
    toml = ("[eco]\nco2_intensity = 200\ncpu_thermal_design_power = 100\ncpu_n_cores = 10\n"
            "gpu_thermal_design_power = 300\n")
    run, sets, _ = _run(exes, tmp_path, "3.5", "emissions", nvml=fake_nvml, toml=toml)
    s = run["metadata"]["sustainability"]
    assert s["cpu_energy"].startswith(("estimated: CPU percent x 100 W / 10 cores",
                                       "measured: RAPL")), s
    assert s["gpu_energy"].startswith("measured: NVML"), s
    assert s["co2_intensity"] == 200
    assert len(sets) >= 3, sets
    total = 0.0
    for m in sets:
        v = m["values"]
        delta = v["sustainability.energy_consumed.delta"]
        total += delta
        assert abs(v["sustainability.energy_consumed.total"] - total) < 1e-12, (m, total)
        assert abs(v["sustainability.emissions.delta"] - delta * 0.2) < 1e-15, v
        assert abs(v["sustainability.emissions.total"] - total * 0.2) < 1e-12, v
    # About a second between samples: the fake GPU's 250 W (its energy counter; from the second
    # sample on) plus at most 100 W for the CPU estimate (100 % of a core x 100 W / 10 cores is
    # 10 W), in kWh.
    for m in sets[1:]:
        joules = m["values"]["sustainability.energy_consumed.delta"] * 3.6e6
        assert 100.0 < joules < 1000.0, f"{joules} J in about a second\n{sets}"


def test_emission_metrics_without_an_intensity_log_the_energy_only(exes, tmp_path):
    run, sets, _ = _run(exes, tmp_path, "2.6", "emissions")
    assert run["metadata"]["sustainability"]["co2_intensity"] is None
    keys = set().union(*(m["values"] for m in sets))
    assert {"sustainability.energy_consumed.total", "sustainability.energy_consumed.delta"} <= keys
    assert not any(k.startswith("sustainability.emissions") for k in keys), keys
