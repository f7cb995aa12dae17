"""``SandboxServer``: the application on a real loopback socket, started and stopped with ``async with``."""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

from ._app import make_app
from ._state import SandboxState

__all__ = ["SandboxServer"]


class SandboxServer:
    """Serve a ``SandboxState`` over HTTP on ``host:port`` (``port=0`` picks a free port).

    ``seed`` seeds a new state's OTPs and random faults (ignored when ``state`` is given);
    ``rate_limit``/``rate_burst``, when given, are written into the state (adjust them there later).
    The server runs on the caller's loop, so tests mutate ``server.state`` directly.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        state: SandboxState | None = None,
        rate_limit: float | None = None,
        rate_burst: int | None = None,
        seed: int = 0,
        shutdown_timeout: float = 1.0,
    ) -> None:
        self.host = host
        self.port = port
        self.state = state if state is not None else SandboxState(seed=seed)
        if rate_limit is not None:
            self.state.rate_limit = rate_limit
        if rate_burst is not None:
            self.state.rate_burst = rate_burst
        self.app = make_app(self.state)
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` (the port actually bound once started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve. Access logging is off: it would cost more than the handlers themselves."""
        if self._runner is not None:
            raise RuntimeError("SandboxServer already started")
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=self._shutdown_timeout
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])

    async def close(self) -> None:
        """Stop serving and close every connection; idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<SandboxServer {self.base_url} running={self._runner is not None}>"
