"""The init scenario of tests/parity/c/init_options.c through the Python client simvue 2.6.2.
Arguments as the C program's: env | args URL TOKEN | profile NAME."""
import os
import sys

import simvue

kwargs = {}
if sys.argv[1:2] == ["args"]:
    kwargs = {"server_url": sys.argv[2], "server_token": sys.argv[3]}
elif sys.argv[1:2] == ["profile"]:
    kwargs = {"server_profile": sys.argv[2]}
mode = "offline" if os.environ.get("SIMVUE_MODE") == "offline" else "online"
with simvue.Run(mode=mode, **kwargs) as run:
    run.config(suppress_errors=False, disable_resources_metrics=True)
    run.init(name="init-options", metadata={"k": 1}, tags=["init"], description="described",
             folder="/parity/init", notification="all", retention_period="1 hour", timeout=120,
             visibility=["alice", "bob"], record_shell_vars={"PARITY_SHELL_*"})
    run.log_metrics({"x": 1.0})
    run_id = run.id
print(f"run_id={run_id}")
