"""Settle ``unknown`` items after the fact by looking for them in the message logs.

A send that ended ``unknown`` may or may not have been applied. The log is the server's record:
a text entry to the same recipient with the same content is the message, and a text item absent
from the log was not applied. Media log entries carry no file to compare, so media items are
reported ``undetermined`` and stay unknown. Each log entry settles at most one item.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from typing import TYPE_CHECKING

import attrs

from ..models import Message, MessageType
from ._checkpoint import Checkpoint, read_checkpoint

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["ReconcileReport", "reconcile"]


@attrs.frozen
class ReconcileReport:
    """``found``: ref -> the logged message (now recorded as sent); ``not_found``: text items absent
    from the log (not applied: safe to resend once the log is complete); ``undetermined``: media items,
    which the log cannot confirm either way."""

    found: dict[str, Message]
    not_found: list[str]
    undetermined: list[str]


def _text_digest(content: str) -> str:
    h = hashlib.sha256()
    h.update(b"TextMessage\0" + content.encode())
    return h.hexdigest()[:24]


async def reconcile(
    client: Client, checkpoint: str | os.PathLike[str], *, write: bool = True
) -> ReconcileReport:
    """Match the checkpoint's ``unknown`` items against the message logs.

    With ``write`` (default) a ``sent`` record is appended for every match (a re-run skips it) and
    a ``failed`` record for every text item absent from the log (a re-run resends it); media items
    stay ``unknown``. Run it once the server's log has caught up with the job.
    """
    pending = [rec for rec in read_checkpoint(checkpoint).values() if rec.get("status") == "unknown"]
    undetermined = [str(rec["ref"]) for rec in pending if rec.get("type", "text") != "text"]
    by_phone: dict[str, list[dict[str, object]]] = defaultdict(list)
    for rec in pending:
        if rec.get("type", "text") == "text" and isinstance(rec.get("to_phone"), str):
            by_phone[str(rec["to_phone"])].append(rec)
    found: dict[str, Message] = {}
    not_found: list[str] = []
    for phone, texts in by_phone.items():
        candidates: dict[str, list[Message]] = defaultdict(list)
        async for entry in client.messages.list(to_phone=phone, message_type="text"):
            if (
                entry.message_type is MessageType.TEXT
                and entry.content is not None
                and entry.to_phone in (None, phone)
            ):
                candidates[_text_digest(entry.content)].append(entry)
        for rec in texts:
            matches = candidates.get(str(rec.get("digest")))
            if matches:
                found[str(rec["ref"])] = matches.pop(0)
            else:
                not_found.append(str(rec["ref"]))
    if write and (found or not_found):
        writer = Checkpoint(checkpoint)
        try:
            for ref, message in found.items():
                writer.append_record(
                    {"ref": ref, "status": "sent", "message_id": message.id, "reconciled": True}
                )
            for ref in not_found:
                writer.append_record(
                    {
                        "ref": ref,
                        "status": "failed",
                        "reconciled": True,
                        "error": "not in the message log: not applied",
                    }
                )
        finally:
            writer.close()
    return ReconcileReport(found=found, not_found=not_found, undetermined=undetermined)
