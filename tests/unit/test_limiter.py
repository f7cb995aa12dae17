"""TokenBucket on a ManualClock: exact grant times, FIFO, cancellation, gates. No real sleeps."""

from __future__ import annotations

import asyncio

import pytest

from tgo_async._limiter import AdaptiveLimiter, Limiter, ManualClock, TokenBucket, sleep_until


def spawn(bucket: TokenBucket, clock: ManualClock, log: list[tuple[int, float]], i: int,
          n: int = 1) -> asyncio.Task[None]:
    async def run() -> None:
        await bucket.acquire(n)
        log.append((i, clock.time()))

    return asyncio.create_task(run())


async def test_burst_is_granted_at_once_then_paced_at_rate() -> None:
    """A full bucket grants `burst` immediately, then one token every 1/rate seconds."""
    clock = ManualClock()
    bucket = TokenBucket(10, burst=3, clock=clock)
    log: list[tuple[int, float]] = []
    for i in range(6):
        spawn(bucket, clock, log, i)
    await clock.advance(1.0)
    assert [i for i, _ in log] == list(range(6))
    assert [t for _, t in log] == pytest.approx([0, 0, 0, 0.1, 0.2, 0.3])


async def test_default_burst_is_about_a_twentieth_of_rate() -> None:
    """Default burst is ~rate/20 (at least 1), so the first second does not send twice the rate."""
    assert TokenBucket(1000).burst == 50
    assert TokenBucket(100).burst == 5
    assert TokenBucket(3).burst == 1


async def test_acquire_more_than_burst_is_a_value_error() -> None:
    """Asking for more tokens than the bucket can ever hold fails at once instead of hanging."""
    bucket = TokenBucket(100, burst=5, clock=ManualClock())
    with pytest.raises(ValueError, match="burst=5"):
        await bucket.acquire(6)
    with pytest.raises(ValueError, match="n must be >= 1"):
        await bucket.acquire(0)


async def test_invalid_rate_or_burst_is_a_value_error() -> None:
    """Zero, negative or infinite rates and non-positive bursts are rejected."""
    for rate in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="rate must be"):
            TokenBucket(rate)
    with pytest.raises(ValueError, match="burst must be"):
        TokenBucket(10, burst=0)


async def test_fifo_order_and_exact_times_under_1000_waiters() -> None:
    """1,000 queued waiters are granted strictly in arrival order at exactly rate per second."""
    clock = ManualClock()
    bucket = TokenBucket(1000, burst=1, clock=clock)
    log: list[tuple[int, float]] = []
    tasks = [spawn(bucket, clock, log, i) for i in range(1000)]
    await clock.advance(0.0)
    assert bucket.waiters == 999
    await clock.advance(1.0)
    assert [i for i, _ in log] == list(range(1000))
    assert [t for _, t in log] == pytest.approx([i / 1000 for i in range(1000)], abs=1e-9)
    await asyncio.gather(*tasks)


async def test_newcomer_never_overtakes_a_queued_waiter() -> None:
    """A one-token request arriving behind a three-token waiter waits its turn."""
    clock = ManualClock()
    bucket = TokenBucket(10, burst=3, clock=clock)
    await bucket.acquire(3)
    log: list[tuple[int, float]] = []
    spawn(bucket, clock, log, 0, n=3)
    await clock.settle()
    spawn(bucket, clock, log, 1, n=1)
    await clock.advance(0.15)
    assert log == []  # one token is there, but the head needs three
    await clock.advance(1.0)
    assert [i for i, _ in log] == [0, 1]
    assert [t for _, t in log] == pytest.approx([0.3, 0.4])


async def test_cancelled_waiter_leaves_the_queue_without_losing_tokens() -> None:
    """Cancelling a middle waiter neither consumes its token nor delays those behind it."""
    clock = ManualClock()
    bucket = TokenBucket(10, burst=1, clock=clock)
    await bucket.acquire()
    log: list[tuple[int, float]] = []
    tasks = [spawn(bucket, clock, log, i) for i in range(4)]
    await clock.settle()
    tasks[1].cancel()
    await clock.advance(1.0)
    assert [i for i, _ in log] == [0, 2, 3]
    assert [t for _, t in log] == pytest.approx([0.1, 0.2, 0.3])
    assert tasks[1].cancelled()


async def test_cancelled_head_lets_the_next_waiter_go_sooner() -> None:
    """When the head (needing many tokens) is cancelled, the timer is re-armed for the next waiter."""
    clock = ManualClock()
    bucket = TokenBucket(10, burst=5, clock=clock)
    await bucket.acquire(5)
    log: list[tuple[int, float]] = []
    head = spawn(bucket, clock, log, 0, n=5)
    await clock.settle()
    spawn(bucket, clock, log, 1, n=1)
    await clock.advance(0.05)
    head.cancel()
    await clock.advance(1.0)
    assert [i for i, _ in log] == [1]
    assert [t for _, t in log] == pytest.approx([0.1])


async def test_granted_then_cancelled_waiter_hands_its_tokens_back() -> None:
    """A waiter cancelled after being granted but before resuming returns its tokens to the queue."""
    clock = ManualClock()
    bucket = TokenBucket(10, burst=1, clock=clock)
    await bucket.acquire()
    log: list[tuple[int, float]] = []
    first = spawn(bucket, clock, log, 0)
    await clock.settle()
    spawn(bucket, clock, log, 1)
    await clock.settle()
    # Fire the timer (grants `first`) and cancel `first` before it gets to run.
    clock._now = 0.1
    bucket._on_timer()
    first.cancel()
    await clock.advance(0.0)
    assert first.cancelled()
    assert [i for i, _ in log] == [1]
    assert [t for _, t in log] == pytest.approx([0.1])


async def test_hold_until_is_not_released_early() -> None:
    """A not-before gate grants nothing before its deadline, whatever else completes meanwhile."""
    clock = ManualClock()
    bucket = TokenBucket(100, burst=5, clock=clock)
    bucket.hold_until(5.0)
    log: list[tuple[int, float]] = []
    spawn(bucket, clock, log, 0)
    await clock.advance(4.999)
    assert log == []
    assert bucket.not_before == 5.0
    await clock.advance(0.001)
    assert log == [(0, 5.0)]


async def test_hold_until_leaves_one_token_at_the_deadline_then_paces() -> None:
    """After a gate, one request goes at the deadline and the rest follow at the rate (no burst)."""
    clock = ManualClock()
    bucket = TokenBucket(10, burst=5, clock=clock)
    bucket.hold_until(2.0)
    log: list[tuple[int, float]] = []
    for i in range(3):
        spawn(bucket, clock, log, i)
    await clock.advance(3.0)
    assert [t for _, t in log] == pytest.approx([2.0, 2.1, 2.2])


async def test_later_gate_extends_earlier_gate_is_ignored() -> None:
    """hold_until only ever moves the deadline later."""
    clock = ManualClock()
    bucket = TokenBucket(10, clock=clock)
    bucket.hold_until(3.0)
    bucket.hold_until(1.0)
    assert bucket.not_before == 3.0
    bucket.hold_until(4.0)
    assert bucket.not_before == 4.0


async def test_set_rate_reschedules_queued_waiters() -> None:
    """Raising the rate while waiters are queued brings their grant time forward."""
    clock = ManualClock()
    bucket = TokenBucket(1, burst=1, clock=clock)
    await bucket.acquire()
    log: list[tuple[int, float]] = []
    spawn(bucket, clock, log, 0)
    await clock.advance(0.5)  # half a token earned at 1/s
    bucket.set_rate(10)
    await clock.advance(1.0)
    assert [i for i, _ in log] == [0]
    assert [t for _, t in log] == pytest.approx([0.55])


async def test_limit_level_lowers_but_never_raises_tokens() -> None:
    """limit_level caps the current level at what the server reports left."""
    clock = ManualClock()
    bucket = TokenBucket(100, burst=10, clock=clock)
    bucket.limit_level(2)
    assert bucket.level == 2
    bucket.limit_level(50)
    assert bucket.level == 2
    bucket.limit_level(-3)  # a debt: four tokens' worth of time before the next grant
    assert bucket.level == -3


async def test_uncontended_acquire_allocates_no_future_or_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """With tokens available and nobody queued, acquire neither waits nor schedules anything."""
    clock = ManualClock()
    bucket = TokenBucket(100, burst=5, clock=clock)

    async def boom(n: int) -> None:
        raise AssertionError("slow path taken")

    monkeypatch.setattr(TokenBucket, "_wait", lambda self, n: boom(n))
    for _ in range(5):
        await bucket.acquire()
    assert clock.pending == 0
    with pytest.raises(AssertionError, match="slow path"):
        await bucket.acquire()


async def test_async_with_takes_one_token() -> None:
    """`async with bucket:` acquires a single token."""
    clock = ManualClock()
    bucket = TokenBucket(10, burst=2, clock=clock)
    async with bucket:
        pass
    assert bucket.level == pytest.approx(1)


async def test_repr_shows_level_and_waiters() -> None:
    """repr names rate, burst, level, queued waiters and an active gate."""
    clock = ManualClock()
    bucket = TokenBucket(10, burst=2, clock=clock)
    await bucket.acquire(2)
    task = asyncio.create_task(bucket.acquire())
    await clock.settle()
    bucket.hold_until(1.5)
    text = repr(bucket)
    assert "rate=10/s burst=2 level=" in text
    assert "waiters=1 gated_for=1.500s" in text
    task.cancel()
    await clock.settle()


async def test_default_clock_is_the_running_loop() -> None:
    """Without an injected clock the bucket reads and schedules on the running loop."""
    bucket = TokenBucket(100_000, burst=1)
    for _ in range(5):
        await bucket.acquire()
    assert bucket.waiters == 0
    assert "TokenBucket" in repr(bucket)


async def test_clock_without_call_at_schedules_on_the_loop() -> None:
    """A clock offering only time() still works: timers go to the loop with a relative delay."""
    loop = asyncio.get_running_loop()

    class Offset:
        def time(self) -> float:
            return loop.time() + 1000.0

    bucket = TokenBucket(100_000, burst=1, clock=Offset())
    for _ in range(5):
        await bucket.acquire()
    await sleep_until(Offset(), Offset().time())


async def test_token_bucket_satisfies_the_limiter_protocols() -> None:
    """TokenBucket is a Limiter and an AdaptiveLimiter, so a client takes it directly."""
    bucket = TokenBucket(10)
    assert isinstance(bucket, Limiter)
    assert isinstance(bucket, AdaptiveLimiter)


async def test_manual_clock_sleep_until_wakes_at_the_deadline() -> None:
    """sleep_until on a ManualClock returns exactly when the clock reaches the deadline."""
    clock = ManualClock()
    woke: list[float] = []

    async def sleeper() -> None:
        await sleep_until(clock, 2.5)
        woke.append(clock.time())

    task = asyncio.create_task(sleeper())
    await clock.advance(2.4)
    assert woke == []
    await clock.advance(1.0)
    assert woke == [2.5]
    await task


def test_bucket_reused_on_a_new_loop_does_not_hang() -> None:
    """Waiters stranded on a closed loop are dropped when the bucket is used on another loop."""
    bucket = TokenBucket(1000, burst=1)
    old = asyncio.new_event_loop()
    bucket._waiters.append((old.create_future(), 1))  # what a loop closed mid-wait leaves behind
    old.close()

    async def use() -> None:
        await asyncio.wait_for(bucket.acquire(), 1.0)
        await asyncio.wait_for(bucket.acquire(), 1.0)

    asyncio.run(use())


def test_default_clock_is_time_monotonic_and_needs_no_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an injected clock the bucket reads time.monotonic directly, even outside a loop.

    (``asyncio.get_running_loop()`` would be a getpid system call per request on CPython 3.11.)
    """
    from tgo_async import _limiter

    now = [100.0]
    monkeypatch.setattr(_limiter, "_monotonic", lambda: now[0])
    bucket = TokenBucket(10, burst=1)
    assert bucket.try_acquire()
    assert not bucket.try_acquire()
    now[0] += 0.099
    assert not bucket.try_acquire()
    now[0] += 0.002
    assert bucket.try_acquire()
