"""The retry engine on an injected clock: no real sleeps, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import tenacity

from tgo_async import (
    AuthenticationError,
    BadRequestError,
    ConnectError,
    ConnectionLostError,
    OutcomeUnknownError,
    RateLimitError,
    RetryEvent,
    RetryPolicy,
    ServerError,
)
from tgo_async._retry import Retrier, RetryBudget


class FakeTime:
    """A clock that only moves when the engine sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def rate_limited(after: float) -> RateLimitError:
    return RateLimitError("slow down", status=429, code="rate_limited", retry_after=after)


def server_error(status: int, retry_after: float | None = None) -> ServerError:
    err = ServerError("boom", status=status)
    err.retry_after = retry_after
    return err


def scripted(
    outcomes: list[Any],
) -> tuple[Callable[[int, float | None], Any], list[tuple[int, float | None]]]:
    """An attempt function that raises or returns the scripted outcomes in order."""
    calls: list[tuple[int, float | None]] = []

    async def attempt(n: int, time_left: float | None) -> Any:
        calls.append((n, time_left))
        outcome = outcomes[len(calls) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return attempt, calls


def make(policy: RetryPolicy | None = None, **kw: Any) -> tuple[Retrier, FakeTime]:
    t = FakeTime()
    return Retrier(policy or RetryPolicy(), clock=t.clock, sleep=t.sleep, rng=lambda: 0.5, **kw), t


async def send(r: Retrier, attempt: Any, on_ambiguous: str = "raise", **kw: Any) -> Any:
    return await r.call(
        attempt, method="POST", path="/api/v1/messages", is_send=True, on_ambiguous=on_ambiguous, **kw
    )


async def get(r: Retrier, attempt: Any, **kw: Any) -> Any:
    return await r.call(
        attempt, method="GET", path="/api/v1/usage", is_send=False, on_ambiguous="retry", **kw
    )


async def test_success_path_builds_no_tenacity_object(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first-attempt success never constructs tenacity's retry machinery."""

    def boom(*a: Any, **k: Any) -> None:
        raise AssertionError("tenacity used on the success path")

    monkeypatch.setattr(tenacity.AsyncRetrying, "__init__", boom)
    r, _ = make()
    attempt, calls = scripted(["ok"])
    assert await send(r, attempt) == "ok"
    assert len(calls) == 1


async def test_429_waits_exactly_retry_after_then_succeeds() -> None:
    """A 429 is retried no earlier than its Retry-After."""
    r, t = make()
    attempt, calls = scripted([rate_limited(3.0), rate_limited(1.5), "sent"])
    assert await send(r, attempt) == "sent"
    assert t.sleeps == [3.0, 1.5]
    assert [n for n, _ in calls] == [1, 2, 3]


async def test_retry_after_above_cap_raises_at_once() -> None:
    """A Retry-After above max_retry_after raises RateLimitError without sleeping."""
    r, t = make(RetryPolicy(max_retry_after=60))
    attempt, calls = scripted([rate_limited(600.0)])
    with pytest.raises(RateLimitError) as info:
        await send(r, attempt)
    assert info.value.retry_after == 600.0
    assert t.sleeps == []
    assert len(calls) == 1


async def test_503_with_retry_after_is_retried_for_sends() -> None:
    """A 503 carrying Retry-After is server-directed, so a send is retried."""
    r, t = make()
    attempt, _ = scripted([server_error(503, retry_after=2.0), "sent"])
    assert await send(r, attempt) == "sent"
    assert t.sleeps == [2.0]


@pytest.mark.parametrize(
    "exc",
    [
        server_error(500),
        server_error(502),
        server_error(504),
        server_error(503),
        ConnectionLostError("reset"),
        ConnectionLostError("read", timeout=True),
    ],
)
async def test_ambiguous_send_failure_is_outcome_unknown_without_retry(exc: Exception) -> None:
    """500/502/504/bare 503/reset/read timeout end a send as OutcomeUnknownError after one attempt."""
    r, t = make()
    attempt, calls = scripted([exc])
    with pytest.raises(OutcomeUnknownError) as info:
        await send(r, attempt)
    assert info.value.attempts == 1
    assert info.value.cause is exc
    assert info.value.__cause__ is exc
    assert "may have applied" in str(info.value)
    assert len(calls) == 1
    assert t.sleeps == []


async def test_on_ambiguous_retry_repeats_the_send() -> None:
    """With on_ambiguous='retry' an ambiguous failure is retried (at-least-once)."""
    r, _ = make()
    attempt, calls = scripted([ConnectionLostError("reset"), "sent"])
    assert await send(r, attempt, on_ambiguous="retry") == "sent"
    assert len(calls) == 2


async def test_worst_attempt_wins_after_an_ambiguous_attempt() -> None:
    """Ambiguous, then a plain 422: the send ends unknown, not failed."""
    r, _ = make()
    bad = BadRequestError("recipient gone", status=422)
    attempt, _ = scripted([ConnectionLostError("reset"), bad])
    with pytest.raises(OutcomeUnknownError) as info:
        await send(r, attempt, on_ambiguous="retry")
    assert info.value.attempts == 2
    assert info.value.cause is bad


async def test_connect_error_is_retried_for_sends() -> None:
    """A failure before the request left the client is safe to retry."""
    r, t = make()
    attempt, calls = scripted([ConnectError("refused"), ConnectError("refused"), "sent"])
    assert await send(r, attempt) == "sent"
    assert len(calls) == 3
    assert t.sleeps == [0.25, 0.5]  # rng 0.5 x base 0.5 x 2**(n-1)


async def test_fatal_errors_are_not_retried() -> None:
    """401 raises at once with one attempt."""
    r, _ = make()
    attempt, calls = scripted([AuthenticationError("bad key", status=401)])
    with pytest.raises(AuthenticationError):
        await send(r, attempt)
    assert len(calls) == 1


async def test_get_retries_5xx_up_to_the_speculative_cap() -> None:
    """GETs retry 5xx, but only max_speculative_attempts times."""
    r, _ = make(RetryPolicy(max_speculative_attempts=3))
    attempt, calls = scripted([server_error(500)] * 5)
    with pytest.raises(ServerError):
        await get(r, attempt)
    assert len(calls) == 3


async def test_deadline_stops_before_a_sleep_that_would_pass_it() -> None:
    """No sleep starts that would end past the deadline; the last real error is raised."""
    r, t = make(RetryPolicy(deadline=10.0))
    attempt, calls = scripted([rate_limited(4.0)] * 10)
    with pytest.raises(RateLimitError):
        await send(r, attempt)
    assert t.sleeps == [4.0, 4.0]  # a third would end at 12 > 10
    assert len(calls) == 3


async def test_attempt_timeout_is_cut_to_what_remains() -> None:
    """Each attempt is told the time left before the deadline."""
    r, _ = make(RetryPolicy(deadline=10.0))
    attempt, calls = scripted([rate_limited(3.0), rate_limited(4.0), "sent"])
    assert await send(r, attempt) == "sent"
    assert [left for _, left in calls] == [10.0, 7.0, 3.0]


async def test_budget_stops_retry_storms_and_directed_retries_are_free() -> None:
    """Speculative retries drain the shared budget; once at half, calls fail fast."""
    r, _ = make(RetryPolicy(max_speculative_attempts=100, budget_tokens=4))
    attempt, calls = scripted([server_error(500)] * 10)
    with pytest.raises(ServerError):
        await get(r, attempt)
    assert len(calls) == 3  # 4 tokens: two retries bring it to 2 = half
    attempt2, calls2 = scripted([server_error(500)])
    with pytest.raises(ServerError):
        await get(r, attempt2)
    assert len(calls2) == 1
    attempt3, calls3 = scripted([rate_limited(1.0), "ok"])
    assert await get(r, attempt3) == "ok"
    assert len(calls3) == 2


def test_budget_earns_back_on_success() -> None:
    """Each success earns 0.1 token up to the maximum."""
    b = RetryBudget(10, 0.1)
    assert b.try_spend()
    assert b.try_spend()
    for _ in range(5):
        b.earn()
    assert b.level == pytest.approx(8.5)
    for _ in range(100):
        b.earn()
    assert b.level == 10


def test_full_jitter_backoff_is_bounded_by_the_cap() -> None:
    """Backoff is rng x min(cap, base x 2**(n-1))."""
    p = RetryPolicy(backoff_base=0.5, backoff_cap=8.0)
    assert p.backoff(1, lambda: 1.0) == 0.5
    assert p.backoff(4, lambda: 1.0) == 4.0
    assert p.backoff(10, lambda: 1.0) == 8.0
    assert p.backoff(10, lambda: 0.0) == 0.0


async def test_on_retry_hook_sees_every_retry() -> None:
    """The hook gets the failed attempt number, its cause and the sleep."""
    events: list[RetryEvent] = []
    r, _ = make(on_retry=events.append)
    attempt, _ = scripted([rate_limited(2.0), ConnectError("refused"), "ok"])
    assert await send(r, attempt) == "ok"
    assert [(e.attempt, e.cause, e.sleep) for e in events] == [
        (1, "HTTP 429 rate_limited", 2.0),
        (2, "ConnectError", 0.5),
    ]
    assert events[0].path == "/api/v1/messages"


async def test_max_attempts_caps_server_directed_retries() -> None:
    """Even provably-unapplied failures stop at max_attempts."""
    r, _ = make(RetryPolicy(max_attempts=4, deadline=None))
    attempt, calls = scripted([rate_limited(0.1)] * 10)
    with pytest.raises(RateLimitError):
        await send(r, attempt)
    assert len(calls) == 4
