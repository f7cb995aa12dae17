"""One API call: limiter, retry engine, transport and response decoding put together.

Resources call ``get`` or ``send``; nothing here knows about individual endpoints.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import aiohttp
from yarl import URL

from ._errors import APIError, TgoError
from ._http import decode_json, error_from_response, parse_retry_after
from ._logging import mask_url
from ._prepare import PreparedSend
from ._retry import Retrier, RetryPolicy, is_retryable
from ._transport import RawResponse, Transport

if TYPE_CHECKING:
    from ._scoped_limiter import ScopedRateLimiter
    from .bulk._job import SendTracker

__all__ = ["Requester"]

log = logging.getLogger("tgo_async")


class Requester:
    __slots__ = ("limiter", "on_ambiguous", "retrier", "transport")

    def __init__(self, transport: Transport, retrier: Retrier, limiter: ScopedRateLimiter | None,
                 on_ambiguous: str) -> None:
        self.transport = transport
        self.retrier = retrier
        self.limiter = limiter
        self.on_ambiguous = on_ambiguous

    def __repr__(self) -> str:
        return f"Requester({self.transport!r})"

    async def get(self, url: URL, *, policy: RetryPolicy | None = None) -> Any:
        """GET and decode JSON; every transient failure is retried (a GET changes nothing)."""

        async def attempt(n: int, time_left: float | None) -> Any:
            return await self._exchange("GET", url, None, None, None, time_left)

        return await self.retrier.call(attempt, method="GET", path=url.path, is_send=False,
                                       on_ambiguous="retry", policy=policy)

    async def post_json(self, url: URL, body: bytes, *, scope: str | None = None,
                        policy: RetryPolicy | None = None, on_ambiguous: str | None = None) -> Any:
        """POST JSON that is not a message send (sender registration): same delivery rules."""

        async def attempt(n: int, time_left: float | None) -> Any:
            return await self._exchange("POST", url, body, None, scope, time_left)

        return await self.retrier.call(attempt, method="POST", path=url.path, is_send=True,
                                       on_ambiguous=on_ambiguous or self.on_ambiguous, policy=policy)

    async def send(self, url: URL, prepared: PreparedSend, *, policy: RetryPolicy | None = None,
                   on_ambiguous: str | None = None, tracker: SendTracker | None = None) -> Any:
        """POST a message; a body is rebuilt for every attempt (media reopened or rewound).

        ``tracker.dispatched`` is set once a request is handed to the transport, so a cancelled
        bulk job can tell "never left" from "may have arrived".
        """

        # Retrier.call inlined: the first attempt is awaited here, so a success (nearly every send)
        # costs no closure and no wrapper coroutine; ``attempt`` exists only once a retry may follow.
        retrier = self.retrier
        policy = policy or retrier.policy
        start = retrier.now() if policy.deadline is not None else 0.0
        try:
            result = await self._exchange("POST", url, prepared.json_body, prepared, prepared.sender,
                                          policy.deadline, tracker)
        except TgoError as exc:
            if not is_retryable(exc):
                raise

            async def attempt(n: int, time_left: float | None) -> Any:
                return await self._exchange("POST", url, prepared.json_body, prepared, prepared.sender,
                                            time_left, tracker)

            return await retrier.recover(exc, attempt, method="POST", path=url.path, is_send=True,
                                         on_ambiguous=on_ambiguous or self.on_ambiguous, policy=policy,
                                         start=start)
        retrier.budget.earn()
        return result

    async def _exchange(self, method: str, url: URL, body: bytes | None, prepared: PreparedSend | None,
                        scope: str | None, time_left: float | None,
                        tracker: SendTracker | None = None) -> Any:
        limiter = self.limiter
        if limiter is not None and not limiter.try_acquire(scope):  # a token at hand costs no coroutine
            await limiter.acquire(scope)
        if tracker is not None:
            tracker.dispatched = True
        media = prepared.media if prepared is not None else None
        if media is None:
            raw = await self.transport.request(method, url, json=body, time_left=time_left)
        else:
            assert prepared is not None
            lock = media.exclusive
            async with lock if lock is not None else contextlib.nullcontext():
                with media.open() as readable:
                    form = aiohttp.FormData(prepared.form_fields)
                    form.add_field("media", readable, filename=media.filename,
                                   content_type=media.content_type)
                    raw = await self.transport.request(method, url, form=form, time_left=time_left)
        status = raw.status
        if status < 300:
            if limiter is not None:
                limiter.on_response(scope, status, raw.headers, None)
            return decode_json(raw.body) if raw.body else None
        self._raise_error(raw, scope, method, url)

    def _raise_error(self, raw: RawResponse, scope: str | None, method: str, url: URL) -> NoReturn:
        """A non-2xx response: feed the limiter, then raise the mapped APIError."""
        status = raw.status
        retry_after = parse_retry_after(raw.headers) if status in (429, 503) else None
        if self.limiter is not None:
            self.limiter.on_response(scope, status, raw.headers, retry_after)
        error = _api_error(raw)
        if retry_after is not None:
            error.retry_after = retry_after
            error.safe_to_resend = True  # 429 / 503 with Retry-After: refused before acting
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %d %s", method, mask_url(url), status, error.code or "")
        raise error


def _api_error(raw: RawResponse) -> APIError:
    text: str | None = None
    try:
        body: Any = decode_json(raw.body) if raw.body else None
    except Exception:
        body = None
        text = raw.body[:2000].decode("utf-8", "replace")
    headers: Mapping[str, str] = raw.headers
    return error_from_response(raw.status, body if text is None else text, headers, raw_text=text)
