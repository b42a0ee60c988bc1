"""A Simvue-compatible HTTP server for the libsimvue test suite.

It answers the REST calls of the Python client simvue 2.6.2 (and its ``simvue-sender``) with the
response shapes that client reads, and records everything it receives in memory so tests can
assert on it.  References in comments:

* ``§n``       -> docs/protocol.md (the protocol doc), section n (§13 is the endpoint table);
* ``file:line`` -> the simvue 2.6.2 client source (``site-packages/simvue/...``).

Standard library only, plus ``msgpack`` (a dependency of the simvue client) for metrics/events.

The package, a module per concern:

* ``server``  -- :class:`SimvueServer`: lifecycle (start, stop, go_away, come_back) and ``make_jwt``;
* ``storage`` -- what the server recorded, and the accessors tests read it with;
* ``routes``  -- the Simvue endpoints (and the ``/_control`` API of the CLI), request validation;
* ``faults``  -- fault injection: failures, latency, hanging requests, bad version, 401;
* ``httpd``   -- HTTP plumbing: the threading server, the request handler, multipart parsing;
* ``__main__`` -- the command line.

Usage from Python (with ``tests/server`` on ``sys.path``)::

    with SimvueServer() as srv:            # listens on 127.0.0.1:<random port>
        ... point the client at srv.url with token srv.token ...
        assert srv.metrics(run_id)[0]["values"] == {"x": 1.0}
        with srv.faults(fail_fraction=0.3, seed=1):   # scoped fault injection
            ...

Usage from a shell (C tests)::

    PYTHONPATH=tests/server python -m simvue_server --port 0 [--record out.json]   # first stdout line = URL

The CLI server also exposes an unauthenticated control API outside /api (see ``Routes._control``):
``GET /_control/store`` (the recorded store as JSON), ``POST /_control/faults`` (JSON body with the
keyword arguments of :meth:`SimvueServer.set_faults`), ``POST /_control/reset_faults``,
``POST /_control/release`` (release hung requests), ``POST /_control/abort/<run>``.
"""

from .faults import SCOPES, Faults
from .httpd import HttpError, not_found, parse_multipart, validation_error
from .routes import DATETIME_FORMAT, ID_REGEX, RUN_STATUSES, TIMESTAMP_REGEX, now_ts
from .server import HOST, SimvueServer, make_jwt

__all__ = [
    "DATETIME_FORMAT", "HOST", "ID_REGEX", "RUN_STATUSES", "SCOPES", "TIMESTAMP_REGEX", "Faults",
    "HttpError", "SimvueServer", "make_jwt", "not_found", "now_ts", "parse_multipart",
    "validation_error",
]
