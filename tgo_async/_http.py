"""Pure HTTP protocol logic: JSON decoding, Retry-After, and response -> exception.

No I/O and no aiohttp: the transport hands over status, headers and bytes, and everything here
is a plain function with a table test. Errors are mapped on the body's ``code`` first, then on
the status class, never on English text: the account-not-verified error's message is Arabic
only and shares status 403 with the missing-scope error.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import orjson

from ._errors import (
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

__all__ = ["decode_json", "error_from_response", "header", "parse_retry_after"]


def decode_json(raw: bytes) -> Any:
    """Decode a response body with orjson; an empty body (204) is ``None``."""
    try:
        return orjson.loads(raw)  # first: the emptiness check below copies the body
    except orjson.JSONDecodeError as exc:
        if not raw.strip():
            return None
        text = bytes(raw[:2000]).decode("utf-8", "replace")
        raise DecodeError(f"response body is not valid JSON ({exc}): {_snippet(text, 80)!r}",
                          body=text) from exc


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup in any mapping (aiohttp's proxy is already case-insensitive).

    ``name`` is given in lower case.
    """
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
        if value is None:
            for key, candidate in headers.items():
                if key.lower() == name:
                    return candidate
    return value


def _finite_seconds(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return max(value, 0.0) if math.isfinite(value) else None


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait: ``retry-after-ms``, else ``Retry-After`` as seconds or an HTTP-date.

    ``now`` (epoch seconds, default wall clock) anchors an HTTP-date. Negative values and dates
    in the past give 0; anything unparsable gives ``None`` (the caller's backoff applies).
    """
    millis = header(headers, "retry-after-ms")
    if millis is not None:
        value = _finite_seconds(millis)
        if value is not None:
            return value / 1000.0
    text = header(headers, "retry-after")
    if text is None:
        return None
    value = _finite_seconds(text)
    if value is not None:
        return value
    try:
        when = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None instead of raising
        return None
    # RFC 9110 dates are GMT; a naive result from a zone-less date is taken as UTC.
    seconds = when.timestamp() if when.tzinfo else when.replace(tzinfo=UTC).timestamp()
    return max(seconds - (time.time() if now is None else now), 0.0)

# --- error mapping -------------------------------------------------------------------------------

_CODE_TO_ERROR: dict[str, type[APIError]] = {}
for _cls, _codes in (
    (AuthenticationError, "unauthenticated unauthorized unauthorised invalid_api_key "
                          "authentication_failed invalid_token"),
    (PermissionDeniedError, "missing_scope insufficient_scope scope_missing forbidden "
                            "permission_denied"),
    (AccountNotVerifiedError, "account_not_verified connect_account_not_verified "
                              "owner_not_verified account_unverified"),
    (SenderNotActiveError, "sender_not_active sender_number_not_active sender_inactive"),
    (RecipientUnreachableError, "recipient_unreachable recipient_not_reachable "
                                "recipient_cannot_receive contact_unreachable"),
    (BadRequestError, "validation_failed validation_error invalid_request bad_request "
                      "unprocessable_entity"),
    (NotFoundError, "not_found resource_not_found"),
    (RateLimitError, "rate_limited too_many_requests rate_limit_exceeded throttled"),
    (ServerError, "server_error internal_error internal_server_error service_unavailable"),
):
    for _code in _codes.split():
        _CODE_TO_ERROR[_code] = _cls

_STATUS_TO_ERROR: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: BadRequestError,
    429: RateLimitError,
}

_TAG = re.compile(r"<[^>]*>")
_HIDDEN = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _snippet(text: str, limit: int = 200) -> str:
    """Readable text of a non-JSON body (an HTML page from a proxy): tags stripped, ≤ ``limit`` chars."""
    import html  # only error paths need it: kept off ``import tgo_async``

    stripped = _TAG.sub(" ", _HIDDEN.sub(" ", text))
    clean = _SPACE.sub(" ", _CONTROL.sub("", html.unescape(stripped))).strip()
    return clean if len(clean) <= limit else clean[: limit - 1].rstrip() + "…"


def _normalise_code(code: Any) -> str | None:
    if not isinstance(code, str) or not code.strip():
        return None
    return re.sub(r"[\s.\-]+", "_", code.strip().lower())


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _normalise_errors(errors: Any) -> dict[str, list[str]]:
    """Laravel's ``{"field": ["msg"]}``, a single string per field, or a list of ``{field, message}``."""
    out: dict[str, list[str]] = {}
    if isinstance(errors, Mapping):
        for field, messages in errors.items():
            items = messages if isinstance(messages, list) else [messages]
            out[str(field)] = [m if isinstance(m, str) else orjson.dumps(m).decode() for m in items]
    elif isinstance(errors, list):
        for item in errors:
            if isinstance(item, Mapping):
                field = item.get("field", item.get("name", item.get("loc", "__all__")))
                if isinstance(field, list):
                    field = ".".join(map(str, field))
                message = item.get("message", item.get("msg", item.get("detail", "")))
                out.setdefault(str(field), []).append(str(message))
            else:
                out.setdefault("__all__", []).append(str(item))
    elif isinstance(errors, str):
        out["__all__"] = [errors]
    return out


def error_from_response(
    status: int,
    body: Any,
    headers: Mapping[str, str],
    *,
    raw_text: str | None = None,
) -> APIError:
    """Map a non-2xx response to the exception tree: body ``code`` first, then status class.

    ``body`` is the decoded JSON, or the raw text when it was not JSON (``raw_text`` may carry
    it too). ``headers`` are the *response* headers; request headers never reach an error.
    """
    fields: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    nested = fields.get("error")
    if isinstance(nested, Mapping):  # {"error": {"code": ..., "message": ...}}
        fields = {**fields, **nested}

    raw_code = fields.get("code", fields.get("error_code"))
    code = raw_code if isinstance(raw_code, str) and raw_code.strip() else None
    cls = _CODE_TO_ERROR.get(_normalise_code(code) or "")
    if cls is None:
        cls = _STATUS_TO_ERROR.get(status)
        if cls is None:
            cls = ServerError if 500 <= status <= 599 else APIError

    message = _text(fields.get("message")) or _text(fields.get("error")) or _text(fields.get("detail"))
    text = raw_text if raw_text is not None else body if isinstance(body, str) else None
    if message is None and text:
        message = _snippet(text) or None
    if message is None:
        try:
            message = HTTPStatus(status).phrase
        except ValueError:
            message = "error"

    common: dict[str, Any] = {
        "status": status,
        "code": code,
        "request_id": header(headers, "x-request-id"),
        "body": body if body is not None else raw_text,
    }
    if cls is BadRequestError:
        return BadRequestError(message, errors=_normalise_errors(fields.get("errors")), **common)
    if cls is PermissionDeniedError:
        scope = _text(fields.get("required_scope")) or _text(fields.get("scope"))
        return PermissionDeniedError(message, required_scope=scope, **common)
    if cls is RateLimitError:
        retry_after = parse_retry_after(headers)
        if retry_after is None:
            hint = fields.get("retry_after")
            if isinstance(hint, int | float) and not isinstance(hint, bool) and math.isfinite(hint):
                retry_after = max(float(hint), 0.0)
        return RateLimitError(message, retry_after=retry_after, **common)
    return cls(message, **common)
