"""A cache holding every kind of object simvue 2.6.2 writes offline, for tests/sender.

Run with the interpreter that has simvue 2.6.2 (SIMVUE_PYREF), in a directory with a
simvue.toml and SIMVUE_OFFLINE_DIRECTORY set (tests/sender/helpers.py does it):

    python scenario_python.py

Two runs. The first has folder details, tags, nested metadata, metric values that are
floats, integers, booleans, NaN and infinities, events at several levels, the four kinds of
alert (threshold, range, events, user, the user alert set to critical, one alert aborting),
tensor metrics (arrays on a 2-D grid and on a default 1-D grid), and the three kinds of saved file: a file by path, a snapshot copied into the cache, and an
object. The second run, in a sibling folder, shares an alert definition with the first (the
server de-duplicates it) and is left "failed".
"""

import math
import pathlib
import time

import numpy as np
import simvue


def wait_for_dispatcher(run: simvue.Run, timeout: float = 15.0) -> None:
    """2.6.2 purges what is still queued when close() follows set_status(): wait until the
    dispatcher has taken everything (as tests/python/scenario_heat.py does)."""
    dispatcher = getattr(run, "_dispatcher", None)
    if dispatcher is None or not hasattr(dispatcher, "empty"):
        time.sleep(2.5)
        return
    deadline = time.monotonic() + timeout
    while not dispatcher.empty and time.monotonic() < deadline:
        time.sleep(0.05)

pathlib.Path("input.txt").write_bytes(b"hello simvue\n" * 10 + bytes(range(256)))
pathlib.Path("field.csv").write_text("x,u\n0.0,1.0\n0.5,0.25\n")

with simvue.Run(mode="offline") as run:
    run.config(suppress_errors=False, disable_resources_metrics=True)
    run.init(name="py-everything", folder="/sender/python", tags=["t1", "t2"],
             metadata={"a": 1, "nested": {"k": [1, 2]}, "s": "text \u00e9"},
             description="every kind of object")
    for i in range(40):
        run.log_metrics({"loss": 1.0 / (i + 1), "count": i, "flag": i % 2 == 0,
                         "nan": math.nan, "inf": math.inf, "ninf": -math.inf})
    run.log_metrics({"loss": 0.001}, step=100, time=12.5)
    run.assign_metric_to_grid(metric_name="T", grid_name="mesh",
                              axes_ticks=[[0.0, 0.5, 1.0], [0.0, 1.0]], axes_labels=["x", "y"])
    field = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])  # T[y][x]
    for k in range(3):
        run.log_metrics({"T": field + k}, step=200 + k)
    run.log_metrics({"prof": np.array([1.0, 2.0, 3.0, 4.0])}, step=300, time=20.0)
    run.log_event("hello")
    run.log_event("careful", log_level="warning")
    run.log_event("bad", log_level="error")
    run.update_metadata({"c": 3})
    run.update_tags(["t3"])
    run.set_folder_details(metadata={"fm": 1}, tags=["ft"], description="folder desc")
    run.create_metric_threshold_alert(name="loss-high", metric="loss", threshold=10.0,
                                      rule="is above", window=2, trigger_abort=True)
    run.create_metric_range_alert(name="loss-range", metric="loss", range_low=-1.0,
                                  range_high=1.0, rule="is outside range")
    run.create_event_alert(name="err-event", pattern="ERROR", frequency=2)
    user = run.create_user_alert(name="user-alert", description="set by hand")
    run.log_alert(user, state="critical")
    run.save_file("input.txt", category="input")
    run.save_file("field.csv", category="output", snapshot=True)
    run.save_object({"k": [1, 2, 3], "name": "summary"}, category="output", name="summary")

with simvue.Run(mode="offline") as run:
    run.config(suppress_errors=False, disable_resources_metrics=True)
    run.init(name="py-second", folder="/sender/second", tags=["second"],
             retention_period="1 hour", notification="all")
    run.create_event_alert(name="err-event", pattern="ERROR", frequency=2)
    for i in range(5):
        run.log_metrics({"x": float(i)})
    run.log_event("second run")
    wait_for_dispatcher(run)
    run.set_status("failed")
