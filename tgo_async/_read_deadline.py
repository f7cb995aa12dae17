"""Read deadlines for JSON calls: one timer per client instead of aiohttp's timer per read.

Why: ``ClientTimeout(sock_read=...)`` arms a ``TimerHandle`` when the request is written, re-arms
it on every chunk received and cancels it at the end: two timers per small POST, each a push onto
asyncio's pure-Python heap, plus the cancelled ones it sweeps later. That measured about 5% of a
send's client CPU against raw aiohttp (``benchmarks/overhead.py``), more than everything else the
library adds on the success path.

How: the session's ``response_class`` reports when aiohttp starts reading a response (so the
request has been written: a timeout from then on means "sent, outcome unknown", never "not sent").
The deadline (that moment plus the read window) goes into a dict keyed by the task; a single
``call_at``, re-armed only when a deadline earlier than the armed one appears, cancels the tasks
past theirs. ``Transport.request`` turns that cancellation into
``ConnectionLostError(timeout=True)``, exactly what a ``sock_read`` timeout gave. Steady traffic
with equal windows arms one timer per window, not two per request.

The window covers the whole response (status line to last byte) rather than the gap between two
reads: the same thing for the small JSON bodies this is used for. Uploads, and sessions the caller
lends us (whose ``response_class`` is not ours), keep aiohttp's ``sock_read``.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import aiohttp

__all__ = ["ReadDeadlines"]


class ReadDeadlines:
    """Per-client table of read deadlines, enforced by one timer (see the module docstring)."""

    __slots__ = ("_at", "_deadlines", "_expired", "_handle", "_windows", "response_class")

    def __init__(self) -> None:
        self._windows: dict[asyncio.Task[Any], float] = {}  # task -> window of the request it is making
        self._deadlines: dict[asyncio.Task[Any], float] = {}  # task -> loop time, once its request is sent
        self._expired: set[asyncio.Task[Any]] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._at = math.inf
        deadlines = self

        class _Response(aiohttp.ClientResponse):
            async def start(self, connection: Any) -> aiohttp.ClientResponse:
                task = asyncio.current_task()
                if task is not None:
                    deadlines._sent(task)
                return await super().start(connection)

        self.response_class = _Response

    def watch(self, task: asyncio.Task[Any], window: float) -> None:
        """``task`` is about to make a request whose response must be complete ``window`` s after sending."""
        self._windows[task] = window

    def forget(self, task: asyncio.Task[Any]) -> bool:
        """The request is over; True if the task was cancelled for its deadline (call ``uncancel``)."""
        self._windows.pop(task, None)
        self._deadlines.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._at = math.inf

    def _sent(self, task: asyncio.Task[Any]) -> None:
        window = self._windows.get(task)
        if window is None:
            return  # not a watched request (an upload keeps sock_read)
        loop = task.get_loop()
        deadline = loop.time() + window
        self._deadlines[task] = deadline
        if deadline < self._at:
            self._arm(loop, deadline)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._at = when
        self._handle = loop.call_at(when, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self._handle = None
        self._at = math.inf
        now = loop.time()
        earliest = math.inf
        for task, deadline in list(self._deadlines.items()):
            if deadline <= now:
                del self._deadlines[task]
                self._expired.add(task)
                task.cancel()
            elif deadline < earliest:
                earliest = deadline
        if earliest != math.inf:
            self._arm(loop, earliest)
