"""Read deadlines for JSON calls: one timer per client instead of aiohttp's timer per read.

Why: ``ClientTimeout(sock_read=...)`` arms a ``TimerHandle`` when the request has been written,
re-arms it on every chunk received and cancels it at the end: two timers per small POST, each a
push onto asyncio's pure-Python heap, plus the cancelled ones it sifts out later. That measured
about 5% of a send's client CPU against raw aiohttp (``benchmarks/overhead.py``), more than all the
rest the library adds on the success path.

How: the session's ``response_class`` notes when aiohttp starts reading a response whose connection
has no ``sock_read`` of its own (aiohttp builds the response object after writing the request, so
a timeout from then on means "sent, outcome unknown", never "not sent"). Its deadline goes into a
dict; a single ``call_at``, re-armed only when a deadline earlier than the armed one appears,
fails the overdue ones exactly as aiohttp's own read timer does (the connection's protocol gets a
``SocketTimeoutError``, which ``Transport.request`` maps to ``ConnectionLostError(timeout=True)``).
Steady traffic arms about one timer per read window, not two per request.

The window covers the whole response (status line to last byte) rather than the gap between two
reads: the same thing for the small JSON bodies this is used for. Uploads, calls whose timeouts
were cut to what is left of their deadline, and sessions the caller lends us (whose
``response_class`` is not ours) keep aiohttp's ``sock_read``.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import aiohttp

__all__ = ["ReadDeadlines"]

_start = aiohttp.ClientResponse.start


class ReadDeadlines:
    """Per-client table of response deadlines, enforced by one timer (see the module docstring)."""

    __slots__ = ("_at", "_deadlines", "_handle", "loop", "response_class", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        # Set by the transport when it creates its session (whose loop this is): looking it up per
        # request would cost a getpid system call each time (asyncio.get_running_loop's fork check).
        self.loop: asyncio.AbstractEventLoop | None = None
        self._deadlines: dict[aiohttp.ClientResponse, tuple[float, Any]] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._at = math.inf
        deadlines = self

        class _Response(aiohttp.ClientResponse):
            async def start(self, connection: Any) -> aiohttp.ClientResponse:
                protocol = connection.protocol
                if protocol is None or protocol.read_timeout is not None:
                    return await _start(self, connection)  # aiohttp's sock_read is on for this one
                deadlines._sent(self, protocol)
                try:
                    return await _start(self, connection)
                except BaseException:
                    deadlines.forget(self)
                    raise

        self.response_class: type[aiohttp.ClientResponse] = _Response

    def forget(self, response: aiohttp.ClientResponse) -> None:
        """The response has been read (or failed): its deadline no longer applies."""
        self._deadlines.pop(response, None)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._at = math.inf

    def _sent(self, response: aiohttp.ClientResponse, protocol: Any) -> None:
        loop = self.loop or asyncio.get_running_loop()
        deadline = loop.time() + self.window
        self._deadlines[response] = (deadline, protocol)
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
        for response, (deadline, protocol) in list(self._deadlines.items()):
            if deadline > now:
                earliest = min(earliest, deadline)
                continue
            del self._deadlines[response]
            connection = response.connection
            if connection is not None and connection.protocol is protocol:  # not yet released or reused
                _time_out(protocol)
        if earliest != math.inf:
            self._arm(loop, earliest)


def _time_out(protocol: Any) -> None:
    """What aiohttp's own read timer does when it fires: fail the response with SocketTimeoutError."""
    on_read_timeout = getattr(protocol, "_on_read_timeout", None)
    if on_read_timeout is not None:
        on_read_timeout()
    else:  # pragma: no cover - every aiohttp this supports has it
        protocol.set_exception(aiohttp.SocketTimeoutError("Timeout on reading data from socket"))
