"""Outgoing message value types for ``send_many``, ``messages.send()`` and the CLI.

Imported on first use (``tgo_async.TextMessage`` is a lazy attribute): the single-send coroutines
build their request with ``_prepare`` directly. Constructing one does no validation, so a bulk
job can report a bad item as a failed outcome instead of breaking the caller's generator;
``prepare()`` validates and builds the request.
"""

from __future__ import annotations

import attrs

from ._prepare import (
    MediaInput,
    PreparedSend,
    prepare_document,
    prepare_image,
    prepare_text,
    prepare_voice,
)

__all__ = [
    "DocumentMessage",
    "ImageMessage",
    "OutgoingMessage",
    "TextMessage",
    "VoiceMessage",
]


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
        return prepare_image(
            self.sender_phone, self.sender_number_id, self.to_phone, self.media, self.caption
        )


@attrs.frozen(kw_only=True)
class VoiceMessage(_Base):
    media: MediaInput
    duration: int

    def prepare(self) -> PreparedSend:
        return prepare_voice(
            self.sender_phone, self.sender_number_id, self.to_phone, self.media, self.duration
        )


@attrs.frozen(kw_only=True)
class DocumentMessage(_Base):
    media: MediaInput
    caption: str | None = None

    def prepare(self) -> PreparedSend:
        return prepare_document(
            self.sender_phone, self.sender_number_id, self.to_phone, self.media, self.caption
        )


OutgoingMessage = TextMessage | ImageMessage | VoiceMessage | DocumentMessage
