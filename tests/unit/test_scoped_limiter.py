"""ScopedRateLimiter on a ManualClock: scopes, LRU, gates, header-driven and AIMD/CUBIC rates."""

from __future__ import annotations

import asyncio
import time

import pytest

from tgo_async._limiter import ManualClock, TokenBucket
from tgo_async._scoped_limiter import ScopedRateLimiter


def spawn(limiter: ScopedRateLimiter, clock: ManualClock, log: list[tuple[str | None, float]],
          sender: str | None) -> asyncio.Task[None]:
    async def run() -> None:
        await limiter.acquire(sender)
        log.append((sender, clock.time()))

    return asyncio.create_task(run())


async def test_every_request_takes_a_global_token() -> None:
    """Requests from different senders share the global bucket."""
    clock = ManualClock()
    limiter = ScopedRateLimiter(10, burst=1, clock=clock)
    log: list[tuple[str | None, float]] = []
    for sender in ("+a", "+b", None):
        spawn(limiter, clock, log, sender)
    await clock.advance(1.0)
    assert log == [("+a", 0.0), ("+b", pytest.approx(0.1)), (None, pytest.approx(0.2))]


async def test_per_sender_rate_limits_each_sender_separately() -> None:
    """With per_sender_rate, one busy sender waits while another sender goes at once."""
    clock = ManualClock()
    limiter = ScopedRateLimiter(1000, per_sender_rate=10, clock=clock)
    log: list[tuple[str | None, float]] = []
    for sender in ("+a", "+a", "+b"):
        spawn(limiter, clock, log, sender)
    await clock.advance(1.0)
    assert sorted(log, key=lambda e: e[1]) == [("+a", 0.0), ("+b", 0.0), ("+a", pytest.approx(0.1))]
    assert limiter.sender_rate("+a") == 10


async def test_sender_scopes_are_bounded_least_recently_used_evicted() -> None:
    """At most max_senders scopes are kept; the least recently used one goes first."""
    clock = ManualClock()
    limiter = ScopedRateLimiter(1000, per_sender_rate=100, max_senders=2, clock=clock)
    await limiter.acquire("+a")
    await limiter.acquire("+b")
    await limiter.acquire("+a")  # +b is now least recently used
    await limiter.acquire("+c")
    assert limiter.sender_rate("+a") is not None
    assert limiter.sender_rate("+b") is None
    assert limiter.sender_rate("+c") is not None


async def test_eviction_prefers_an_idle_scope_over_a_gated_one() -> None:
    """A sender under a not-before gate is not evicted while an idle one can be."""
    clock = ManualClock()
    limiter = ScopedRateLimiter(1000, per_sender_rate=100, max_senders=2, clock=clock)
    await limiter.acquire("+a")
    await limiter.acquire("+b")
    limiter.on_response("+a", 429, {}, 30.0)  # +a is gated, and least recently used
    await limiter.acquire("+c")
    assert limiter.sender_rate("+a") is not None
    assert limiter.sender_rate("+b") is None


async def test_retry_after_gate_is_released_only_by_time() -> None:
    """A 429's Retry-After blocks the scope until its deadline even as other requests succeed."""
    clock = ManualClock()
    limiter = ScopedRateLimiter(100, clock=clock)
    limiter.on_response(None, 429, {}, 2.0)
    log: list[tuple[str | None, float]] = []
    spawn(limiter, clock, log, None)
    for _ in range(10):
        await clock.advance(0.19)
        limiter.on_response(None, 200, {}, None)  # other requests finishing must not release it
    assert log == []
    assert limiter.not_before(None) == 2.0
    await clock.advance(0.2)
    assert log == [(None, 2.0)]


async def test_scope_header_gates_only_that_sender() -> None:
    """X-RateLimit-Scope: sender attributes the 429 to the sender; other senders keep going."""
    clock = ManualClock()
    limiter = ScopedRateLimiter(100, clock=clock)
    limiter.on_response("+a", 429, {"X-RateLimit-Scope": "sender"}, 5.0)
    assert limiter.not_before("+a") == 5.0
    assert limiter.not_before("+b") < 0
    log: list[tuple[str | None, float]] = []
    spawn(limiter, clock, log, "+a")
    spawn(limiter, clock, log, "+b")
    await clock.advance(6.0)
    assert log == [("+b", 0.0), ("+a", 5.0)]


async def test_without_scope_header_429_is_global_unless_per_sender_configured() -> None:
    """A 429 gates the global scope by default, the sender's scope when per-sender limits are on."""
    clock = ManualClock()
    plain = ScopedRateLimiter(100, clock=clock)
    plain.on_response("+a", 429, {}, 3.0)
    assert plain.not_before("+b") == 3.0
    per_sender = ScopedRateLimiter(100, per_sender_rate=10, clock=clock)
    per_sender.on_response("+a", 429, {}, 3.0)
    assert per_sender.not_before("+a") == 3.0
    assert per_sender.not_before("+b") < 0


async def test_limit_header_caps_the_rate_and_scales_burst() -> None:
    """X-RateLimit-Limit lowers the rate (never above the configured one) and burst follows it."""
    clock = ManualClock()
    bucket = TokenBucket(1000, clock=clock)
    limiter = ScopedRateLimiter(1000, clock=clock, global_limiter=bucket)
    limiter.on_response(None, 200, {"X-RateLimit-Limit": "100"}, None)
    assert (bucket.rate, bucket.burst) == (100, 5)
    limiter.on_response(None, 200, {"x-ratelimit-limit": "5000"}, None)
    assert (bucket.rate, bucket.burst) == (1000, 50)


async def test_remaining_zero_with_reset_grants_nothing_until_reset() -> None:
    """Remaining 0 with Reset (seconds): the next grant comes exactly at the reset, then paced."""
    clock = ManualClock(10.0)
    limiter = ScopedRateLimiter(100, burst=5, clock=clock)
    limiter.on_response(None, 200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0.5"}, None)
    log: list[tuple[str | None, float]] = []
    for _ in range(3):
        spawn(limiter, clock, log, None)
    await clock.advance(0.499)
    assert log == []
    await clock.advance(1.0)
    assert [t for _, t in log] == pytest.approx([10.5, 10.51, 10.52])


async def test_long_reset_is_reported_by_not_before() -> None:
    """A Reset of a second or more is also a not-before gate, visible for re-queueing."""
    clock = ManualClock(10.0)
    limiter = ScopedRateLimiter(100, clock=clock)
    limiter.on_response(None, 200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2"}, None)
    assert limiter.not_before(None) == 12.0


async def test_steady_remaining_zero_feedback_does_not_slow_pacing() -> None:
    """Sending at the server's rate, "0 left, next in 8 ms" on every response keeps 10 ms spacing."""
    clock = ManualClock()
    limiter = ScopedRateLimiter(100, burst=1, clock=clock)
    grants: list[float] = []

    async def send() -> None:
        await limiter.acquire(None)
        grants.append(clock.time())
        clock.call_later(0.002, limiter.on_response, None, 201,
                         {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                          "X-RateLimit-Reset": "0.008"}, None)

    tasks = [asyncio.create_task(send()) for _ in range(50)]
    await clock.advance(1.0)
    await asyncio.gather(*tasks)
    assert grants == pytest.approx([i / 100 for i in range(50)], abs=1e-9)


async def test_reset_as_epoch_seconds_is_understood() -> None:
    """A Reset value above 1e9 is an epoch timestamp, converted to a delay."""
    clock = ManualClock()
    limiter = ScopedRateLimiter(100, clock=clock)
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 3)}
    limiter.on_response(None, 200, headers, None)
    assert 1.5 < limiter.not_before(None) <= 3.0
    limiter.on_response(None, 200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1000000001"}, None)
    assert limiter.not_before(None) <= 3.0  # an epoch in the past is no gate


async def test_remaining_lowers_the_local_level() -> None:
    """X-RateLimit-Remaining caps the local tokens at what the server says is left."""
    clock = ManualClock()
    bucket = TokenBucket(100, burst=10, clock=clock)
    limiter = ScopedRateLimiter(100, clock=clock, global_limiter=bucket)
    limiter.on_response(None, 200, {"X-RateLimit-Remaining": "2"}, None)
    assert bucket.level == 2


async def test_429_without_headers_decreases_at_most_once_per_window() -> None:
    """Many 429s from one congestion event cut the rate once; a later event cuts it again."""
    clock = ManualClock()
    limiter = ScopedRateLimiter(100, clock=clock)
    for _ in range(20):
        limiter.on_response(None, 429, {}, None)
    assert limiter.rate == pytest.approx(70)
    await clock.advance(0.9)
    limiter.on_response(None, 429, {}, None)
    assert limiter.rate == pytest.approx(70)
    await clock.advance(0.2)
    limiter.on_response(None, 429, {}, None)
    assert limiter.rate == pytest.approx(49)


async def test_decrease_starts_from_the_rate_the_server_accepted() -> None:
    """Configured 10x too fast, one 429 brings the rate to 0.7x what got through, not 0.7x ours."""
    clock = ManualClock()
    limiter = ScopedRateLimiter(1000, min_rate_fraction=0.01, clock=clock)
    for _ in range(150):  # 100 successes/s for 1.5 s
        await clock.advance(0.01)
        limiter.on_response(None, 200, {}, None)
    limiter.on_response(None, 429, {}, None)
    assert limiter.rate == pytest.approx(70, rel=0.05)
    for _ in range(25):
        await clock.advance(0.1)
        limiter.on_response(None, 200, {}, None)
    assert limiter.rate == pytest.approx(100, rel=0.05)  # back at the accepted rate, not at 1000


async def test_decrease_window_stretches_to_retry_after() -> None:
    """The once-per-window rule uses max(1 s, Retry-After) as the window."""
    clock = ManualClock()
    limiter = ScopedRateLimiter(100, clock=clock)
    limiter.on_response(None, 429, {}, 4.0)
    await clock.advance(3.0)
    limiter.on_response(None, 429, {}, None)
    assert limiter.rate == pytest.approx(70)


async def test_rate_never_drops_below_the_floor() -> None:
    """Repeated 429s floor the rate at min_rate_fraction x configured."""
    clock = ManualClock()
    limiter = ScopedRateLimiter(100, min_rate_fraction=0.2, clock=clock)
    for _ in range(20):
        limiter.on_response(None, 429, {}, None)
        await clock.advance(1.0)
    assert limiter.rate == pytest.approx(20)


async def test_rate_recovers_gradually_to_the_configured_rate() -> None:
    """After a cut, successes bring the rate back along a curve, not in one step."""
    clock = ManualClock()
    limiter = ScopedRateLimiter(100, clock=clock)
    limiter.on_response(None, 429, {}, None)
    seen = []
    for _ in range(120):
        await clock.advance(0.1)
        limiter.on_response(None, 200, {}, None)
        seen.append(limiter.rate)
    assert seen == sorted(seen)                 # monotone recovery
    assert 70 < seen[4] < 95                    # 0.5 s: part way back
    assert seen[25] == pytest.approx(100, rel=0.02)  # ~2 s: back near the rate that saw the 429
    assert seen[-1] == 100                      # fully recovered, and no higher


async def test_recovery_resumes_below_a_lower_header_cap() -> None:
    """A header limit below the configured rate caps recovery too."""
    clock = ManualClock()
    limiter = ScopedRateLimiter(100, clock=clock)
    limiter.on_response(None, 429, {}, None)
    limiter.on_response(None, 200, {"X-RateLimit-Limit": "50"}, None)
    for _ in range(100):
        await clock.advance(0.1)
        limiter.on_response(None, 200, {}, None)
    assert limiter.rate == 50


async def test_non_adaptive_global_limiter_is_acquired_after_the_local_bucket() -> None:
    """A plain Limiter given as global_limiter is still taken on every request."""

    class Counting:
        calls = 0

        async def acquire(self, n: int = 1) -> None:
            Counting.calls += n

        async def __aenter__(self) -> None:
            await self.acquire()

        async def __aexit__(self, *exc: object) -> None:
            return None

    limiter = ScopedRateLimiter(1000, clock=ManualClock(), global_limiter=Counting())
    for _ in range(3):
        await limiter.acquire("+a")
    assert Counting.calls == 3


async def test_adaptive_global_limiter_receives_the_feedback() -> None:
    """An AdaptiveLimiter passed as global_limiter is gated directly by a 429."""
    clock = ManualClock()
    bucket = TokenBucket(100, clock=clock)
    limiter = ScopedRateLimiter(100, clock=clock, global_limiter=bucket)
    limiter.on_response(None, 429, {}, 7.0)
    assert bucket.not_before == 7.0


async def test_invalid_arguments_are_value_errors() -> None:
    """Nonsense configuration fails at construction."""
    with pytest.raises(ValueError, match="rate must be"):
        ScopedRateLimiter(0)
    with pytest.raises(ValueError, match="min_rate_fraction"):
        ScopedRateLimiter(10, min_rate_fraction=0)
    with pytest.raises(ValueError, match="max_senders"):
        ScopedRateLimiter(10, max_senders=0)
    with pytest.raises(ValueError, match="per_sender_rate"):
        ScopedRateLimiter(10, per_sender_rate=-1)


async def test_repr_names_the_global_bucket_and_sender_count() -> None:
    """repr shows the global bucket and how many sender scopes exist."""
    limiter = ScopedRateLimiter(10, per_sender_rate=5, clock=ManualClock())
    await limiter.acquire("+a")
    assert "global=<TokenBucket" in repr(limiter)
    assert "senders=1/1024" in repr(limiter)
