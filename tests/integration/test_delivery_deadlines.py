"""Retry-After, deadlines and timeouts at the client level.

Long waits run on an injected clock (``Client(clock=..., sleep=...)``): the fake sleep records what
the client would have slept and moves the clock, so nothing here really sleeps for them. The timeout
tests use real sub-second socket timeouts and assert only on outcome types, never on durations.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from tgo_async import (
    Client,
    ConnectError,
    ConnectionLostError,
    OutcomeUnknownError,
    RateLimitError,
    RetryPolicy,
    Timeouts,
)
from tgo_async.sandbox import Fault, FaultKind, SandboxServer

SEND = "POST /api/v1/messages"
SENDER = "+201001187188"
TO = "+201010000000"


class FakeTime:
    """A loop-independent clock that moves only when the client sleeps."""

    def __init__(self) -> None:
        self.now = 5_000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def rate_limited(seconds: float) -> Fault:
    return Fault(kind=FaultKind.RATE_LIMIT, retry_after=seconds)


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer() as sb:
        yield sb


def _client(sb: SandboxServer, fake: FakeTime, **kw: Any) -> Client:
    return Client("sandbox-key-all", sb.base_url, rate_limit=None, clock=fake.time, sleep=fake.sleep, **kw)


async def _send(client: Client, **kw: Any) -> Any:
    return await client.messages.send_text(sender_phone=SENDER, to_phone=TO, content="deadline", **kw)


async def test_long_retry_after_is_slept_exactly_on_the_injected_clock(sandbox: SandboxServer) -> None:
    """Retry-After 30 s twice: the client sleeps 30 and 30 (no jitter, not less), then sends."""
    sandbox.state.faults.script(SEND, [rate_limited(30), rate_limited(30), None])
    fake = FakeTime()
    async with _client(sandbox, fake) as client:
        msg = await _send(client)
    assert fake.sleeps == [30.0, 30.0]
    assert msg.content == "deadline"
    assert len(sandbox.state.requests) == 3
    assert len(sandbox.state.ledger) == 1


async def test_503_retry_after_is_honoured_like_429(sandbox: SandboxServer) -> None:
    """A 503 with Retry-After 45 s sleeps 45 s, then sends."""
    sandbox.state.faults.script(SEND, [Fault(kind=FaultKind.UNAVAILABLE_RETRY_AFTER, retry_after=45), None])
    fake = FakeTime()
    async with _client(sandbox, fake) as client:
        await _send(client)
    assert fake.sleeps == [45.0]
    assert len(sandbox.state.ledger) == 1


async def test_retry_after_above_the_cap_raises_rate_limit_error_at_once(sandbox: SandboxServer) -> None:
    """Retry-After 121 s with the default 120 s cap: RateLimitError(retry_after=121) after one request."""
    sandbox.state.faults.script(SEND, [rate_limited(121), None])
    fake = FakeTime()
    async with _client(sandbox, fake) as client:
        with pytest.raises(RateLimitError) as info:
            await _send(client)
    assert info.value.retry_after == 121.0
    assert info.value.safe_to_resend
    assert fake.sleeps == []
    assert len(sandbox.state.requests) == 1
    assert not sandbox.state.ledger


async def test_per_call_policy_raises_the_retry_after_cap(sandbox: SandboxServer) -> None:
    """A per-call policy with max_retry_after=300 sleeps the 121 s the client-wide cap refused."""
    sandbox.state.faults.script(SEND, [rate_limited(121), None])
    fake = FakeTime()
    async with _client(sandbox, fake) as client:
        await _send(client, retry=client.retry_policy.evolve(max_retry_after=300.0, deadline=None))
    assert fake.sleeps == [121.0]
    assert len(sandbox.state.ledger) == 1


async def test_deadline_stops_before_a_sleep_that_would_pass_it(sandbox: SandboxServer) -> None:
    """Deadline 45 s, Retry-After 30 s: one sleep, then the second 429 is raised (30 + 30 > 45)."""
    sandbox.state.faults.script(SEND, [rate_limited(30)] * 3 + [None])
    fake = FakeTime()
    async with _client(sandbox, fake, retry=RetryPolicy(deadline=45.0)) as client:
        with pytest.raises(RateLimitError) as info:
            await _send(client)
    assert info.value.retry_after == 30.0
    assert fake.sleeps == [30.0]
    assert len(sandbox.state.requests) == 2
    assert not sandbox.state.ledger


async def test_attempt_read_timeout_is_cut_to_what_remains_of_the_deadline(sandbox: SandboxServer) -> None:
    """After a 30 s wait, 0.2 s of a 30.2 s deadline remain: a slow answer times out at the cut read
    timeout (not the 30 s default) and the send ends unknown."""
    sandbox.state.faults.script(SEND, [rate_limited(30), Fault(kind=FaultKind.LATENCY, delay=0.6)])
    fake = FakeTime()
    async with _client(sandbox, fake, retry=RetryPolicy(deadline=30.2)) as client:
        with pytest.raises(OutcomeUnknownError) as info:
            await _send(client)
    cause = info.value.cause
    assert isinstance(cause, ConnectionLostError)
    assert cause.timeout
    assert fake.sleeps == [30.0]
    assert info.value.attempts == 2


async def test_408_is_retried_for_a_send(sandbox: SandboxServer) -> None:
    """408 means the server gave up reading the request: provably not applied, so it is resent."""
    sandbox.state.faults.script(SEND, [FaultKind.REQUEST_TIMEOUT, None])
    fake = FakeTime()
    async with _client(sandbox, fake) as client:
        await _send(client)
    assert [r.status for r in sandbox.state.requests] == [408, 201]
    assert len(sandbox.state.ledger) == 1
    assert len(fake.sleeps) == 1


async def test_read_timeout_ends_a_send_as_outcome_unknown(sandbox: SandboxServer) -> None:
    """A response slower than Timeouts(read=...) is unknown (it was processed), cause timeout=True."""
    sandbox.state.faults.script(SEND, [Fault(kind=FaultKind.LATENCY, delay=0.5), None])
    async with Client("sandbox-key-all", sandbox.base_url, rate_limit=None,
                      timeouts=Timeouts(read=0.1)) as client:
        with pytest.raises(OutcomeUnknownError) as info:
            await _send(client)
    cause = info.value.cause
    assert isinstance(cause, ConnectionLostError)
    assert cause.timeout
    assert info.value.attempts == 1
    assert len(sandbox.state.requests) == 1
    assert sandbox.state.faults.pending_script(SEND) == 1  # not resent


async def test_pool_wait_timeout_is_connect_error_and_never_reaches_the_server() -> None:
    """With the only pooled connection busy, waiting past Timeouts(connect=...) is ConnectError: not sent."""
    arrived = asyncio.Event()

    @web.middleware
    async def signal(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                     ) -> web.StreamResponse:
        arrived.set()
        return await handler(request)

    sandbox = SandboxServer()
    sandbox.app.middlewares.insert(0, signal)
    sandbox.state.faults.script(SEND, [Fault(kind=FaultKind.LATENCY, delay=0.5)])
    async with sandbox, Client("sandbox-key-all", sandbox.base_url, rate_limit=None, connector_limit=1,
                               timeouts=Timeouts(connect=0.1, read=5.0)) as client:
        slow = asyncio.create_task(_send(client))
        await arrived.wait()  # the slow send now holds the only connection
        with pytest.raises(ConnectError) as info:
            await _send(client, retry=RetryPolicy(max_attempts=1))
        assert info.value.safe_to_resend
        assert len(sandbox.state.requests) == 1
        await slow
    assert len(sandbox.state.ledger) == 1
