"""Retry policy and engine: the only module that imports tenacity.

The success path never touches tenacity: ``Retrier.call`` awaits the first attempt directly
and builds an ``AsyncRetrying`` only after a retryable failure. The delivery contract for
sends (``POST /api/v1/messages`` is not idempotent):

=====================================================  ==========  ============  =========
failure                                                 send        GET           budget
=====================================================  ==========  ============  =========
429, 503 with Retry-After (server-directed)             retry       retry         free
408, connect / DNS / refused / pool-wait timeout        retry       retry         1 token
reset or disconnect after sending, read timeout,        unknown     retry         1 token
500, 502, 504, 503 without Retry-After
any other 4xx, redirect, decode error                   raise       raise         -
=====================================================  ==========  ============  =========

"unknown" raises ``OutcomeUnknownError`` unless ``on_ambiguous="retry"``. Once any attempt was
ambiguous and no later attempt succeeded, a send ends as unknown, never a plain failure.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs
import tenacity

from ._errors import (
    APIError,
    ConnectError,
    ConnectionLostError,
    OutcomeUnknownError,
    ServerError,
    TgoError,
)

__all__ = ["Retrier", "RetryBudget", "RetryEvent", "RetryPolicy", "is_retryable"]

T = TypeVar("T")
_monotonic = time.monotonic
log = logging.getLogger("tgo_async")


@attrs.frozen
class RetryPolicy:
    """How hard to try. Configured on the client, overridable per call (``policy.evolve(...)``).

    Provably-unapplied failures (429, 503+Retry-After, 408, connect) are bounded by ``deadline``
    and ``max_attempts``; speculative ones (the request may have been applied, or a GET met a
    5xx or timeout) by the smaller ``max_speculative_attempts`` and the shared retry budget.
    """

    max_attempts: int = 30
    max_speculative_attempts: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    deadline: float | None = 120.0
    """Seconds for all attempts and sleeps of one call together; None means unbounded."""
    max_retry_after: float = 120.0
    """A Retry-After longer than this is raised at once as RateLimitError instead of slept."""
    budget_tokens: float = 10.0
    budget_earn: float = 0.1

    def evolve(self, **changes: Any) -> RetryPolicy:
        return attrs.evolve(self, **changes)

    def backoff(self, retry_number: int, rng: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(n-1))]."""
        ceiling: float = min(self.backoff_cap, self.backoff_base * 2.0 ** (retry_number - 1))
        return rng() * ceiling


NO_RETRY = RetryPolicy(max_attempts=1, max_speculative_attempts=1)


class RetryBudget:
    """Token scheme against retry storms: a retry costs 1, a success earns ``earn``; retries are
    allowed while the level is above half. Shared by all calls of one client."""

    __slots__ = ("_earn", "_max", "level")

    def __init__(self, tokens: float = 10.0, earn: float = 0.1) -> None:
        self._max = tokens
        self._earn = earn
        self.level = tokens

    def __repr__(self) -> str:
        return f"RetryBudget(level={self.level:.1f}/{self._max:g})"

    def earn(self) -> None:
        if self.level < self._max:
            self.level = min(self._max, self.level + self._earn)

    def try_spend(self) -> bool:
        if self.level <= self._max / 2:
            return False
        self.level -= 1
        return True


@attrs.frozen
class RetryEvent:
    """What a retry hook or log line is told: which attempt failed, why, and the sleep before the next."""

    method: str
    path: str
    attempt: int
    cause: str
    sleep: float


class _Kind(enum.Enum):
    DIRECTED = "directed"  # the server told us when; provably not applied
    SAFE = "safe"  # provably not applied
    AMBIGUOUS = "ambiguous"  # may have been applied
    FATAL = "fatal"


def classify(exc: BaseException) -> _Kind:
    if isinstance(exc, APIError):
        if exc.status == 429 or (exc.status == 503 and exc.retry_after is not None):
            return _Kind.DIRECTED
        if exc.status == 408:
            return _Kind.SAFE
        if isinstance(exc, ServerError):
            return _Kind.AMBIGUOUS
        return _Kind.FATAL
    if isinstance(exc, ConnectError):
        return _Kind.SAFE
    if isinstance(exc, ConnectionLostError):
        return _Kind.AMBIGUOUS
    return _Kind.FATAL


def is_retryable(exc: BaseException) -> bool:
    """Whether a first attempt's failure may lead to another attempt (``Retrier.recover``)."""
    return classify(exc) is not _Kind.FATAL


def describe(exc: BaseException) -> str:
    if isinstance(exc, APIError):
        return f"HTTP {exc.status}" + (f" {exc.code}" if exc.code else "")
    return type(exc).__name__


class Retrier:
    """Runs one call's attempts under a policy, a shared budget, and an injectable clock and sleep."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> None:
        self.policy = policy
        self.budget = RetryBudget(policy.budget_tokens, policy.budget_earn)
        # The retry clock: the injected one, else ``time.monotonic`` (only differences are used, so
        # it need not be the loop's). An attribute, not a method: read on every send, and a plain C
        # call costs a third of ``loop.time()``.
        self.now: Callable[[], float] = clock if clock is not None else _monotonic
        self._sleep = sleep
        self._rng = rng
        self._on_retry = on_retry

    async def call(
        self,
        attempt: Callable[[int, float | None], Awaitable[T]],
        *,
        method: str,
        path: str,
        is_send: bool,
        on_ambiguous: str,
        policy: RetryPolicy | None = None,
    ) -> T:
        """``attempt(n, time_left)`` makes request n; time_left (seconds) bounds its timeouts."""
        policy = policy or self.policy
        start = self.now() if policy.deadline is not None else 0.0
        try:
            result = await attempt(1, policy.deadline)
        except TgoError as exc:
            if classify(exc) is _Kind.FATAL:
                raise
            return await self.recover(exc, attempt, method=method, path=path, is_send=is_send,
                                      on_ambiguous=on_ambiguous, policy=policy, start=start)
        self.budget.earn()
        return result

    async def recover(
        self,
        first: TgoError,
        attempt: Callable[[int, float | None], Awaitable[T]],
        *,
        method: str,
        path: str,
        is_send: bool,
        on_ambiguous: str,
        policy: RetryPolicy,
        start: float,
    ) -> T:
        """Go on after attempt 1 (begun at clock time ``start``) failed retryably with ``first``.

        For a hot caller that makes attempt 1 itself, so success costs no closure and no wrapper
        coroutine, and builds ``attempt`` only now; ``call`` is that done for you.
        """
        call = _Call(self, policy, attempt, method, path, is_send, on_ambiguous, start)
        retried: T = await call.run(first, classify(first))
        return retried


class _Call:
    """State of one call once it has failed retryably; its methods are tenacity's callbacks."""

    def __init__(
        self,
        retrier: Retrier,
        policy: RetryPolicy,
        attempt: Callable[[int, float | None], Awaitable[Any]],
        method: str,
        path: str,
        is_send: bool,
        on_ambiguous: str,
        start: float,
    ) -> None:
        self.r = retrier
        self.policy = policy
        self.attempt = attempt
        self.method = method
        self.path = path
        self.is_send = is_send
        self.may_repeat = not is_send or on_ambiguous == "retry"
        self.deadline = None if policy.deadline is None else start + policy.deadline
        self.ambiguous_seen = False
        self.attempts = 0
        self.speculative = 0  # attempts that ended ambiguously: the cap counts these, not 429s

    def _allowed(self, exc: BaseException) -> bool:
        kind = classify(exc)
        if kind is _Kind.AMBIGUOUS:
            self.ambiguous_seen = True
            self.speculative += 1
            return self.may_repeat
        if kind is _Kind.DIRECTED:
            ra = exc.retry_after if isinstance(exc, APIError) else None
            return ra is None or ra <= self.policy.max_retry_after
        return kind is _Kind.SAFE

    def _wait(self, rs: tenacity.RetryCallState) -> float:
        exc = rs.outcome.exception() if rs.outcome else None
        ra = exc.retry_after if isinstance(exc, APIError) else None
        if ra is not None:
            return ra
        return self.policy.backoff(rs.attempt_number, self.r._rng)

    def _stop(self, rs: tenacity.RetryCallState) -> bool:
        exc = rs.outcome.exception() if rs.outcome else None
        kind = classify(exc) if exc else _Kind.FATAL
        if rs.attempt_number >= self.policy.max_attempts:
            return True
        if kind is _Kind.AMBIGUOUS and self.speculative >= self.policy.max_speculative_attempts:
            return True
        if self.deadline is not None and self.r.now() + (rs.upcoming_sleep or 0.0) >= self.deadline:
            return True
        return kind is not _Kind.DIRECTED and not self.r.budget.try_spend()

    def _before_sleep(self, rs: tenacity.RetryCallState) -> None:
        exc = rs.outcome.exception() if rs.outcome else None
        event = RetryEvent(
            self.method, self.path, rs.attempt_number, describe(exc) if exc else "?", rs.upcoming_sleep or 0.0
        )
        log.info(
            "retrying %s %s after attempt %d failed (%s); sleeping %.3fs",
            event.method,
            event.path,
            event.attempt,
            event.cause,
            event.sleep,
        )
        if self.r._on_retry is not None:
            self.r._on_retry(event)

    async def run(self, first: TgoError, kind: _Kind) -> Any:
        pending: list[TgoError] = [first]
        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception(self._allowed),
            wait=self._wait,
            stop=self._stop,
            before_sleep=self._before_sleep,
            sleep=self.r._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    self.attempts = attempt.retry_state.attempt_number
                    if pending:
                        raise pending.pop()
                    left = None if self.deadline is None else max(0.0, self.deadline - self.r.now())
                    result = await self.attempt(self.attempts, left)
        except TgoError as exc:
            final = self._final(exc)
            if final is exc:
                raise
            raise final from exc
        self.r.budget.earn()
        return result

    def _final(self, exc: TgoError) -> TgoError:
        """The worst attempt wins: an ambiguous send never ends as a plain failure."""
        if self.is_send and (self.ambiguous_seen or classify(exc) is _Kind.AMBIGUOUS):
            return OutcomeUnknownError(
                f"{self.method} {self.path}: {describe(exc)}", cause=exc, attempts=self.attempts
            )
        return exc
