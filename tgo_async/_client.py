"""``Client``: configuration, the pooled transport, retry policy and rate limiter, and resources."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from ._config import DEFAULT_RATE_LIMIT, OnAmbiguous, Timeouts, load_config
from ._requester import Requester
from ._retry import Retrier, RetryEvent, RetryPolicy
from ._transport import Transport
from .resources import Contacts, Messages, SenderNumbers, Usage

if TYPE_CHECKING:
    from ._limiter import Limiter
    from ._scoped_limiter import ScopedRateLimiter

__all__ = ["Client"]


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Final = _Default()


class Client:
    """Async client for the TGO Business API. Use ``async with Client(...) as client:``.

    ``api_key`` / ``base_url`` fall back to ``TGO_API_KEY`` / ``TGO_BASE_URL``. The aiohttp
    session is created lazily inside the running loop and closed by ``aclose()``; a
    ``session`` passed in is borrowed and never closed. ``rate_limit`` is requests per second
    per API key (default 200, adaptive to 429s), a ``TokenBucket`` / ``RedisRateLimiter`` to
    share, a ``ScopedRateLimiter``, or ``None`` to disable limiting.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: float | Limiter | ScopedRateLimiter | _Default | None = DEFAULT,
        per_sender_rate: float | None = None,
        on_ambiguous: OnAmbiguous = "raise",
        on_retry: Callable[[RetryEvent], None] | None = None,
        allow_insecure_http: bool = False,
        connector_limit: int = 100,
        connector_limit_per_host: int = 0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.config = load_config(
            api_key,
            base_url,
            allow_insecure_http=allow_insecure_http,
            timeouts=timeouts or Timeouts(),
            on_ambiguous=on_ambiguous,
            connector_limit=connector_limit,
            connector_limit_per_host=connector_limit_per_host,
        )
        self._transport = Transport(self.config, session)
        self.retry_policy = retry or RetryPolicy()
        self._retrier = Retrier(
            self.retry_policy, clock=clock, sleep=sleep or asyncio.sleep, on_retry=on_retry
        )
        self.limiter = _make_limiter(rate_limit, per_sender_rate, clock)
        self._requester = Requester(self._transport, self._retrier, self.limiter, on_ambiguous)
        self.sender_numbers = SenderNumbers(self._requester)
        self.messages = Messages(self._requester)
        self.contacts = Contacts(self._requester)
        self.usage = Usage(self._requester)

    def __repr__(self) -> str:
        return f"<tgo_async.Client base_url={self.config.base_url!r}>"

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled session if we own it; a session passed in stays open."""
        await self._transport.aclose()


def _make_limiter(
    rate_limit: Any, per_sender_rate: float | None, clock: Callable[[], float] | None
) -> ScopedRateLimiter | None:
    if rate_limit is None:
        return None
    from ._scoped_limiter import ScopedRateLimiter

    if isinstance(rate_limit, ScopedRateLimiter):
        return rate_limit
    lim_clock = _ClockAdapter(clock) if clock is not None else None
    if isinstance(rate_limit, _Default):
        return ScopedRateLimiter(DEFAULT_RATE_LIMIT, per_sender_rate=per_sender_rate, clock=lim_clock)
    if isinstance(rate_limit, int | float) and not isinstance(rate_limit, bool):
        if rate_limit <= 0:
            from ._errors import ValidationError

            raise ValidationError("rate_limit", f"must be > 0 requests per second or None, not {rate_limit}")
        return ScopedRateLimiter(float(rate_limit), per_sender_rate=per_sender_rate, clock=lim_clock)
    rate = float(getattr(rate_limit, "rate", DEFAULT_RATE_LIMIT))
    return ScopedRateLimiter(
        rate, per_sender_rate=per_sender_rate, clock=lim_clock, global_limiter=rate_limit
    )


class _ClockAdapter:
    __slots__ = ("time",)

    def __init__(self, fn: Callable[[], float]) -> None:
        self.time = fn
