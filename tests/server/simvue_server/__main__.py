"""The command line: ``python -m simvue_server --port 0`` (with ``tests/server`` on the path)
prints the URL and the token, serves until SIGTERM/SIGINT, then writes the record."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from . import __doc__ as package_doc
from .server import SimvueServer


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="simvue_server", description=package_doc.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--version", default="1.3.0", help="version reported by GET /api/version")
    ap.add_argument("--token", default=None, help="bearer token to require (default: a fresh JWT-looking token)")
    ap.add_argument("--upload-style", choices=("post", "put"), default="post")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--record", metavar="FILE", help="write the recorded store as JSON on SIGTERM/SIGINT")
    ap.add_argument("--token-file", metavar="FILE", help="also write the token to FILE")
    args = ap.parse_args(argv)

    srv = SimvueServer(port=args.port, version=args.version, token=args.token,
                       upload_style=args.upload_style, seed=args.seed)
    if args.token_file:
        with open(args.token_file, "w") as fh:
            fh.write(srv.token)
    # first line: the URL; second line: the token
    print(srv.url, flush=True)
    print(srv.token, flush=True)

    done = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not done.wait(0.2):
        pass
    srv.stop()
    if args.record:
        with open(args.record, "w") as fh:
            json.dump(srv.snapshot(), fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
