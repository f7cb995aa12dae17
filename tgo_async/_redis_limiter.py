"""``RedisRateLimiter``: one token bucket shared by every process and host that uses the same API key.

Needs the optional extra (``pip install 'tgo_async[redis]'``, redis-py's asyncio client); redis is imported
only when a ``RedisRateLimiter`` is created, and a missing extra raises an ``ImportError`` saying so.

How it works:

* The bucket (tokens, timestamp) lives in a Redis hash. One Lua script refills and takes tokens
  atomically using ``redis.call('TIME')``, the Redis server's clock, so hosts with skewed clocks agree.
  It answers "granted" or "retry in N µs". The key expires once a full bucket would be indistinguishable
  from a missing one, so idle keys do not linger.
* Locally, waiters queue FIFO in front of the remote bucket and one driver task asks Redis for the head's
  tokens, sleeping the returned wait between attempts. Processes compete with each other; within a
  process nobody is overtaken.
* ``hold_until`` (a 429's Retry-After) gates this process at once and is written into the shared bucket
  with the next script call, so the other processes stop too. ``set_rate`` changes the rate this process
  passes to the script; all processes should be configured alike.
* A Redis error fails the waiter at the head of the queue (the caller sees the exception); the rest
  keep their place and the next one tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from ._limiter import Clock, TokenBucket, default_burst, sleep_until

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisRateLimiter"]

# KEYS[1] bucket hash {t: tokens, ts: time of t}; ARGV: rate, burst, n, ttl_ms, hold_s.
# Returns 0 when n tokens were taken (n = 0 only records a hold), else the wait in microseconds.
# Numbers are stored with string.format: Lua's default number formatting keeps only 14 digits, too
# few for an epoch timestamp with microseconds.
_LUA = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local ttl_ms = tonumber(ARGV[4])
local hold = tonumber(ARGV[5])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', key, 't', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
  ts = now
end
if hold > 0 and now + hold > ts then
  tokens = 1
  ts = now + hold
end
local wait = 0
if ts > now then
  wait = ts - now
elseif n > 0 then
  if tokens >= n then
    tokens = tokens - n
  else
    wait = (n - tokens) / rate
  end
end
redis.call('HSET', key, 't', string.format('%.9f', tokens), 'ts', string.format('%.6f', ts))
redis.call('PEXPIRE', key, ttl_ms + math.ceil((ts - now) * 1000))
if wait > 0 then
  return math.max(1, math.ceil(wait * 1000000))
end
return 0
"""


def _import_redis() -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:  # pragma: no cover - exercised by monkeypatching sys.modules
        raise ImportError(
            "RedisRateLimiter needs the optional 'redis' extra: pip install 'tgo_async[redis]'"
        ) from exc
    return aioredis


class RedisRateLimiter:
    """A token bucket in Redis: ``rate`` tokens/s and ``burst`` capacity shared by all users of ``key``.

    ``redis`` is a URL (the limiter owns and closes that client) or a ``redis.asyncio.Redis`` (borrowed,
    left open). Same interface as ``TokenBucket``: ``await acquire(n)``, ``async with``. Close with
    ``await aclose()``.
    """

    def __init__(
        self,
        redis: str | Redis,
        *,
        key: str = "tgo:ratelimit",
        rate: float,
        burst: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        TokenBucket._check(rate, burst)
        aioredis = _import_redis()
        if isinstance(redis, str):
            self._redis: Redis = aioredis.Redis.from_url(redis)
            self._owns_client = True
        else:
            self._redis = redis
            self._owns_client = False
        self._key = key
        self._rate = float(rate)
        self._burst = default_burst(rate) if burst is None else burst
        self._clock = clock
        self._script = self._redis.register_script(_LUA)
        self._waiters: deque[tuple[asyncio.Future[None], int]] = deque()
        self._driver: asyncio.Task[None] | None = None
        self._not_before = -math.inf
        self._pending_hold = -math.inf
        self._closed = False

    @staticmethod
    def key_for(api_key: str, prefix: str = "tgo:ratelimit:") -> str:
        """A Redis key for an API key that does not store the key itself (a SHA-256 prefix)."""
        return prefix + hashlib.sha256(api_key.encode()).hexdigest()[:24]

    @property
    def key(self) -> str:
        return self._key

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def burst(self) -> int:
        return self._burst

    @property
    def not_before(self) -> float:
        """Local clock time before which this process sends nothing (its own 429s)."""
        return self._not_before

    @property
    def waiters(self) -> int:
        return sum(1 for fut, _ in self._waiters if not fut.done())

    def __repr__(self) -> str:
        return (f"<RedisRateLimiter key={self._key!r} rate={self._rate:g}/s burst={self._burst} "
                f"waiters={self.waiters}>")

    # -- Limiter -------------------------------------------------------------------------------------------

    async def acquire(self, n: int = 1) -> None:
        """Wait, FIFO among this process's callers, until the shared bucket grants ``n`` tokens."""
        if not 1 <= n <= self._burst:
            raise ValueError(f"cannot acquire {n} tokens from a bucket with burst={self._burst}"
                             if n > self._burst else f"n must be >= 1, got {n!r}")
        if self._closed:
            raise RuntimeError("RedisRateLimiter is closed")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((fut, n))
        if self._driver is None:
            self._driver = asyncio.create_task(self._drive(), name=f"RedisRateLimiter({self._key})")
        await fut

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def aclose(self) -> None:
        """Stop the driver, fail queued waiters, close the Redis client if this limiter created it."""
        self._closed = True
        driver, self._driver = self._driver, None
        if driver is not None:
            driver.cancel()
            await asyncio.gather(driver, return_exceptions=True)
        while self._waiters:
            fut, _ = self._waiters.popleft()
            if not fut.done():
                fut.set_exception(RuntimeError("RedisRateLimiter closed while waiting"))
        if self._owns_client:
            await self._redis.aclose()

    # -- AdaptiveLimiter -----------------------------------------------------------------------------------

    def set_rate(self, rate: float, burst: int | None = None) -> None:
        """Change the rate (and burst) this process passes to the shared bucket."""
        TokenBucket._check(rate, burst)
        self._rate = float(rate)
        if burst is not None:
            self._burst = burst

    def hold_until(self, deadline: float) -> None:
        """Gate this process until clock time ``deadline`` and share the gate through Redis."""
        if deadline > self._not_before:
            self._not_before = deadline
            self._pending_hold = max(self._pending_hold, deadline)

    def limit_level(self, tokens: float) -> None:
        """No-op: the shared bucket, not one process's view, is authoritative."""

    # -- driver --------------------------------------------------------------------------------------------

    def _now(self) -> float:
        clock = self._clock
        return clock.time() if clock is not None else time.monotonic()

    async def _call(self, n: int) -> int:
        hold = 0.0
        if self._pending_hold != -math.inf:
            hold = max(0.0, self._pending_hold - self._now())
            self._pending_hold = -math.inf
        ttl_ms = math.ceil(self._burst / self._rate * 1000) + 1000
        result = await self._script(keys=[self._key], args=[self._rate, self._burst, n, ttl_ms, hold])
        return int(result)

    async def _drive(self) -> None:
        """Serve the local queue head-first against the shared bucket; exits when the queue is empty."""
        waiters = self._waiters
        try:
            while waiters:
                fut, n = waiters[0]
                if fut.done():
                    waiters.popleft()
                    continue
                if self._now() < self._not_before:
                    if self._pending_hold != -math.inf:
                        with contextlib.suppress(Exception):  # best effort: the local gate holds anyway
                            await self._call(0)  # publish the gate so other processes stop too
                    await sleep_until(self._clock, self._not_before)
                    continue
                try:
                    wait_us = await self._call(n)
                except Exception as exc:  # Redis down: fail this caller, keep the queue moving
                    waiters.popleft()
                    if not fut.done():
                        fut.set_exception(exc)
                    continue
                if wait_us == 0:
                    waiters.popleft()
                    if fut.done():
                        self._hand_over(n)
                    else:
                        fut.set_result(None)
                else:
                    await sleep_until(self._clock, self._now() + wait_us / 1e6)
        finally:
            if self._driver is asyncio.current_task():
                self._driver = None

    def _hand_over(self, n: int) -> None:
        """Tokens granted to a waiter cancelled meanwhile go to the next waiters that fit."""
        waiters = self._waiters
        while waiters and n > 0:
            fut, need = waiters[0]
            if fut.done():
                waiters.popleft()
                continue
            if need > n:
                return
            waiters.popleft()
            fut.set_result(None)
            n -= need
