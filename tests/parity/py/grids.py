"""Tensor metrics through the Python client simvue 2.6.2 (tests/parity/c/grids.c)."""
import os

import numpy as np
import simvue

mode = "offline" if os.environ.get("SIMVUE_MODE") == "offline" else "online"
with simvue.Run(mode=mode) as run:
    run.config(suppress_errors=False, disable_resources_metrics=True)
    run.init(name="grids", folder="/parity/grids")
    print(f"run_id={run.id}")
    run.assign_metric_to_grid(metric_name="T", grid_name="mesh",
                              axes_ticks=[[0.0, 0.5, 1.0], [0.0, 1.0]], axes_labels=["x", "y"])
    run.assign_metric_to_grid(metric_name="rho", grid_name="mesh")
    T = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])  # T[y][x]
    run.log_metrics({"T": T, "s": 1.0}, step=0)
    run.log_metrics({"rho": 2.0 * T}, step=5, time=1.5)
    run.log_metrics({"prof": np.array([1.0, 2.0, 3.0, 4.0])}, step=2)
print("DONE")
