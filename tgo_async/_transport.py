"""The one place that talks to aiohttp: session lifecycle, one request, exception mapping.

Every aiohttp exception is turned into ours here, raised ``from None``: aiohttp's exceptions
and the frames they come from hold the request headers, so the API key, and must not ride
along in ``__cause__`` or in a traceback printed with locals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp.payload import BytesPayload
from multidict import CIMultiDictProxy
from yarl import URL

from ._config import ClientConfig, mask_key
from ._errors import ClientClosedError, ConnectError, ConnectionLostError, RedirectError
from ._read_deadline import ReadDeadlines

__all__ = ["RawResponse", "Transport"]

log = logging.getLogger("tgo_async")

_NO_READ_LIMIT = 365 * 86400.0
_JSON = "application/json"


class _SecretHeaders(dict[str, str]):
    """Request headers whose repr never shows the API key."""

    def __repr__(self) -> str:
        return repr({k: (mask_key(v) if k == "X-Api-Key" else v) for k, v in self.items()})


class RawResponse:
    """Status, headers and the whole body; the aiohttp response is already released."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: CIMultiDictProxy[str] | Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"RawResponse(status={self.status}, body={len(self.body)} bytes)"


class Transport:
    """Owns (or borrows) the pooled ``aiohttp.ClientSession``; created lazily inside the loop."""

    def __init__(self, config: ClientConfig, session: aiohttp.ClientSession | None = None) -> None:
        self._config = config
        self._session = session
        self._owns_session = session is None
        self._closed = False
        base = {"X-Api-Key": config.api_key, "Accept": "application/json", "User-Agent": config.user_agent}
        # A session of our own carries these as its default headers, so a request passes none and
        # aiohttp skips merging a dict into them (~1 µs per request); a lent session gets them on
        # every request, and JSON bodies say their Content-Type.
        self._base_headers = _SecretHeaders(base)
        self._request_headers = None if session is None else self._base_headers
        self._json_headers = None if session is None else _SecretHeaders(base, **{"Content-Type": _JSON})
        t = config.timeouts
        # A session of our own enforces the JSON read timeout with ReadDeadlines (one timer per client);
        # a borrowed one has aiohttp's response class, so it keeps sock_read (a timer per read).
        self._deadlines = ReadDeadlines(t.read) if session is None and t.read else None
        self._read = t.read
        self.json_timeout = aiohttp.ClientTimeout(total=None, connect=t.connect, sock_connect=t.sock_connect,
                                                  sock_read=None if self._deadlines is not None else t.read)
        # Uploads always carry a sock_read (a year if none is configured): that is how ReadDeadlines,
        # whose window would start before a large body has been written, knows to leave them alone.
        self.media_timeout = aiohttp.ClientTimeout(total=None, connect=t.connect, sock_connect=t.sock_connect,
                                                   sock_read=t.media_read or _NO_READ_LIMIT)
        self._uncut = {False: max(t.connect or 0, t.read or 0), True: max(t.connect or 0, t.media_read or 0)}
        self.base_url = URL(config.base_url)

    def __repr__(self) -> str:
        return f"Transport(base_url={self._config.base_url!r}, key={mask_key(self._config.api_key)!r})"

    def url(self, path: str) -> URL:
        """Join once; callers keep the result for paths they use on every request."""
        return URL(self._config.base_url + path)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            if self._closed:
                raise ClientClosedError("this tgo_async.Client is closed; create a new one")
            loop = asyncio.get_running_loop()  # a session must be born inside the loop that will use it
            connector = aiohttp.TCPConnector(
                limit=self._config.connector_limit,
                limit_per_host=self._config.connector_limit_per_host,
                keepalive_timeout=self._config.keepalive_timeout,
            )
            extra: dict[str, Any] = {}
            if self._deadlines is not None:
                extra["response_class"] = self._deadlines.response_class
                self._deadlines.loop = loop
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.json_timeout,
                                                  headers=self._base_headers, auto_decompress=True,
                                                  trust_env=False, **extra)
        return self._session

    async def aclose(self) -> None:
        self._closed = True
        if self._deadlines is not None:
            self._deadlines.close()
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    async def request(
        self,
        method: str,
        url: URL,
        *,
        json: bytes | None = None,
        form: aiohttp.FormData | None = None,
        time_left: float | None = None,
    ) -> RawResponse:
        """One HTTP exchange: a JSON body, a multipart upload, or neither (GET).

        Raises ConnectError, ConnectionLostError or RedirectError. ``time_left`` (seconds of the
        call's deadline) cuts every timeout; an upload gets the media read timeout.
        """
        upload = form is not None
        data: Any
        if json is not None:
            headers = self._json_headers
            # Our own session: the payload says its Content-Type, so the request needs no headers.
            data = json if headers is not None else BytesPayload(json, content_type=_JSON)
        else:
            headers = self._request_headers
            data = form
        timeout = self.json_timeout if not upload else self.media_timeout
        if time_left is not None and time_left < self._uncut[upload]:
            timeout = self._cut(timeout, time_left, upload)
        deadlines = self._deadlines
        try:
            # Awaited, not ``async with``: read() waits for the request writer and the connection's
            # release as the context manager would, and skips its five coroutines per request.
            resp = await self.session.request(method, url, headers=headers, data=data, allow_redirects=False,
                                              timeout=timeout)
            try:
                body = await resp.read()
            finally:
                if deadlines is not None:
                    deadlines.forget(resp)
                resp.release()
            status = resp.status
            resp_headers = resp.headers
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise ConnectError(_describe(exc, url)) from None
        except aiohttp.SocketTimeoutError:
            raise ConnectionLostError(f"no response from {url.host} within the read timeout",
                                      timeout=True) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise ConnectionLostError(_describe(exc, url)) from None
        if 300 <= status < 400 and status != 304:
            raise RedirectError(status, resp_headers.get("Location"))
        return RawResponse(status, resp_headers, body)

    def _cut(self, base: aiohttp.ClientTimeout, time_left: float, upload: bool) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts for a request near the end of its call's deadline: cut to what is left.

        A cut JSON call gets aiohttp's sock_read (rare), so ReadDeadlines, whose window is the
        configured one, leaves it alone.
        """
        left = max(time_left, 0.001)
        read = base.sock_read if upload or self._deadlines is None else self._read
        return aiohttp.ClientTimeout(total=None, connect=min(left, base.connect or left),
                                     sock_connect=min(left, base.sock_connect or left),
                                     sock_read=None if not read else min(left, read))


def _describe(exc: BaseException, url: URL) -> str:
    """Exception type and text without anything that could carry headers."""
    if isinstance(exc, aiohttp.ClientResponseError):  # its repr/str may include request info
        return f"{type(exc).__name__} talking to {url.host}:{url.port}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__} talking to {url.host}:{url.port}: {text}"
