"""Test-control routes under ``/_sandbox``: drive the OTP flow, keys, contacts, faults and settings of a
sandbox in another process (the CLI), and read its ledger and request log. No API key needed."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from aiohttp import web

from ._faults import Fault
from ._http import STATE_KEY, ApiError, json_response, validation_error
from ._models import SenderNumber
from ._state import SandboxState

__all__ = ["add_routes"]

_SETTINGS: dict[str, tuple[str, ...] | None] = {
    "envelope": ("wrapped", "bare"),
    "log_envelope": ("paginated", "bare"),
    "lookup_envelope": ("bare", "wrapped"),
    "timestamp_format": ("microseconds", "seconds"),
    "account_pending_shape": ("status", "verification_status"),
    "message_status": None,
    "rate_limit": None,
    "rate_burst": None,
}


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise validation_error({"body": ["The request body is not valid JSON."]}) from None
    if not isinstance(data, dict):
        raise validation_error({"body": ["The request body must be a JSON object."]})
    return data


def _sender(request: web.Request) -> tuple[SandboxState, SenderNumber]:
    """``{sender}`` is an id or an E.164 phone (``%2B``-encoded)."""
    state = request.app[STATE_KEY]
    sender = state.find_sender(request.match_info["sender"])
    if sender is None:
        raise ApiError(404, "not_found", "No such sender number.")
    return state, sender


def _sender_json(state: SandboxState, sender: SenderNumber) -> dict[str, Any]:
    data = sender.to_json(state.timestamp_format)
    data["otp_pending"] = sender.otp is not None
    return data


async def _senders(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return json_response({"data": [_sender_json(state, s) for s in state.senders.values()]})


async def _add_sender(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _body(request)
    try:
        sender = state.add_sender(
            body["phone"],
            body.get("display_name"),
            status=body.get("status", "active"),
            verification_status=body.get("verification_status", "verified"),
        )
    except (KeyError, ValueError) as exc:
        raise validation_error({"phone": [f"Cannot add this sender: {exc}"]}) from None
    return json_response(_sender_json(state, sender), 201)


async def _get_otp(request: web.Request) -> web.Response:
    _, sender = _sender(request)
    if sender.otp is None:
        raise ApiError(404, "not_found", "No OTP is pending for this sender number.")
    return json_response({"otp": sender.otp})


async def _enter_otp(request: web.Request) -> web.Response:
    state, sender = _sender(request)
    body = await _body(request)
    try:
        state.enter_otp(
            sender.id, str(body.get("otp", "")), account_verified=bool(body.get("account_verified"))
        )
    except ValueError:
        raise validation_error({"otp": ["The OTP is invalid."]}) from None
    return json_response(_sender_json(state, sender))


async def _verify_account(request: web.Request) -> web.Response:
    state, sender = _sender(request)
    state.verify_account(sender.id)
    return json_response(_sender_json(state, sender))


async def _set_status(request: web.Request) -> web.Response:
    state, sender = _sender(request)
    body = await _body(request)
    status = body.get("status")
    if not isinstance(status, str) or not status:
        raise validation_error({"status": ["The status field is required."]})
    state.set_sender_status(sender.id, status, body.get("verification_status"))
    return json_response(_sender_json(state, sender))


async def _add_key(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _body(request)
    key, scopes = body.get("key"), body.get("scopes", [])
    if not isinstance(key, str) or not key or not isinstance(scopes, list):
        raise validation_error({"key": ["key (string) and scopes (list) are required."]})
    state.add_key(key, scopes)
    return web.Response(status=204)


async def _revoke_key(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    try:
        state.revoke_key(request.match_info["key"])
    except KeyError:
        raise ApiError(404, "not_found", "No such API key.") from None
    return web.Response(status=204)


async def _set_contact(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _body(request)
    phone = body.pop("phone", None)
    allowed = {"exists", "can_receive", "reason_code", "recipient_id", "is_verified"}
    if not isinstance(phone, str) or set(body) - allowed:
        raise validation_error({"phone": [f"phone plus any of {sorted(allowed)} expected."]})
    try:
        contact = state.set_contact(phone, **body)
    except ValueError as exc:
        raise validation_error({"phone": [str(exc)]}) from None
    return json_response(contact.to_json(state.timestamp_format), 201)


async def _get_faults(request: web.Request) -> web.Response:
    return json_response(request.app[STATE_KEY].faults.to_json())


async def _add_faults(request: web.Request) -> web.Response:
    """Body: one fault object, ``{"faults": [...]}``, or ``{"route": ..., "script": [kind|null|{...}]}``."""
    faults = request.app[STATE_KEY].faults
    body = await _body(request)
    try:
        if "script" in body:
            steps = [Fault.from_json(s) if isinstance(s, dict) else s for s in body["script"]]
            faults.script(str(body["route"]), steps)
        else:
            for spec in body.get("faults", [body]):
                faults.add(Fault.from_json(spec))
    except (KeyError, TypeError, ValueError) as exc:
        raise validation_error({"faults": [f"Invalid fault: {exc}"]}) from None
    return json_response(faults.to_json(), 201)


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[STATE_KEY].faults.clear()
    return web.Response(status=204)


async def _ledger(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    counts = Counter(e.identity for e in state.ledger)
    dupes = [{"to_phone": k[0], "content": k[1], "count": n} for k, n in counts.items() if n > 1]
    return json_response({"data": [e.to_json() for e in state.ledger], "duplicates": dupes})


async def _stats(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    records = state.requests
    by_status = Counter("dropped" if r.status is None else str(r.status) for r in records)
    by_fault = Counter(r.fault.value for r in records if r.fault is not None)
    return json_response(
        {
            "total_requests": len(records),
            "by_status": by_status,
            "by_fault": by_fault,
            "ledger_size": len(state.ledger),
            "duplicates": sum(n - 1 for n in state.duplicates().values()),
            "requests": [r.to_json() for r in records],
        }
    )


async def _reset(request: web.Request) -> web.Response:
    request.app[STATE_KEY].reset_logs()
    return web.Response(status=204)


async def _get_settings(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return json_response({name: getattr(state, name) for name in _SETTINGS})


async def _set_settings(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _body(request)
    errors: dict[str, list[str]] = {}
    for name, value in body.items():
        if name not in _SETTINGS:
            errors[name] = ["Unknown setting."]
            continue
        choices = _SETTINGS[name]
        if choices is not None and value not in choices:
            errors[name] = [f"Must be one of {', '.join(choices)}."]
        elif (
            name in ("rate_limit", "rate_burst") and value is not None and not isinstance(value, int | float)
        ):
            errors[name] = ["Must be a number or null."]
    if errors:
        raise validation_error(errors)
    for name, value in body.items():
        setattr(state, name, value)
    return await _get_settings(request)


def add_routes(router: web.UrlDispatcher) -> None:
    """Register every ``/_sandbox`` route."""
    add = router.add_route
    add("GET", "/_sandbox/sender-numbers", _senders)
    add("POST", "/_sandbox/sender-numbers", _add_sender)
    add("GET", "/_sandbox/sender-numbers/{sender}/otp", _get_otp)
    add("POST", "/_sandbox/sender-numbers/{sender}/otp", _enter_otp)
    add("POST", "/_sandbox/sender-numbers/{sender}/verify-account", _verify_account)
    add("POST", "/_sandbox/sender-numbers/{sender}/status", _set_status)
    add("POST", "/_sandbox/keys", _add_key)
    add("POST", "/_sandbox/keys/{key}/revoke", _revoke_key)
    add("POST", "/_sandbox/contacts", _set_contact)
    add("GET", "/_sandbox/faults", _get_faults)
    add("POST", "/_sandbox/faults", _add_faults)
    add("DELETE", "/_sandbox/faults", _clear_faults)
    add("GET", "/_sandbox/ledger", _ledger)
    add("GET", "/_sandbox/stats", _stats)
    add("POST", "/_sandbox/reset", _reset)
    add("GET", "/_sandbox/settings", _get_settings)
    add("PATCH", "/_sandbox/settings", _set_settings)
