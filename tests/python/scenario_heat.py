"""The heat1d.c scenario, tracked with the official Python client (simvue 2.6.2).

Run with the interpreter that has simvue 2.6.2 installed:

    python scenario_heat.py [nx] [steps]

It mirrors every tracking call that ``examples-c/heat1d.c`` makes, in the same order and
with the same names, parameters and value types, so that the offline cache it writes can be
compared with the one libsimvue writes.  The solver is the same explicit FTCS scheme, so even
the logged values match (both use the platform's libm).

The saved files are heat1d.c's too: the input deck ``heat1d.in`` (input), this script as the
source (code; heat1d.c saves its own source), the final field ``heat1d_field.csv`` (output, a
snapshot) and the summary ``summary.json`` (output, ``save_object`` of a dict: simvue
serialises it with json.dumps, as application/json).  The deck and the field have heat1d.c's
bytes ("%.6f" numbers); the summary's numbers are Python floats, so its bytes differ (the test
compares its record's keys and types, not its checksum).

Configuration (server URL, a JWT token, the offline directory) comes from the environment
or from a simvue.toml in the working directory; the test sets that up.  Offline mode makes no
HTTP request.
"""

import math
import os
import sys
import time

import simvue


def _wait_for_dispatcher(run: simvue.Run, timeout: float = 15.0) -> None:
    dispatcher = getattr(run, "_dispatcher", None)
    if dispatcher is None or not hasattr(dispatcher, "empty"):
        time.sleep(2.5)  # two dispatcher periods
        return
    deadline = time.monotonic() + timeout
    while not dispatcher.empty and time.monotonic() < deadline:
        time.sleep(0.05)


def main() -> int:
    nx = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    alpha = 0.01
    dx = 1.0 / (nx - 1)
    dt = 0.4 * dx * dx / alpha

    u = [100.0 * math.sin(math.pi * i * dx) for i in range(nx)]
    un = [0.0] * nx

    # heat1d.c writes its input deck before creating the run.
    with open("heat1d.in", "w", newline="\n") as f:
        f.write(f"nx = {nx}\nsteps = {steps}\nalpha = 0.01\n")

    # simvue_run_new(SIMVUE_MODE_OFFLINE) + simvue_run_config(queue_blocking=1,
    # disable_resources_metrics=1)
    run = simvue.Run(mode="offline")
    run.config(queue_blocking=True, disable_resources_metrics=True)

    # heat1d.c sets nx, alpha, scheme before init (they are added to the init metadata) and
    # passes {"dt": 0.0, "language": "C"} to init.
    run.init(
        "heat-1d-demo",
        metadata={"dt": 0.0, "language": "C", "nx": nx, "alpha": alpha, "scheme": "ftcs"},
        tags=["heat", "1d"],
        description="1-D heat equation",
        folder="/examples/heat",
        running=True,
    )
    # simvue_run_set_metadata_double(run, "dt", dt) after init is an update.
    run.update_metadata({"dt": dt})
    print(f"run {run.name} ({run.id})")

    # simvue_run_save(run, "heat1d.in", SIMVUE_CATEGORY_INPUT, NULL, 0, NULL, 0), then the
    # source (heat1d.c saves its own, by absolute path; this script saves itself).
    run.save_file("heat1d.in", category="input")
    run.save_file(os.path.abspath(__file__), category="code")

    run.create_metric_threshold_alert(
        name="residual-too-high", metric="residual", threshold=1.0, rule="is above",
        frequency=1, window=1, notification="none",
    )
    run.create_metric_range_alert(
        name="temp-out-of-range", metric="t_max", range_low=0.0, range_high=100.0,
        rule="is outside range", frequency=1, window=1, notification="none",
    )
    run.create_event_alert(name="diverged", pattern="diverged", frequency=1, notification="none")
    run.log_event("starting time loop")

    t = 0.0
    diverged = False
    for n in range(steps):
        residual = 0.0
        tmax = 0.0
        un[0] = un[nx - 1] = 0.0
        for i in range(1, nx - 1):
            un[i] = u[i] + alpha * dt / (dx * dx) * (u[i + 1] - 2.0 * u[i] + u[i - 1])
            residual = max(residual, abs(un[i] - u[i]))
            tmax = max(tmax, un[i])
        u, un = un, u
        t += dt
        exact = 100.0 * math.exp(-alpha * math.pi * math.pi * t)
        if n % 10 == 0 or n == steps - 1:
            run.log_metrics(
                {"residual": residual, "t_max": tmax, "error": abs(tmax - exact)}, step=n
            )
        if not math.isfinite(tmax):
            diverged = True
            run.log_event("solution diverged")
            break

    run.log_event(f"finished {steps} steps, t = {t:.4f}, u_max = {u[nx // 2]:.6f}")
    # The final field as heat1d.c writes it, saved as a snapshot, and the summary from memory
    # (simvue_run_save_bytes(..., "summary.json", ..., "application/json", 0)).
    with open("heat1d_field.csv", "w", newline="\n") as f:
        f.write("x,u\n")
        for i in range(nx):
            f.write(f"{i * dx:.6f},{u[i]:.6f}\n")
    run.save_file("heat1d_field.csv", category="output", snapshot=True)

    def json_number(x: float) -> float | None:
        return float(f"{x:.6f}") if math.isfinite(x) else None

    run.save_object(
        {"nx": nx, "steps": steps, "t_final": json_number(t), "u_max": json_number(u[nx // 2]),
         "diverged": diverged},
        category="output", name="summary.json",
    )
    # simvue_run_update_metadata(run, "{\"t_final\": 0.0}") then set_metadata_double.
    run.update_metadata({"t_final": 0.0})
    run.update_metadata({"t_final": t})
    if not diverged:
        run.update_tags(["converged"])
    run.set_folder_details(
        metadata={"project": "demo"}, tags=["examples"], description="Example runs"
    )
    # Python 2.6.2 quirk: close() after set_status() *purges* whatever metrics/events are
    # still queued (Run._tidy_run calls dispatcher.purge() when the status is no longer
    # "running"), while libsimvue's close writes everything still queued.  So that both
    # caches hold the same data, wait here until the dispatcher (which sends at most once a
    # second) has taken every queued item; the batch it is writing is finished by close().
    _wait_for_dispatcher(run)
    run.set_status("failed" if diverged else "completed")
    run.close()
    return 1 if diverged else 0


if __name__ == "__main__":
    sys.exit(main())
