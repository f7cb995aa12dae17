"""Validated request bodies: what every send path builds before any I/O.

Kept apart from the message value types (``_messages``) so the single-send coroutines, which
build these directly, do not import the attrs classes only ``send_many`` and ``send()`` need.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, NamedTuple

import orjson

from ._media import Media, as_media
from ._validation import check_content, check_duration, check_phone, check_sender

__all__ = ["MediaInput", "PreparedSend", "prepare_document", "prepare_image", "prepare_text", "prepare_voice"]

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


# The NamedTuple's generated ``__new__`` is a Python function (defaults, keywords); the text path
# gives every field, so it builds the tuple directly: ~0.2 µs less per send.
_new_tuple = tuple.__new__


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
    return _new_tuple(PreparedSend, (str(sender), "text", orjson.dumps(body), (), None))


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


def prepare_image(sender_phone: str | None, sender_number_id: int | None, to_phone: str, media: object,
                  caption: str | None) -> PreparedSend:
    extra = (("caption", caption),) if caption else ()
    return _prepare_media("image", sender_phone, sender_number_id, to_phone, media, extra)


def prepare_voice(sender_phone: str | None, sender_number_id: int | None, to_phone: str, media: object,
                  duration: int) -> PreparedSend:
    extra = (("duration", str(check_duration(duration))),)
    return _prepare_media("voice", sender_phone, sender_number_id, to_phone, media, extra)


def prepare_document(sender_phone: str | None, sender_number_id: int | None, to_phone: str, media: object,
                     caption: str | None) -> PreparedSend:
    extra = (("caption", caption),) if caption else ()
    return _prepare_media("document", sender_phone, sender_number_id, to_phone, media, extra)
