"""The JSON read timeout (one timer per client, ``_read_deadline``) behaves like aiohttp's ``sock_read``.

A slow answer is ``ConnectionLostError(timeout=True)`` (so a send ends unknown), a cancellation from
outside stays a cancellation, the task is left uncancelled, and steady traffic arms a handful of
timers rather than one per request. A borrowed session keeps aiohttp's own ``sock_read``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.loopback import slow_message_server
from tgo_async import Client, ConnectionLostError, OutcomeUnknownError, Timeouts
from tgo_async._read_deadline import ReadDeadlines

SENDER = "+201001187188"
TO = "+201010000000"


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, dict[str, float]]]:
    """A loopback server answering sends after ``delay["s"]`` seconds."""
    async with slow_message_server() as served:
        yield served


async def _send(client: Client) -> Any:
    return await client.messages.send_text(sender_phone=SENDER, to_phone=TO, content="hi")


async def test_slow_response_is_connection_lost_with_timeout(server: tuple[str, dict[str, float]]) -> None:
    """An answer slower than Timeouts(read=...) ends the send unknown, its cause a read timeout."""
    url, delay = server
    delay["s"] = 1.0
    async with Client("k" * 16, url, rate_limit=None, timeouts=Timeouts(read=0.2)) as client:
        with pytest.raises(OutcomeUnknownError) as info:
            await _send(client)
        cause = info.value.cause
        assert isinstance(cause, ConnectionLostError)
        assert cause.timeout
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0
        await asyncio.sleep(0.01)  # no cancellation left pending on the task
        delay["s"] = 0.0
        assert (await _send(client)).id == 1


async def test_outside_cancellation_stays_a_cancellation(server: tuple[str, dict[str, float]]) -> None:
    """Cancelling a send before its read deadline raises CancelledError, not a timeout."""
    url, delay = server
    delay["s"] = 1.0
    async with Client("k" * 16, url, rate_limit=None, timeouts=Timeouts(read=5.0)) as client:
        task = asyncio.create_task(_send(client))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_outside_cancellation_at_the_deadline_wins(server: tuple[str, dict[str, float]],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """When the deadline and an outside cancel land together, the caller sees CancelledError."""
    url, delay = server
    delay["s"] = 1.0
    sweep = ReadDeadlines._sweep
    swept: list[asyncio.Task[Any]] = []

    def sweep_then_cancel(self: ReadDeadlines, loop: asyncio.AbstractEventLoop) -> None:
        sweep(self, loop)
        for task in swept:
            task.cancel()  # the outside cancel, in the same loop iteration

    monkeypatch.setattr(ReadDeadlines, "_sweep", sweep_then_cancel)
    async with Client("k" * 16, url, rate_limit=None, timeouts=Timeouts(read=0.2)) as client:
        task = asyncio.create_task(_send(client))
        swept.append(task)
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_steady_traffic_arms_a_few_timers_not_one_per_request(
        server: tuple[str, dict[str, float]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Hundreds of quick sends arm the deadline timer only when an earlier deadline appears."""
    url, _ = server
    arm = ReadDeadlines._arm
    armed: list[float] = []

    def counting_arm(self: ReadDeadlines, loop: asyncio.AbstractEventLoop, when: float) -> None:
        armed.append(when)
        arm(self, loop, when)

    monkeypatch.setattr(ReadDeadlines, "_arm", counting_arm)
    async with Client("k" * 16, url, rate_limit=None, timeouts=Timeouts(read=30.0)) as client:

        async def worker() -> None:
            for _ in range(20):
                await _send(client)

        await asyncio.gather(*(worker() for _ in range(10)))
        assert not client._transport._deadlines._deadlines  # type: ignore[union-attr]
    assert 1 <= len(armed) <= 3


async def test_borrowed_session_keeps_aiohttp_sock_read(server: tuple[str, dict[str, float]]) -> None:
    """A caller's session has aiohttp's response class: its read timeout is still a timeout."""
    url, delay = server
    delay["s"] = 1.0
    async with aiohttp.ClientSession() as session:
        client = Client("k" * 16, url, rate_limit=None, session=session, timeouts=Timeouts(read=0.2))
        assert client._transport._deadlines is None
        with pytest.raises(OutcomeUnknownError) as info:
            await _send(client)
        cause = info.value.cause
        assert isinstance(cause, ConnectionLostError)
        assert cause.timeout
        await client.aclose()
