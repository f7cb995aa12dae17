"""The read endpoints and sender registration (sending lives in ``_send``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from ._http import STATE_KEY, json_response, validation_error
from ._models import format_ts, is_e164, utcnow
from ._send import MESSAGE_TYPES

__all__ = ["list_messages", "list_senders", "lookup_contact", "register_sender", "usage"]

DEFAULT_PER_PAGE = 15
MAX_PER_PAGE = 100
_SPACE_HINT = (
    "The {0} field must be a valid E.164 phone number; it contains a space "
    "(an unencoded '+' in a query string decodes as a space)."
)


async def list_senders(request: web.Request) -> web.Response:
    """``GET /api/v1/sender-numbers``: every sender number of the tenant, by id."""
    state = request.app[STATE_KEY]
    fmt = state.timestamp_format
    data = [s.to_json(fmt) for s in state.senders.values()]
    return json_response({"data": data} if state.envelope == "wrapped" else data)


async def register_sender(request: web.Request) -> web.Response:
    """``POST /api/v1/sender-numbers``: creates a ``pending_verification`` sender and issues an OTP."""
    state = request.app[STATE_KEY]
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise validation_error({"body": ["The request body is not valid JSON."]}) from None
    if not isinstance(body, dict):
        raise validation_error({"body": ["The request body must be a JSON object."]})
    errors: dict[str, list[str]] = {}
    phone = body.get("phone")
    if phone is None or phone == "":
        errors["phone"] = ["The phone field is required."]
    elif not is_e164(phone):
        errors["phone"] = ["The phone field must be a valid E.164 phone number."]
    elif state.find_sender(phone) is not None:
        errors["phone"] = ["The phone has already been taken."]
    name = body.get("display_name")
    if name is not None and (not isinstance(name, str) or len(name) > 255):
        errors["display_name"] = ["The display_name field must be a string of at most 255 characters."]
    if errors:
        raise validation_error(errors)
    sender = state.register_sender(str(phone), name or None)
    data = sender.to_json(state.timestamp_format)
    return json_response({"data": data} if state.envelope == "wrapped" else data, 201)


def _query_phone(query: Any, field: str, errors: dict[str, list[str]], *, required: bool) -> str | None:
    value = query.get(field)
    if value is None or value == "":
        if required:
            errors[field] = [f"The {field} field is required."]
        return None
    if " " in value:
        errors[field] = [_SPACE_HINT.format(field)]
    elif not is_e164(value):
        errors[field] = [f"The {field} field must be a valid E.164 phone number."]
    return str(value)


async def lookup_contact(request: web.Request) -> web.Response:
    """``GET /api/v1/contacts/lookup?phone=&sender_phone=``: reachability of one number."""
    state = request.app[STATE_KEY]
    errors: dict[str, list[str]] = {}
    query = request.query
    phone = _query_phone(query, "phone", errors, required=True)
    sender_phone = _query_phone(query, "sender_phone", errors, required=False)
    if sender_phone is not None and "sender_phone" not in errors and state.find_sender(sender_phone) is None:
        errors["sender_phone"] = ["The selected sender_phone is invalid."]
    if errors:
        raise validation_error(errors)
    assert phone is not None
    data = state.contact(phone).to_json(state.timestamp_format)
    return json_response({"data": data} if state.lookup_envelope == "wrapped" else data)


def _int_param(query: Any, name: str, default: int, low: int, high: int, errors: dict[str, list[str]]) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        errors[name] = [f"The {name} field must be an integer."]
        return default
    value = int(raw)
    if not low <= value <= high:
        errors[name] = [f"The {name} field must be between {low} and {high}."]
    return value


async def list_messages(request: web.Request) -> web.Response:
    """``GET /api/v1/messages``: newest first, Laravel-paginated (or a bare array of all entries)."""
    state = request.app[STATE_KEY]
    query = request.query
    errors: dict[str, list[str]] = {}
    page = _int_param(query, "page", 1, 1, 1_000_000_000, errors)
    per_page = _int_param(query, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE, errors)
    sender_filter = _int_param(query, "sender_number_id", 0, 1, 10**12, errors) or None
    to_phone = _query_phone(query, "to_phone", errors, required=False)
    mtype = query.get("message_type") or None
    if mtype is not None and mtype not in MESSAGE_TYPES:
        errors["message_type"] = ["The selected message_type is invalid (text, image, voice, document)."]
    status = query.get("status") or None
    if errors:
        raise validation_error(errors)
    entries = [
        e
        for e in reversed(state.ledger)
        if (sender_filter is None or e.sender_number_id == sender_filter)
        and (to_phone is None or e.to_phone == to_phone)
        and (mtype is None or e.message_type == mtype)
        and (status is None or e.status == status)
    ]
    fmt = state.timestamp_format
    if state.log_envelope == "bare":
        return json_response([e.log_json(fmt) for e in entries])
    total = len(entries)
    last_page = max(1, -(-total // per_page))
    start = (page - 1) * per_page
    chunk = entries[start : start + per_page]
    base = request.url.with_query(None)
    params = {k: v for k, v in query.items() if k != "page"}

    def link(n: int) -> str:
        return str(base.with_query({**params, "page": str(n)}))

    return json_response(
        {
            "data": [e.log_json(fmt) for e in chunk],
            "links": {
                "first": link(1),
                "last": link(last_page),
                "prev": link(page - 1) if page > 1 else None,
                "next": link(page + 1) if page < last_page else None,
            },
            "meta": {
                "current_page": page,
                "last_page": last_page,
                "per_page": per_page,
                "total": total,
                "from": start + 1 if chunk else None,
                "to": start + len(chunk) if chunk else None,
                "path": str(base),
            },
        }
    )


async def usage(request: web.Request) -> web.Response:
    """``GET /api/v1/usage``: counts per sender number and message type over the current month."""
    state = request.app[STATE_KEY]
    rows: dict[int, dict[str, Any]] = {
        s.id: {
            "sender_number_id": s.id,
            "sender_phone": s.phone,
            "total": 0,
            "text": 0,
            "image": 0,
            "voice": 0,
            "document": 0,
        }
        for s in state.senders.values()
    }
    for entry in state.ledger:
        row = rows.get(entry.sender_number_id)
        if row is not None:
            row["total"] += 1
            row[entry.message_type] += 1
    data = list(rows.values())
    if state.envelope == "bare":
        return json_response(data)
    now = utcnow()
    fmt = state.timestamp_format
    period = {"from": format_ts(datetime(now.year, now.month, 1), fmt), "to": format_ts(now, fmt)}
    return json_response({"data": data, "period": period})
