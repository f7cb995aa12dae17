"""Session lifecycle: lazy creation inside the loop, who closes what, closed clients, no leak warnings.

Reaching into ``client._transport._session`` is deliberate: the session is private, but "created
lazily" and "closed by aclose()" are only observable on it.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import warnings
from typing import Any

import aiohttp
import pytest

import tgo_async
from tgo_async.sandbox import SandboxServer

R = "+201010000000"


def _session(client: tgo_async.Client) -> aiohttp.ClientSession | None:
    return client._transport._session


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_client_constructed_outside_a_running_loop() -> None:
    """Constructing needs no loop; the session is born inside the loop that first uses it."""
    port = _free_port()
    client = tgo_async.Client(api_key="sandbox-key-all", base_url=f"http://127.0.0.1:{port}")
    assert _session(client) is None

    async def use() -> tuple[int, bool]:
        async with SandboxServer(port=port):
            async with client:
                senders = await client.sender_numbers.list()
                session = _session(client)
                assert session is not None
                assert session._loop is asyncio.get_running_loop()
            return len(senders), session.closed

    assert asyncio.run(use()) == (6, True)


async def test_session_is_created_lazily_and_reused(tgo_sandbox: SandboxServer) -> None:
    """No session until the first request; then one session serves every request, concurrent ones too."""
    async with tgo_async.Client(api_key="sandbox-key-all", base_url=tgo_sandbox.base_url) as client:
        assert _session(client) is None
        await client.usage.get()
        first = _session(client)
        assert isinstance(first, aiohttp.ClientSession)
        await asyncio.gather(*(client.contacts.lookup(phone=R) for _ in range(5)))
        assert _session(client) is first


async def test_aclose_closes_owned_session(tgo_sandbox: SandboxServer) -> None:
    """aclose() closes the session and connector the client created; a second aclose() is harmless."""
    client = tgo_async.Client(api_key="sandbox-key-all", base_url=tgo_sandbox.base_url)
    await client.usage.get()
    session = _session(client)
    assert session is not None
    assert not session.closed
    await client.aclose()
    assert session.closed
    assert session.connector is None
    await client.aclose()


async def test_async_with_closes_owned_session(tgo_sandbox: SandboxServer) -> None:
    """Leaving ``async with`` closes the owned session, also when the body raised."""
    sessions: list[aiohttp.ClientSession | None] = []
    client = tgo_async.Client(api_key="sandbox-key-revoked", base_url=tgo_sandbox.base_url)

    async def use() -> None:
        async with client:
            try:
                await client.usage.get()
            finally:
                sessions.append(_session(client))

    with pytest.raises(tgo_async.AuthenticationError):
        await use()
    [session] = sessions
    assert session is not None
    assert session.closed
    assert _session(client) is None
    with pytest.raises(RuntimeError, match="closed"):
        await client.usage.get()


async def test_aclose_unused_client_creates_nothing(tgo_sandbox: SandboxServer) -> None:
    """Closing a client that never sent anything does not create (and leak) a session."""
    client = tgo_async.Client(api_key="sandbox-key-all", base_url=tgo_sandbox.base_url)
    await client.aclose()
    assert _session(client) is None
    assert tgo_sandbox.state.requests == []


async def test_callers_session_is_never_closed(tgo_sandbox: SandboxServer) -> None:
    """A session passed in is used for the calls and stays open after aclose() / async with."""
    async with aiohttp.ClientSession() as session:
        async with tgo_async.Client(
            api_key="sandbox-key-all", base_url=tgo_sandbox.base_url, session=session
        ) as client:
            await client.messages.send_text(sender_number_id=12, to_phone=R, content="borrowed")
            assert _session(client) is session
        assert not session.closed
        await client.aclose()
        assert not session.closed
        async with session.get(f"{tgo_sandbox.base_url}/_sandbox/ledger") as resp:
            assert resp.status == 200
    assert len(tgo_sandbox.state.ledger) == 1


async def test_closed_client_raises_clear_error(tgo_sandbox: SandboxServer) -> None:
    """Any call on a closed client, owned session or borrowed, says the client is closed; nothing is sent."""
    owned = tgo_async.Client(api_key="sandbox-key-all", base_url=tgo_sandbox.base_url)
    await owned.usage.get()
    await owned.aclose()
    async with aiohttp.ClientSession() as session:
        borrowed = tgo_async.Client(api_key="sandbox-key-all", base_url=tgo_sandbox.base_url, session=session)
        await borrowed.aclose()
        for client in (owned, borrowed):
            with pytest.raises(tgo_async.ClientClosedError, match=r"this tgo_async\.Client is closed"):
                await client.messages.send_text(sender_number_id=12, to_phone=R, content="late")
            with pytest.raises(RuntimeError, match="closed"):
                [m async for m in client.messages.list()]
        assert not session.closed
    assert len(tgo_sandbox.state.requests) == 1
    assert tgo_sandbox.state.ledger == []


async def test_connector_limits_are_configurable(tgo_sandbox: SandboxServer) -> None:
    """connector_limit / connector_limit_per_host reach the pooled connector."""
    async with tgo_async.Client(
        api_key="sandbox-key-all",
        base_url=tgo_sandbox.base_url,
        connector_limit=7,
        connector_limit_per_host=3,
    ) as client:
        await client.usage.get()
        session = _session(client)
        assert session is not None
        assert session.connector is not None
        assert (session.connector.limit, session.connector.limit_per_host) == (7, 3)


async def test_env_vars_supply_key_and_base_url(
    tgo_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TGO_API_KEY / TGO_BASE_URL are used when no arguments are given; arguments win over them."""
    monkeypatch.setenv("TGO_API_KEY", "sandbox-key-all")
    monkeypatch.setenv("TGO_BASE_URL", tgo_sandbox.base_url)
    async with tgo_async.Client() as client:
        assert len(await client.sender_numbers.list()) == 6
    async with tgo_async.Client(api_key="sandbox-key-revoked") as client:
        with pytest.raises(tgo_async.AuthenticationError):
            await client.sender_numbers.list()
    assert [r.key for r in tgo_sandbox.state.requests] == ["sandbox-key-all", "sandbox-key-revoked"]


async def test_no_unclosed_session_warning_after_use(tgo_sandbox: SandboxServer) -> None:
    """Used-and-closed and never-used clients leave no ResourceWarning; a leaked raw session is caught."""
    loop = asyncio.get_running_loop()
    reported: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: reported.append(str(ctx.get("message"))))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async with tgo_async.Client(api_key="sandbox-key-all", base_url=tgo_sandbox.base_url) as client:
                await client.usage.get()
                await client.messages.send_document(sender_number_id=12, to_phone=R, media=b"%PDF")
            unused: Any = tgo_async.Client(api_key="sandbox-key-all", base_url=tgo_sandbox.base_url)
            del client, unused
            gc.collect()
            ours = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
            ours += reported
            assert ours == []
            # The detector works: a session nobody closes is reported the same way.
            leaked: Any = aiohttp.ClientSession()
            del leaked
            gc.collect()
            control = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] + reported
    finally:
        loop.set_exception_handler(previous)
    assert any("Unclosed client session" in text for text in control)


_AIOHTTP = tuple(int(p) for p in aiohttp.__version__.split(".")[:2])
_STREAM_WRITER = r"ClientResponse\.__init__\(\) missing 1 required keyword-only argument: 'stream_writer'"
# pytest >= 8.4 can also pin the message; older ones check the type only.
_AIORESPONSES_BROKEN: Any = (
    pytest.RaisesExc(TypeError, match=_STREAM_WRITER) if hasattr(pytest, "RaisesExc") else TypeError
)


@pytest.mark.xfail(
    _AIOHTTP >= (3, 14),
    strict=True,
    raises=_AIORESPONSES_BROKEN,
    reason="aioresponses 0.7.9 on aiohttp >= 3.14: TypeError: ClientResponse.__init__() missing 1 required "
    "keyword-only argument: 'stream_writer' (pnuckowski/aioresponses#289); strict, so a fixed release "
    "shows up as XPASS",
)
async def test_aioresponses_mocks_a_client_call() -> None:
    """aioresponses can stand in for the server (today it cannot: tests use the loopback sandbox)."""
    aioresponses = pytest.importorskip("aioresponses").aioresponses
    with aioresponses() as mocked:
        mocked.get(
            "https://tenant.example/api/v1/usage",
            payload={"data": [{"sender_number_id": 12, "total": 3, "text": 3}]},
        )
        async with tgo_async.Client(api_key="k" * 20, base_url="https://tenant.example") as client:
            usage = await client.usage.get()
    assert usage.total == 3
