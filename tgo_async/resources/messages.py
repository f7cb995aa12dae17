from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from yarl import URL

from .._converter import message_from_body, structure
from .._envelopes import parse_page
from .._errors import DecodeError, ValidationError
from .._prepare import (
    MediaInput,
    PreparedSend,
    prepare_document,
    prepare_image,
    prepare_text,
    prepare_voice,
)
from .._retry import RetryPolicy
from .._validation import check_phone
from ..models import Message
from ._base import Resource
from .contacts import query_url

if TYPE_CHECKING:
    from .._config import OnAmbiguous
    from .._messages import OutgoingMessage
    from ..bulk import BulkJob

__all__ = ["Messages"]

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

    async def send_text(
        self,
        *,
        to_phone: str,
        content: str,
        sender_phone: str | None = None,
        sender_number_id: int | None = None,
        retry: RetryPolicy | None = None,
        on_ambiguous: OnAmbiguous | None = None,
    ) -> Message:
        """Send a text message (at most 4096 characters)."""
        prepared = prepare_text(sender_phone, sender_number_id, to_phone, content)
        # ``_send`` inlined: the hot path, one coroutine frame fewer per send.
        if on_ambiguous not in (None, "raise", "retry"):
            raise ValidationError("on_ambiguous", f"must be 'raise' or 'retry', not {on_ambiguous!r}")
        return message_from_body(await self._r.send(self._url, prepared, policy=retry,
                                                    on_ambiguous=on_ambiguous))

    async def send_image(
        self,
        *,
        to_phone: str,
        media: MediaInput,
        caption: str | None = None,
        sender_phone: str | None = None,
        sender_number_id: int | None = None,
        retry: RetryPolicy | None = None,
        on_ambiguous: OnAmbiguous | None = None,
    ) -> Message:
        """Send an image, streamed as multipart ``media``."""
        prepared = prepare_image(sender_phone, sender_number_id, to_phone, media, caption)
        return await self._send(prepared, retry, on_ambiguous)

    async def send_voice(
        self,
        *,
        to_phone: str,
        media: MediaInput,
        duration: int,
        sender_phone: str | None = None,
        sender_number_id: int | None = None,
        retry: RetryPolicy | None = None,
        on_ambiguous: OnAmbiguous | None = None,
    ) -> Message:
        """Send a voice note; ``duration`` is whole seconds, 1..300."""
        prepared = prepare_voice(sender_phone, sender_number_id, to_phone, media, duration)
        return await self._send(prepared, retry, on_ambiguous)

    async def send_document(
        self,
        *,
        to_phone: str,
        media: MediaInput,
        caption: str | None = None,
        sender_phone: str | None = None,
        sender_number_id: int | None = None,
        retry: RetryPolicy | None = None,
        on_ambiguous: OnAmbiguous | None = None,
    ) -> Message:
        """Send a document (PDF or any file), streamed as multipart ``media``."""
        prepared = prepare_document(sender_phone, sender_number_id, to_phone, media, caption)
        return await self._send(prepared, retry, on_ambiguous)

    async def send(
        self,
        message: OutgoingMessage,
        *,
        retry: RetryPolicy | None = None,
        on_ambiguous: OnAmbiguous | None = None,
    ) -> Message:
        """Send any message value (``TextMessage``, ``ImageMessage``, …)."""
        return await self._send(message.prepare(), retry, on_ambiguous)

    async def _send(
        self, prepared: PreparedSend, retry: RetryPolicy | None, on_ambiguous: OnAmbiguous | None
    ) -> Message:
        if on_ambiguous not in (None, "raise", "retry"):
            raise ValidationError("on_ambiguous", f"must be 'raise' or 'retry', not {on_ambiguous!r}")
        body = await self._r.send(self._url, prepared, policy=retry, on_ambiguous=on_ambiguous)
        return self._structure(body)

    @staticmethod
    def _structure(body: Any) -> Message:
        return message_from_body(body)

    def send_many(
        self,
        messages: Iterable[OutgoingMessage] | AsyncIterable[OutgoingMessage],
        *,
        concurrency: int = 64,
        ordered: bool = False,
        checkpoint: str | os.PathLike[str] | None = None,
        resend_unknown: bool = False,
        precheck: bool = False,
        max_outage: float = 300.0,
        requeue_after: float = 5.0,
        retry: RetryPolicy | None = None,
        on_ambiguous: OnAmbiguous | None = None,
    ) -> BulkJob:
        """Send many messages with a bounded worker pool; iterate the result for one ``Outcome`` each.

        ``messages`` is pulled lazily (memory stays O(concurrency)). Outcomes come as items finish,
        or in input order with ``ordered=True``. ``checkpoint`` is a JSONL file: a re-run skips
        items already sent (and unknown ones unless ``resend_unknown``). ``precheck`` looks each
        recipient up once and fails unreachable ones without sending. A Retry-After longer than
        ``requeue_after`` re-queues the item instead of holding a worker. Use it as
        ``async with client.messages.send_many(...) as job: async for outcome in job: ...``
        (or plain ``async for``) so a break or cancellation cleans up.
        """
        from ..bulk import BulkJob, Checkpoint
        from .contacts import Contacts

        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValidationError("concurrency", f"must be a positive int, not {concurrency!r}")
        if on_ambiguous not in (None, "raise", "retry"):
            raise ValidationError("on_ambiguous", f"must be 'raise' or 'retry', not {on_ambiguous!r}")
        if isinstance(messages, str | bytes):
            raise ValidationError("messages", "expected an iterable of TextMessage / ImageMessage / …")
        return BulkJob(
            self,
            Contacts(self._r),
            messages,
            concurrency=concurrency,
            ordered=ordered,
            checkpoint=Checkpoint(checkpoint) if checkpoint is not None else None,
            resend_unknown=resend_unknown,
            precheck=precheck,
            max_outage=max_outage,
            requeue_after=requeue_after,
            retry=retry,
            on_ambiguous=on_ambiguous,
        )

    async def list(
        self,
        *,
        per_page: int | None = None,
        sender_number_id: int | None = None,
        to_phone: str | None = None,
        message_type: str | None = None,
        status: str | None = None,
    ) -> AsyncIterator[Message]:
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
                raise DecodeError(
                    f"refusing to follow a pagination link to another origin ({nxt.origin()}): "
                    "the API key must not leave the configured base URL"
                )
            return nxt
        if (
            page.current_page is not None
            and page.last_page is not None
            and page.current_page < page.last_page
        ):
            return query_url(self._url, {**params, "page": str(page.current_page + 1)})
        return None
