"""Token-bucket rate limiting: :class:`TokenBucket`, the :class:`Limiter` protocol and the clock.

Why it is built this way:

* **Strict FIFO.** Waiters sit in a deque of futures and are granted in arrival order. A newcomer never
  takes tokens while anyone is queued, so under sustained load no request starves (aiolimiter lets a
  fresh caller overtake a woken one).
* **One timer, no polling.** At most one ``call_at`` handle is armed, for the instant the head of the
  queue can be served (tokens refilled, or a not-before gate passed). Waiters sleep on their futures.
* **Cheap hot path.** An uncontended ``acquire()`` with tokens available reads the clock, refills and
  subtracts: no future, no timer, no allocation. It is on every request's path.
* **Cancellation keeps tokens.** A cancelled waiter that was never granted just leaves the queue; one
  that was granted but cancelled before it resumed hands its tokens back.
* **Burst defaults to ~rate/20** (50 ms worth), so a full bucket does not let the first second send
  twice the rate.
* **Not-before gates** (:meth:`TokenBucket.hold_until`) come from a server's ``Retry-After`` or
  ``X-RateLimit-Reset``. They are released only by the clock passing the deadline, never by another
  request finishing (an ``asyncio.Event`` that any completion can set is the bug this avoids).
* **Injectable clock.** The default clock is ``time.monotonic``, which is asyncio's loop clock, read
  directly: ``asyncio.get_running_loop()`` is a ``getpid`` system call on every use (CPython's fork
  check), and this is read on every request. Timers go on the running loop with ``call_later``, so a
  loop with a clock of its own (uvloop) works too. Any object with ``time()`` can replace it; if it
  also has ``call_at(when, callback)`` the bucket schedules on it, so :class:`ManualClock` drives
  tests deterministically without real sleeps.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "AdaptiveLimiter",
    "Clock",
    "Limiter",
    "ManualClock",
    "TokenBucket",
    "sleep_until",
]

_monotonic = time.monotonic

# Tolerance when comparing token levels: timers may fire a hair early and float sums drift.
_EPS = 1e-6


class Clock(Protocol):
    """Source of monotonic time in seconds. May also offer ``call_at(when, callback, *args)``."""

    def time(self) -> float: ...


class _Handle(Protocol):
    def cancel(self) -> None: ...


@runtime_checkable
class Limiter(Protocol):
    """What a client needs from a rate limiter. :class:`TokenBucket` and ``RedisRateLimiter`` fit."""

    async def acquire(self, n: int = 1) -> None: ...

    async def __aenter__(self) -> None: ...

    async def __aexit__(self, *exc: object) -> None: ...


@runtime_checkable
class AdaptiveLimiter(Limiter, Protocol):
    """A limiter whose rate can be corrected from server feedback (used by ``ScopedRateLimiter``)."""

    @property
    def rate(self) -> float: ...

    @property
    def burst(self) -> int: ...

    @property
    def not_before(self) -> float: ...

    def set_rate(self, rate: float, burst: int | None = None) -> None: ...

    def hold_until(self, deadline: float) -> None: ...

    def limit_level(self, tokens: float) -> None: ...


def default_burst(rate: float) -> int:
    """About 50 ms of tokens, at least one."""
    return max(1, round(rate / 20))


def _call_at(clock: Clock | None, when: float, callback: Callable[[], object]) -> _Handle:
    """Schedule ``callback`` at clock time ``when`` on the clock itself if it can, else on the loop."""
    if clock is None:
        return asyncio.get_running_loop().call_later(max(0.0, when - _monotonic()), callback)
    call_at = getattr(clock, "call_at", None)
    if call_at is not None:
        handle: _Handle = call_at(when, callback)
        return handle
    return asyncio.get_running_loop().call_later(max(0.0, when - clock.time()), callback)


async def sleep_until(clock: Clock | None, when: float) -> None:
    """Sleep until clock time ``when`` (``time.monotonic`` if ``clock`` is None)."""
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake() -> None:
        if not fut.done():
            fut.set_result(None)

    handle = _call_at(clock, when, wake)
    try:
        await fut
    finally:
        handle.cancel()


class TokenBucket:
    """FIFO token bucket: ``rate`` tokens per second, at most ``burst`` stored; starts full.

    ``await bucket.acquire(n)`` or ``async with bucket:`` (one token). ``n > burst`` can never be
    satisfied and raises ``ValueError`` at once.
    """

    __slots__ = ("_burst", "_clock", "_last", "_not_before", "_rate", "_timer", "_timer_when",
                 "_tokens", "_waiters")

    def __init__(self, rate: float, burst: int | None = None, *, clock: Clock | None = None) -> None:
        self._check(rate, burst)
        self._rate = float(rate)
        self._burst = default_burst(rate) if burst is None else burst
        self._clock = clock
        self._tokens = float(self._burst)
        self._last = -math.inf  # first use stamps it; the bucket starts full
        self._not_before = -math.inf
        self._waiters: deque[tuple[asyncio.Future[None], int]] = deque()
        self._timer: _Handle | None = None
        self._timer_when = math.inf

    @staticmethod
    def _check(rate: float, burst: int | None) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive finite number of tokens per second, got {rate!r}")
        if burst is not None and (not isinstance(burst, int) or burst < 1):
            raise ValueError(f"burst must be an int >= 1, got {burst!r}")

    # -- public state -------------------------------------------------------------------------------------

    @property
    def rate(self) -> float:
        """Tokens added per second."""
        return self._rate

    @property
    def burst(self) -> int:
        """Bucket capacity: the most tokens that can be taken at once."""
        return self._burst

    @property
    def not_before(self) -> float:
        """Clock time before which nothing is granted (``-inf`` if no gate was ever set)."""
        return self._not_before

    @property
    def waiters(self) -> int:
        """Number of callers queued and not cancelled."""
        return sum(1 for fut, _ in self._waiters if not fut.done())

    @property
    def level(self) -> float:
        """Tokens available now (without consuming any)."""
        now = self._now_or_none()
        if now is None:
            return self._tokens
        return min(self._burst, self._tokens + max(0.0, now - self._last) * self._rate)

    def __repr__(self) -> str:
        gate = ""
        now = self._now_or_none()
        if now is not None and self._not_before > now:
            gate = f" gated_for={self._not_before - now:.3f}s"
        return (f"<TokenBucket rate={self._rate:g}/s burst={self._burst} level={self.level:.2f} "
                f"waiters={self.waiters}{gate}>")

    # -- acquiring -----------------------------------------------------------------------------------------

    async def acquire(self, n: int = 1) -> None:
        """Wait until ``n`` tokens can be taken, in FIFO order, then take them."""
        if not 1 <= n <= self._burst:
            raise ValueError(f"cannot acquire {n} tokens from a bucket with burst={self._burst}"
                             if n > self._burst else f"n must be >= 1, got {n!r}")
        if not self.try_acquire(n):
            await self._wait(n)

    def try_acquire(self, n: int = 1) -> bool:
        """Take ``n`` tokens now if that needs no wait (nobody queued, no gate, enough tokens).

        ``acquire``'s hot path as a plain call: a caller that tries this first creates no coroutine
        when a token is there (``ScopedRateLimiter.try_acquire``, on every request). False means
        nothing was taken.
        """
        if self._waiters or not 1 <= n <= self._burst:
            return False
        clock = self._clock
        now = clock.time() if clock is not None else _monotonic()
        if now < self._not_before:
            return False
        if now > self._last:  # refill; a fresh bucket has _last = -inf and stays full
            tokens = self._tokens + (now - self._last) * self._rate
            self._tokens = tokens if tokens < self._burst else float(self._burst)
            self._last = now
        if self._tokens >= n - _EPS:
            self._tokens -= n
            return True
        return False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def _wait(self, n: int) -> None:
        loop = asyncio.get_running_loop()
        if self._waiters and self._waiters[0][0].get_loop() is not loop:
            # Reused on a new loop (e.g. per-test loops): the old loop's waiters and timer are dead.
            self._waiters.clear()
            self._disarm()
        fut: asyncio.Future[None] = loop.create_future()
        self._waiters.append((fut, n))
        if len(self._waiters) == 1:
            self._dispatch()
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                # Granted, but cancelled before it could resume: the tokens go back to the queue.
                self._tokens = min(float(self._burst), self._tokens + n)
                self._dispatch()
            elif self._waiters and self._waiters[0][0] is fut:
                # The head left: whoever is next may be servable sooner (or need a different timer).
                self._waiters.popleft()
                self._dispatch()
            # Any other cancelled entry stays put and is skipped when it reaches the head: O(1).
            raise

    # -- feedback hooks (used by ScopedRateLimiter) --------------------------------------------------------

    def set_rate(self, rate: float, burst: int | None = None) -> None:
        """Change the refill rate (and optionally capacity) from now on; tokens earned so far are kept."""
        self._check(rate, burst)
        self._refill(self._now())
        self._rate = float(rate)
        if burst is not None:
            self._burst = burst
            self._tokens = min(self._tokens, float(burst))
        if self._waiters:
            self._dispatch()

    def hold_until(self, deadline: float) -> None:
        """Grant nothing before clock time ``deadline``; at the deadline exactly one token is available.

        This is how a server's "retry after" reads: its bucket is empty now and holds one token then.
        Later deadlines extend the gate; earlier ones are ignored. Only time releases it.
        """
        now = self._now()
        if deadline <= max(now, self._not_before):
            return
        self._not_before = deadline
        self._tokens = 1.0
        self._last = deadline  # nothing accrues before the deadline
        if self._waiters:
            self._dispatch()

    def limit_level(self, tokens: float) -> None:
        """Lower the current level to at most ``tokens`` (what the server says is left).

        ``tokens`` may be negative: a debt repaid at the rate before anything is granted again.
        """
        self._refill(self._now())
        if tokens < self._tokens:
            self._tokens = tokens

    # -- internals -----------------------------------------------------------------------------------------

    def _now(self) -> float:
        clock = self._clock
        return clock.time() if clock is not None else _monotonic()

    def _now_or_none(self) -> float | None:
        try:
            return self._now()
        except RuntimeError:  # an injected clock that needs a running loop, read by repr outside one
            return None

    def _refill(self, now: float) -> None:
        last = self._last
        if now > last:  # with last = -inf the sum is +inf and min() keeps a fresh bucket full
            self._tokens = min(float(self._burst), self._tokens + (now - last) * self._rate)
            self._last = now

    def _dispatch(self) -> None:
        """Serve the queue head-first while possible, then arm the single timer for the next head."""
        now = self._now()
        self._refill(now)
        waiters = self._waiters
        while waiters:
            fut, n = waiters[0]
            if fut.done():
                waiters.popleft()
                continue
            if now < self._not_before:
                self._arm(self._not_before)
                return
            if self._tokens >= n - _EPS:
                self._tokens -= n
                waiters.popleft()
                fut.set_result(None)
                continue
            self._arm(now + (n - self._tokens) / self._rate)
            return
        self._disarm()

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            if when == self._timer_when:
                return
            self._timer.cancel()
        self._timer_when = when
        self._timer = _call_at(self._clock, when, self._on_timer)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_when = math.inf

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_when = math.inf
        self._dispatch()


class _ManualHandle:
    __slots__ = ("args", "callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that moves only when told to, for deterministic tests of anything taking a ``clock``.

    It provides ``time()`` and ``call_at()``; ``await clock.advance(dt)`` moves time forward, firing each
    due callback at its own scheduled instant and letting woken tasks run before the next one, so a task
    that records ``clock.time()`` after being granted sees its exact grant time.
    """

    def __init__(self, start: float = 0.0, *, settle_rounds: int = 8) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _ManualHandle]] = []
        self._seq = itertools.count()
        self._settle_rounds = settle_rounds

    def time(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> _ManualHandle:
        handle = _ManualHandle(when, callback, args)
        heapq.heappush(self._timers, (when, next(self._seq), handle))
        return handle

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> _ManualHandle:
        return self.call_at(self._now + delay, callback, *args)

    @property
    def pending(self) -> int:
        """Timers scheduled and not cancelled."""
        return sum(1 for _, _, h in self._timers if not h.cancelled)

    async def settle(self) -> None:
        """Let ready tasks run (a few loop iterations) without moving time."""
        for _ in range(self._settle_rounds):
            await asyncio.sleep(0)

    async def advance(self, dt: float) -> None:
        """Move time forward by ``dt`` seconds, firing due timers in order."""
        await self.advance_to(self._now + dt)

    async def advance_to(self, target: float) -> None:
        """Move time forward to ``target``, firing due timers in order."""
        await self.settle()
        timers = self._timers
        while timers and timers[0][0] <= target:
            when, _, handle = heapq.heappop(timers)
            if handle.cancelled:
                continue
            self._now = max(self._now, when)
            handle.callback(*handle.args)
            await self.settle()
        self._now = max(self._now, target)
        await self.settle()
