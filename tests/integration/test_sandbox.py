"""The sandbox itself, driven by raw aiohttp (independent of the client library)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import attrs
import orjson
import pytest
from multidict import CIMultiDictProxy
from yarl import URL

from tgo_async.sandbox import Fault, FaultKind, SandboxServer, SandboxState
from tgo_async.sandbox.__main__ import main as cli_main
from tgo_async.sandbox._faults import FaultSet

SENDER = "+201001187188"
TO = "+201010000000"
ARABIC = "يجب توثيق حساب مالك الرقم داخل TGO Connect قبل استخدام واجهة الإرسال"
MESSAGES = "/api/v1/messages"
SEND_ROUTE = "POST /api/v1/messages"
DISCONNECTS = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


@attrs.frozen
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    raw: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.raw)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    sb: SandboxServer,
    method: str,
    path: str | URL,
    *,
    key: str | None = "sandbox-key-all",
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Reply:
    hdrs = {"Accept": "application/json", **(headers or {})}
    if key is not None:
        hdrs["X-Api-Key"] = key
    url = path if isinstance(path, URL) else sb.base_url + path
    async with http.request(method, url, headers=hdrs, allow_redirects=False, **kwargs) as resp:
        return Reply(resp.status, resp.headers, await resp.read())


def text(content: str = "Hello from TGO Business", to: str | None = TO, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"sender_phone": SENDER, "to_phone": to, "type": "text", "content": content}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def media_form(
    mtype: str = "image",
    data: bytes = b"\x89PNG fake image",
    *,
    filename: str | None = "a.png",
    **fields: str,
) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in {"sender_phone": SENDER, "to_phone": TO, "type": mtype, **fields}.items():
        form.add_field(name, value)
    if filename is None:
        form.add_field("media", data.decode(), content_type="text/plain")
    else:
        form.add_field("media", data, filename=filename, content_type="image/png")
    return form


async def send(http: aiohttp.ClientSession, sb: SandboxServer, **kwargs: Any) -> Reply:
    if "data" not in kwargs and "json" not in kwargs:
        kwargs["json"] = text()
    return await call(http, sb, "POST", MESSAGES, **kwargs)


def assert_error(reply: Reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.raw
    body: dict[str, Any] = reply.json
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.headers["X-Request-Id"]
    return body


# ------------------------------------------------------------------ sender numbers


async def test_sender_list_is_wrapped_and_seeded(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    """GET /sender-numbers answers {"data": [...]} with the documented seeds and fields."""
    reply = await call(http, tgo_sandbox, "GET", "/api/v1/sender-numbers", key="sandbox-key-read")
    assert reply.status == 200
    assert reply.headers["X-Request-Id"]
    data = {s["id"]: s for s in reply.json["data"]}
    assert data[12] == {
        "id": 12,
        "phone": SENDER,
        "display_name": "Support",
        "status": "active",
        "verification_status": "verified",
        "created_at": "2025-01-10T08:00:00.000000Z",
    }
    assert (data[14]["status"], data[14]["verification_status"]) == ("pending_account_verification",) * 2
    assert (data[15]["status"], data[15]["verification_status"]) == ("active", "pending_account_verification")
    assert data[15]["display_name"] is None
    assert {data[i]["status"] for i in (13, 16, 17)} == {"pending_verification", "rejected", "suspended"}


async def test_sender_list_bare_envelope(tgo_sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    """envelope="bare" answers a plain array."""
    tgo_sandbox.state.envelope = "bare"
    reply = await call(http, tgo_sandbox, "GET", "/api/v1/sender-numbers")
    assert isinstance(reply.json, list)
    assert reply.json[0]["id"] == 12


@pytest.mark.parametrize("key", [None, "no-such-key", "sandbox-key-revoked"])
async def test_invalid_key_is_unauthenticated(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession, key: str | None
) -> None:
    """A missing, unknown or revoked key answers 401 unauthenticated."""
    reply = await call(http, tgo_sandbox, "GET", "/api/v1/sender-numbers", key=key)
    assert_error(reply, 401, "unauthenticated")


@pytest.mark.parametrize(
    ("method", "path", "key", "scope"),
    [
        ("POST", "/api/v1/sender-numbers", "sandbox-key-read", "messages.send"),
        ("POST", MESSAGES, "sandbox-key-lookup", "messages.send"),
        ("GET", MESSAGES, "sandbox-key-send", "messages.read"),
        ("GET", f"/api/v1/contacts/lookup?phone=%2B{TO[1:]}", "sandbox-key-usage", "contacts.lookup"),
        ("GET", "/api/v1/usage", "sandbox-key-send", "usage.read"),
    ],
)
async def test_missing_scope_is_403_with_required_scope(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession, method: str, path: str, key: str, scope: str
) -> None:
    """A key without the route's scope answers 403 missing_scope naming it."""
    reply = await call(http, tgo_sandbox, method, path, key=key, json={})
    assert assert_error(reply, 403, "missing_scope")["required_scope"] == scope


async def test_register_sender_creates_pending_with_otp(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    """POST /sender-numbers creates pending_verification and issues a 6-digit OTP."""
    body = {"phone": "+201001112222", "display_name": "New"}
    reply = await call(http, tgo_sandbox, "POST", "/api/v1/sender-numbers", key="sandbox-key-send", json=body)
    assert reply.status == 201
    data = reply.json["data"]
    assert data["id"] == 100
    assert data["status"] == data["verification_status"] == "pending_verification"
    assert "otp" not in data
    otp = tgo_sandbox.state.otp_for(100)
    assert len(otp) == 6
    assert otp.isdigit()
    assert otp == tgo_sandbox.state.otp_for("+201001112222")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "phone"),
        ({"phone": "201001112222"}, "phone"),
        ({"phone": SENDER}, "phone"),
        ({"phone": "+201001112222", "display_name": 5}, "display_name"),
    ],
)
async def test_register_sender_validation(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession, body: dict[str, Any], field: str
) -> None:
    """Missing, non-E.164 or duplicate phone and a bad display_name are 422 on the field."""
    reply = await call(http, tgo_sandbox, "POST", "/api/v1/sender-numbers", json=body)
    assert field in assert_error(reply, 422, "validation_failed")["errors"]


# ------------------------------------------------------------------ onboarding


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ("status", ("pending_account_verification", "pending_account_verification")),
        ("verification_status", ("active", "pending_account_verification")),
    ],
)
async def test_otp_then_account_verification(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession, shape: Any, expected: tuple[str, str]
) -> None:
    """OTP moves to the chosen pending-account shape (403 on send); verify_account enables sending."""
    state = tgo_sandbox.state
    state.account_pending_shape = shape
    sender = state.register_sender("+201001113333")
    with pytest.raises(ValueError, match="wrong OTP"):
        state.enter_otp(sender.id, "not-it")
    state.enter_otp("+201001113333", state.otp_for(sender.id))
    assert (sender.status, sender.verification_status) == expected
    with pytest.raises(LookupError):
        state.otp_for(sender.id)
    reply = await send(http, tgo_sandbox, json=text(sender_phone="+201001113333"))
    assert assert_error(reply, 403, "account_not_verified")["message"] == ARABIC
    state.verify_account(sender.id)
    assert (await send(http, tgo_sandbox, json=text(sender_phone="+201001113333"))).status == 201


async def test_otp_with_verified_account_goes_active(tgo_sandbox: SandboxServer) -> None:
    """enter_otp(account_verified=True) makes the sender active and verified at once."""
    state = tgo_sandbox.state
    sender = state.enter_otp(13, state.otp_for(13), account_verified=True)
    assert sender.can_send


async def test_otp_flow_via_control_routes(tgo_sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    """The /_sandbox OTP, verify-account and status routes drive the flow without an API key."""
    base = "/_sandbox/sender-numbers/%2B201001187189"
    otp = (await call(http, tgo_sandbox, "GET", f"{base}/otp", key=None)).json["otp"]
    wrong = await call(http, tgo_sandbox, "POST", f"{base}/otp", key=None, json={"otp": "x"})
    assert_error(wrong, 422, "validation_failed")
    ok = await call(http, tgo_sandbox, "POST", "/_sandbox/sender-numbers/13/otp", key=None, json={"otp": otp})
    assert ok.json["status"] == "pending_account_verification"
    assert ok.json["otp_pending"] is False
    assert_error(await call(http, tgo_sandbox, "GET", f"{base}/otp", key=None), 404, "not_found")
    done = await call(http, tgo_sandbox, "POST", "/_sandbox/sender-numbers/13/verify-account", key=None)
    assert (done.json["status"], done.json["verification_status"]) == ("active", "verified")
    frozen = await call(http, tgo_sandbox, "POST", f"{base}/status", key=None, json={"status": "frozen"})
    assert frozen.json["status"] == "frozen"
    assert frozen.json["verification_status"] == "verified"
    missing = await call(http, tgo_sandbox, "GET", "/_sandbox/sender-numbers/999/otp", key=None)
    assert_error(missing, 404, "not_found")


# ------------------------------------------------------------------ sending


async def test_send_text_records_and_answers_message(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    """A valid text send answers 201 with the message object and lands in the ledger."""
    reply = await send(http, tgo_sandbox, key="sandbox-key-send")
    assert reply.status == 201
    msg = reply.json["data"]
    assert msg["sender_number_id"] == 12
    assert msg["to_phone"] == TO
    assert msg["message_type"] == "text"
    assert msg["content"] == "Hello from TGO Business"
    assert msg["status"] == "queued"
    assert msg["media"] is None
    assert msg["sent_at"].endswith("Z")
    assert len(msg["sent_at"]) == 27
    (entry,) = tgo_sandbox.state.ledger
    assert entry.id == msg["id"]
    assert entry.api_key == "sandbox-key-send"
    assert entry.request_id == reply.headers["X-Request-Id"]
    (record,) = tgo_sandbox.state.requests
    assert (record.method, record.path, record.status, record.fault) == ("POST", MESSAGES, 201, None)
    assert record.item == "Hello from TGO Business"
    assert record.key == "sandbox-key-send"


async def test_send_by_sender_number_id_bare(tgo_sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    """sender_number_id identifies the sender; envelope="bare" answers the bare object."""
    tgo_sandbox.state.envelope = "bare"
    reply = await send(http, tgo_sandbox, json=text(sender_phone=None, sender_number_id=12))
    assert reply.status == 201
    assert reply.json["sender_number_id"] == 12


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (text(sender_phone=None), {"sender_phone", "sender_number_id"}),
        (text(sender_number_id=12), {"sender_phone", "sender_number_id"}),
        (text(sender_phone="01001187188"), {"sender_phone"}),
        (text(sender_phone=None, sender_number_id="twelve"), {"sender_number_id"}),
        (text(to="+0123"), {"to_phone"}),
        (text(to=None), {"to_phone"}),
        (text(type="sticker"), {"type"}),
        (text(content=""), {"content"}),
        (text(content="x" * 4097), {"content"}),
        (text(type="image"), {"media"}),
    ],
)
async def test_send_validation_errors(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession, body: dict[str, Any], fields: set[str]
) -> None:
    """Each invalid field is reported under its own name in a 422 validation_failed."""
    reply = await send(http, tgo_sandbox, json=body)
    assert set(assert_error(reply, 422, "validation_failed")["errors"]) == fields
    assert not tgo_sandbox.state.ledger


async def test_send_accepts_maximum_content(tgo_sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    """4096 characters of content are accepted."""
    assert (await send(http, tgo_sandbox, json=text(content="x" * 4096))).status == 201


async def test_send_unreadable_body_is_validation_error(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    """Invalid JSON, a non-object, malformed multipart and other content types are 422 on "body"."""
    for kwargs in (
        {"data": b"{", "headers": {"Content-Type": "application/json"}},
        {"json": [1, 2]},
        {"data": b"content=hi", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        {"data": b"--zz\r\nnonsense", "headers": {"Content-Type": "multipart/form-data; boundary=zz"}},
        {"data": b"--zz\r\n", "headers": {"Content-Type": "multipart/form-data"}},
    ):
        reply = await send(http, tgo_sandbox, **kwargs)
        assert "body" in assert_error(reply, 422, "validation_failed")["errors"]


async def test_send_unknown_sender_is_validation_error(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    """An unregistered sender is a 422 on the sender field used."""
    reply = await send(http, tgo_sandbox, json=text(sender_phone="+201009999999"))
    assert "sender_phone" in assert_error(reply, 422, "validation_failed")["errors"]
    reply = await send(http, tgo_sandbox, json=text(sender_phone=None, sender_number_id=999))
    assert "sender_number_id" in assert_error(reply, 422, "validation_failed")["errors"]


@pytest.mark.parametrize("sender_id", [13, 16, 17, 99])
async def test_send_from_inactive_sender(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession, sender_id: int
) -> None:
    """pending_verification, rejected, suspended or an undocumented status: 422 sender_not_active."""
    if sender_id == 99:
        sender_id = tgo_sandbox.state.add_sender("+201001114444", status="frozen").id
    reply = await send(http, tgo_sandbox, json=text(sender_phone=None, sender_number_id=sender_id))
    assert_error(reply, 422, "sender_not_active")


@pytest.mark.parametrize("sender_id", [14, 15])
async def test_send_account_not_verified_both_shapes(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession, sender_id: int
) -> None:
    """Both documented "needs account verification" shapes answer 403 with the Arabic message."""
    reply = await send(http, tgo_sandbox, json=text(sender_phone=None, sender_number_id=sender_id))
    assert assert_error(reply, 403, "account_not_verified")["message"] == ARABIC


@pytest.mark.parametrize("to", ["+201010000001", "+201010000002", "+201010000003", "+201010000004"])
async def test_send_to_unreachable_recipient(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession, to: str
) -> None:
    """Every seeded special contact is 422 recipient_unreachable; nothing is recorded."""
    reply = await send(http, tgo_sandbox, json=text(to=to))
    assert "to_phone" in assert_error(reply, 422, "recipient_unreachable")["errors"]
    assert not tgo_sandbox.state.ledger


@pytest.mark.parametrize(
    ("mtype", "fields"),
    [("image", {"caption": "look"}), ("voice", {"duration": "45"}), ("document", {})],
)
async def test_send_media_multipart(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession, mtype: str, fields: dict[str, str]
) -> None:
    """Multipart media is streamed and hashed; size, sha256, filename and type are kept."""
    data = bytes(range(256)) * 1000
    reply = await send(http, tgo_sandbox, data=media_form(mtype, data, **fields))
    assert reply.status == 201, reply.raw
    msg = reply.json["data"]
    digest = hashlib.sha256(data).hexdigest()
    assert msg["media"] == {
        "filename": "a.png",
        "content_type": "image/png",
        "size": len(data),
        "sha256": digest,
    }
    assert msg["message_type"] == mtype
    assert msg["content"] == fields.get("caption")
    (entry,) = tgo_sandbox.state.ledger
    assert (entry.media_sha256, entry.media_size, entry.caption) == (digest, len(data), fields.get("caption"))
    assert entry.duration == (45 if mtype == "voice" else None)
    assert tgo_sandbox.state.requests[0].item == f"{TO}|{fields.get('caption', '')}"


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"mtype": "voice"}, "duration"),
        ({"mtype": "voice", "duration": "0"}, "duration"),
        ({"mtype": "voice", "duration": "301"}, "duration"),
        ({"mtype": "voice", "duration": "abc"}, "duration"),
        ({"data": b""}, "media"),
        ({"data": b"not a file", "filename": None}, "media"),
        ({"mtype": "text", "content": "hi"}, "media"),
        ({"caption": "x" * 4097}, "caption"),
    ],
)
async def test_send_media_validation(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession, form: dict[str, Any], field: str
) -> None:
    """Voice duration 1..300 is required; media must be a non-empty file, and absent for text."""
    reply = await send(http, tgo_sandbox, data=media_form(**form))
    assert field in assert_error(reply, 422, "validation_failed")["errors"]


async def test_send_text_over_multipart(tgo_sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    """A text message sent as form fields is accepted too."""
    fields = {"sender_phone": SENDER, "to_phone": TO, "type": "text", "content": "hi"}
    form = aiohttp.FormData(fields, default_to_multipart=True)
    assert (await send(http, tgo_sandbox, data=form)).status == 201


# ------------------------------------------------------------------ lookup, logs, usage


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        (TO, {"exists": True, "can_receive": True, "reason_code": "ok", "recipient_id": 4821}),
        (
            "+201010000001",
            {"exists": False, "can_receive": False, "reason_code": "not_found", "recipient_id": None},
        ),
        ("+201010000002", {"exists": True, "is_verified": False, "phone_verified_at": None}),
        ("+201010000003", {"exists": True, "can_receive": False, "reason_code": "blocked"}),
        ("+201010000004", {"can_receive": False, "reason_code": "account_frozen"}),
    ],
)
async def test_contact_lookup(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession, phone: str, expected: dict[str, Any]
) -> None:
    """Lookup answers the documented fields for default and seeded special contacts."""
    url = URL(tgo_sandbox.base_url + "/api/v1/contacts/lookup").with_query(phone=phone, sender_phone=SENDER)
    reply = await call(http, tgo_sandbox, "GET", url, key="sandbox-key-lookup")
    assert reply.status == 200
    assert set(reply.json) == {
        "exists",
        "can_receive",
        "reason_code",
        "recipient_id",
        "is_verified",
        "phone_verified_at",
    }
    assert expected.items() <= reply.json.items()


async def test_contact_lookup_default_is_stable_and_settable(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    """Unknown numbers are reachable with a stable recipient_id; set_contact overrides; wrapped works."""
    url = URL(tgo_sandbox.base_url + "/api/v1/contacts/lookup").with_query(phone="+201234567890")
    first = (await call(http, tgo_sandbox, "GET", url)).json
    assert first["recipient_id"] == SandboxState().contact("+201234567890").recipient_id
    assert first["phone_verified_at"] == "2025-01-10T08:00:00.000000Z"
    tgo_sandbox.state.set_contact("+201234567890", exists=False)
    tgo_sandbox.state.lookup_envelope = "wrapped"
    second = (await call(http, tgo_sandbox, "GET", url)).json["data"]
    assert (second["exists"], second["reason_code"], second["recipient_id"]) == (False, "not_found", None)


@pytest.mark.parametrize(
    "query",
    [
        f"phone=+{TO[1:]}",
        "phone=%2B2010",
        "sender_phone=%2B201001187188",
        f"phone=%2B{TO[1:]}&sender_phone=%2B201009999999",
    ],
)
async def test_contact_lookup_validation(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession, query: str
) -> None:
    """A raw '+' (decoded as a space), a short, missing or unknown phone is 422 on that field."""
    url = URL(f"{tgo_sandbox.base_url}/api/v1/contacts/lookup?{query}", encoded=True)
    body = assert_error(await call(http, tgo_sandbox, "GET", url), 422, "validation_failed")
    if query.startswith("phone=+"):
        assert "space" in body["errors"]["phone"][0]


async def _send_many(http: aiohttp.ClientSession, sb: SandboxServer, n: int) -> None:
    for i in range(n):
        to = TO if i % 2 else "+201010000009"
        assert (await send(http, sb, json=text(content=f"m{i}", to=to))).status == 201


async def test_message_log_pagination(tgo_sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    """GET /messages is newest first in a Laravel envelope; page/per_page bounds are enforced."""
    await _send_many(http, tgo_sandbox, 32)
    first = (await call(http, tgo_sandbox, "GET", MESSAGES, key="sandbox-key-read")).json
    assert first["meta"] == {
        "current_page": 1,
        "last_page": 3,
        "per_page": 15,
        "total": 32,
        "from": 1,
        "to": 15,
        "path": f"{tgo_sandbox.base_url}{MESSAGES}",
    }
    assert [m["content"] for m in first["data"][:2]] == ["m31", "m30"]
    assert set(first["data"][0]) == {
        "id",
        "sender_number_id",
        "to_phone",
        "message_type",
        "content",
        "status",
        "sent_at",
    }
    assert first["links"]["prev"] is None
    assert first["links"]["next"].endswith("page=2")
    nxt = (await call(http, tgo_sandbox, "GET", URL(first["links"]["next"]))).json
    assert nxt["meta"]["current_page"] == 2
    assert nxt["data"][0]["content"] == "m16"
    last = (await call(http, tgo_sandbox, "GET", URL(first["links"]["last"]))).json
    assert [m["content"] for m in last["data"]] == ["m1", "m0"]
    assert last["links"]["next"] is None
    big = (await call(http, tgo_sandbox, "GET", f"{MESSAGES}?per_page=100&page=2")).json
    assert big["data"] == []
    assert big["meta"]["from"] is None
    assert big["meta"]["last_page"] == 1
    for bad in ("per_page=101", "per_page=0", "page=0", "page=x"):
        assert_error(await call(http, tgo_sandbox, "GET", f"{MESSAGES}?{bad}"), 422, "validation_failed")


async def test_message_log_filters_and_bare(tgo_sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    """Filters narrow the log; log_envelope="bare" answers every entry as a plain array."""
    await _send_many(http, tgo_sandbox, 6)
    await send(http, tgo_sandbox, data=media_form("image"))
    url = URL(tgo_sandbox.base_url + MESSAGES).with_query(to_phone=TO, per_page="2", sender_number_id="12")
    filtered = (await call(http, tgo_sandbox, "GET", url)).json
    assert filtered["meta"]["total"] == 4
    assert "to_phone=%2B201010000000" in filtered["links"]["next"]
    images = (await call(http, tgo_sandbox, "GET", f"{MESSAGES}?message_type=image&status=queued")).json
    assert images["meta"]["total"] == 1
    assert (await call(http, tgo_sandbox, "GET", f"{MESSAGES}?status=sent")).json["meta"]["total"] == 0
    tgo_sandbox.state.log_envelope = "bare"
    bare = (await call(http, tgo_sandbox, "GET", MESSAGES)).json
    assert isinstance(bare, list)
    assert len(bare) == 7


async def test_usage_grouped_by_sender(tgo_sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    """GET /usage counts per sender and type, every sender listed; bare is a plain array."""
    await _send_many(http, tgo_sandbox, 3)
    await send(http, tgo_sandbox, data=media_form("voice", duration="3"))
    reply = (await call(http, tgo_sandbox, "GET", "/api/v1/usage", key="sandbox-key-usage")).json
    rows = {r["sender_number_id"]: r for r in reply["data"]}
    assert rows[12] == {
        "sender_number_id": 12,
        "sender_phone": SENDER,
        "total": 4,
        "text": 3,
        "image": 0,
        "voice": 1,
        "document": 0,
    }
    assert rows[13]["total"] == 0
    assert reply["period"]["from"].endswith("T00:00:00.000000Z")
    tgo_sandbox.state.envelope = "bare"
    assert isinstance((await call(http, tgo_sandbox, "GET", "/api/v1/usage")).json, list)


async def test_timestamp_format_seconds(tgo_sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    """timestamp_format="seconds" drops the fraction."""
    tgo_sandbox.state.timestamp_format = "seconds"
    data = (await call(http, tgo_sandbox, "GET", "/api/v1/sender-numbers")).json["data"]
    assert data[0]["created_at"] == "2025-01-10T08:00:00Z"


async def test_unknown_path_and_method_are_json(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    """Unknown paths are 404 not_found and wrong methods 405 method_not_allowed, as JSON."""
    assert_error(await call(http, tgo_sandbox, "GET", "/api/v1/nope"), 404, "not_found")
    assert_error(await call(http, tgo_sandbox, "GET", "/elsewhere", key=None), 404, "not_found")
    reply = await call(http, tgo_sandbox, "DELETE", MESSAGES)
    assert_error(reply, 405, "method_not_allowed")
    assert set(reply.headers["Allow"].split(",")) == {"GET", "POST"}
    assert [r.status for r in tgo_sandbox.state.requests] == [404, 405]


async def test_oversized_json_is_payload_too_large(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    """A JSON body above aiohttp's 1 MiB limit answers 413 payload_too_large as JSON."""
    body = io.BytesIO(orjson.dumps(text(content="x" * 1_100_000)))
    reply = await send(http, tgo_sandbox, data=body, headers={"Content-Type": "application/json"})
    assert_error(reply, 413, "payload_too_large")


# ------------------------------------------------------------------ rate limiting


@pytest.mark.tgo_sandbox(rate_limit=10.0, rate_burst=2)
async def test_rate_limit_headers_and_429(tgo_sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    """Past the burst a key gets 429 rate_limited with Retry-After, retry-after-ms and X-RateLimit-*."""
    replies = [await call(http, tgo_sandbox, "GET", "/api/v1/sender-numbers") for _ in range(3)]
    assert [r.status for r in replies] == [200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in replies] == ["1", "0", "0"]
    assert all(r.headers["X-RateLimit-Limit"] == "10" for r in replies)
    limited = replies[2]
    assert_error(limited, 429, "rate_limited")
    assert limited.headers["Retry-After"] == "1"
    assert 0 < int(limited.headers["retry-after-ms"]) <= 100
    assert 0 < float(limited.headers["X-RateLimit-Reset"]) <= 0.1
    assert tgo_sandbox.state.requests[2].retry_after == pytest.approx(
        int(limited.headers["retry-after-ms"]) / 1000, abs=0.002
    )
    other = await call(http, tgo_sandbox, "GET", "/api/v1/sender-numbers", key="sandbox-key-read")
    assert other.status == 200, "buckets are per key"
    tgo_sandbox.state.rate_limit = None
    free = await call(http, tgo_sandbox, "GET", "/api/v1/sender-numbers")
    assert free.status == 200
    assert "X-RateLimit-Limit" not in free.headers


async def test_rate_limit_default_burst_and_runtime_change(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    """The default burst is max(1, rate/10); the rate can be set at run time."""
    tgo_sandbox.state.rate_limit = 0.5
    assert tgo_sandbox.state.effective_burst() == 1
    replies = [await call(http, tgo_sandbox, "GET", "/api/v1/sender-numbers") for _ in range(2)]
    assert [r.status for r in replies] == [200, 429]
    assert replies[1].headers["Retry-After"] == "2"
    assert replies[1].headers["X-RateLimit-Limit"] == "0.5"
    tgo_sandbox.state.rate_limit = 40
    assert tgo_sandbox.state.effective_burst() == 4


# ------------------------------------------------------------------ faults


@pytest.mark.parametrize(
    ("kind", "status", "code", "retry_after"),
    [
        (FaultKind.RATE_LIMIT, 429, "rate_limited", ("2", "1500")),
        (FaultKind.UNAVAILABLE_RETRY_AFTER, 503, "service_unavailable", ("2", "1500")),
        (FaultKind.UNAVAILABLE, 503, "service_unavailable", None),
        (FaultKind.SERVER_ERROR, 500, "server_error", None),
        (FaultKind.REQUEST_TIMEOUT, 408, "request_timeout", None),
        (FaultKind.BAD_GATEWAY_HTML, 502, None, None),
        (FaultKind.GATEWAY_TIMEOUT, 504, None, None),
    ],
)
async def test_fault_answers_without_processing(
    tgo_sandbox: SandboxServer,
    http: aiohttp.ClientSession,
    kind: FaultKind,
    status: int,
    code: str | None,
    retry_after: tuple[str, str] | None,
) -> None:
    """Each answering fault has its status, body type and Retry-After; the message is not recorded."""
    tgo_sandbox.state.faults.add(Fault(kind, route=SEND_ROUTE, retry_after=1.5))
    reply = await send(http, tgo_sandbox)
    if code is None:
        assert reply.status == status
        assert reply.headers["Content-Type"].startswith("text/html")
        assert b"<html>" in reply.raw
    else:
        assert_error(reply, status, code)
    got = (reply.headers.get("Retry-After"), reply.headers.get("retry-after-ms"))
    assert got == (retry_after or (None, None))
    assert not tgo_sandbox.state.ledger
    (record,) = tgo_sandbox.state.requests
    assert (record.fault, record.status) == (kind, status)
    assert record.retry_after == (1.5 if retry_after else None)
    assert record.item == "Hello from TGO Business"


async def test_drop_before_disconnects_and_records_nothing(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """DROP_BEFORE: the client sees a disconnect, no message is recorded, the server keeps serving."""
    caplog.set_level(logging.INFO)
    tgo_sandbox.state.faults.script(SEND_ROUTE, [FaultKind.DROP_BEFORE, FaultKind.DROP_BEFORE])
    with pytest.raises(DISCONNECTS):
        await send(http, tgo_sandbox)
    with pytest.raises(DISCONNECTS):
        await send(http, tgo_sandbox, data=media_form("image", b"x" * 300_000))
    assert not tgo_sandbox.state.ledger
    assert [(r.fault, r.status) for r in tgo_sandbox.state.requests] == [(FaultKind.DROP_BEFORE, None)] * 2
    assert tgo_sandbox.state.requests[0].item == "Hello from TGO Business"
    assert (await send(http, tgo_sandbox)).status == 201
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_drop_after_records_then_disconnects(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """DROP_AFTER: the message is recorded, the client sees a disconnect; a resend duplicates."""
    caplog.set_level(logging.INFO)
    tgo_sandbox.state.faults.script(SEND_ROUTE, [FaultKind.DROP_AFTER])
    with pytest.raises(DISCONNECTS):
        await send(http, tgo_sandbox)
    assert len(tgo_sandbox.state.ledger) == 1
    assert (await send(http, tgo_sandbox)).status == 201
    assert tgo_sandbox.state.duplicates() == {(TO, "Hello from TGO Business"): 2}
    assert tgo_sandbox.state.ledger_counts()[(TO, "Hello from TGO Business")] == 2
    assert [r.status for r in tgo_sandbox.state.requests] == [None, 201]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_error_after_records_then_answers_500(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    """ERROR_AFTER: the message is recorded and the client gets 500 server_error."""
    tgo_sandbox.state.faults.script(SEND_ROUTE, [FaultKind.ERROR_AFTER])
    assert_error(await send(http, tgo_sandbox), 500, "server_error")
    assert len(tgo_sandbox.state.ledger) == 1


async def test_latency_delays_then_processes(tgo_sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    """LATENCY holds the request before processing, then answers normally."""
    state = tgo_sandbox.state
    state.faults.script(SEND_ROUTE, [Fault(FaultKind.LATENCY, delay=0.05)])
    assert (await send(http, tgo_sandbox)).status == 201
    (record,) = state.requests
    (entry,) = state.ledger
    assert record.fault is FaultKind.LATENCY
    # Both stamps are the server's loop clock: processing started no earlier than `delay` after receipt.
    assert entry.recorded_at - record.received_at >= 0.05 - 0.001


async def test_respond_fault_is_verbatim(tgo_sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    """RESPOND answers the canned status, JSON/bytes body and headers (e.g. a redirect)."""
    odd = {"data": {"id": 1, "status": "teleported", "sent_at": "yesterday"}}
    tgo_sandbox.state.faults.script(
        SEND_ROUTE,
        [
            Fault(FaultKind.RESPOND, status=201, body=odd),
            Fault(FaultKind.RESPOND, status=302, body=b"", headers={"Location": "https://evil.example/"}),
            Fault(
                FaultKind.RESPOND, status=418, body=b"<p>teapot</p>", headers={"Content-Type": "text/html"}
            ),
        ],
    )
    first = await send(http, tgo_sandbox)
    assert (first.status, first.json) == (201, odd)
    second = await send(http, tgo_sandbox)
    assert (second.status, second.headers["Location"]) == (302, "https://evil.example/")
    third = await send(http, tgo_sandbox)
    assert (third.status, third.raw, third.headers["Content-Type"]) == (418, b"<p>teapot</p>", "text/html")
    assert all(r.headers["X-Request-Id"] for r in (first, second, third))
    assert not tgo_sandbox.state.ledger


async def test_script_runs_exact_sequence(tgo_sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    """A script applies its steps to the next requests of its route only, None meaning normal."""
    faults = tgo_sandbox.state.faults
    faults.script(SEND_ROUTE, [FaultKind.RATE_LIMIT, None, "server_error"])
    assert faults.pending_script(SEND_ROUTE) == 3
    assert (await call(http, tgo_sandbox, "GET", "/api/v1/sender-numbers")).status == 200
    statuses = [(await send(http, tgo_sandbox)).status for _ in range(4)]
    assert statuses == [429, 201, 500, 201]
    assert faults.pending_script(SEND_ROUTE) == 0
    sends = [r for r in tgo_sandbox.state.requests if r.method == "POST"]
    assert [r.item for r in sends] == ["Hello from TGO Business"] * 4


def test_random_faults_are_seeded_and_add_up() -> None:
    """Random rules share one uniform draw (probabilities add up) and replay with the same seed."""

    def run(seed: int) -> list[FaultKind | None]:
        faults = FaultSet(seed)
        faults.add(Fault(FaultKind.RATE_LIMIT, probability=0.3))
        faults.add(Fault(FaultKind.UNAVAILABLE, route=SEND_ROUTE, probability=0.2))
        picks = [faults.pick(SEND_ROUTE) for _ in range(20_000)]
        return [None if p is None else p.kind for p in picks]

    kinds = run(7)
    assert kinds == run(7)
    assert kinds != run(8)
    assert kinds.count(FaultKind.RATE_LIMIT) / len(kinds) == pytest.approx(0.3, abs=0.015)
    assert kinds.count(FaultKind.UNAVAILABLE) / len(kinds) == pytest.approx(0.2, abs=0.015)
    other = FaultSet(7)
    other.add(Fault(FaultKind.UNAVAILABLE, route=SEND_ROUTE))
    assert other.pick("GET /api/v1/usage") is None


def test_fault_times_and_clear() -> None:
    """A rule with times=N fires N times then disappears; clear() removes rules and scripts."""
    faults = FaultSet()
    faults.add(Fault(FaultKind.SERVER_ERROR, times=2))
    assert [faults.pick("GET /x") is not None for _ in range(3)] == [True, True, False]
    faults.add(Fault(FaultKind.SERVER_ERROR))
    faults.script("GET /x", [None])
    faults.clear()
    assert faults.pick("GET /x") is None
    assert not faults.rules


def test_fault_spec_parsing() -> None:
    """The CLI spec KIND[:P][,key=value] builds a Fault; nonsense is a ValueError."""
    fault = Fault.parse("rate_limit:0.3,retry_after=2,route=POST /api/v1/messages,times=4")
    assert fault == Fault(FaultKind.RATE_LIMIT, route=SEND_ROUTE, probability=0.3, retry_after=2.0, times=4)
    for bad in ("nope", "latency,delay", "latency,colour=red"):
        with pytest.raises(ValueError):  # noqa: PT011
            Fault.parse(bad)


async def test_faults_via_control_routes(tgo_sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    """POST/GET/DELETE /_sandbox/faults add rules and scripts, list and clear them."""
    script = {"route": SEND_ROUTE, "script": ["unavailable", None, {"kind": "respond", "status": 299}]}
    assert (await call(http, tgo_sandbox, "POST", "/_sandbox/faults", key=None, json=script)).status == 201
    rule = {"kind": "server_error", "route": "GET /api/v1/usage", "times": 1}
    await call(http, tgo_sandbox, "POST", "/_sandbox/faults", key=None, json={"faults": [rule]})
    listed = (await call(http, tgo_sandbox, "GET", "/_sandbox/faults", key=None)).json
    assert len(listed["scripts"][SEND_ROUTE]) == 3
    assert listed["rules"][0]["kind"] == "server_error"
    assert [(await send(http, tgo_sandbox)).status for _ in range(3)] == [503, 201, 299]
    bad = await call(http, tgo_sandbox, "POST", "/_sandbox/faults", key=None, json={"kind": "meteor"})
    assert_error(bad, 422, "validation_failed")
    assert (await call(http, tgo_sandbox, "DELETE", "/_sandbox/faults", key=None)).status == 204
    assert (await call(http, tgo_sandbox, "GET", "/api/v1/usage")).status == 200


# ------------------------------------------------------------------ observability & control


async def test_ledger_stats_and_reset_routes(tgo_sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    """/_sandbox/ledger and /_sandbox/stats report what the state holds; reset empties both."""
    tgo_sandbox.state.faults.script(SEND_ROUTE, [FaultKind.DROP_AFTER])
    with pytest.raises(DISCONNECTS):
        await send(http, tgo_sandbox)
    await send(http, tgo_sandbox)
    ledger = (await call(http, tgo_sandbox, "GET", "/_sandbox/ledger", key=None)).json
    assert len(ledger["data"]) == 2
    assert ledger["duplicates"][0]["count"] == 2
    assert ledger["data"][0]["api_key"] == "sandbox-key-all"
    stats = (await call(http, tgo_sandbox, "GET", "/_sandbox/stats", key=None)).json
    assert stats["total_requests"] == 2
    assert stats["by_status"] == {"dropped": 1, "201": 1}
    assert stats["by_fault"] == {"drop_after": 1}
    assert stats["duplicates"] == 1
    assert stats["requests"][0]["fault"] == "drop_after"
    assert stats["requests"][0]["status"] is None
    assert (await call(http, tgo_sandbox, "POST", "/_sandbox/reset", key=None)).status == 204
    assert not tgo_sandbox.state.ledger
    assert not tgo_sandbox.state.requests


async def test_request_log_records_every_api_request(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    """state.requests has one record per /api request (not for /_sandbox) with time, key and status."""
    loop = asyncio.get_running_loop()
    before = loop.time()
    await call(http, tgo_sandbox, "GET", "/api/v1/sender-numbers", key="not-a-key")
    await call(http, tgo_sandbox, "GET", "/_sandbox/stats", key=None)
    (record,) = tgo_sandbox.state.requests
    assert before <= record.received_at <= loop.time()
    assert record.status == 401
    assert record.key is not None
    assert record.key.startswith("unknown:")
    assert "not-a-key" not in record.key


async def test_control_keys_contacts_senders_settings(
    tgo_sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    """Keys, contacts, senders and settings can be changed over HTTP for a CLI-served sandbox."""
    sb = tgo_sandbox
    await call(http, sb, "POST", "/_sandbox/keys", key=None, json={"key": "k2", "scopes": ["usage.read"]})
    assert (await call(http, sb, "GET", "/api/v1/usage", key="k2")).status == 200
    assert (await call(http, sb, "POST", "/_sandbox/keys/k2/revoke", key=None)).status == 204
    assert (await call(http, sb, "GET", "/api/v1/usage", key="k2")).status == 401
    contact = {"phone": TO, "exists": True, "can_receive": False, "reason_code": "blocked"}
    assert (await call(http, sb, "POST", "/_sandbox/contacts", key=None, json=contact)).status == 201
    assert_error(await send(http, sb), 422, "recipient_unreachable")
    new = {"phone": "+201001115555", "status": "suspended"}
    added = await call(http, sb, "POST", "/_sandbox/sender-numbers", key=None, json=new)
    assert added.status == 201
    assert added.json["status"] == "suspended"
    listed = (await call(http, sb, "GET", "/_sandbox/sender-numbers", key=None)).json["data"]
    assert [s["otp_pending"] for s in listed if s["id"] == 13] == [True]
    patched = await call(
        http, sb, "PATCH", "/_sandbox/settings", key=None, json={"envelope": "bare", "rate_limit": 5}
    )
    assert patched.json["envelope"] == "bare"
    assert sb.state.rate_limit == 5
    bad = await call(http, sb, "PATCH", "/_sandbox/settings", key=None, json={"envelope": "x", "nope": 1})
    assert set(assert_error(bad, 422, "validation_failed")["errors"]) == {"envelope", "nope"}


async def test_state_helpers_validate(tgo_sandbox: SandboxServer) -> None:
    """State helpers refuse unknown senders, duplicate or invalid phones."""
    state = tgo_sandbox.state
    with pytest.raises(KeyError):
        state.sender(404)
    with pytest.raises(ValueError, match="already"):
        state.register_sender(SENDER)
    with pytest.raises(ValueError, match=r"E\.164"):
        state.set_contact("123")
    assert state.set_sender_status(12, "suspended").verification_status == "verified"


async def test_server_accepts_given_state(http: aiohttp.ClientSession) -> None:
    """A SandboxServer serves a state built beforehand and reports its real port."""
    state = SandboxState(seed=3)
    state.envelope = "bare"
    async with SandboxServer(state=state, rate_limit=100.0) as sb:
        assert sb.state is state
        assert sb.port > 0
        assert sb.base_url.endswith(str(sb.port))
        reply = await call(http, sb, "GET", "/api/v1/sender-numbers")
        assert isinstance(reply.json, list)
        assert reply.headers["X-RateLimit-Limit"] == "100"
    assert state.rate_limit == 100.0


@pytest.mark.tgo_sandbox(seed=5)
async def test_plugin_marker_configures_server(tgo_sandbox: SandboxServer) -> None:
    """@pytest.mark.tgo_sandbox(...) passes its keyword arguments to SandboxServer."""
    assert tgo_sandbox.state.otp_for(13) == SandboxState(seed=5).otp_for(13) != SandboxState().otp_for(13)


# ------------------------------------------------------------------ CLI


def test_cli_rejects_bad_fault_spec(capsys: pytest.CaptureFixture[str]) -> None:
    """An unparsable --fault exits with status 2 before binding."""
    with pytest.raises(SystemExit) as info:
        cli_main(["--port", "0", "--fault", "meteor"])
    assert info.value.code == 2
    assert "--fault" in capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_cli_serves_and_stops_on_signal(http: aiohttp.ClientSession, signum: int) -> None:
    """python -m tgo_async.sandbox prints SANDBOX_LISTENING, serves, and exits 0 on SIGTERM/SIGINT."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tgo_async.sandbox",
        "--port",
        "0",
        "--fault",
        "server_error,route=GET /api/v1/usage,times=1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        assert line.startswith("SANDBOX_LISTENING http://127.0.0.1:")
        base = line.split()[1]
        async with http.get(f"{base}/api/v1/usage", headers={"X-Api-Key": "sandbox-key-all"}) as resp:
            assert resp.status == 500
        async with http.get(f"{base}/api/v1/usage", headers={"X-Api-Key": "sandbox-key-all"}) as resp:
            assert resp.status == 200
        proc.send_signal(signum)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
        out, err = await proc.communicate()
        assert out == b""
        assert b"Traceback" not in err
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
