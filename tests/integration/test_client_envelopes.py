"""Every response envelope and every unknown or null value, from the sandbox's settings or canned bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

import tgo_async
from tgo_async import DecodeError, MessageStatus, MessageType, ReasonCode, SenderStatus, VerificationStatus
from tgo_async.sandbox import SandboxServer

if TYPE_CHECKING:
    from conftest import Respond

SEED_TIME = datetime(2025, 1, 10, 8, 0, tzinfo=UTC)
LOG = "GET /api/v1/messages"


def _entry(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": n,
        "sender_number_id": 12,
        "message_type": "text",
        "content": f"m{n}",
        "status": "sent",
        "sent_at": "2025-01-10T08:00:00Z",
        **extra,
    }


async def _log(client: tgo_async.Client, **kw: Any) -> list[tgo_async.Message]:
    return [m async for m in client.messages.list(**kw)]


# --- envelopes from the sandbox's own settings ---------------------------------------------------


@pytest.mark.parametrize("envelope", ["wrapped", "bare"])
async def test_sender_list_envelope(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer, envelope: str
) -> None:
    """The sender list reads the same from {"data": [...]} and from a bare array."""
    tgo_sandbox.state.envelope = envelope
    senders = await tgo_client.sender_numbers.list()
    assert [s.id for s in senders] == [12, 13, 14, 15, 16, 17]


@pytest.mark.parametrize("envelope", ["wrapped", "bare"])
async def test_created_objects_envelope(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer, envelope: str
) -> None:
    """A registered sender and a sent message read the same bare or wrapped in {"data": {...}}."""
    tgo_sandbox.state.envelope = envelope
    new = await tgo_client.sender_numbers.register(phone="+201001234567", display_name="X")
    msg = await tgo_client.messages.send_text(sender_number_id=12, to_phone="+201010000000", content="hi")
    assert (new.id, new.display_name, new.status) == (100, "X", SenderStatus.PENDING_VERIFICATION)
    assert (msg.id, msg.content, msg.message_type) == (1, "hi", MessageType.TEXT)


@pytest.mark.parametrize("envelope", ["wrapped", "bare"])
async def test_usage_envelope(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer, envelope: str
) -> None:
    """Usage reads from {"data": [...], "period": ...} and from a bare array."""
    tgo_sandbox.state.envelope = envelope
    await tgo_client.messages.send_text(sender_number_id=12, to_phone="+201010000000", content="hi")
    usage = await tgo_client.usage.get()
    assert usage.total == 1
    assert len(usage.entries) == 6


@pytest.mark.parametrize("envelope", ["bare", "wrapped"])
async def test_lookup_envelope(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer, envelope: str
) -> None:
    """Contact lookup reads the same bare (as documented) or wrapped."""
    tgo_sandbox.state.lookup_envelope = envelope
    contact = await tgo_client.contacts.lookup(phone="+201010000000")
    assert contact.recipient_id == 4821


@pytest.mark.parametrize("log_envelope", ["paginated", "bare"])
async def test_message_log_envelope(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer, log_envelope: str
) -> None:
    """The log reads the same from Laravel pages and from one bare array of every entry."""
    for n in range(4):
        await tgo_client.messages.send_text(sender_number_id=12, to_phone="+201010000000", content=f"m{n}")
    tgo_sandbox.state.log_envelope = log_envelope
    before = len(tgo_sandbox.state.requests)
    entries = await _log(tgo_client, per_page=3)
    assert [m.content for m in entries] == ["m3", "m2", "m1", "m0"]
    assert len(tgo_sandbox.state.requests) - before == (2 if log_envelope == "paginated" else 1)


@pytest.mark.parametrize("fmt", ["seconds", "microseconds"])
async def test_both_timestamp_formats(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer, fmt: str
) -> None:
    """...:00Z and ...:00.000000Z both parse to the same aware datetime."""
    tgo_sandbox.state.timestamp_format = fmt
    [sender] = [s for s in await tgo_client.sender_numbers.list() if s.id == 12]
    contact = await tgo_client.contacts.lookup(phone="+201010000000")
    assert sender.created_at == contact.phone_verified_at == SEED_TIME
    msg = await tgo_client.messages.send_text(sender_number_id=12, to_phone="+201010000000", content="t")
    assert msg.sent_at is not None
    assert msg.sent_at.tzinfo is not None


# --- Laravel paginator variants (canned) ---------------------------------------------------------


async def test_laravel_simple_paginate_follows_next_page_url(
    tgo_client: tgo_async.Client, respond: Respond, tgo_sandbox: SandboxServer
) -> None:
    """simplePaginate's top-level next_page_url / current_page is followed to the end."""
    base = f"{tgo_sandbox.base_url}/api/v1/messages"
    respond(
        LOG,
        {"current_page": 1, "data": [_entry(3), _entry(2)], "next_page_url": f"{base}?page=2", "per_page": 2},
        {"current_page": 2, "data": [_entry(1)], "next_page_url": None, "per_page": 2},
    )
    assert [m.id for m in await _log(tgo_client)] == [3, 2, 1]


async def test_laravel_plain_paginator_with_links_list(
    tgo_client: tgo_async.Client, respond: Respond
) -> None:
    """The plain paginator's links (a list of page buttons) is ignored; last_page drives page=N+1."""
    buttons = [{"url": None, "label": "&laquo; Previous", "active": False}]
    respond(
        LOG,
        {"current_page": 1, "last_page": 2, "data": [_entry(2)], "links": buttons, "next_page_url": None},
        {"current_page": 2, "last_page": 2, "data": [_entry(1)], "links": buttons, "next_page_url": None},
    )
    assert [m.id for m in await _log(tgo_client)] == [2, 1]


async def test_meta_only_pagination_requests_next_page_number(
    respond: Respond, tgo_sandbox: SandboxServer, tgo_client: tgo_async.Client
) -> None:
    """links.next null but meta.current_page < last_page: the client asks for page 2 itself."""
    respond(
        LOG,
        {"data": [_entry(2)], "links": {"next": None}, "meta": {"current_page": 1, "last_page": 2}},
        {"data": [_entry(1)], "links": {"next": None}, "meta": {"current_page": 2, "last_page": 2}},
    )
    assert [m.id for m in await _log(tgo_client)] == [2, 1]
    assert sum(r.path == "/api/v1/messages" for r in tgo_sandbox.state.requests) == 2


async def test_relative_next_link_is_resolved(tgo_client: tgo_async.Client, respond: Respond) -> None:
    """A relative links.next is resolved against the request URL."""
    respond(
        LOG,
        {"data": [_entry(2)], "links": {"next": "/api/v1/messages?page=2"}},
        {"data": [_entry(1)], "links": {"next": None}},
    )
    assert [m.id for m in await _log(tgo_client)] == [2, 1]


async def test_next_link_to_another_origin_is_refused(
    tgo_client: tgo_async.Client, respond: Respond, tgo_sandbox: SandboxServer
) -> None:
    """The API key is never sent to a pagination link on another host: DecodeError instead."""
    respond(LOG, {"data": [_entry(1)], "links": {"next": "http://evil.example/api/v1/messages?page=2"}})
    with pytest.raises(DecodeError, match="another origin"):
        await _log(tgo_client)
    assert len(tgo_sandbox.state.requests) == 1


async def test_next_link_looping_back_is_a_decode_error(
    tgo_client: tgo_async.Client, respond: Respond, tgo_sandbox: SandboxServer
) -> None:
    """A next link pointing at a page already read stops with DecodeError instead of looping forever."""
    here = f"{tgo_sandbox.base_url}/api/v1/messages?page=1"
    respond(
        LOG, {"data": [_entry(2)], "links": {"next": here}}, {"data": [_entry(1)], "links": {"next": here}}
    )
    with pytest.raises(DecodeError, match="loops back"):
        await _log(tgo_client)


# --- unknown values, nulls, extra fields (canned) -----------------------------------------------


async def test_unknown_sender_statuses_become_unknown_keeping_raw(
    tgo_client: tgo_async.Client, respond: Respond
) -> None:
    """Undocumented status / verification_status map to UNKNOWN; the raw strings are kept; cannot send."""
    respond(
        "GET /api/v1/sender-numbers",
        {
            "data": [
                {
                    "id": 1,
                    "phone": "+201001187188",
                    "display_name": None,
                    "status": "frozen",
                    "verification_status": "under_review",
                    "created_at": "2025-01-10T08:00:00Z",
                },
                {"id": 2, "phone": "+201001187189", "status": "suspended"},
            ]
        },
    )
    frozen, suspended = await tgo_client.sender_numbers.list()
    assert (frozen.status, frozen.status_raw) == (SenderStatus.UNKNOWN, "frozen")
    assert (frozen.verification_status, frozen.verification_status_raw) == (
        VerificationStatus.UNKNOWN,
        "under_review",
    )
    assert frozen.display_name is None
    assert not frozen.can_send
    assert suspended.status is SenderStatus.SUSPENDED
    assert suspended.verification_status is None


async def test_unknown_message_status_and_type_become_unknown(
    tgo_client: tgo_async.Client, respond: Respond
) -> None:
    """A send answered with an undocumented status and type keeps both raw strings."""
    respond(
        "POST /api/v1/messages", {"data": _entry(9, status="bounced", message_type="sticker")}, status=201
    )
    msg = await tgo_client.messages.send_text(sender_number_id=12, to_phone="+201010000000", content="x")
    assert (msg.status, msg.status_raw) == (MessageStatus.UNKNOWN, "bounced")
    assert (msg.message_type, msg.message_type_raw) == (MessageType.UNKNOWN, "sticker")


async def test_unknown_reason_code_from_sandbox_contact(tgo_client: tgo_async.Client) -> None:
    """The seeded account_frozen reason is not documented: UNKNOWN with the raw code."""
    contact = await tgo_client.contacts.lookup(phone="+201010000004")
    assert (contact.reason_code, contact.reason_code_raw) == (ReasonCode.UNKNOWN, "account_frozen")
    assert contact.exists
    assert not contact.can_receive


async def test_nulls_where_docs_show_values(tgo_client: tgo_async.Client, respond: Respond) -> None:
    """null display_name, content, recipient_id and phone_verified_at are accepted as None."""
    respond(
        "GET /api/v1/contacts/lookup",
        {
            "exists": False,
            "can_receive": False,
            "reason_code": None,
            "recipient_id": None,
            "is_verified": None,
            "phone_verified_at": None,
        },
    )
    respond(LOG, [_entry(1, content=None, sent_at=None)])
    contact = await tgo_client.contacts.lookup(phone="+201010000000")
    assert (contact.recipient_id, contact.reason_code, contact.is_verified) == (None, None, None)
    [entry] = await _log(tgo_client)
    assert (entry.content, entry.sent_at) == (None, None)


async def test_extra_unknown_fields_are_ignored(tgo_client: tgo_async.Client, respond: Respond) -> None:
    """Fields the docs do not name, at any level, do not break decoding."""
    respond(
        "GET /api/v1/contacts/lookup",
        {
            "exists": True,
            "can_receive": True,
            "reason_code": "ok",
            "recipient_id": 4821,
            "is_verified": True,
            "phone_verified_at": "2025-01-10T08:00:00.000000Z",
            "country": "EG",
            "tags": ["vip"],
            "nested": {"a": 1},
        },
    )
    respond(
        LOG, {"data": [_entry(1, priority="high")], "links": {"next": None}, "meta": {"x": 1}, "extra": 2}
    )
    contact = await tgo_client.contacts.lookup(phone="+201010000000")
    assert (contact.recipient_id, contact.phone_verified_at) == (4821, SEED_TIME)
    assert [m.id for m in await _log(tgo_client)] == [1]


# --- bodies that do not match ------------------------------------------------------------------


async def test_sender_missing_required_field_is_decode_error(
    tgo_client: tgo_async.Client, respond: Respond
) -> None:
    """A sender without "phone" raises DecodeError naming the model and the field, with the body attached."""
    body = {"data": [{"id": 12, "status": "active"}]}
    respond("GET /api/v1/sender-numbers", body)
    with pytest.raises(DecodeError) as info:
        await tgo_client.sender_numbers.list()
    assert "SenderNumber" in str(info.value)
    assert "phone" in str(info.value)
    assert info.value.body == {"id": 12, "status": "active"}


async def test_wrong_field_type_is_decode_error(tgo_client: tgo_async.Client, respond: Respond) -> None:
    """exists: "maybe" is not a boolean: DecodeError says which field and what was expected."""
    respond("GET /api/v1/contacts/lookup", {"exists": "maybe", "can_receive": True})
    with pytest.raises(DecodeError) as info:
        await tgo_client.contacts.lookup(phone="+201010000000")
    text = str(info.value)
    assert "ContactLookup" in text
    assert "exists" in text
    assert "boolean" in text


async def test_bad_timestamp_is_decode_error(tgo_client: tgo_async.Client, respond: Respond) -> None:
    """A timestamp that is not ISO 8601 is reported with the offending text."""
    respond(LOG, [_entry(1, sent_at="yesterday")])
    with pytest.raises(DecodeError, match=r"ISO 8601.*yesterday"):
        await _log(tgo_client)


@pytest.mark.parametrize(
    ("route", "body", "expected"),
    [
        ("GET /api/v1/sender-numbers", {"items": []}, "expected a JSON array"),
        ("GET /api/v1/messages", {"data": "none"}, "message-log JSON array"),
        ("GET /api/v1/contacts/lookup", [1, 2], "expected a JSON object"),
    ],
)
async def test_wrong_envelope_is_decode_error(
    tgo_client: tgo_async.Client, respond: Respond, route: str, body: Any, expected: str
) -> None:
    """A body of the wrong shape says what was expected and what came."""
    respond(route, body)
    calls = {
        "GET /api/v1/sender-numbers": tgo_client.sender_numbers.list,
        "GET /api/v1/messages": lambda: _log(tgo_client),
        "GET /api/v1/contacts/lookup": lambda: tgo_client.contacts.lookup(phone="+201010000000"),
    }
    with pytest.raises(DecodeError, match=expected):
        await calls[route]()


async def test_non_json_success_body_is_decode_error(
    tgo_client: tgo_async.Client, respond: Respond, tgo_sandbox: SandboxServer
) -> None:
    """An HTML 200 (captive portal, misrouted proxy) is a DecodeError quoting its text, not retried."""
    respond(
        "GET /api/v1/usage",
        "<html><body>Welcome to the hotel wifi</body></html>",
        headers={"Content-Type": "text/html"},
    )
    with pytest.raises(DecodeError, match="not valid JSON") as info:
        await tgo_client.usage.get()
    assert "hotel wifi" in str(info.value)
    assert len(tgo_sandbox.state.requests) == 1
