"""Redirects are never followed, and the API key never shows: logs, repr/str, errors, tracebacks."""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tgo_async import (
    AccountNotVerifiedError,
    APIError,
    AuthenticationError,
    BadRequestError,
    Client,
    ConnectError,
    DecodeError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    RecipientUnreachableError,
    RedirectError,
    RetryPolicy,
    SenderNotActiveError,
    ServerError,
    TgoError,
    Timeouts,
    ValidationError,
)
from tgo_async.sandbox import Fault, FaultKind, SandboxServer

SEND = "POST /api/v1/messages"
USAGE = "GET /api/v1/usage"
SENDER = "+201001187188"
TO = "+201010000000"
KEY = "tgo-live-Zq8Xv3Nw7Lp2Kd9Rt5Hy1Bm6"
"""Distinctive, so any leak is found by plain substring search."""
SCOPED_KEY = "tgo-live-Sc0peOnlyLookupQw4Er7Ty"
FAST = RetryPolicy(backoff_base=0.01)


class Elsewhere:
    """A second loopback origin that only counts what reaches it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _any(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.headers)))
        return web.json_response({"data": {}})

    async def __aenter__(self) -> Elsewhere:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer() as sb:
        sb.state.add_key(KEY, {"*"})
        sb.state.add_key(SCOPED_KEY, {"contacts.lookup"})
        yield sb


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirects_are_not_followed_and_name_the_location(sandbox: SandboxServer, status: int) -> None:
    """A 3xx on a send or a GET is a RedirectError naming Location; the other origin gets 0 requests."""
    async with Elsewhere() as other:
        location = f"{other.url}/api/v1/messages"
        redirect = Fault(kind=FaultKind.RESPOND, status=status, headers={"Location": location})
        sandbox.state.faults.script(SEND, [redirect])
        sandbox.state.faults.script(USAGE, [redirect])
        async with Client(KEY, sandbox.base_url, rate_limit=None, retry=FAST) as client:
            with pytest.raises(RedirectError) as sent:
                await client.messages.send_text(sender_phone=SENDER, to_phone=TO, content="redirected")
            with pytest.raises(RedirectError) as got:
                await client.usage.get()
        assert other.requests == []
    for err in (sent.value, got.value):
        assert err.status == status
        assert err.location == location
        assert location in str(err)
    assert len(sandbox.state.requests) == 2
    assert not sandbox.state.ledger


async def test_plain_http_to_a_remote_host_is_refused() -> None:
    """http:// would send the key in clear: only loopback, or with allow_insecure_http=True."""
    with pytest.raises(ValidationError) as info:
        Client(KEY, "http://api.example.com")
    assert KEY not in str(info.value)
    Client(KEY, "http://api.example.com", allow_insecure_http=True)
    Client(KEY, "http://[::1]:8080")


def _closed_port() -> tuple[socket.socket, str]:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    return holder, f"http://127.0.0.1:{holder.getsockname()[1]}"


async def _every_failure(sb: SandboxServer) -> tuple[list[Any], list[Client]]:
    """Provoke a success and every error type with KEY; returns what was returned or raised."""
    results: list[Any] = []
    state = sb.state
    client = Client(KEY, sb.base_url, rate_limit=None, retry=FAST, timeouts=Timeouts(read=0.2))
    scoped = Client(SCOPED_KEY, sb.base_url, rate_limit=None, retry=FAST)
    holder, closed_url = _closed_port()
    nowhere = Client(KEY, closed_url, rate_limit=None, retry=FAST.evolve(max_attempts=2))

    async def attempt(coro: Any) -> None:
        try:
            results.append(await coro)
        except TgoError as exc:
            results.append(exc)

    def text(content: str, *, sender: str = SENDER, to: str = TO, via: Client = client, **kw: Any) -> Any:
        return via.messages.send_text(sender_phone=sender, to_phone=to, content=content, **kw)

    try:
        async with client, scoped, nowhere:
            await attempt(text("secret body: the first message"))                       # success
            await attempt(text("bad phone", to="01010000000"))                           # ValidationError
            await attempt(text("unknown sender", sender="+201009999999"))                # BadRequestError
            await attempt(text("pending account", sender="+201001187190"))              # AccountNotVerified
            await attempt(text("pending otp", sender="+201001187189"))                   # SenderNotActive
            await attempt(text("blocked", to="+201010000003"))                           # RecipientUnreach.
            await attempt(text("no scope", via=scoped))                                  # PermissionDenied
            await attempt(client.sender_numbers.get(99_999))                             # NotFoundError
            state.faults.script(SEND, [Fault(kind=FaultKind.RATE_LIMIT, retry_after=500)])
            await attempt(text("rate limited for long"))                                 # RateLimitError
            state.faults.script(USAGE, [FaultKind.SERVER_ERROR] * 3)
            await attempt(client.usage.get())                                            # ServerError
            state.faults.script(SEND, [FaultKind.BAD_GATEWAY_HTML])
            await attempt(text("gateway"))                                               # unknown (502)
            state.faults.script(SEND, [FaultKind.DROP_AFTER])
            await attempt(text("dropped after"))                                         # unknown (lost)
            state.faults.script(SEND, [Fault(kind=FaultKind.LATENCY, delay=0.5)])
            await attempt(text("too slow"))                                              # unknown (timeout)
            state.faults.script(USAGE, [Fault(kind=FaultKind.RESPOND, status=200, body="<html>hi</html>")])
            await attempt(client.usage.get())                                            # DecodeError
            state.faults.script(SEND, [Fault(kind=FaultKind.RESPOND, status=302,
                                             headers={"Location": "https://evil.example/steal"})])
            await attempt(text("redirected"))                                            # RedirectError
            await attempt(text("nobody listens", via=nowhere))                           # ConnectError
            state.revoke_key(KEY)
            await attempt(text("revoked"))                                               # AuthenticationError
    finally:
        holder.close()
    return results, [client, scoped, nowhere]


def _texts_of(err: BaseException) -> list[str]:
    texts = [repr(err), str(err), repr(vars(err)),
             "".join(traceback.TracebackException.from_exception(err, capture_locals=True).format())]
    cause = getattr(err, "cause", None)
    if cause is not None:
        texts += [repr(cause), str(cause), repr(vars(cause))]
    return texts


async def test_the_api_key_never_appears_in_logs_reprs_errors_or_tracebacks(
        sandbox: SandboxServer, caplog: pytest.LogCaptureFixture) -> None:
    """Every error type, an unknown outcome, a redirect and a timeout at DEBUG: the key appears 0 times."""
    caplog.set_level(logging.DEBUG)
    for name in ("tgo_async", "aiohttp"):
        caplog.set_level(logging.DEBUG, logger=name)
    results, clients = await _every_failure(sandbox)

    errors = [r for r in results if isinstance(r, BaseException)]
    expected = [ValidationError, BadRequestError, AccountNotVerifiedError, SenderNotActiveError,
                RecipientUnreachableError, PermissionDeniedError, NotFoundError, RateLimitError, ServerError,
                OutcomeUnknownError, OutcomeUnknownError, OutcomeUnknownError, DecodeError, RedirectError,
                ConnectError, AuthenticationError]
    assert [type(e) for e in errors] == expected
    assert not isinstance(results[0], BaseException)  # the first send succeeded
    causes = [type(e.cause) for e in errors if isinstance(e, OutcomeUnknownError)]
    assert [c.__name__ for c in causes] == ["ServerError", "ConnectionLostError", "ConnectionLostError"]
    assert any(isinstance(e, APIError) and e.status == 401 for e in errors)

    texts: list[str] = []
    for err in errors:
        texts += _texts_of(err)
    for client in clients:
        texts += [repr(client), str(client), repr(client.config), str(client.config), repr(vars(client)),
                  repr(client._transport), repr(client._requester)]
    texts += [repr(r) for r in results]
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    log_texts = [formatter.format(record) + repr(record.args) for record in caplog.records]
    assert log_texts, "DEBUG logging captured nothing"
    for secret in (KEY, SCOPED_KEY):
        leaks = [t for t in texts + log_texts if secret in t]
        assert leaks == [], leaks[:3]


async def test_logs_mask_phone_numbers_and_message_bodies(
        sandbox: SandboxServer, caplog: pytest.LogCaptureFixture) -> None:
    """tgo_async log records never carry a full phone number or a message body."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="tgo_async")
    sandbox.state.faults.script(SEND, [Fault(kind=FaultKind.RATE_LIMIT, retry_after=0.01),
                                       FaultKind.SERVER_ERROR])
    sandbox.state.faults.script("GET /api/v1/contacts/lookup", [FaultKind.SERVER_ERROR, None])
    body = "confidential body 7731"
    async with Client(KEY, sandbox.base_url, rate_limit=None, retry=FAST) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.messages.send_text(sender_phone=SENDER, to_phone=TO, content=body)
        await client.contacts.lookup(TO, sender_phone=SENDER)
        await client.sender_numbers.register("+201001187555", display_name="New")
    ours = [r for r in caplog.records if r.name.startswith("tgo_async")]
    assert ours, "nothing was logged at DEBUG"
    for record in ours:
        message = record.getMessage()
        for secret in (body, TO, SENDER, "+201001187555", TO.lstrip("+"), SENDER.lstrip("+"), KEY):
            assert secret not in message, (record.name, message)
