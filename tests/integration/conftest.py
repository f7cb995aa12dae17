"""Shared fixtures for the loopback integration tests.

The plugin's ``tgo_sandbox`` / ``tgo_client`` fixtures (``tgo_async.pytest_plugin``) are the default;
these add what they cannot give: a sandbox that records raw request headers and query strings, a
factory for clients with other keys or policies (closed at teardown), canned responses, and a fake
clock + sleep so retries and polling never wait in real time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

import attrs
import pytest
import pytest_asyncio
from aiohttp import web

import tgo_async
from tgo_async.sandbox import Fault, FaultKind, SandboxServer


@attrs.define
class SeenRequest:
    """What reached the server, before the sandbox's own handling: method, raw query, headers."""

    method: str
    path: str
    query_string: str
    query: dict[str, str]
    headers: dict[str, str]


@attrs.define
class RecordingSandbox:
    """A running sandbox plus every request it received, as the server saw it."""

    server: SandboxServer
    seen: list[SeenRequest]

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def state(self) -> Any:
        return self.server.state


@pytest_asyncio.fixture
async def recording_sandbox() -> AsyncIterator[RecordingSandbox]:
    """The sandbox with an outermost middleware that records each request's headers and raw query."""
    server = SandboxServer()
    seen: list[SeenRequest] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.append(
            SeenRequest(
                request.method, request.path, request.query_string, dict(request.query), dict(request.headers)
            )
        )
        return await handler(request)  # type: ignore[no-any-return]

    server.app.middlewares.insert(0, record)  # the app is frozen only when the server starts
    async with server:
        yield RecordingSandbox(server, seen)


MakeClient = Callable[..., tgo_async.Client]


@pytest_asyncio.fixture
async def make_client(tgo_sandbox: SandboxServer) -> AsyncIterator[MakeClient]:
    """``make_client("sandbox-key-send", retry=...)``: clients on ``tgo_sandbox``, closed after the test."""
    clients: list[tgo_async.Client] = []

    def make(api_key: str = "sandbox-key-all", **kwargs: Any) -> tgo_async.Client:
        kwargs.setdefault("base_url", tgo_sandbox.base_url)
        client = tgo_async.Client(api_key=api_key, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


Respond = Callable[..., None]


@pytest.fixture
def respond(tgo_sandbox: SandboxServer) -> Respond:
    """``respond("GET /api/v1/usage", body, ..., status=200)``: the next requests get these verbatim."""

    def script(route: str, *bodies: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        tgo_sandbox.state.faults.script(
            route,
            [Fault(FaultKind.RESPOND, route=route, status=status, body=b, headers=headers) for b in bodies],
        )

    return script


@attrs.define
class FakeTime:
    """A monotonic clock that only the fake ``sleep`` moves; ``sleeps`` lists every requested sleep."""

    now: float = 1000.0
    sleeps: list[float] = attrs.Factory(list)
    on_sleep: Callable[[int], None] | None = None
    """Called with the number of sleeps so far, after time has moved: lets a test change state mid-poll."""

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))

    def kwargs(self) -> dict[str, Callable[..., Any]]:
        """``Client(**fake_time.kwargs())``."""
        clock: Callable[[], float] = self.clock
        sleep: Callable[[float], Awaitable[None]] = self.sleep
        return {"clock": clock, "sleep": sleep}


@pytest.fixture
def fake_time() -> Iterator[FakeTime]:
    """Injected into ``Client(clock=..., sleep=...)``: no test waits for a retry or a poll."""
    return FakeTime()
