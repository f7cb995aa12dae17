"""Pure HTTP logic: JSON decoding, Retry-After and the response -> exception table."""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import formatdate
from typing import Any

import pytest

from tgo_async._errors import (
    AccountNotVerifiedError,
    APIError,
    AuthenticationError,
    BadRequestError,
    DecodeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RecipientUnreachableError,
    SenderNotActiveError,
    ServerError,
)
from tgo_async._http import decode_json, error_from_response, header, parse_retry_after

ARABIC = "يجب توثيق حساب مالك الرقم داخل TGO Connect قبل استخدام واجهة الإرسال"
NGINX_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
             "</body>\r\n</html>\r\n")
NOW = 1_736_496_000.0  # 2025-01-10T08:00:00Z


# --- decode_json ----------------------------------------------------------------------------------


def test_decode_json_object() -> None:
    """A JSON body decodes with orjson, non-ASCII included."""
    assert decode_json('{"message": "مرحبا", "n": 1}'.encode()) == {"message": "مرحبا", "n": 1}


@pytest.mark.parametrize("raw", [b"", b"  \r\n"])
def test_decode_json_empty_body_is_none(raw: bytes) -> None:
    """An empty body (204 No Content) decodes to None."""
    assert decode_json(raw) is None


def test_decode_json_invalid_raises_decode_error_with_text() -> None:
    """A non-JSON body is a DecodeError carrying the text and a tag-free snippet."""
    with pytest.raises(DecodeError, match=r"not valid JSON.*502 Bad Gateway") as info:
        decode_json(NGINX_502.encode())
    assert info.value.body == NGINX_502
    assert "<html>" not in str(info.value)


def test_decode_json_invalid_utf8() -> None:
    """Undecodable bytes still give a DecodeError, never UnicodeDecodeError."""
    with pytest.raises(DecodeError):
        decode_json(b"\xff\xfe{")


# --- parse_retry_after ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "5"}, 5.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"RETRY-AFTER": "2"}, 2.0),
        ({"Retry-After": " 7 "}, 7.0),
        ({"Retry-After": "-3"}, 0.0),
        ({"Retry-After": "0"}, 0.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After-Ms": "1500", "Retry-After": "9"}, 1.5),
        ({"retry-after-ms": "-10"}, 0.0),
        ({"retry-after-ms": "soon", "Retry-After": "4"}, 4.0),
        ({"Retry-After": formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"Retry-After": formatdate(NOW - 30, usegmt=True)}, 0.0),
        ({"Retry-After": "Fri, 10 Jan 2025 08:01:00 GMT"}, 60.0),
        ({"Retry-After": "Fri, 10 Jan 2025 08:01:00"}, 60.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": ""}, None),
        ({"retry-after-ms": "x"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: Mapping[str, str], expected: float | None) -> None:
    """retry-after-ms first, then seconds, then HTTP-date; negative -> 0; garbage -> None."""
    assert parse_retry_after(headers, now=NOW) == expected


def test_parse_retry_after_date_uses_wall_clock_by_default() -> None:
    """Without ``now`` an HTTP-date is measured against time.time()."""
    import time

    value = parse_retry_after({"Retry-After": formatdate(time.time() + 120, usegmt=True)})
    assert value is not None
    assert 115 <= value <= 120


def test_header_lookup_is_case_insensitive() -> None:
    """``header`` finds lower, canonical and odd casings in a plain dict."""
    assert header({"x-request-id": "a"}, "x-request-id") == "a"
    assert header({"X-Request-Id": "b"}, "x-request-id") == "b"
    assert header({"X-REQUEST-ID": "c"}, "x-request-id") == "c"
    assert header({}, "x-request-id") is None


# --- error_from_response: the table ---------------------------------------------------------------


def _body(code: str | None, message: str = "msg", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, **extra}
    if code is not None:
        body["code"] = code
    return body


CASES: list[tuple[str, int, Any, type[APIError], str]] = [
    # id, status, body, expected class, expected message
    ("401 unauthenticated", 401, _body("unauthenticated", "Unauthenticated."), AuthenticationError,
     "Unauthenticated."),
    ("401 unauthorized variant", 401, _body("unauthorized"), AuthenticationError, "msg"),
    ("403 missing_scope", 403,
     _body("missing_scope", "This action is unauthorized.", required_scope="usage.read"),
     PermissionDeniedError, "This action is unauthorized."),
    ("403 insufficient_scope", 403, _body("insufficient_scope", scope="messages.read"),
     PermissionDeniedError, "msg"),
    ("403 scope_missing", 403, _body("scope_missing"), PermissionDeniedError, "msg"),
    ("403 forbidden", 403, _body("forbidden"), PermissionDeniedError, "msg"),
    ("403 account_not_verified arabic", 403, _body("account_not_verified", ARABIC),
     AccountNotVerifiedError, ARABIC),
    ("422 account_not_verified", 422, _body("account_not_verified", ARABIC), AccountNotVerifiedError, ARABIC),
    ("422 sender_not_active", 422, _body("sender_not_active"), SenderNotActiveError, "msg"),
    ("422 sender_number_not_active", 422, _body("sender_number_not_active"), SenderNotActiveError, "msg"),
    ("403 sender_not_active", 403, _body("SENDER_NOT_ACTIVE"), SenderNotActiveError, "msg"),
    ("422 recipient_unreachable", 422, _body("recipient_unreachable"), RecipientUnreachableError, "msg"),
    ("422 recipient_not_reachable", 422, _body("recipient-not-reachable"), RecipientUnreachableError, "msg"),
    ("422 validation_failed", 422, _body("validation_failed", errors={"to_phone": ["bad"]}), BadRequestError,
     "msg"),
    ("422 validation_error", 422, _body("validation_error"), BadRequestError, "msg"),
    ("404 not_found", 404, _body("not_found", "No such sender number."), NotFoundError,
     "No such sender number."),
    ("429 rate_limited", 429, _body("rate_limited", "Too Many Attempts."), RateLimitError,
     "Too Many Attempts."),
    ("429 too_many_requests", 429, _body("too_many_requests"), RateLimitError, "msg"),
    ("500 server_error", 500, _body("server_error", "Server Error"), ServerError, "Server Error"),
    ("503 service_unavailable", 503, _body("service_unavailable"), ServerError, "msg"),
    # unknown or missing code -> status class
    ("400 unknown code", 400, _body("brand_new"), BadRequestError, "msg"),
    ("401 unknown code", 401, _body("brand_new"), AuthenticationError, "msg"),
    ("403 unknown code", 403, _body("brand_new"), PermissionDeniedError, "msg"),
    ("404 unknown code", 404, _body("brand_new"), NotFoundError, "msg"),
    ("405 unknown code", 405, _body("method_not_allowed"), APIError, "msg"),
    ("408 unknown code", 408, _body("request_timeout"), APIError, "msg"),
    ("409 unknown code", 409, _body("brand_new"), APIError, "msg"),
    ("413 unknown code", 413, _body("payload_too_large"), APIError, "msg"),
    ("422 unknown code", 422, _body("brand_new"), BadRequestError, "msg"),
    ("429 unknown code", 429, _body("brand_new"), RateLimitError, "msg"),
    ("500 unknown code", 500, _body("brand_new"), ServerError, "msg"),
    ("502 unknown code", 502, _body("brand_new"), ServerError, "msg"),
    ("599 unknown code", 599, _body("brand_new"), ServerError, "msg"),
    ("403 no code", 403, _body(None), PermissionDeniedError, "msg"),
    ("422 no code", 422, {"message": "The given data was invalid.", "errors": {"phone": ["taken"]}},
     BadRequestError, "The given data was invalid."),
    ("403 no code arabic is not account-not-verified", 403, _body(None, ARABIC), PermissionDeniedError,
     ARABIC),
    ("code not a string", 404, {"code": 12, "message": "x"}, NotFoundError, "x"),
    # non-JSON and odd bodies
    ("502 nginx html", 502, NGINX_502, ServerError, "502 Bad Gateway 502 Bad Gateway nginx"),
    ("504 nginx html", 504, NGINX_502.replace("502 Bad Gateway", "504 Gateway Time-out"), ServerError,
     "504 Gateway Time-out 504 Gateway Time-out nginx"),
    ("503 plain text", 503, "upstream connect error", ServerError, "upstream connect error"),
    ("500 empty body", 500, None, ServerError, "Internal Server Error"),
    ("418 empty body", 418, None, APIError, "I'm a Teapot"),
    ("599 empty body unknown phrase", 599, None, ServerError, "error"),
    ("500 json array body", 500, ["x"], ServerError, "Internal Server Error"),
    ("error key as message", 400, {"error": "invalid_request_body"}, BadRequestError, "invalid_request_body"),
    ("detail key as message", 404, {"detail": "Not here"}, NotFoundError, "Not here"),
    ("nested error object", 403, {"error": {"code": "account_not_verified", "message": ARABIC}},
     AccountNotVerifiedError, ARABIC),
    ("error_code key", 422, {"error_code": "recipient_unreachable", "message": "m"},
     RecipientUnreachableError, "m"),
]


@pytest.mark.parametrize(("status", "body", "expected", "message"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_error_from_response_table(status: int, body: Any, expected: type[APIError], message: str) -> None:
    """Each response maps to exactly the expected class (not a subclass), status and message."""
    raw_text = body if isinstance(body, str) else None
    error = error_from_response(status, body, {"X-Request-Id": "req_1"}, raw_text=raw_text)
    assert type(error) is expected
    assert error.status == status
    assert error.message == message
    assert error.request_id == "req_1"


def test_403_scope_and_403_account_differ_only_by_code() -> None:
    """Same status, different codes: missing scope vs account not verified, never by the text."""
    scope = error_from_response(403, _body("missing_scope", ARABIC), {})
    account = error_from_response(403, _body("account_not_verified", "This action is unauthorized."), {})
    assert type(scope) is PermissionDeniedError
    assert type(account) is AccountNotVerifiedError
    assert not isinstance(account, PermissionDeniedError)


def test_error_keeps_raw_code_and_body() -> None:
    """``code`` is the server's string as sent; ``body`` is the decoded body."""
    body = _body("Missing-Scope", required_scope="usage.read")
    error = error_from_response(403, body, {})
    assert error.code == "Missing-Scope"
    assert error.body is body


@pytest.mark.parametrize(("extra", "scope"), [({"required_scope": "usage.read"}, "usage.read"),
                                              ({"scope": "contacts.lookup"}, "contacts.lookup"), ({}, None)])
def test_permission_denied_required_scope(extra: dict[str, Any], scope: str | None) -> None:
    """required_scope comes from ``required_scope`` or ``scope`` in the body."""
    error = error_from_response(403, _body("missing_scope", **extra), {})
    assert isinstance(error, PermissionDeniedError)
    assert error.required_scope == scope


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        ({"to_phone": ["The field is required."]}, {"to_phone": ["The field is required."]}),
        ({"content": "too long"}, {"content": ["too long"]}),
        ([{"field": "duration", "message": "1..300"}, {"field": "duration", "message": "int"}],
         {"duration": ["1..300", "int"]}),
        ([{"loc": ["body", "phone"], "msg": "bad"}], {"body.phone": ["bad"]}),
        (["something is wrong"], {"__all__": ["something is wrong"]}),
        ("whole request bad", {"__all__": ["whole request bad"]}),
        (None, {}),
        ({"n": [1]}, {"n": ["1"]}),
    ],
)
def test_bad_request_errors_normalised(errors: Any, expected: dict[str, list[str]]) -> None:
    """``errors`` in any common shape becomes ``dict[str, list[str]]``."""
    error = error_from_response(422, _body("validation_failed", errors=errors), {})
    assert isinstance(error, BadRequestError)
    assert error.errors == expected


def test_rate_limit_retry_after_from_headers() -> None:
    """A 429's retry_after comes from the response headers."""
    error = error_from_response(429, _body("rate_limited"), {"retry-after-ms": "1200", "Retry-After": "9"})
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 1.2


def test_rate_limit_retry_after_from_body_when_no_header() -> None:
    """Without a header, a numeric ``retry_after`` in the body is used."""
    error = error_from_response(429, _body("rate_limited", retry_after=3), {})
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 3.0


def test_rate_limit_without_hint() -> None:
    """No header and no body hint: retry_after is None."""
    error = error_from_response(429, None, {})
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None


def test_html_snippet_is_sanitised_and_short() -> None:
    """A long HTML page becomes ≤ 200 chars of text: no tags, scripts or entities."""
    page = ("<html><head><style>body{color:red}</style><script>alert('x')</script></head><body>"
            + "<p>Service &amp; gateway down</p>" * 50 + "</body></html>")
    error = error_from_response(502, None, {}, raw_text=page)
    assert len(error.message) <= 200
    assert error.message.startswith("Service & gateway down")
    for bad in ("<", ">", "alert", "color", "&amp;"):
        assert bad not in error.message
    assert error.body == page


def test_raw_text_used_when_body_is_none() -> None:
    """When decoding failed, the raw text is both the message source and the body."""
    error = error_from_response(500, None, {}, raw_text="oops")
    assert error.message == "oops"
    assert error.body == "oops"


def test_request_id_header_any_case() -> None:
    """``X-Request-Id`` is read whatever its case; absent gives None."""
    assert error_from_response(500, None, {"x-request-id": "r1"}).request_id == "r1"
    assert error_from_response(500, None, {}).request_id is None


def test_error_str_contains_status_code_and_message_only() -> None:
    """The exception text is status, code, message and request id, nothing from request headers."""
    error = error_from_response(401, _body("unauthenticated", "Unauthenticated."),
                                {"X-Request-Id": "req_9", "Set-Cookie": "secret"})
    assert str(error) == "HTTP 401 unauthenticated: Unauthenticated. [request_id=req_9]"
    assert "secret" not in repr(error.__dict__)


def test_server_error_is_not_safe_to_resend() -> None:
    """A 5xx may have been applied; a 4xx was not."""
    assert error_from_response(500, None, {}).safe_to_resend is False
    assert error_from_response(422, None, {}).safe_to_resend is True
