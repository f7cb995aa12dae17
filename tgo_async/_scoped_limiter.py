"""Client-side limiting by scope (API key, sender number) that adapts to the server's feedback.

Scopes. Every request takes a token from the global bucket (one per API key, i.e. per client). With
``per_sender_rate`` set, a request sending *from* a number first takes a token from that number's bucket.
Per-sender buckets are kept in an LRU map bounded by ``max_senders``; an idle one is evicted first. The
sender token is taken before the global one so the global bucket's bound holds exactly at send time.

Which scope a response speaks for. ``X-RateLimit-Scope: sender`` (or ``global`` / ``key``) decides when
the server says so. Otherwise a response is attributed to the sender's scope when per-sender limiting is
configured and the request had a sender, and to the global scope if not.

Feedback, applied by :meth:`ScopedRateLimiter.on_response` after every response:

* ``Retry-After`` on a 429 (already parsed by the client, seconds) sets a not-before gate on the scope:
  nothing is granted there until the clock passes it, however many other requests finish meanwhile.
* ``X-RateLimit-Limit`` (requests/s) caps the scope's rate (never above the configured rate); the burst
  scales with it (~50 ms of tokens). ``X-RateLimit-Remaining`` lowers the local level to what the server
  says is left; when it is 0, ``X-RateLimit-Reset`` (seconds until a token, or epoch seconds if > 1e9)
  gates the scope until then: the local level is lowered to ``1 - reset x rate`` so the next token comes
  exactly at the reset (a level sync, not a hard gate, so that a steady stream of "0 left, 4 ms" does not
  serialise sends behind responses); resets of 1 s or more are also set as a not-before gate.
* A 429 with none of those headers triggers a CUBIC-style multiplicative decrease, at most once per
  window (max(1 s, Retry-After)), never below ``min_rate_fraction`` x configured: to 0.7 x the rate
  that met the 429, taken as the lower of our rate and the success rate of the last 1-2 s (so a client
  configured 10x too fast converges in one step instead of many). The rate then recovers along a cubic
  curve on later successes: back to that rate after ~2 s, flat around it, then probing upwards to the
  configured (or header-capped) rate.

A shared ``global_limiter`` (e.g. ``RedisRateLimiter``) must use the same clock as this object
(``time.monotonic``, by default). If it is an ``AdaptiveLimiter`` it receives the global feedback
itself; any other ``Limiter`` is acquired last, behind a local adaptive bucket at the configured rate.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Mapping

from multidict import CIMultiDict, CIMultiDictProxy, istr

from ._limiter import AdaptiveLimiter, Clock, Limiter, TokenBucket

__all__ = ["ScopedRateLimiter"]

_BETA = 0.7          # multiplicative decrease factor (CUBIC's beta)
_CUBIC_C = 0.04      # cubic growth constant, as a fraction of w_max per s^3: back at w_max after ~2 s
_CUBIC_K: float = math.cbrt((1 - _BETA) / _CUBIC_C)  # seconds from a decrease back to w_max (~1.96)
_UPDATE_EVERY = 0.05  # seconds between rate updates while recovering (set_rate is not free)
_SENDER_SCOPES = frozenset({"sender", "sender_number", "sender-number", "number", "from"})


_CASE_INSENSITIVE = (CIMultiDictProxy, CIMultiDict)
# Looked up on every response; an ``istr`` key spares multidict case-folding the name each time.
_LIMIT = istr("X-RateLimit-Limit")
_REMAINING = istr("X-RateLimit-Remaining")
_monotonic = time.monotonic  # the default clock, as TokenBucket's


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None and not isinstance(headers, _CASE_INSENSITIVE):  # aiohttp's already ignore case
        value = headers.get(name.lower())
    return value


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        x = float(value.strip())
    except ValueError:
        return None
    return x if math.isfinite(x) and x >= 0 else None


class _Scope:
    """One bucket plus the adaptive state that drives its rate."""

    __slots__ = ("bucket", "configured", "decreased_at", "header_limit", "last_update", "ok_count",
                 "ok_since", "recovering", "unit_burst", "w_max", "window")

    def __init__(self, bucket: AdaptiveLimiter, configured: float, burst: int) -> None:
        self.bucket = bucket
        self.configured = configured
        self.unit_burst = burst / configured  # burst scales with the rate
        self.header_limit = math.inf
        self.w_max = configured
        self.decreased_at = -math.inf
        self.window = 1.0
        self.recovering = False
        self.last_update = -math.inf
        self.ok_count = 0.0
        self.ok_since = -math.inf

    def count_ok(self, now: float) -> None:
        """Count a success; the count covers roughly the last one to two seconds."""
        span = now - self.ok_since
        if span > 2.0:
            if self.ok_since == -math.inf:
                self.ok_since = now
            else:  # keep the last second's share of the count
                self.ok_count /= span
                self.ok_since = now - 1.0
        self.ok_count += 1

    def ok_rate(self, now: float) -> float | None:
        """Successes per second lately; None with under half a second of data or no success in it."""
        span = now - self.ok_since
        return self.ok_count / span if 0.5 <= span < math.inf and self.ok_count >= 1 else None

    def target(self) -> float:
        return min(self.configured, self.header_limit)

    def apply(self, rate: float, now: float) -> None:
        self.last_update = now
        if rate != self.bucket.rate:
            self.bucket.set_rate(rate, max(1, round(rate * self.unit_burst)))

    def idle(self, now: float) -> bool:
        waiters = getattr(self.bucket, "waiters", 0)
        return not waiters and self.bucket.not_before <= now and not self.recovering


class ScopedRateLimiter:
    """The limiter a ``Client`` holds: a global bucket, per-sender buckets and server feedback.

    ``rate`` and ``burst`` configure the global (per API key) bucket, ``per_sender_rate`` the per-number
    ones (None: no per-number limit, only per-number gates when the server attributes a 429 to one).
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: int | None = None,
        per_sender_rate: float | None = None,
        max_senders: int = 1024,
        min_rate_fraction: float = 0.1,
        clock: Clock | None = None,
        global_limiter: Limiter | None = None,
    ) -> None:
        if not 0 < min_rate_fraction <= 1:
            raise ValueError(f"min_rate_fraction must be in (0, 1], got {min_rate_fraction!r}")
        if max_senders < 1:
            raise ValueError(f"max_senders must be >= 1, got {max_senders!r}")
        if per_sender_rate is not None and not (per_sender_rate > 0 and math.isfinite(per_sender_rate)):
            raise ValueError(f"per_sender_rate must be positive, got {per_sender_rate!r}")
        self._clock = clock
        self._min_fraction = min_rate_fraction
        self._per_sender_rate = per_sender_rate
        self._max_senders = max_senders
        self._external: Limiter | None = None
        if isinstance(global_limiter, AdaptiveLimiter):
            bucket: AdaptiveLimiter = global_limiter
        else:
            bucket = TokenBucket(rate, burst, clock=clock)
            self._external = global_limiter
        self._global = _Scope(bucket, float(rate), bucket.burst)
        self._global_acquire = bucket.acquire
        self._global_try = getattr(bucket, "try_acquire", None)
        self._senders: OrderedDict[str, _Scope] = OrderedDict()

    def __repr__(self) -> str:
        return (f"<ScopedRateLimiter global={self._global.bucket!r} senders={len(self._senders)}"
                f"/{self._max_senders}>")

    @property
    def rate(self) -> float:
        """The global scope's current rate (requests/s)."""
        return self._global.bucket.rate

    def sender_rate(self, sender: str) -> float | None:
        """A sender scope's current rate, or None if it has no scope."""
        scope = self._senders.get(sender)
        return None if scope is None else scope.bucket.rate

    # -- hot path ------------------------------------------------------------------------------------------

    async def acquire(self, sender: str | None) -> None:
        """Wait for a token from the sender's scope (if any), then from the global scope."""
        if sender is not None and (self._senders or self._per_sender_rate is not None):
            scope = self._sender_scope(sender, create=self._per_sender_rate is not None)
            if scope is not None:
                await scope.bucket.acquire()
        await self._global_acquire()
        if self._external is not None:
            await self._external.acquire()

    def try_acquire(self, sender: str | None) -> bool:
        """Take a token without waiting, if only the global bucket is involved and it has one now.

        False means nothing was taken: ``await acquire(sender)``. Tried first on every request, so
        the usual case (no per-sender scope for this sender, a token available) costs no coroutine.
        """
        if self._global_try is None or self._external is not None:
            return False
        if sender is not None and (self._per_sender_rate is not None or sender in self._senders):
            return False
        return self._global_try()  # type: ignore[no-any-return]

    def not_before(self, sender: str | None) -> float:
        """Clock time before which a request from ``sender`` must not be sent (for re-queueing)."""
        deadline = self._global.bucket.not_before
        external = getattr(self._external, "not_before", None)
        if isinstance(external, float):
            deadline = max(deadline, external)
        if sender is not None:
            scope = self._senders.get(sender)
            if scope is not None:
                deadline = max(deadline, scope.bucket.not_before)
        return deadline

    # -- feedback ------------------------------------------------------------------------------------------

    def on_response(
        self, sender: str | None, status: int, headers: Mapping[str, str], retry_after: float | None
    ) -> None:
        """Adjust the scope this response speaks for: gates, header-driven rate, AIMD/CUBIC."""
        clock = self._clock  # inlined _now() and, for aiohttp's headers, _header(): on every response
        now = clock.time() if clock is not None else _monotonic()
        if type(headers) is CIMultiDictProxy:
            limit_text = headers.get(_LIMIT)
            remaining_text = headers.get(_REMAINING)
        else:
            limit_text = _header(headers, "X-RateLimit-Limit")
            remaining_text = _header(headers, "X-RateLimit-Remaining")
        limit = remaining = None
        if limit_text is not None or remaining_text is not None:  # on every response: skip 2 calls if absent
            limit, remaining = _number(limit_text), _number(remaining_text)
        if status != 429:
            # The request passed both scopes: both count a success and may recover a step.
            self._ok(self._global, now)
            if sender is not None and self._senders:
                sender_scope = self._senders.get(sender)
                if sender_scope is not None:
                    self._ok(sender_scope, now)
            if limit is None and remaining is None:
                return
        scope = self._feedback_scope(sender, headers)
        if limit is not None and limit > 0 and limit != scope.header_limit:
            scope.header_limit = limit
            scope.w_max = min(scope.w_max, limit)
            scope.apply(self._cubic_rate(scope, now) if scope.recovering else scope.target(), now)
        if remaining is not None:
            reset = _number(_header(headers, "X-RateLimit-Reset"))
            if remaining < 1 and reset is not None:
                if reset > 1e9:  # epoch seconds, as some servers send it
                    reset = reset - time.time()
                self._sync_empty(scope, now, reset)
            else:
                scope.bucket.limit_level(remaining)
        if status == 429:
            if retry_after is not None and retry_after > 0:
                scope.bucket.hold_until(now + retry_after)
            if limit is None and remaining is None:
                self._decrease(scope, now, retry_after)

    def _ok(self, scope: _Scope, now: float) -> None:
        scope.count_ok(now)
        if scope.recovering:
            self._recover(scope, now)

    def _sync_empty(self, scope: _Scope, now: float, reset: float) -> None:
        """The server's bucket is empty and has one token in ``reset`` s: mirror that locally.

        The level becomes at most ``1 - reset x rate`` (a debt), so nothing is granted before
        ``now + reset`` and the next token arrives then. Unlike a gate this never raises the level or
        discards local debt: at a steady state of Remaining 0 and millisecond resets, re-syncing on every
        response must not hold each send back until the previous response arrived. Resets of a second
        or more are also set as a gate, so ``not_before()`` reports them for re-queueing.
        """
        if reset <= 0:
            return
        scope.bucket.limit_level(1.0 - reset * scope.bucket.rate)
        if reset >= 1.0:
            scope.bucket.hold_until(now + reset)

    def _decrease(self, scope: _Scope, now: float, retry_after: float | None) -> None:
        if now < scope.decreased_at + scope.window:
            return  # the same congestion event: many in-flight requests get a 429 together
        scope.window = max(1.0, retry_after or 0.0)
        # The rate that met the 429: ours, or what the server actually let through lately if lower
        # (sending 10x too fast, x0.7 steps would take many windows and recovery would undo them).
        current = scope.bucket.rate
        accepted = scope.ok_rate(now)
        scope.w_max = current if accepted is None else max(self._floor(scope), min(current, accepted))
        scope.ok_count, scope.ok_since = 0.0, now
        scope.decreased_at = now
        scope.recovering = True
        scope.apply(max(self._floor(scope), min(scope.target(), scope.w_max * _BETA)), now)

    def _recover(self, scope: _Scope, now: float) -> None:
        if now - scope.last_update < _UPDATE_EVERY:
            return
        rate = self._cubic_rate(scope, now)
        if rate >= scope.target():
            scope.recovering = False
            rate = scope.target()
        scope.apply(rate, now)

    def _cubic_rate(self, scope: _Scope, now: float) -> float:
        w_max = scope.w_max
        rate = w_max + _CUBIC_C * w_max * (now - scope.decreased_at - _CUBIC_K) ** 3
        return min(scope.target(), max(self._floor(scope), rate))

    def _floor(self, scope: _Scope) -> float:
        return min(scope.target(), self._min_fraction * scope.configured)

    # -- scopes --------------------------------------------------------------------------------------------

    def _now(self) -> float:
        clock = self._clock
        return clock.time() if clock is not None else _monotonic()

    def _feedback_scope(self, sender: str | None, headers: Mapping[str, str]) -> _Scope:
        if sender is None:
            return self._global
        said = _header(headers, "X-RateLimit-Scope")
        if said is not None:
            if said.strip().lower() not in _SENDER_SCOPES:
                return self._global
        elif self._per_sender_rate is None:
            return self._global
        scope = self._sender_scope(sender, create=True)
        assert scope is not None
        return scope

    def _sender_scope(self, sender: str, *, create: bool) -> _Scope | None:
        senders = self._senders
        scope = senders.get(sender)
        if scope is not None:
            senders.move_to_end(sender)
            return scope
        if not create:
            return None
        if len(senders) >= self._max_senders:
            self._evict()
        rate = self._per_sender_rate if self._per_sender_rate is not None else self._global.configured
        bucket = TokenBucket(rate, clock=self._clock)
        scope = senders[sender] = _Scope(bucket, rate, bucket.burst)
        return scope

    def _evict(self) -> None:
        """Drop the least recently used idle scope (looking at a few), else the least recently used."""
        now = self._now()
        for i, (name, scope) in enumerate(self._senders.items()):
            if i >= 8:
                break
            if scope.idle(now):
                del self._senders[name]
                return
        self._senders.popitem(last=False)

