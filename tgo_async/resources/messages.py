from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from yarl import URL

from .._converter import structure
from .._envelopes import parse_page, unwrap_object
from .._errors import DecodeError, ValidationError
from .._media import Media
from .._messages import (
    DocumentMessage,
    ImageMessage,
    OutgoingMessage,
    PreparedSend,
    VoiceMessage,
    prepare_text,
)
from .._retry import RetryPolicy
from .._validation import check_phone
from ..models import Message
from ._base import Resource
from .contacts import query_url

if TYPE_CHECKING:
    from .._config import OnAmbiguous

__all__ = ["Messages"]

MediaInput = Media | Path | bytes | BinaryIO
_PATH = "/api/v1/messages"


class Messages(Resource):
    """``POST /api/v1/messages`` (scope ``messages.send``) and the message log (``messages.read``).

    Every send ends as the Message, an error the server provably did not apply, or
    ``OutcomeUnknownError`` (it may have been applied; not retried unless
    ``on_ambiguous="retry"``). ``retry`` overrides the client's RetryPolicy for one call.
    """

    __slots__ = ("_url",)

    def __init__(self, requester: Any) -> None:
        super().__init__(requester)
        self._url = requester.transport.url(_PATH)

    async def send_text(self, *, to_phone: str, content: str, sender_phone: str | None = None,
                        sender_number_id: int | None = None, retry: RetryPolicy | None = None,
                        on_ambiguous: OnAmbiguous | None = None) -> Message:
        """Send a text message (at most 4096 characters)."""
        prepared = prepare_text(sender_phone, sender_number_id, to_phone, content)
        return await self._send(prepared, retry, on_ambiguous)

    async def send_image(self, *, to_phone: str, media: MediaInput, caption: str | None = None,
                         sender_phone: str | None = None, sender_number_id: int | None = None,
                         retry: RetryPolicy | None = None, on_ambiguous: OnAmbiguous | None = None) -> Message:
        """Send an image, streamed as multipart ``media``."""
        msg = ImageMessage(to_phone=to_phone, media=media, caption=caption, sender_phone=sender_phone,
                           sender_number_id=sender_number_id)
        return await self._send(msg.prepare(), retry, on_ambiguous)

    async def send_voice(self, *, to_phone: str, media: MediaInput, duration: int,
                         sender_phone: str | None = None, sender_number_id: int | None = None,
                         retry: RetryPolicy | None = None, on_ambiguous: OnAmbiguous | None = None) -> Message:
        """Send a voice note; ``duration`` is whole seconds, 1..300."""
        msg = VoiceMessage(to_phone=to_phone, media=media, duration=duration, sender_phone=sender_phone,
                           sender_number_id=sender_number_id)
        return await self._send(msg.prepare(), retry, on_ambiguous)

    async def send_document(self, *, to_phone: str, media: MediaInput, caption: str | None = None,
                            sender_phone: str | None = None, sender_number_id: int | None = None,
                            retry: RetryPolicy | None = None,
                            on_ambiguous: OnAmbiguous | None = None) -> Message:
        """Send a document (PDF or any file), streamed as multipart ``media``."""
        msg = DocumentMessage(to_phone=to_phone, media=media, caption=caption, sender_phone=sender_phone,
                              sender_number_id=sender_number_id)
        return await self._send(msg.prepare(), retry, on_ambiguous)

    async def send(self, message: OutgoingMessage, *, retry: RetryPolicy | None = None,
                   on_ambiguous: OnAmbiguous | None = None) -> Message:
        """Send any message value (``TextMessage``, ``ImageMessage``, …)."""
        return await self._send(message.prepare(), retry, on_ambiguous)

    async def _send(self, prepared: PreparedSend, retry: RetryPolicy | None,
                    on_ambiguous: OnAmbiguous | None) -> Message:
        if on_ambiguous not in (None, "raise", "retry"):
            raise ValidationError("on_ambiguous", f"must be 'raise' or 'retry', not {on_ambiguous!r}")
        body = await self._r.send(self._url, prepared, policy=retry, on_ambiguous=on_ambiguous)
        return structure(unwrap_object(body), Message)

    async def list(self, *, per_page: int | None = None, sender_number_id: int | None = None,
                   to_phone: str | None = None, message_type: str | None = None,
                   status: str | None = None) -> AsyncIterator[Message]:
        """Every log entry, following pages (bare array, or Laravel ``links.next`` / ``meta``)."""
        params: dict[str, str] = {}
        if per_page is not None:
            if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
                raise ValidationError("per_page", f"must be a positive int, not {per_page!r}")
            params["per_page"] = str(per_page)
        if sender_number_id is not None:
            params["sender_number_id"] = str(sender_number_id)
        if to_phone is not None:
            params["to_phone"] = check_phone("to_phone", to_phone)
        if message_type is not None:
            params["message_type"] = str(message_type)
        if status is not None:
            params["status"] = str(status)
        url: URL | None = query_url(self._url, params)
        seen: set[str] = set()
        while url is not None:
            seen.add(str(url))
            page = parse_page(await self._r.get(url))
            for item in page.items:
                yield structure(item, Message)
            url = self._next_url(page, url, params)
            if url is not None and str(url) in seen:
                raise DecodeError(f"pagination loops back to {url.path}?{url.query_string}")

    def _next_url(self, page: Any, current: URL, params: dict[str, str]) -> URL | None:
        if page.next_url:
            nxt = current.join(URL(page.next_url))
            if nxt.origin() != self._url.origin():
                raise DecodeError(f"refusing to follow a pagination link to another origin ({nxt.origin()}): "
                                  "the API key must not leave the configured base URL")
            return nxt
        if page.current_page is not None and page.last_page is not None and page.current_page < page.last_page:
            return query_url(self._url, {**params, "page": str(page.current_page + 1)})
        return None
