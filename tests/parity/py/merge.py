"""tests/parity/c/merge.c through the Python client simvue 2.6.2: argv[1] is the file to wait
for, argv[2] == "set" ends with set_tags."""
import os
import sys
import time

import simvue

with simvue.Run(mode="online") as run:
    run.config(suppress_errors=False, disable_resources_metrics=True)
    run.init(name="merge", tags=["a"], folder="/parity/merge")
    print(f"run_id={run.id}")
    run.update_tags(["b"])
    print("READY", flush=True)
    for _ in range(1200):
        if os.path.exists(sys.argv[1]):
            break
        time.sleep(0.05)
    run.update_tags(["c"])
    run.create_user_alert(name="ua2")
    if sys.argv[2:3] == ["set"]:
        run.set_tags(["x", "y"])
print("DONE")
