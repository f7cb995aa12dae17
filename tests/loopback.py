"""A raw loopback aiohttp server for tests that need a slow answer rather than the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

SLOW_SERVER_MESSAGE = {"id": 1, "sender_number_id": 12, "to_phone": "+201010000000", "message_type": "text",
                       "content": "hi", "status": "queued", "sent_at": "2025-01-10T08:00:00Z"}


@contextlib.asynccontextmanager
async def slow_message_server() -> AsyncIterator[tuple[str, dict[str, float]]]:
    """A raw loopback server answering ``POST /api/v1/messages`` after ``delay["s"]`` seconds.

    Yields (base URL, delay); a plain context manager so tests that run their own loop can use it.
    """
    delay = {"s": 0.0}

    async def send(request: web.Request) -> web.Response:
        await request.read()
        if delay["s"]:
            await asyncio.sleep(delay["s"])
        return web.json_response(SLOW_SERVER_MESSAGE, status=201)

    app = web.Application()
    app.router.add_post("/api/v1/messages", send)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", delay
    finally:
        await runner.cleanup()
