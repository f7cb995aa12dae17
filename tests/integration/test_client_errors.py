"""Every documented error, produced by the real sandbox, raised with the right type and fields."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

import tgo_async
from tgo_async import (
    AccountNotVerifiedError,
    APIError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    RecipientUnreachableError,
    RetryPolicy,
    SenderNotActiveError,
    ServerError,
)
from tgo_async.sandbox import Fault, FaultKind, SandboxServer

if TYPE_CHECKING:
    from conftest import FakeTime, MakeClient, Respond

RECIPIENT = "+201010000000"
ARABIC_NOT_VERIFIED = "يجب توثيق حساب مالك الرقم داخل TGO Connect قبل استخدام واجهة الإرسال"


def _check_common(err: APIError, sb: SandboxServer, status: int, code: str | None) -> None:
    """Status, code, request id of the (last) response, a JSON body, and no key in the text."""
    assert (err.status, err.code) == (status, code)
    assert err.request_id is not None
    assert err.request_id == sb.state.requests[-1].request_id
    assert err.request_id in str(err)
    assert isinstance(err.body, dict)
    assert err.body.get("code") == code
    assert err.message == err.body["message"]
    assert "sandbox-key" not in str(err)
    assert "sandbox-key" not in repr(err)


# --- 401 / 403 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["sandbox-key-revoked", "no-such-key-0000"])
async def test_revoked_or_unknown_key_is_authentication_error(
    tgo_sandbox: SandboxServer, make_client: MakeClient, key: str
) -> None:
    """401 for a revoked and for an unknown key, on a GET and on a send."""
    client = make_client(key)
    with pytest.raises(AuthenticationError) as info:
        await client.sender_numbers.list()
    _check_common(info.value, tgo_sandbox, 401, "unauthenticated")
    assert key not in str(info.value)
    with pytest.raises(AuthenticationError):
        await client.messages.send_text(sender_number_id=12, to_phone=RECIPIENT, content="x")
    assert tgo_sandbox.state.ledger == []


async def _drain(aiter: Any) -> list[Any]:
    return [x async for x in aiter]


@pytest.mark.parametrize(
    ("key", "call", "scope"),
    [
        ("sandbox-key-send", lambda c: _drain(c.messages.list()), "messages.read"),
        (
            "sandbox-key-read",
            lambda c: c.messages.send_text(sender_number_id=12, to_phone=RECIPIENT, content="x"),
            "messages.send",
        ),
        ("sandbox-key-read", lambda c: c.sender_numbers.register(phone="+201001234567"), "messages.send"),
        ("sandbox-key-send", lambda c: c.contacts.lookup(phone=RECIPIENT), "contacts.lookup"),
        ("sandbox-key-send", lambda c: c.usage.get(), "usage.read"),
    ],
    ids=["log-needs-read", "send-needs-send", "register-needs-send", "lookup", "usage"],
)
async def test_missing_scope_is_permission_denied_with_required_scope(
    tgo_sandbox: SandboxServer, make_client: MakeClient, key: str, call: Any, scope: str
) -> None:
    """403 missing_scope names the scope the operation needs, as in the docs' table."""
    with pytest.raises(PermissionDeniedError) as info:
        await call(make_client(key))
    err = info.value
    _check_common(err, tgo_sandbox, 403, "missing_scope")
    assert err.required_scope == scope
    assert not isinstance(err, AccountNotVerifiedError)
    assert tgo_sandbox.state.ledger == []


@pytest.mark.parametrize("sender_id", [14, 15], ids=["status-shape", "verification-status-shape"])
async def test_account_not_verified_is_its_own_error(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer, sender_id: int
) -> None:
    """403 account_not_verified (Arabic only) is AccountNotVerifiedError, told from missing scope by code."""
    with pytest.raises(AccountNotVerifiedError) as info:
        await tgo_client.messages.send_text(sender_number_id=sender_id, to_phone=RECIPIENT, content="x")
    err = info.value
    _check_common(err, tgo_sandbox, 403, "account_not_verified")
    assert err.message == ARABIC_NOT_VERIFIED
    assert not isinstance(err, PermissionDeniedError)
    assert tgo_sandbox.state.ledger == []


# --- sender, recipient, validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender_id", "status"), [(13, "pending_verification"), (16, "rejected"), (17, "suspended")]
)
async def test_inactive_sender_is_sender_not_active(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer, sender_id: int, status: str
) -> None:
    """Pending OTP, rejected or suspended: SenderNotActiveError whose field error names the status."""
    with pytest.raises(SenderNotActiveError) as info:
        await tgo_client.messages.send_text(sender_number_id=sender_id, to_phone=RECIPIENT, content="x")
    _check_common(info.value, tgo_sandbox, 422, "sender_not_active")
    assert status in info.value.body["errors"]["sender_number_id"][0]
    assert tgo_sandbox.state.ledger == []


async def test_inactive_sender_by_phone_on_media_send(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer
) -> None:
    """The same error on a multipart send identified by sender_phone."""
    with pytest.raises(SenderNotActiveError):
        await tgo_client.messages.send_image(sender_phone="+201001187192", to_phone=RECIPIENT, media=b"png")
    assert tgo_sandbox.state.ledger == []


@pytest.mark.parametrize("phone", ["+201010000001", "+201010000002", "+201010000003", "+201010000004"])
async def test_unreachable_recipient_is_recipient_unreachable(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer, phone: str
) -> None:
    """Unknown, unverified, blocked or frozen recipients raise RecipientUnreachableError with the reason."""
    reason = (await tgo_client.contacts.lookup(phone=phone)).reason_code_raw
    with pytest.raises(RecipientUnreachableError) as info:
        await tgo_client.messages.send_text(sender_number_id=12, to_phone=phone, content="x")
    _check_common(info.value, tgo_sandbox, 422, "recipient_unreachable")
    assert f"({reason})" in info.value.body["errors"]["to_phone"][0]
    assert tgo_sandbox.state.ledger == []


async def test_server_validation_is_bad_request_with_field_errors(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer
) -> None:
    """What local checks let through but the server refuses: 422 with per-field .errors."""
    with pytest.raises(BadRequestError) as info:
        await tgo_client.sender_numbers.register(phone="+201001187188")  # already registered
    _check_common(info.value, tgo_sandbox, 422, "validation_failed")
    assert info.value.errors == {"phone": ["The phone has already been taken."]}

    with pytest.raises(BadRequestError) as info:
        await tgo_client.messages.send_image(
            sender_number_id=12, to_phone=RECIPIENT, media=b"png", caption="c" * 5000
        )
    assert list(info.value.errors) == ["caption"]
    assert "4096" in info.value.errors["caption"][0]
    assert tgo_sandbox.state.ledger == []


async def test_unknown_sender_id_is_bad_request(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer
) -> None:
    """An unregistered sender_number_id is a validation error on that field."""
    with pytest.raises(BadRequestError) as info:
        await tgo_client.messages.send_text(sender_number_id=999, to_phone=RECIPIENT, content="x")
    assert info.value.errors == {"sender_number_id": ["The selected sender_number_id is invalid."]}
    assert not isinstance(info.value, SenderNotActiveError)


async def test_wrong_base_path_is_not_found(tgo_sandbox: SandboxServer, make_client: MakeClient) -> None:
    """A base URL with a wrong path prefix gets the server's 404 as NotFoundError."""
    client = make_client(base_url=tgo_sandbox.base_url + "/wrong")
    with pytest.raises(NotFoundError) as info:
        await client.usage.get()
    assert (info.value.status, info.value.code) == (404, "not_found")
    assert info.value.request_id is not None
    assert info.value.request_id.startswith("req_")


# --- 429 and 5xx ---------------------------------------------------------------------------------


async def test_rate_limit_beyond_cap_raises_at_once_with_retry_after(
    tgo_sandbox: SandboxServer, make_client: MakeClient
) -> None:
    """A 429 asking for 30 s, above max_retry_after, is raised at once with .retry_after == 30."""
    tgo_sandbox.state.faults.script("GET /api/v1/usage", [Fault(FaultKind.RATE_LIMIT, retry_after=30.0)])
    client = make_client(retry=RetryPolicy(max_retry_after=1.0))
    with pytest.raises(RateLimitError) as info:
        await client.usage.get()
    _check_common(info.value, tgo_sandbox, 429, "rate_limited")
    assert info.value.retry_after == 30.0
    assert len(tgo_sandbox.state.requests) == 1


@pytest.mark.tgo_sandbox(rate_limit=0.01, rate_burst=1)
async def test_server_rate_limit_raises_rate_limit_error(
    tgo_sandbox: SandboxServer, make_client: MakeClient
) -> None:
    """The sandbox's own per-key limiter (set by the plugin marker) answers 429; retry_after is positive.

    Client-side limiting is off: with it on, the client reads X-RateLimit-* and waits instead.
    """
    client = make_client(retry=RetryPolicy(max_retry_after=0.01), rate_limit=None)
    await client.usage.get()
    with pytest.raises(RateLimitError) as info:
        await client.usage.get()
    assert info.value.retry_after is not None
    assert 0 < info.value.retry_after <= 100.0
    assert [r.status for r in tgo_sandbox.state.requests] == [200, 429]


@pytest.mark.parametrize(
    ("last", "status", "text"),
    [
        (FaultKind.BAD_GATEWAY_HTML, 502, "502 Bad Gateway"),
        (FaultKind.GATEWAY_TIMEOUT, 504, "504 Gateway Time-out"),
        (FaultKind.SERVER_ERROR, 500, "Server Error."),
        (FaultKind.UNAVAILABLE, 503, "Service Unavailable."),
    ],
)
async def test_get_5xx_after_retries_is_server_error(
    tgo_sandbox: SandboxServer,
    make_client: MakeClient,
    fake_time: FakeTime,
    last: FaultKind,
    status: int,
    text: str,
) -> None:
    """A GET failing 3 times raises ServerError of the last response; an HTML body becomes readable text."""
    tgo_sandbox.state.faults.script(
        "GET /api/v1/usage", [FaultKind.SERVER_ERROR, FaultKind.BAD_GATEWAY_HTML, last]
    )
    client = make_client(**fake_time.kwargs())
    with pytest.raises(ServerError) as info:
        await client.usage.get()
    err = info.value
    assert err.status == status
    assert text in err.message
    assert err.request_id == tgo_sandbox.state.requests[-1].request_id
    assert len(tgo_sandbox.state.requests) == 3
    assert len(fake_time.sleeps) == 2
    if last in (FaultKind.BAD_GATEWAY_HTML, FaultKind.GATEWAY_TIMEOUT):
        assert err.code is None
        assert isinstance(err.body, str)
        assert err.body.startswith("<html>")
        assert "<" not in err.message
        assert "nginx" in err.message


async def test_get_recovers_after_one_bad_gateway(
    tgo_sandbox: SandboxServer, make_client: MakeClient, fake_time: FakeTime
) -> None:
    """One HTML 502 on a GET is retried after a backoff sleep and the call succeeds."""
    tgo_sandbox.state.faults.script("GET /api/v1/sender-numbers", [FaultKind.BAD_GATEWAY_HTML])
    client = make_client(**fake_time.kwargs())
    assert len(await client.sender_numbers.list()) == 6
    assert [r.status for r in tgo_sandbox.state.requests] == [502, 200]
    assert len(fake_time.sleeps) == 1


async def test_send_502_is_outcome_unknown_not_retried(
    tgo_sandbox: SandboxServer, make_client: MakeClient, fake_time: FakeTime
) -> None:
    """A send answered 502 may have been applied: OutcomeUnknownError, one request, cause kept."""
    tgo_sandbox.state.faults.script("POST /api/v1/messages", [FaultKind.BAD_GATEWAY_HTML])
    client = make_client(**fake_time.kwargs())
    with pytest.raises(OutcomeUnknownError) as info:
        await client.messages.send_text(sender_number_id=12, to_phone=RECIPIENT, content="x")
    assert isinstance(info.value.cause, ServerError)
    assert info.value.cause.status == 502
    assert len(tgo_sandbox.state.requests) == 1
    assert fake_time.sleeps == []


# --- canned error bodies: code first, then status class ------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (403, {"message": "Nope.", "code": "brand_new_code"}, PermissionDeniedError, "brand_new_code"),
        (409, {"message": "Conflict.", "code": "conflict"}, APIError, "conflict"),
        (
            422,
            {"message": "The given data was invalid.", "errors": {"to_phone": ["bad"]}},
            BadRequestError,
            None,
        ),
        (
            400,
            {"message": "Bad.", "code": "account_not_verified"},
            AccountNotVerifiedError,
            "account_not_verified",
        ),
        (418, "I'm a teapot", APIError, None),
    ],
    ids=["unknown-code-403", "unknown-code-409", "laravel-no-code", "code-beats-status", "text-body"],
)
async def test_error_mapping_code_first_then_status(
    tgo_client: tgo_async.Client,
    respond: Respond,
    status: int,
    body: Any,
    cls: type[APIError],
    code: str | None,
) -> None:
    """The body's code decides the type; an unknown or missing code falls back to the status class."""
    respond("GET /api/v1/usage", body, status=status)
    with pytest.raises(APIError) as info:
        await tgo_client.usage.get()
    assert type(info.value) is cls
    assert (info.value.status, info.value.code) == (status, code)
    if isinstance(info.value, BadRequestError) and code is None:
        assert info.value.errors == {"to_phone": ["bad"]}
    if isinstance(body, str):
        assert info.value.message == body
        assert info.value.body == body
