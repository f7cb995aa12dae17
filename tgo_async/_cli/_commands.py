"""The single-call commands: senders, lookup, send, usage, messages.

Each takes the parsed arguments, the output and an open client, and returns the exit status;
errors are raised and turned into one ``error: …`` line by the dispatcher.
"""

from __future__ import annotations

import argparse
import logging
from contextlib import aclosing
from pathlib import Path
from typing import Any

from .._errors import SenderNotReadyError
from .._media import Media
from .._messages import DocumentMessage, ImageMessage, OutgoingMessage, TextMessage, VoiceMessage
from ..models import Message, SenderNumber
from ._output import Output, UsageError, install_log_handler

__all__ = [
    "cmd_lookup",
    "cmd_messages",
    "cmd_reconcile",
    "cmd_send",
    "cmd_senders",
    "cmd_usage",
    "sender_state",
]


def sender_state(sender: SenderNumber) -> str:
    """What the operator must do next, in a few words."""
    if sender.can_send:
        return "ready"
    if sender.needs_otp:
        return "needs OTP (enter it in the TGO Business dashboard)"
    if sender.needs_account_verification:
        return "needs TGO Connect account verification (no new OTP)"
    return f"cannot send ({sender.status_raw or 'unknown'})"


def _sender_row(s: SenderNumber) -> tuple[Any, ...]:
    return (
        s.id,
        s.phone,
        s.display_name or "",
        s.status_raw or str(s.status),
        s.verification_status_raw or "",
        sender_state(s),
    )


_SENDER_COLUMNS = ("id", "phone", "name", "status", "verification", "state")


def parse_sender_ref(text: str) -> int | str:
    """``12`` is an id, ``+2010…`` a phone."""
    return int(text) if text.isdigit() else text


async def cmd_senders(args: argparse.Namespace, out: Output, client: Any) -> int:
    if args.senders_cmd == "list":
        senders = await client.sender_numbers.list()
        if out.json:
            out.emit_json(senders)
        else:
            out.table(f"{len(senders)} sender numbers", _SENDER_COLUMNS, [_sender_row(s) for s in senders])
        return 0
    if args.senders_cmd == "register":
        sender = await client.sender_numbers.register(args.phone, display_name=args.display_name)
        if out.json:
            out.emit_json(sender)
        else:
            out.table("registered", _SENDER_COLUMNS, [_sender_row(sender)])
            out.note(
                f"next: the OTP goes to the number's TGO Connect account; enter it in the TGO Business "
                f"dashboard, then run: tgo-async senders wait {sender.id}"
            )
        return 0
    # wait: the library logs each poll at INFO ("not ready (otp); next check in 2.0s")
    install_log_handler(min(logging.getLogger("tgo_async").getEffectiveLevel(), logging.INFO))
    try:
        sender = await client.sender_numbers.wait_until_ready(
            parse_sender_ref(args.id_or_phone), timeout=args.timeout, poll_interval=args.poll_interval
        )
    except SenderNotReadyError as exc:
        if out.json and exc.sender is not None:
            out.emit_json({"ready": False, "missing": exc.missing, "sender": exc.sender})
        raise
    if out.json:
        out.emit_json({"ready": True, "sender": sender})
    else:
        out.table("ready to send", _SENDER_COLUMNS, [_sender_row(sender)])
    return 0


async def cmd_lookup(args: argparse.Namespace, out: Output, client: Any) -> int:
    contact = await client.contacts.lookup(args.phone, sender_phone=args.sender)
    if out.json:
        out.emit_json({"phone": args.phone, **_plain(contact)})
        return 0
    out.pairs(
        f"contact {args.phone}",
        [
            ("exists", contact.exists),
            ("can_receive", contact.can_receive),
            ("reason_code", contact.reason_code_raw or contact.reason_code),
            ("recipient_id", contact.recipient_id),
            ("is_verified", contact.is_verified),
            ("phone_verified_at", contact.phone_verified_at),
        ],
    )
    return 0


def _plain(value: Any) -> dict[str, Any]:
    from ._output import to_jsonable

    data: dict[str, Any] = to_jsonable(value)
    return data


def build_single(args: argparse.Namespace) -> OutgoingMessage:
    """The message value for ``send``; argument combinations the API refuses are usage errors."""
    sender: dict[str, Any] = {
        "to_phone": args.to,
        "sender_phone": args.sender,
        "sender_number_id": args.sender_id,
    }
    if args.caption is not None and not (args.image or args.document):
        raise UsageError("--caption goes with --image or --document")
    if (args.duration is not None) != bool(args.voice):
        raise UsageError("--voice needs --duration SECONDS (and --duration needs --voice)")
    if args.text is not None:
        return TextMessage(content=args.text, **sender)
    if args.image:
        return ImageMessage(media=Media(Path(args.image)), caption=args.caption, **sender)
    if args.voice:
        return VoiceMessage(media=Media(Path(args.voice)), duration=args.duration, **sender)
    return DocumentMessage(media=Media(Path(args.document)), caption=args.caption, **sender)


async def cmd_send(args: argparse.Namespace, out: Output, client: Any) -> int:
    message = build_single(args)
    message.prepare()  # validation errors before any I/O, as usage errors
    sent: Message = await client.messages.send(message, on_ambiguous=args.on_ambiguous)
    if out.json:
        out.emit_json(sent)
    else:
        out.pairs(
            "sent",
            [
                ("id", sent.id),
                ("to_phone", sent.to_phone),
                ("type", sent.message_type_raw),
                ("status", sent.status_raw),
                ("sent_at", sent.sent_at),
            ],
        )
    return 0


async def cmd_usage(args: argparse.Namespace, out: Output, client: Any) -> int:
    usage = await client.usage.get()
    if out.json:
        out.emit_json({"total": usage.total, "entries": usage.entries})
        return 0
    rows = [
        (
            e.sender_number_id,
            e.sender_phone,
            e.total,
            e.count("text"),
            e.count("image"),
            e.count("voice"),
            e.count("document"),
        )
        for e in usage.entries
    ]
    out.table(
        f"usage: {usage.total} messages",
        ("sender id", "phone", "total", "text", "image", "voice", "document"),
        rows,
    )
    return 0


async def cmd_messages(args: argparse.Namespace, out: Output, client: Any) -> int:
    """The message log, newest first; ``--json`` streams JSON Lines."""
    rows: list[tuple[Any, ...]] = []
    n = 0
    entries = client.messages.list(
        per_page=args.per_page,
        to_phone=args.to,
        sender_number_id=args.sender_id,
        message_type=args.type,
        status=args.status,
    )
    async with aclosing(entries):
        async for m in entries:
            if out.json:
                out.emit_json_line(m)
            else:
                content = (m.content or "").replace("\n", " ")
                rows.append(
                    (
                        m.id,
                        m.sender_number_id,
                        m.to_phone,
                        m.message_type_raw,
                        m.status_raw,
                        m.sent_at,
                        content[:40] + ("…" if len(content) > 40 else ""),
                    )
                )
            n += 1
            if args.limit and n >= args.limit:
                break
    if not out.json:
        out.table(
            f"{n} messages (newest first)",
            ("id", "sender", "to", "type", "status", "sent_at", "content"),
            rows,
        )
    return 0


async def cmd_reconcile(args: argparse.Namespace, out: Output, client: Any) -> int:
    """Exit 0 when no item is left unknown, 1 otherwise (resend those with --resend-unknown)."""
    from ..bulk import reconcile

    if not args.checkpoint.exists():
        raise UsageError(f"no checkpoint at {args.checkpoint}")
    report = await reconcile(client, args.checkpoint, write=not args.dry_run)
    if out.json:
        out.emit_json(
            {
                "found": {ref: m.id for ref, m in report.found.items()},
                "not_found": report.not_found,
                "undetermined": report.undetermined,
            }
        )
    else:
        rows: list[tuple[str, str, int | str]] = [
            (ref, "sent (found in the log)", m.id) for ref, m in report.found.items()
        ]
        rows += [(ref, "not in the log: not sent", "") for ref in report.not_found]
        rows += [(ref, "media: the log cannot tell", "") for ref in report.undetermined]
        out.table(
            f"{len(report.found)} found, {len(report.not_found)} not sent, "
            f"{len(report.undetermined)} undetermined",
            ("ref", "result", "message id"),
            rows,
        )
    return 0 if not (report.not_found or report.undetermined) else 1
