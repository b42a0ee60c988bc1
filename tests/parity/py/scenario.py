"""The comparison scenario (tests/parity/test_scenario.py) through the Python client simvue
2.6.2: every part of Run that issue 12 brings to C, C++ and Fortran. tests/parity/c/scenario.c
and tests/parity/fortran/scenario.f90 do the same."""
import numpy as np
import simvue

with simvue.Run(mode="online") as run:
    run.config(suppress_errors=False, disable_resources_metrics=True, abort_on_alert="ignore")
    run.init(name="parity", metadata={"nx": 5, "scheme": "ftcs"}, tags=["a", "b"],
             description="the parity scenario", folder="/parity/all", notification="error",
             retention_period="2 days", timeout=300, visibility="tenant",
             record_shell_vars={"PARITY_SHELL_*"})
    print(f"run_id={run.id}")
    run.update_metadata({"dt": 0.5})
    run.update_tags(["c"])
    run.set_tags(["a", "b", "c", "d"])
    run.set_folder_details(metadata={"project": "parity"}, tags=["f"], description="folder")
    run.create_metric_threshold_alert(name="residual-high", metric="residual", threshold=1.0,
                                      rule="is above", description="too high", window=2,
                                      frequency=2, aggregation="sum", notification="email")
    run.create_metric_range_alert(name="t-range", metric="t_max", range_low=0.0, range_high=100.0,
                                  rule="is outside range", aggregation="at least one",
                                  attach_to_run=False)
    run.create_event_alert(name="diverged", pattern="diverged", frequency=3)
    run.create_user_alert(name="manual", description="set by the solver")
    run.add_alerts(names=["t-range"])
    run.log_alert(name="manual", state="critical")
    run.set_metric_units("residual", units="1/s")
    run.set_metric_units("t_max", units="degC")
    run.assign_metric_to_grid(metric_name="T", grid_name="rod",
                              axes_ticks=[[0.0, 0.25, 0.5, 0.75, 1.0]], axes_labels=["x"])
    run.assign_metric_to_grid(metric_name="plate", grid_name="plate",
                              axes_ticks=[[0.0, 1.0, 2.0], [0.0, 1.0]], axes_labels=["x", "y"])
    for step in range(3):
        T = np.array([100.0 * (1 - abs(2 * x - 1)) / (step + 1) for x in (0.0, 0.25, 0.5, 0.75, 1.0)])
        plate = np.array([[step + x + 10 * y for x in range(3)] for y in range(2)], dtype=float)
        run.log_metrics({"residual": 1.0 / (step + 1), "t_max": float(T.max()), "T": T, "plate": plate},
                        step=step)
    run.log_event("converged")
    run.log_event("careful", log_level="warning")
    run.save_file("deck.in", category="input", metadata={"kind": "deck"})
    run.save_object({"ok": True}, category="output", name="summary", metadata={"kind": "summary"})
print("DONE")
