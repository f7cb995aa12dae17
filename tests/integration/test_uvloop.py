"""The client on uvloop: its clock is not asyncio's, and the library never installs it itself.

The limiter and retry engine read ``time.monotonic`` and schedule with ``call_later``, and the read
deadlines use the session's loop; each must still hold on a loop whose ``time()`` is its own.
Runs each scenario on a fresh uvloop loop (``uvloop`` is in the dev extras, so CI runs these).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

import tgo_async
from tests.loopback import slow_message_server
from tgo_async import ConnectionLostError, OutcomeUnknownError, Timeouts, TokenBucket

uvloop = pytest.importorskip("uvloop")

T = TypeVar("T")
SENDER = "+201001187188"
TO = "+201010000000"


def _on_uvloop(main: Callable[[], Awaitable[T]]) -> T:
    policy_before = asyncio.get_event_loop_policy()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(main())
    assert asyncio.get_event_loop_policy() is policy_before  # nothing installed globally
    return result


def test_token_bucket_paces_in_order_on_uvloop() -> None:
    """Waiters are granted in arrival order and never earlier than the rate allows."""

    async def main() -> tuple[float, list[tuple[int, float]]]:
        bucket = TokenBucket(50, burst=1)
        granted: list[tuple[int, float]] = []
        start = time.monotonic()

        async def take(i: int) -> None:
            await bucket.acquire()
            granted.append((i, time.monotonic()))

        tasks = []
        for i in range(6):
            tasks.append(asyncio.create_task(take(i)))
            await asyncio.sleep(0)  # queue in a known order
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        return start, granted

    start, granted = _on_uvloop(main)
    assert [i for i, _ in granted] == list(range(6))
    # 50/s, burst 1, full at the start: grant k comes no sooner than k x 20 ms. uvloop's cached clock
    # can fire a timer early; the bucket must not grant early. Late only means a busy machine.
    early = [(k, round(at - start, 4)) for k, (_, at) in enumerate(granted) if at - start < k * 0.020 - 1e-6]
    assert early == []


def test_send_and_read_deadline_on_uvloop() -> None:
    """A send decodes on uvloop, and a slow answer still ends unknown through the read deadline."""

    async def main() -> tuple[Any, BaseException | None]:
        async with slow_message_server() as (url, delay), \
                tgo_async.Client("k" * 16, url, timeouts=Timeouts(read=0.2)) as client:
            message = await client.messages.send_text(sender_phone=SENDER, to_phone=TO, content="hi")
            delay["s"] = 1.0
            try:
                await client.messages.send_text(sender_phone=SENDER, to_phone=TO, content="hi")
            except OutcomeUnknownError as exc:
                return message, exc.cause
            return message, None

    message, cause = _on_uvloop(main)
    assert message.id == 1
    assert isinstance(cause, ConnectionLostError)
    assert cause.timeout
