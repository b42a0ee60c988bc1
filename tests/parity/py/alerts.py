"""The alert scenario of tests/parity/c/alerts.c through the Python client simvue 2.6.2."""
import json
import os

import simvue

online = os.environ.get("SIMVUE_MODE") == "online"
with simvue.Run(mode="online" if online else "offline") as run:
    run.config(suppress_errors=False, disable_resources_metrics=True)
    run.init(name="alerts", folder="/parity/alerts", tags=["a"])
    th = run.create_metric_threshold_alert(
        name="th", metric="x", threshold=2.0, rule="is below", description="dd", window=3,
        frequency=2, aggregation="at least one", notification="email", trigger_abort=True,
        attach_to_run=False)
    rg = run.create_metric_range_alert(name="rg", metric="x", range_low=1, range_high=2,
                                       rule="is inside range", aggregation="sum", trigger_abort=True)
    ev = run.create_event_alert(name="ev", pattern="boom", description="evd", trigger_abort=True)
    ua = run.create_user_alert(name="ua", description="user alert", notification="email",
                               trigger_abort=True)
    run.log_alert(identifier=ua, state="critical")
    if online:
        run.log_alert(name="ua", state="ok")
        run.add_alerts(names=["th"])
    else:
        run.add_alerts(ids=[th])
    run.log_metrics({"x": 1.0})
    run_id = run.id
print(f"run_id={run_id}")
print(json.dumps({"th": th, "rg": rg, "ev": ev, "ua": ua}))
