"""tests/parity/c/units.c through the Python client simvue 2.6.2."""
import os

import simvue

mode = "offline" if os.environ.get("SIMVUE_MODE") == "offline" else "online"
with simvue.Run(mode=mode) as run:
    run.config(suppress_errors=False, disable_resources_metrics=True)
    run.init(name="units", folder="/parity/units")
    print(f"run_id={run.id}")
    run.set_metric_units("x", units="km")
    run.set_metric_units("y", units="weird", mks_unit="m", mks_conversion=2.0)
    run.set_metric_units("z", units="J/kg")
    run.set_metric_units("t", units="degC")
    run.set_metric_units("v", units="Pa*s")
    run.set_metric_units("n", units="nonsense")
    run.set_metric_units("g", units="g/cm**3", mks_unit="kg/m**3")
    run.log_metrics({"x": 1.0, "y": 2.0})
    run.set_metric_units("e", units="MeV")
    run.log_metrics({"e": 3.0})
    run.save_file("deck.in", category="input", metadata={"kind": "deck", "n": 3})
    run.save_object({"ok": True}, category="output", name="summary", metadata={"kind": "summary"})
print("DONE")
