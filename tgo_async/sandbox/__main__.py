"""``python -m tgo_async.sandbox``: serve the sandbox until SIGTERM/SIGINT.

Prints exactly one line, ``SANDBOX_LISTENING http://HOST:PORT``, once the socket is bound (scripts wait
for it, which is why it is flushed at once), and exits 0 on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from ._faults import Fault
from ._server import SandboxServer

__all__ = ["build_parser", "main"]


def build_parser(prog: str = "python -m tgo_async.sandbox") -> argparse.ArgumentParser:
    """The argument parser, reusable by the ``tgo-async sandbox`` subcommand."""
    parser = argparse.ArgumentParser(prog=prog, description="Serve the in-memory TGO Business API sandbox.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one (default 8080)")
    parser.add_argument("--rate-limit", type=float, default=None, metavar="R", help="requests/s per API key")
    parser.add_argument("--rate-burst", type=int, default=None, metavar="N", help="bucket size")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="KIND[:PROBABILITY][,key=value...], keys route, retry_after, delay, times, status, body; "
        "e.g. 'rate_limit:0.3,retry_after=2,route=POST /api/v1/messages' (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for OTPs and random faults (default 0)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log sandbox events (phones masked)")
    return parser


async def _serve(args: argparse.Namespace, faults: list[Fault]) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with SandboxServer(
            args.host, args.port, rate_limit=args.rate_limit, rate_burst=args.rate_burst, seed=args.seed
        ) as server:
            for fault in faults:
                server.state.faults.add(fault)
            print(f"SANDBOX_LISTENING {server.base_url}", flush=True)
            await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def main(argv: list[str] | None = None, *, prog: str = "python -m tgo_async.sandbox") -> int:
    """Run until SIGTERM/SIGINT; 0 on a clean stop, 2 on bad arguments, 1 if the port cannot be bound."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        faults = [Fault.parse(spec) for spec in args.fault]
    except (TypeError, ValueError) as exc:
        parser.error(f"--fault: {exc}")
    if args.verbose:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("tgo_async.sandbox").setLevel(logging.DEBUG)
    try:
        asyncio.run(_serve(args, faults))
    except OSError as exc:
        print(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
