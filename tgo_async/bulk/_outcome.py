"""What a bulk job reports per item, and the running totals."""

from __future__ import annotations

import hashlib
from typing import Literal

import attrs

from .._media import Media
from .._messages import OutgoingMessage, TextMessage
from ..models import Message

__all__ = ["BulkStats", "Outcome", "Status", "auto_ref", "content_digest"]

Status = Literal["sent", "failed", "unknown"]


@attrs.frozen(slots=True)
class Outcome:
    """The end of one item: ``sent`` (with the message), ``failed`` (the server did not apply it;
    safe to resend) or ``unknown`` (it may have been applied; reconcile before resending).

    ``skipped`` marks an item a checkpoint already settled; it was not sent again in this run.
    """

    ref: str
    index: int
    status: Status
    message: Message | None = None
    error: BaseException | None = None
    attempts: int = 0
    skipped: bool = False

    @property
    def safe_to_resend(self) -> bool:
        return self.status == "failed"


@attrs.define
class BulkStats:
    """Running totals of a job; ``paused`` is True while an outage is being probed."""

    sent: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    requeued: int = 0
    paused: bool = False

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.unknown + self.skipped

    def count(self, outcome: Outcome) -> None:
        if outcome.skipped:
            self.skipped += 1
        elif outcome.status == "sent":
            self.sent += 1
        elif outcome.status == "failed":
            self.failed += 1
        else:
            self.unknown += 1


def content_digest(item: OutgoingMessage) -> str:
    """A short digest of what the recipient sees, to match message logs when reconciling."""
    h = hashlib.sha256()
    h.update(type(item).__name__.encode())
    if isinstance(item, TextMessage):
        h.update(b"\0" + item.content.encode())
    else:
        caption = getattr(item, "caption", None) or ""
        h.update(b"\0" + caption.encode() + b"\0" + str(getattr(item, "duration", "")).encode())
        media = item.media
        source = media.source if isinstance(media, Media) else media
        if isinstance(source, bytes | bytearray):
            h.update(b"\0" + hashlib.sha256(source).digest())
        else:
            h.update(b"\0" + str(getattr(source, "name", source)).encode())
    return h.hexdigest()[:24]


def auto_ref(item: OutgoingMessage) -> str:
    """A stable ref for an item given without one: same sender, recipient and content, same ref."""
    sender = item.sender_phone if item.sender_phone is not None else f"#{item.sender_number_id}"
    return f"auto:{sender}:{item.to_phone}:{content_digest(item)}"
