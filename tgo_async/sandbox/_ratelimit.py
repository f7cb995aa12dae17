"""Per-API-key token buckets on the event-loop clock, read from the state on every request."""

from __future__ import annotations

import math

__all__ = ["KeyBuckets", "Verdict", "format_number"]


def format_number(value: float) -> str:
    """``5`` for whole numbers, else up to three decimals (``0.125``): header values stay short."""
    if value == int(value):
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


class Verdict:
    """The outcome of taking a token: ``allowed``, the headers to send, and the wait if refused."""

    __slots__ = ("allowed", "headers", "retry_after")

    def __init__(self, allowed: bool, headers: dict[str, str], retry_after: float) -> None:
        self.allowed = allowed
        self.headers = headers
        self.retry_after = retry_after


class KeyBuckets:
    """One bucket per raw ``X-Api-Key`` value (the empty string for requests without one)."""

    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        self._buckets: dict[str, list[float]] = {}

    def clear(self) -> None:
        """Forget every bucket (all keys start full again)."""
        self._buckets.clear()

    def take(self, key: str, rate: float, burst: int, now: float) -> Verdict:
        """Take one token for ``key`` at time ``now``; a refused request takes nothing."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = [float(burst), now]
        tokens = min(float(burst), bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        bucket[0] = tokens
        wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate
        headers = {
            "X-RateLimit-Limit": format_number(rate),
            "X-RateLimit-Remaining": str(math.floor(tokens)),
            "X-RateLimit-Reset": format_number(math.ceil(wait * 1000) / 1000),
        }
        return Verdict(allowed, headers, wait)
