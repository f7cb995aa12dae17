"""Argument parsing and dispatch for ``tgo-async``; argparse only, so the CLI adds no dependency.

Exit status: 0 success; 1 an API or transport error, or a bulk job with failed/unknown items;
2 a usage error (bad arguments, bad input file, input refused before any I/O); 130 interrupted
(143 on SIGTERM). Errors are one ``error: …`` line on stderr, never a traceback, never the key.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from .._errors import TgoError, ValidationError
from ._output import Output, UsageError, install_log_handler, mask_phones
from ._rows import InputError, parse_shard

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace, Output], int]


# -- argument types -----------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def _shard(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- parser -------------------------------------------------------------------------------------
def _common(top: bool) -> argparse.ArgumentParser:
    """Options accepted before or after the command; subcommands only override what is given."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("common options")

    def d(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    g.add_argument("--api-key", default=d(None), metavar="KEY",
                   help="API key (default $TGO_API_KEY; prefer the variable: arguments show up in ps)")
    g.add_argument("--base-url", default=d(None), metavar="URL", help="API base URL (default $TGO_BASE_URL)")
    g.add_argument("--json", action="store_true", default=d(False), help="machine-readable output on stdout")
    g.add_argument("--plain", action="store_true", default=d(False),
                   help="no rich formatting or live progress (also TGO_ASYNC_PLAIN=1)")
    g.add_argument("-v", "--verbose", action="count", default=d(0), help="log more (-vv: debug)")
    return p


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    common = _common(top=False)
    parser = argparse.ArgumentParser(
        prog="tgo-async", parents=[_common(top=True)],
        description="Command-line client for the TGO Business messaging API. "
                    "Try `tgo-async demo`: it needs no key and no network.",
        epilog="exit status: 0 ok, 1 API error or items failed/unknown, 2 usage error, 130 interrupted")
    parser.add_argument("--version", action="version", version=f"tgo-async {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_: str, handler: Handler | None = None, **kw: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, parents=[common], **kw)
        if handler is not None:
            p.set_defaults(handler=handler)
        return p

    from ._bulk import add_send_bulk
    from ._demo import handle_demo

    add_send_bulk(add("send-bulk", "send every row of a CSV or JSONL file, with progress, checkpoint "
                                   "and report", _handle_send_bulk))

    senders = add("senders", "list, register or wait for sender numbers")
    ssub = senders.add_subparsers(dest="senders_cmd", required=True, metavar="ACTION")
    ssub.add_parser("list", help="every sender number and what it still needs", parents=[common])
    reg = ssub.add_parser("register", help="register a number (then enter its OTP in the dashboard)",
                          parents=[common])
    reg.add_argument("phone", help="E.164, e.g. +201001187188")
    reg.add_argument("--display-name", metavar="NAME")
    wait = ssub.add_parser("wait", help="poll until the number can send", parents=[common])
    wait.add_argument("id_or_phone", help="sender id or E.164 phone")
    wait.add_argument("--timeout", type=float, default=600.0, metavar="S",
                      help="give up after S seconds (600)")
    wait.add_argument("--poll-interval", type=_positive_float, default=2.0, metavar="S",
                      help=argparse.SUPPRESS)
    senders.set_defaults(handler=_client_command("cmd_senders"))

    lookup = add("lookup", "can this phone receive messages?", _client_command("cmd_lookup"))
    lookup.add_argument("phone")
    lookup.add_argument("--sender", metavar="PHONE", help="the sender number asking")

    send = add("send", "send one message", _client_command("cmd_send"))
    send.add_argument("--to", required=True, metavar="PHONE")
    what = send.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", metavar="TEXT")
    what.add_argument("--image", metavar="PATH")
    what.add_argument("--voice", metavar="PATH")
    what.add_argument("--document", metavar="PATH")
    send.add_argument("--caption", metavar="TEXT", help="for --image / --document")
    send.add_argument("--duration", type=int, metavar="S", help="seconds, 1..300, for --voice")
    who = send.add_mutually_exclusive_group(required=True)
    who.add_argument("--sender", metavar="PHONE")
    who.add_argument("--sender-id", type=int, metavar="N")
    send.add_argument("--on-ambiguous", choices=("raise", "retry"), default="raise",
                      help="retry even when the server may have applied it (may duplicate)")

    add("usage", "message counts by sender number", _client_command("cmd_usage"))

    rec = add("reconcile", "settle a checkpoint's unknown items against the message log",
              _client_command("cmd_reconcile"))
    rec.add_argument("checkpoint", type=Path, help="the send-bulk --checkpoint file")
    rec.add_argument("--dry-run", action="store_true", help="report only; do not append to the checkpoint")

    msgs = add("messages", "the message log, newest first", _client_command("cmd_messages"))
    msgs.add_argument("--per-page", type=_positive_int, default=None, metavar="N")
    msgs.add_argument("--limit", type=int, default=20, metavar="N", help="stop after N (0: all; default 20)")
    msgs.add_argument("--to", metavar="PHONE")
    msgs.add_argument("--sender-id", type=int, metavar="N")
    msgs.add_argument("--type", choices=("text", "image", "voice", "document"))
    msgs.add_argument("--status", metavar="STATUS")

    demo = add("demo", "onboard a sender and bulk-send thousands of messages to an embedded sandbox "
                       "with injected faults, then check every outcome against its ledger", handle_demo)
    demo.add_argument("--count", type=_positive_int, default=3000, metavar="N", help="messages (3000)")
    demo.add_argument("--seed", type=int, default=7, help="fault and OTP seed (7)")
    demo.add_argument("--concurrency", type=_positive_int, default=64, metavar="N")
    demo.add_argument("--progress-interval", type=_positive_float, default=2.0, help=argparse.SUPPRESS)

    sub.add_parser("sandbox", help="serve the in-memory sandbox API (see `tgo-async sandbox --help`)",
                   add_help=False)
    return parser


# -- dispatch -----------------------------------------------------------------------------------
def resolve_credentials(args: argparse.Namespace) -> tuple[str, str]:
    key = args.api_key or os.environ.get("TGO_API_KEY", "")
    url = args.base_url or os.environ.get("TGO_BASE_URL", "")
    if not key.strip():
        raise UsageError("no API key: set TGO_API_KEY (or pass --api-key)")
    if not url.strip():
        raise UsageError("no base URL: set TGO_BASE_URL (or pass --base-url)")
    args.resolved_api_key = key.strip()
    return key.strip(), url.strip()


def make_client(args: argparse.Namespace, **kw: Any) -> Any:
    from .._client import Client

    key, url = resolve_credentials(args)
    return Client(api_key=key, base_url=url, **kw)


def _client_command(name: str) -> Handler:
    def handler(args: argparse.Namespace, out: Output) -> int:
        from . import _commands

        fn: Callable[[argparse.Namespace, Output, Any], Coroutine[Any, Any, int]] = getattr(_commands, name)
        client = make_client(args)

        async def run() -> int:
            async with client:
                return await fn(args, out, client)

        return asyncio.run(run())

    return handler


def _handle_send_bulk(args: argparse.Namespace, out: Output) -> int:
    from .._validation import check_phone
    from ._bulk import run_send_bulk
    from ._rows import RowSource

    resolve_credentials(args)
    if args.sender is not None:
        check_phone("--sender", args.sender)
    if args.shard is None and any("{shard}" in str(p) for p in (args.checkpoint, args.report) if p):
        raise UsageError("{shard} in a path needs --shard I/N")
    for name in ("checkpoint", "report"):
        path = getattr(args, name)
        if path is not None and args.shard is not None:
            setattr(args, name, Path(str(path).replace("{shard}", str(args.shard[0]))))
    source = RowSource(args.file, sender_phone=args.sender, sender_number_id=args.sender_id, shard=args.shard,
                       checkpoint=args.checkpoint)
    total = source.count()
    return asyncio.run(run_send_bulk(args, out, source, total, make_client))


def _first_command(argv: Sequence[str]) -> int | None:
    """Index of the command word, skipping leading options (``--api-key`` / ``--base-url`` take values)."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if not word.startswith("-"):
            return i
        i += 2 if word in ("--api-key", "--base-url") else 1
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    at = _first_command(argv)
    if at is not None and argv[at] == "sandbox":  # its own parser and help
        from ..sandbox.__main__ import main as sandbox_main

        return sandbox_main(argv[at + 1:])
    args = build_parser().parse_args(argv)
    out = Output(json=args.json, plain=args.plain)
    install_log_handler({0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG))
    try:
        return int(args.handler(args, out))
    except KeyboardInterrupt:
        out.note("interrupted")
        return 130
    except (UsageError, InputError, ValidationError) as exc:
        _error(exc)
        return 2
    except (TgoError, OSError) as exc:
        _error(exc)
        return 1


def _error(exc: BaseException) -> None:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    print(f"error: {mask_phones(text)}", file=sys.stderr, flush=True)
