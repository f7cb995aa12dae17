"""The delivery contract row by row: one scripted fault per send or GET, against real loopback sockets.

Each row asserts the outcome, the number of requests the sandbox received and what it recorded.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tgo_async import (
    AuthenticationError,
    Client,
    ConnectError,
    ConnectionLostError,
    OutcomeUnknownError,
    RetryEvent,
    RetryPolicy,
    ServerError,
)
from tgo_async.sandbox import Fault, FaultKind, SandboxServer

SEND = "POST /api/v1/messages"
USAGE = "GET /api/v1/usage"
SENDER = "+201001187188"
TO = "+201010000000"
FAST = RetryPolicy(backoff_base=0.01)
"""Real sockets, so keep backoff sleeps in the milliseconds; Retry-After values are scripted small."""


def ra(kind: FaultKind, seconds: float = 0.01) -> Fault:
    return Fault(kind=kind, retry_after=seconds)


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer() as sb:
        yield sb


async def _send(sb: SandboxServer, key: str = "sandbox-key-all", **kw: Any) -> tuple[Any, list[RetryEvent]]:
    """One send; returns the Message or the exception raised, and the retry events."""
    events: list[RetryEvent] = []
    async with Client(key, sb.base_url, rate_limit=None, retry=FAST, on_retry=events.append) as client:
        try:
            return await client.messages.send_text(sender_phone=SENDER, to_phone=TO, content="scripted",
                                                   **kw), events
        except Exception as exc:  # the test inspects it
            return exc, events


SENT, UNKNOWN = "sent", "unknown"

SEND_ROWS = [
    # steps, outcome, requests received, messages recorded, status of the cause
    ([ra(FaultKind.RATE_LIMIT), None], SENT, 2, 1, None),
    ([ra(FaultKind.UNAVAILABLE_RETRY_AFTER), None], SENT, 2, 1, None),
    ([FaultKind.REQUEST_TIMEOUT, None], SENT, 2, 1, None),
    ([FaultKind.UNAVAILABLE, None], UNKNOWN, 1, 0, 503),
    ([FaultKind.SERVER_ERROR, None], UNKNOWN, 1, 0, 500),
    ([FaultKind.BAD_GATEWAY_HTML, None], UNKNOWN, 1, 0, 502),
    ([FaultKind.GATEWAY_TIMEOUT, None], UNKNOWN, 1, 0, 504),
    ([FaultKind.ERROR_AFTER, None], UNKNOWN, 1, 1, 500),
    ([FaultKind.DROP_BEFORE, None], UNKNOWN, 1, 0, None),
    ([FaultKind.DROP_AFTER, None], UNKNOWN, 1, 1, None),
]


@pytest.mark.parametrize(("steps", "outcome", "requests", "recorded", "cause_status"), SEND_ROWS,
                         ids=lambda v: v[0].kind.value if isinstance(v, list) and isinstance(v[0], Fault)
                         else v[0].value if isinstance(v, list) else None)
async def test_send_follows_the_delivery_table(sandbox: SandboxServer, steps: list[Any], outcome: str,
                                               requests: int, recorded: int, cause_status: int | None,
                                               ) -> None:
    """429/503+RA/408 are retried and sent; 5xx and dropped connections end unknown after one request."""
    sandbox.state.faults.script(SEND, steps)
    result, events = await _send(sandbox)
    state = sandbox.state
    assert len(state.requests) == requests
    assert len(state.ledger) == recorded
    if outcome == SENT:
        assert result.content == "scripted"
        assert result.id == state.ledger[0].id
        assert [e.attempt for e in events] == [1]
        return
    assert isinstance(result, OutcomeUnknownError), result
    assert result.attempts == 1
    assert events == []
    assert state.faults.pending_script(SEND) == 1  # the "ok" step was never reached: no retry
    if cause_status is None:  # connection closed after the request was written, processed or not
        assert isinstance(result.cause, ConnectionLostError)
        assert not result.cause.timeout
    else:
        assert isinstance(result.cause, ServerError)
        assert result.cause.status == cause_status


async def test_bad_gateway_html_is_summarised_not_dumped(sandbox: SandboxServer) -> None:
    """A 502 HTML page from the proxy becomes a short readable message on the cause."""
    sandbox.state.faults.script(SEND, [FaultKind.BAD_GATEWAY_HTML])
    result, _ = await _send(sandbox)
    assert isinstance(result, OutcomeUnknownError)
    assert "502 Bad Gateway" in str(result.cause)
    assert "<html>" not in str(result.cause)


async def test_401_raises_authentication_error_without_retry(sandbox: SandboxServer) -> None:
    """A revoked key is an AuthenticationError after exactly one request; nothing is recorded."""
    result, events = await _send(sandbox, key="sandbox-key-revoked")
    assert isinstance(result, AuthenticationError)
    assert result.status == 401
    assert len(sandbox.state.requests) == 1
    assert not sandbox.state.ledger
    assert events == []


async def test_connection_refused_is_retried_and_sent() -> None:
    """A refused connection provably sent nothing: the send is retried and arrives once."""
    # A bound socket that is not listening refuses connections and keeps the port ours until the
    # client's first (refused) attempt; the client's sleep before its retry then starts the sandbox.
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    sb = SandboxServer(port=port)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        if not slept:
            holder.close()
            await sb.start()
        slept.append(seconds)

    events: list[RetryEvent] = []
    try:
        async with Client("sandbox-key-all", f"http://127.0.0.1:{port}", rate_limit=None, retry=FAST,
                          sleep=sleep, on_retry=events.append) as client:
            msg = await client.messages.send_text(sender_phone=SENDER, to_phone=TO, content="after refusal")
    finally:
        holder.close()
        await sb.close()
    assert [e.cause for e in events] == ["ConnectError"]
    assert msg.content == "after refusal"
    assert len(sb.state.requests) == 1
    assert len(sb.state.ledger) == 1


async def test_connection_refused_raises_connect_error_once_out_of_attempts() -> None:
    """With no attempts left, a refused connection surfaces as ConnectError (safe to resend)."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    try:
        url = f"http://127.0.0.1:{holder.getsockname()[1]}"
        once = FAST.evolve(max_attempts=1)
        async with Client("sandbox-key-all", url, rate_limit=None, retry=once) as client:
            with pytest.raises(ConnectError) as info:
                await client.messages.send_text(sender_phone=SENDER, to_phone=TO, content="refused")
    finally:
        holder.close()
    assert info.value.safe_to_resend


@pytest.mark.parametrize("kind", [FaultKind.SERVER_ERROR, FaultKind.BAD_GATEWAY_HTML,
                                  FaultKind.GATEWAY_TIMEOUT, FaultKind.UNAVAILABLE, FaultKind.DROP_BEFORE,
                                  FaultKind.REQUEST_TIMEOUT, FaultKind.RATE_LIMIT])
async def test_get_retries_transient_failures_and_succeeds(sandbox: SandboxServer, kind: FaultKind) -> None:
    """A GET changes nothing, so 5xx, a reset connection, 408 and 429 are all retried."""
    sandbox.state.faults.script(USAGE, [ra(kind), None])
    async with Client("sandbox-key-all", sandbox.base_url, rate_limit=None, retry=FAST) as client:
        usage = await client.usage.get()
    assert usage.entries
    assert [r.fault for r in sandbox.state.requests] == [kind, None]


async def test_get_speculative_cap_does_not_count_rate_limited_attempts(sandbox: SandboxServer) -> None:
    """Two 429s before a 500 leave the GET's speculative retries untouched: it still succeeds."""
    sandbox.state.faults.script(USAGE, [ra(FaultKind.RATE_LIMIT), ra(FaultKind.RATE_LIMIT),
                                        FaultKind.SERVER_ERROR, None])
    async with Client("sandbox-key-all", sandbox.base_url, rate_limit=None,
                      retry=FAST.evolve(max_speculative_attempts=2)) as client:
        await client.usage.get()
    assert len(sandbox.state.requests) == 4


async def test_get_gives_up_after_the_speculative_cap(sandbox: SandboxServer) -> None:
    """Persistent 500s on a GET end after max_speculative_attempts with the ServerError itself."""
    sandbox.state.faults.script(USAGE, [FaultKind.SERVER_ERROR] * 5)
    async with Client("sandbox-key-all", sandbox.base_url, rate_limit=None,
                      retry=FAST.evolve(max_speculative_attempts=3)) as client:
        with pytest.raises(ServerError):
            await client.usage.get()
    assert len(sandbox.state.requests) == 3


@pytest.mark.parametrize(("kind", "recorded"), [(FaultKind.SERVER_ERROR, 1), (FaultKind.DROP_BEFORE, 1),
                                                (FaultKind.DROP_AFTER, 2)])
async def test_on_ambiguous_retry_per_call_resends_and_may_duplicate(sandbox: SandboxServer, kind: FaultKind,
                                                                     recorded: int) -> None:
    """Per-call at-least-once: an ambiguous failure is resent; only a drop after processing duplicates."""
    sandbox.state.faults.script(SEND, [kind, None])
    result, _ = await _send(sandbox, on_ambiguous="retry")
    assert result.content == "scripted"
    assert len(sandbox.state.requests) == 2
    assert len(sandbox.state.ledger) == recorded


async def test_worst_attempt_wins_after_a_drop(sandbox: SandboxServer) -> None:
    """A resent send that then meets a 401 ends unknown (the first attempt was applied), not failed."""
    unauthorised = Fault(kind=FaultKind.RESPOND, status=401,
                         body={"message": "Unauthenticated.", "code": "unauthenticated"})
    sandbox.state.faults.script(SEND, [FaultKind.DROP_AFTER, unauthorised])
    result, _ = await _send(sandbox, on_ambiguous="retry")
    assert isinstance(result, OutcomeUnknownError)
    assert result.attempts == 2
    assert isinstance(result.cause, AuthenticationError)
    assert len(sandbox.state.requests) == 2
    assert len(sandbox.state.ledger) == 1
