"""Outgoing message value types, shared by the single-send coroutines and ``send_many``.

Constructing one does no validation, so a bulk job can report a bad item as a failed outcome
instead of breaking the caller's generator; ``prepare()`` validates and builds the request.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, NamedTuple

import attrs
import orjson

from ._media import Media, as_media
from ._validation import check_content, check_duration, check_phone, check_sender

__all__ = [
    "DocumentMessage",
    "ImageMessage",
    "OutgoingMessage",
    "PreparedSend",
    "TextMessage",
    "VoiceMessage",
    "prepare_text",
]

MediaInput = Media | Path | bytes | BinaryIO


class PreparedSend(NamedTuple):
    """A validated send: JSON bytes for text, form fields plus media for uploads.

    ``sender`` is the limiter scope (the sender phone or id as given). A NamedTuple rather than
    an attrs class: one is built per send, and a frozen attrs ``__init__`` costs ~2x as much.
    """

    sender: str
    message_type: str
    json_body: bytes | None = None
    form_fields: tuple[tuple[str, str], ...] = ()
    media: Media | None = None


def prepare_text(
    sender_phone: str | None, sender_number_id: int | None, to_phone: str, content: str
) -> PreparedSend:
    field, sender = check_sender(sender_phone, sender_number_id)
    body = {
        field: sender,
        "to_phone": check_phone("to_phone", to_phone),
        "type": "text",
        "content": check_content(content),
    }
    return PreparedSend(str(sender), "text", orjson.dumps(body))


def _prepare_media(
    message_type: str,
    sender_phone: str | None,
    sender_number_id: int | None,
    to_phone: str,
    media: object,
    extra: tuple[tuple[str, str], ...],
) -> PreparedSend:
    field, sender = check_sender(sender_phone, sender_number_id)
    fields = (
        (field, str(sender)),
        ("to_phone", check_phone("to_phone", to_phone)),
        ("type", message_type),
        *extra,
    )
    return PreparedSend(
        sender=str(sender), message_type=message_type, form_fields=fields, media=as_media(media)
    )


@attrs.frozen(kw_only=True)
class _Base:
    to_phone: str
    sender_phone: str | None = None
    sender_number_id: int | None = None
    ref: str | None = None
    """The caller's own identifier, echoed on the bulk outcome and in checkpoints."""


@attrs.frozen(kw_only=True)
class TextMessage(_Base):
    content: str

    def prepare(self) -> PreparedSend:
        return prepare_text(self.sender_phone, self.sender_number_id, self.to_phone, self.content)


@attrs.frozen(kw_only=True)
class ImageMessage(_Base):
    media: MediaInput
    caption: str | None = None

    def prepare(self) -> PreparedSend:
        extra = (("caption", self.caption),) if self.caption else ()
        return _prepare_media(
            "image", self.sender_phone, self.sender_number_id, self.to_phone, self.media, extra
        )


@attrs.frozen(kw_only=True)
class VoiceMessage(_Base):
    media: MediaInput
    duration: int

    def prepare(self) -> PreparedSend:
        extra = (("duration", str(check_duration(self.duration))),)
        return _prepare_media(
            "voice", self.sender_phone, self.sender_number_id, self.to_phone, self.media, extra
        )


@attrs.frozen(kw_only=True)
class DocumentMessage(_Base):
    media: MediaInput
    caption: str | None = None

    def prepare(self) -> PreparedSend:
        extra = (("caption", self.caption),) if self.caption else ()
        return _prepare_media(
            "document", self.sender_phone, self.sender_number_id, self.to_phone, self.media, extra
        )


OutgoingMessage = TextMessage | ImageMessage | VoiceMessage | DocumentMessage
