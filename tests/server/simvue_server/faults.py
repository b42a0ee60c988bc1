"""Fault injection: which requests fail, wait or hang, and the server's API to set that."""

from __future__ import annotations

import contextlib
import random
import re
import typing

DATA_PATHS = {("POST", "/api/metrics"), ("POST", "/api/events")}

SCOPES: dict[str, typing.Callable[[str, str], bool]] = {
    "data": lambda m, p: (m, p) in DATA_PATHS,  # POST /api/metrics and /api/events
    "metrics": lambda m, p: (m, p) == ("POST", "/api/metrics"),
    "events": lambda m, p: (m, p) == ("POST", "/api/events"),
    "api": lambda m, p: p.startswith("/api/") and p != "/api/version",
    "upload": lambda m, p: p.startswith("/storage/"),
    "all": lambda m, p: not p.startswith("/_control"),
}


def _scope_fn(scope: typing.Any) -> typing.Callable[[str, str], bool]:
    if callable(scope):
        return scope
    if isinstance(scope, str) and scope in SCOPES:
        return SCOPES[scope]
    if isinstance(scope, str):  # a regular expression matched against "METHOD /path"
        rx = re.compile(scope)
        return lambda m, p: bool(rx.search(f"{m} {p}"))
    raise ValueError(f"unknown fault scope {scope!r}; use one of {sorted(SCOPES)}, a regex or a callable")


class Faults:
    """Current fault settings. All fields are read under the server's lock."""

    DEFAULTS: dict[str, typing.Any] = {
        "fail_fraction": 0.0,  # fraction of in-scope requests answered with fail_status
        "fail_next": 0,  # the next N in-scope requests fail (deterministic, before the fraction)
        "fail_skip": 0,  # the first N in-scope requests pass before fail_next and the fraction apply
        "fail_scope": "data",
        "fail_status": 503,
        # the failing requests are carried out first and then answered fail_status, as a gateway
        # that timed out while the server went on (the client cannot tell whether they arrived)
        "fail_after_processing": False,
        "seed": 0,  # seeds the RNG that picks failing requests (reset by set_faults(seed=...))
        "latency": 0.0,  # seconds added before each in-scope response
        "latency_scope": "all",
        "hang": False,  # in-scope requests block until release() or until the client disconnects
        "hang_scope": "all",
        # held requests are processed when released even if their client gave up meanwhile (a
        # backend that stores late, behind a proxy that timed out); else they are dropped
        "hang_processes": False,
        # in-scope requests are processed (stored), then the connection is closed without an
        # answer: the client cannot know that it was stored (a server or proxy dying after the
        # commit). drop: all of them; drop_next: the next N; drop_fraction: a random fraction
        "drop": False,
        "drop_next": 0,
        "drop_fraction": 0.0,
        "drop_scope": "data",
        "bad_version": False,  # GET /api/version reports "2.1.0" (outside 1.1.0 <= v < 2.0.0, §1.6)
        "unauthorized": False,  # every /api request answers 401
        "garble": False,  # in-scope requests answer 200 with an HTML page (a proxy's error page)
        "garble_scope": "api",
    }

    def __init__(self) -> None:
        self.values = dict(self.DEFAULTS)
        self.rng = random.Random(0)

    def update(self, **kwargs: typing.Any) -> None:
        unknown = set(kwargs) - set(self.DEFAULTS)
        if unknown:
            raise TypeError(f"unknown fault setting(s): {sorted(unknown)}")
        for key in ("fail_scope", "latency_scope", "hang_scope", "garble_scope", "drop_scope"):
            if key in kwargs:
                _scope_fn(kwargs[key])  # validate early
        self.values.update(kwargs)
        if "seed" in kwargs:
            self.rng = random.Random(kwargs["seed"])

    def __getattr__(self, name: str) -> typing.Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None


class FaultControl:
    """The fault-injection API of :class:`~simvue_server.server.SimvueServer` (a mixin: it uses
    the server's ``_lock``, ``_faults`` and ``_release``)."""

    def set_faults(self, **kwargs: typing.Any) -> None:
        """Change fault settings at runtime (keys of Faults.DEFAULTS)."""
        with self._lock:
            if kwargs.get("hang"):
                self._release.clear()
            self._faults.update(**kwargs)
            if "hang" in kwargs and not kwargs["hang"]:
                self._release.set()

    def reset_faults(self) -> None:
        with self._lock:
            seed = self._faults.seed
            self._faults = Faults()
            self._faults.update(seed=seed)
        self._release.set()

    def get_faults(self) -> dict[str, typing.Any]:
        with self._lock:
            return {k: (v if not callable(v) else repr(v)) for k, v in self._faults.values.items()}

    @contextlib.contextmanager
    def faults(self, **kwargs: typing.Any) -> typing.Iterator["SimvueServer"]:
        """Scoped fault injection: ``with srv.faults(fail_fraction=0.3, seed=1): ...``."""
        with self._lock:
            saved = dict(self._faults.values)
        self.set_faults(**kwargs)
        try:
            yield self
        finally:
            with self._lock:
                self._faults.values = saved
            if not saved["hang"]:
                self._release.set()

    def held_requests(self) -> int:
        """How many requests ``hang`` holds right now (those whose client left are dropped
        within 50 ms, unless ``hang_processes``)."""
        with self._lock:
            return self._held

    def wait_until_none_held(self, timeout: float = 10) -> None:
        """Waits until ``hang`` holds no request: every client gave up and was dropped (a
        server that never stores what it hung on), so that a release stores nothing late."""
        import time

        deadline = time.monotonic() + timeout
        while self.held_requests():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.held_requests()} requests still held")
            time.sleep(0.02)

    def release(self) -> None:
        """Release requests held by ``hang`` (and stop hanging new ones)."""
        with self._lock:
            self._faults.values["hang"] = False
        self._release.set()

    def _pick_fault(self, method: str, path: str) -> dict:
        """Decide, under the lock, which faults apply to this request."""
        with self._lock:
            f = self._faults
            out = {"latency": 0.0, "hang": False, "fail": None, "after": bool(f.fail_after_processing),
                   "drop": False, "hang_processes": bool(f.hang_processes),
                   "garble": bool(f.garble and _scope_fn(f.garble_scope)(method, path))}
            if f.latency and _scope_fn(f.latency_scope)(method, path):
                out["latency"] = float(f.latency)
            if f.hang and _scope_fn(f.hang_scope)(method, path):
                out["hang"] = True
            if _scope_fn(f.drop_scope)(method, path):
                if f.drop_next > 0:
                    f.values["drop_next"] -= 1
                    out["drop"] = True
                elif f.drop or (f.drop_fraction and f.rng.random() < f.drop_fraction):
                    out["drop"] = True
            if _scope_fn(f.fail_scope)(method, path):
                if f.fail_skip > 0:
                    f.values["fail_skip"] -= 1
                elif f.fail_next > 0:
                    f.values["fail_next"] -= 1
                    out["fail"] = f.fail_status
                elif f.fail_fraction and f.rng.random() < f.fail_fraction:
                    out["fail"] = f.fail_status
            return out
