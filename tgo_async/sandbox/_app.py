"""The aiohttp application: one middleware applies, in this order, request log, rate limit, fault,
authentication and scope, then the handler; it also turns every error into the JSON error body."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from . import _control, _handlers
from ._faults import PRE_KINDS, Fault, FaultKind
from ._http import STATE_KEY, ApiError, error_response, retry_after_headers
from ._models import RequestRecord
from ._send import KEY_KEY, RECORD_KEY, parse_send, send_message
from ._state import SandboxState

__all__ = ["API_PREFIX", "make_app"]

log = logging.getLogger("tgo_async.sandbox")

API_PREFIX = "/api/v1"
SEND_PATH = f"{API_PREFIX}/messages"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Required scope per API handler; None = any valid key.
SCOPES: dict[Any, str | None] = {
    _handlers.list_senders: None,
    _handlers.register_sender: "messages.send",
    send_message: "messages.send",
    _handlers.lookup_contact: "contacts.lookup",
    _handlers.list_messages: "messages.read",
    _handlers.usage: "usage.read",
}


_HTML = (
    "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n<center><h1>{0}</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


class _RequestIds:
    """``req_<6 hex, random per server>_<counter>``: unique, and cheaper than a uuid4 per request."""

    __slots__ = ("_counter", "_prefix")

    def __init__(self) -> None:
        self._prefix = f"req_{os.urandom(3).hex()}_"
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter)}"


_IDS = web.AppKey("tgo_sandbox_ids", _RequestIds)


def _key_label(state: SandboxState, raw: str | None) -> str | None:
    """Sandbox keys are logged by name; anything else only as a short hash."""
    if raw is None:
        return None
    if raw in state.keys:
        return raw
    return "unknown:" + hashlib.sha256(raw.encode()).hexdigest()[:8]


def _http_exception(exc: web.HTTPException) -> web.Response:
    """aiohttp's own 404/405/413 ... as the JSON error body (keeping ``Allow`` on 405)."""
    headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
    code = _HTTP_CODES.get(exc.status, f"http_{exc.status}")
    return error_response(exc.status, code, f"{exc.reason}.", headers=headers)


def _html(status: int, title: str) -> web.Response:
    return web.Response(status=status, text=_HTML.format(title), content_type="text/html")


def _fault_response(fault: Fault, record: RequestRecord) -> web.Response:
    """The answer of a fault handled before processing (all but the drops, which never answer)."""
    kind = fault.kind
    if kind is FaultKind.RATE_LIMIT:
        record.retry_after = fault.retry_after
        return error_response(
            429, "rate_limited", "Too Many Attempts.", headers=retry_after_headers(fault.retry_after)
        )
    if kind is FaultKind.UNAVAILABLE_RETRY_AFTER:
        record.retry_after = fault.retry_after
        return error_response(
            503, "service_unavailable", "Service Unavailable.", headers=retry_after_headers(fault.retry_after)
        )
    if kind is FaultKind.UNAVAILABLE:
        return error_response(503, "service_unavailable", "Service Unavailable.")
    if kind is FaultKind.SERVER_ERROR:
        return error_response(500, "server_error", "Server Error.")
    if kind is FaultKind.BAD_GATEWAY_HTML:
        return _html(502, "502 Bad Gateway")
    if kind is FaultKind.GATEWAY_TIMEOUT:
        return _html(504, "504 Gateway Time-out")
    if kind is FaultKind.REQUEST_TIMEOUT:
        resp = error_response(408, "request_timeout", "Request Timeout.", headers={"Connection": "close"})
        resp.force_close()
        return resp
    # RESPOND: canned status/body/headers, verbatim.
    body = fault.body
    headers = dict(fault.headers or {})
    if body is None:
        payload = b""
    elif isinstance(body, bytes):
        payload = body
    elif isinstance(body, str):
        payload = body.encode()
    else:
        payload = orjson.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    return web.Response(status=fault.status, body=payload, headers=headers)


def _abort(request: web.Request, record: RequestRecord) -> web.Response:
    """Kill the connection without an answer. The returned response is never written: aiohttp fails
    to write it to the closed transport and drops it quietly ("premature client disconnection")."""
    record.status = None
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=204)


async def _drained(request: web.Request, state: SandboxState, record: RequestRecord) -> bool:
    """Consume the body of a request answered early (or dropped), so the client has finished writing;
    for a send, note the item on the record so tests can follow each item through 429s, 503s and drops.
    False if the client went away meanwhile."""
    try:
        if request.method == "POST" and request.path == SEND_PATH:
            with contextlib.suppress(ValueError, HttpProcessingError, web.HTTPException):
                record.item = (await parse_send(request, state)).identity()
        while await request.content.readany():
            pass
    except ConnectionError:
        return False
    return True


def _authenticate(request: web.Request, state: SandboxState, raw_key: str | None) -> None:
    """401 for a missing, unknown or revoked key; 403 ``missing_scope`` naming the scope needed."""
    scope = SCOPES[request.match_info.handler]
    api_key = state.keys.get(raw_key) if raw_key else None
    if api_key is None or api_key.revoked:
        raise ApiError(401, "unauthenticated", "Unauthenticated.")
    if not api_key.allows(scope):
        assert scope is not None
        raise ApiError(
            403, "missing_scope", f"This API key does not have the {scope} scope.", required_scope=scope
        )
    request[KEY_KEY] = api_key


def _finish(
    resp: web.StreamResponse, record: RequestRecord, extra: dict[str, str] | None
) -> web.StreamResponse:
    record.status = resp.status
    headers = resp.headers
    headers.setdefault("X-Request-Id", record.request_id)
    if extra:
        for name, value in extra.items():
            headers.setdefault(name, value)
    return resp


async def _api(request: web.Request, handler: Handler, rid: str) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    now = asyncio.get_running_loop().time()
    raw_key = request.headers.get("X-Api-Key")
    method, path = request.method, request.path
    is_send = method == "POST" and path == SEND_PATH
    record = RequestRecord(method, path, now, _key_label(state, raw_key), rid)
    state.requests.append(record)
    request[RECORD_KEY] = record
    extra: dict[str, str] | None = None
    if state.rate_limit:
        verdict = state.buckets.take(raw_key or "", state.rate_limit, state.effective_burst(), now)
        extra = verdict.headers
        if not verdict.allowed:
            record.retry_after = verdict.retry_after
            if is_send and not await _drained(request, state, record):
                return _abort(request, record)
            limited = error_response(
                429, "rate_limited", "Too Many Attempts.", headers=retry_after_headers(verdict.retry_after)
            )
            return _finish(limited, record, extra)
    fault = state.faults.pick(f"{method} {path}")
    kind = None
    if fault is not None:
        kind = record.fault = fault.kind
        if kind in PRE_KINDS:
            if kind is FaultKind.DROP_BEFORE:
                await _drained(request, state, record)
                return _abort(request, record)
            if is_send and not await _drained(request, state, record):
                return _abort(request, record)
            return _finish(_fault_response(fault, record), record, extra)
        if kind is FaultKind.LATENCY:
            await asyncio.sleep(fault.delay)
    resp: web.StreamResponse
    try:
        if request.match_info.http_exception is None:
            _authenticate(request, state, raw_key)
        resp = await handler(request)
    except ApiError as exc:
        resp = exc.response()
    except web.HTTPException as exc:
        resp = _http_exception(exc)
    except ConnectionError:  # the client went away mid-request: not the sandbox's problem
        return _abort(request, record)
    except Exception:  # a sandbox bug: say so loudly, but still answer the documented error shape
        log.exception("sandbox handler failed for %s %s", method, path)
        resp = error_response(500, "server_error", "Server Error.")
    if kind is FaultKind.DROP_AFTER:
        return _abort(request, record)
    if kind is FaultKind.ERROR_AFTER:
        resp = error_response(500, "server_error", "Server Error.")
    return _finish(resp, record, extra)


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = request.app[_IDS].next()
    if request.path.startswith("/api/"):
        return await _api(request, handler, rid)
    resp: web.StreamResponse
    try:
        resp = await handler(request)
    except ApiError as exc:
        resp = exc.response()
    except web.HTTPException as exc:
        resp = _http_exception(exc)
    resp.headers["X-Request-Id"] = rid
    return resp


def make_app(state: SandboxState) -> web.Application:
    """The full application (API under ``/api/v1``, test control under ``/_sandbox``)."""
    app = web.Application(middlewares=[_middleware])
    app[STATE_KEY] = state
    app[_IDS] = _RequestIds()
    add = app.router.add_route
    add("GET", f"{API_PREFIX}/sender-numbers", _handlers.list_senders)
    add("POST", f"{API_PREFIX}/sender-numbers", _handlers.register_sender)
    add("POST", f"{API_PREFIX}/messages", send_message)
    add("GET", f"{API_PREFIX}/messages", _handlers.list_messages)
    add("GET", f"{API_PREFIX}/contacts/lookup", _handlers.lookup_contact)
    add("GET", f"{API_PREFIX}/usage", _handlers.usage)
    _control.add_routes(app.router)
    return app
