"""What the server recorded, and the accessors tests read it with."""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import string
import typing

ID_ALPHABET = string.ascii_letters + string.digits


class Store:
    """The recorded state of :class:`~simvue_server.server.SimvueServer` (a mixin: it uses the
    server's ``_lock``, ``_id_rng``, ``url`` and ``version``). Accessors return deep copies."""

    def reset(self) -> None:
        """Forget everything recorded (fault settings are kept)."""
        with self._lock:
            self._folders: dict[str, dict] = {}
            self._runs: dict[str, dict] = {}
            self._run_history: dict[str, list[dict]] = {}
            self._metrics: dict[str, list[dict]] = {}
            self._metric_batches: dict[str, list[int]] = {}
            # {run: {metric: {"count", "min", "max", "mean", "last"}}}, kept as items arrive
            self._metric_summaries: dict[str, dict[str, dict]] = {}
            self._events: dict[str, list[dict]] = {}
            self._alerts: dict[str, dict] = {}
            self._alert_status: dict[tuple[str, str], list[str]] = {}
            self._artifacts: dict[str, dict] = {}
            self._tags: dict[str, dict] = {}
            self._grids: dict[str, dict] = {}
            self._run_grids: dict[str, list[tuple[str, str]]] = {}  # run -> [(grid, metric)]
            self._grid_metrics: dict[str, list[dict]] = {}  # run -> tensor metric items
            self._heartbeats: dict[str, int] = {}
            self._aborts: dict[str, dict] = {}
            self._requests: list[dict] = []
            self._ids: set[str] = set()
            self._generated_names: set[str] = set()  # run ids whose name the server chose

    def _new_id(self) -> str:
        while True:
            new = "".join(self._id_rng.choice(ID_ALPHABET) for _ in range(22))
            if new not in self._ids:
                self._ids.add(new)
                return new

    # accessors: all return deep copies, safe to keep and mutate
    def _copy(self, obj: typing.Any) -> typing.Any:
        with self._lock:
            return copy.deepcopy(obj)

    def runs(self) -> dict[str, dict]:
        """{run_id: current run state} (as GET /api/runs/{id} would show it, alerts as ids)."""
        return self._copy(self._runs)

    def run(self, run_id: str) -> dict:
        """Current state of one run (KeyError if unknown)."""
        return self._copy(self._runs[run_id])

    def run_by_name(self, name: str) -> dict:
        with self._lock:
            matches = [r for r in self._runs.values() if r.get("name") == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} runs named {name!r}")
        return self._copy(matches[0])

    def name_was_generated(self, run_id: str) -> bool:
        """True if the run was created without a name and the server chose one."""
        with self._lock:
            return run_id in self._generated_names

    def run_history(self, run_id: str) -> list[dict]:
        """Every body received for the run, in order: [{"method": "POST"|"PUT", "body": {...}}, ...]."""
        return self._copy(self._run_history[run_id])

    def metrics(self, run_id: str) -> list[dict]:
        """Metric items for a run, in arrival order, as decoded from msgpack."""
        return self._copy(self._metrics.get(run_id, []))

    def count(self, kind: str, run_id: str) -> int:
        """Items received for the run ("metrics" or "events") in ``count_only`` mode."""
        with self._lock:
            return self._counts.get((kind, run_id), 0)

    def metric_batches(self, run_id: str) -> list[int]:
        """Number of items in each accepted POST /api/metrics for the run."""
        return self._copy(self._metric_batches.get(run_id, []))

    def events(self, run_id: str) -> list[dict]:
        return self._copy(self._events.get(run_id, []))

    def folders(self) -> dict[str, dict]:
        """{folder_id: folder state}."""
        return self._copy(self._folders)

    def folder_by_path(self, path: str) -> dict:
        with self._lock:
            for f in self._folders.values():
                if f["path"] == path:
                    return copy.deepcopy(f)
        raise KeyError(path)

    def alerts(self) -> dict[str, dict]:
        """{alert_id: alert definition as stored}."""
        return self._copy(self._alerts)

    def alert_status(self, alert_id: str, run_id: str) -> list[str]:
        """History of statuses PUT for (alert, run); last one is current. [] if none."""
        return self._copy(self._alert_status.get((alert_id, run_id), []))

    def artifacts(self) -> dict[str, dict]:
        """{artifact_id: {"id", "meta" (POST body), "uploaded" (PUT flag), "runs" {run: category},
        "data" (bytes or None), "upload": {"method", "fields", "authorization" (header value or None),
        "content_type", "filename"} or None, "uploads" (count)}}."""
        return self._copy(self._artifacts)

    def tags(self) -> dict[str, dict]:
        return self._copy(self._tags)

    def grids(self) -> dict[str, dict]:
        """{grid_id: {"id", "name", "grid", "labels", "created"}}."""
        return self._copy(self._grids)

    def run_grids(self, run_id: str) -> list[tuple[str, str]]:
        """[(grid_id, metric)] attached to the run."""
        return self._copy(self._run_grids.get(run_id, []))

    def grid_metrics(self, run_id: str) -> list[dict]:
        """Tensor metric items of a run, in arrival order: {time, timestamp, step, array, grid, metric}."""
        return self._copy(self._grid_metrics.get(run_id, []))

    def heartbeats(self, run_id: str | None = None) -> typing.Any:
        """Heartbeat count for a run, or {run_id: count} without an argument."""
        with self._lock:
            return self._heartbeats.get(run_id, 0) if run_id else dict(self._heartbeats)

    def abort(self, run_id: str, reason: str = "test abort") -> None:
        """Set the abort flag of a run (what PUT /api/runs/{id}/abort does)."""
        with self._lock:
            self._aborts[run_id] = {"status": True, "reason": reason}

    def abort_state(self, run_id: str) -> dict:
        with self._lock:
            return dict(self._aborts.get(run_id, {"status": False}))

    def requests(self) -> list[dict]:
        """Request log: [{"method", "path", "query", "status", "fault", "auth", "content_type",
        "content_length", "time"}]; fault is None or "fail"/"hang-dropped"/"hang-late"/"drop"/"garble"/"unauthorized"."""
        return self._copy(self._requests)

    def count_requests(self, method: str | None = None, path: str | None = None, status: int | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self._requests
                if (method is None or r["method"] == method)
                and (path is None or r["path"] == path or re.fullmatch(path, r["path"]))
                and (status is None or r["status"] == status)
            )

    def snapshot(self, *, binary: str = "base64") -> dict:
        """The whole store as a JSON-serialisable dict (artifact bytes base64-encoded)."""
        with self._lock:
            arts = copy.deepcopy(self._artifacts)
            for art in arts.values():
                data = art.pop("data")
                art["data_base64"] = base64.b64encode(data).decode() if data is not None else None
                art["data_sha256"] = hashlib.sha256(data).hexdigest() if data is not None else None
                art["data_size"] = len(data) if data is not None else None
            return copy.deepcopy(
                {
                    "url": self.url,
                    "version": self.version,
                    "folders": self._folders,
                    "runs": self._runs,
                    "run_history": self._run_history,
                    "metrics": self._metrics,
                    "events": self._events,
                    "alerts": self._alerts,
                    "alert_status": {f"{a}/{r}": s for (a, r), s in self._alert_status.items()},
                    "artifacts": arts,
                    "tags": self._tags,
                    "grids": self._grids,
                    "run_grids": self._run_grids,
                    "grid_metrics": self._grid_metrics,
                    "heartbeats": self._heartbeats,
                    "aborts": self._aborts,
                    "requests": self._requests,
                }
            )

    def _log(self, entry: dict) -> None:
        with self._lock:
            self._requests.append(entry)
