"""pytest fixtures that run the embedded TGO sandbox, so users test their integration without a network.

Enabling it: the plugin is registered through the ``pytest11`` entry point of the ``tgo_async``
distribution, so installing ``tgo_async`` (plus ``pytest-asyncio``) into the test environment is enough;
the fixtures are then available in every test. If plugin autoloading is disabled
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD``), add ``pytest_plugins = ["tgo_async.pytest_plugin"]`` to your
top-level ``conftest.py`` or run ``pytest -p tgo_async.pytest_plugin``.

Fixtures (function-scoped, async):

* ``tgo_sandbox`` -- a running :class:`tgo_async.sandbox.SandboxServer` on a free loopback port;
  mutate ``tgo_sandbox.state`` to add faults, change sender statuses or read the ledger.
* ``tgo_client`` -- a ``tgo_async.Client`` authenticated with ``sandbox-key-all`` against that sandbox.

Configure the server per test with the marker ``@pytest.mark.tgo_sandbox(rate_limit=50.0, seed=3)``;
its keyword arguments go to ``SandboxServer``.

Imports of the sandbox and the client happen inside the fixtures, so merely loading this plugin (which
pytest does for every test run in an environment where tgo_async is installed) stays cheap, and works
without pytest-asyncio (the fixtures then fail with a message saying it is needed).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tgo_async.sandbox import SandboxServer

try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - this plugin loads in every pytest run where tgo_async is installed

    def _async_fixture(func: Callable[..., Any]) -> Any:  # type: ignore[no-redef]
        """Without pytest-asyncio, fail clearly when the fixture is used instead of breaking pytest."""

        @pytest.fixture(name=func.__name__)
        def _needs_pytest_asyncio() -> None:
            pytest.fail("tgo_async's pytest fixtures need pytest-asyncio (pip install pytest-asyncio)", False)

        return _needs_pytest_asyncio


__all__ = ["tgo_client", "tgo_sandbox"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers", "tgo_sandbox(**kwargs): keyword arguments for the tgo_sandbox fixture's SandboxServer"
    )


@_async_fixture
async def tgo_sandbox(request: pytest.FixtureRequest) -> AsyncIterator[SandboxServer]:
    """A fresh in-memory sandbox per test: state never leaks between tests."""
    from tgo_async.sandbox import SandboxServer

    marker = request.node.get_closest_marker("tgo_sandbox")
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    async with SandboxServer(**kwargs) as server:
        yield server


@_async_fixture
async def tgo_client(tgo_sandbox: SandboxServer) -> AsyncIterator[Any]:
    """A client with every scope, pointed at ``tgo_sandbox``; closed after the test."""
    # Looked up at run time: the fixture must not make importing this plugin depend on the client.
    client_cls: Any = importlib.import_module("tgo_async").Client
    async with client_cls(api_key="sandbox-key-all", base_url=tgo_sandbox.base_url) as client:
        yield client
