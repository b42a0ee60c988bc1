#!/usr/bin/env bash
# Builds libsimvue and the C example (a 1-D heat equation solver), runs it tracked in offline
# mode, and shows what was recorded and where. Usage: scripts/run-example.sh [nx] [steps]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target heat1d

cache="${SIMVUE_OFFLINE_DIRECTORY:-$PWD/build/example-cache}"
export SIMVUE_OFFLINE_DIRECTORY="$cache"
export SIMVUE_MODE="${SIMVUE_MODE:-offline}"
# The solver writes its input deck and final field where it runs: a folder of its own.
work="$PWD/build/example-run"
mkdir -p "$work"
echo "== running build/heat1d ${*:-64 2000} in $work (mode $SIMVUE_MODE, cache $cache)"
(cd "$work" && ../heat1d "$@")

echo
echo "== recorded in $cache (upload it with: simvue-sender -i $cache)"
(cd "$cache" && find . -type f ! -name '.*' | sort)
run_json=$(ls -t "$cache"/runs/*.json 2>/dev/null | head -n1 || true)
if [ -n "$run_json" ]; then
    echo
    echo "== $run_json"
    python3 - "$run_json" "$cache" <<'PY'
import json, pathlib, sys
run = json.load(open(sys.argv[1]))
rid = pathlib.Path(sys.argv[1]).stem
print(f"name {run['name']}  status {run['status']}  folder {run['folder']}  tags {run['tags']}")
print(f"metadata {json.dumps(run['metadata'])}")
cache = pathlib.Path(sys.argv[2])
sets = [m for f in (cache / "metrics").glob("*.json")
        for m in json.load(open(f))["metrics"] if json.load(open(f))["run"] == rid]
events = [e for f in (cache / "events").glob("*.json")
          for e in json.load(open(f))["events"] if json.load(open(f))["run"] == rid]
arts = [json.load(open(f)) for f in (cache / "artifacts").glob("*.json")]
arts = [a for a in arts if rid in a.get("runs", {})]
print(f"{len(sets)} metric sets, {len(events)} events, {len(run['alerts'])} alerts, {len(arts)} saved files")
for a in arts:
    print(f"saved {a['name']} ({a['runs'][rid]}, {a['mime_type']}, {a['size']} bytes)")
if sets:
    last = max(sets, key=lambda m: m["step"])
    print(f"last metrics: step {last['step']} {last['values']}")
for e in events:
    print(f"event {e['timestamp']} {e['message']}")
PY
fi
