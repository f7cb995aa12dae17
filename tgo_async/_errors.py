"""The exception tree.

::

    TgoError
    ├── ValidationError (also ValueError)   bad input caught before any I/O
    ├── TransportError                      no usable HTTP response
    │   ├── ConnectError                    provably never sent (DNS, refused, connect / pool timeout)
    │   ├── ConnectionLostError             sent, then the connection broke or the response timed out
    │   ├── RedirectError                   a 3xx; never followed, the key must not leave the origin
    │   └── OutcomeUnknownError             sent, then lost: the server may have acted
    ├── APIError                            .status .code .message .request_id .body
    │   ├── BadRequestError (400/422)       .errors per field
    │   ├── AuthenticationError (401)
    │   ├── PermissionDeniedError (403)     .required_scope
    │   ├── AccountNotVerifiedError         OTP done, TGO Connect account not verified
    │   ├── SenderNotActiveError            pending OTP, rejected or suspended
    │   ├── RecipientUnreachableError
    │   ├── NotFoundError (404)
    │   ├── RateLimitError (429)            .retry_after seconds
    │   └── ServerError (5xx)
    ├── DecodeError                         a 2xx body that is not what the docs describe
    ├── ClientClosedError (also RuntimeError)   used after aclose()
    └── SenderNotReadyError                 wait_until_ready gave up: says what is still missing

Messages never include the API key: no exception here holds request headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIError",
    "AccountNotVerifiedError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConnectError",
    "ConnectionLostError",
    "DecodeError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitError",
    "RecipientUnreachableError",
    "RedirectError",
    "SenderNotActiveError",
    "SenderNotReadyError",
    "ServerError",
    "TgoError",
    "TransportError",
    "ValidationError",
]


class TgoError(Exception):
    """Base of every error this library raises."""


class ValidationError(TgoError, ValueError):
    """Bad input, caught before any I/O. ``field`` names the offending argument."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class TransportError(TgoError):
    """No usable HTTP response was received."""


class ConnectError(TransportError):
    """The request provably never reached the server, so resending it is safe."""

    safe_to_resend = True


class ConnectionLostError(TransportError):
    """The request went out, then the connection broke or the response timed out.

    For a send this surfaces as ``OutcomeUnknownError`` (with this as its ``cause``).
    """

    safe_to_resend = False

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


class RedirectError(TransportError):
    """The server answered with a redirect; it is not followed so the key never leaves the origin."""

    safe_to_resend = False

    def __init__(self, status: int, location: str | None) -> None:
        super().__init__(f"HTTP {status} redirect to {location or '(no Location header)'} was not followed")
        self.status = status
        self.location = location


class OutcomeUnknownError(TransportError):
    """The request may have been applied by the server; resending may duplicate it.

    ``cause`` is the last underlying error, ``attempts`` how many requests were made.
    """

    safe_to_resend = False

    def __init__(self, message: str, *, cause: BaseException | None, attempts: int) -> None:
        super().__init__(
            f"{message} (after {attempts} attempt{'s' if attempts != 1 else ''}; "
            "the server may have applied it)"
        )
        self.cause = cause
        self.attempts = attempts


class APIError(TgoError):
    """The server answered with an error status."""

    safe_to_resend = True
    retry_after: float | None = None
    """Seconds the server asked us to wait (429, or 503 with Retry-After), else None."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        text = f"HTTP {status}{' ' + code if code else ''}: {message}" if status else message
        if request_id:
            text += f" [request_id={request_id}]"
        super().__init__(text)
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.body = body


class BadRequestError(APIError):
    """400 / 422: the request was invalid. ``errors`` maps field names to messages."""

    def __init__(self, message: str, *, errors: Mapping[str, list[str]] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.errors: dict[str, list[str]] = dict(errors or {})


class AuthenticationError(APIError):
    """401: the API key is missing, invalid or revoked."""


class PermissionDeniedError(APIError):
    """403: the API key lacks the scope for this operation."""

    def __init__(self, message: str, *, required_scope: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.required_scope = required_scope


class AccountNotVerifiedError(APIError):
    """The sender's OTP step is done but its owner's TGO Connect account is not verified.

    No new OTP is needed: the owner verifies the account inside TGO Connect.
    """


class SenderNotActiveError(APIError):
    """The sender number is pending OTP confirmation, rejected or suspended."""


class RecipientUnreachableError(APIError):
    """The recipient has no reachable TGO Connect account."""


class NotFoundError(APIError):
    """404: the resource does not exist."""


class RateLimitError(APIError):
    """429, or a Retry-After above the policy's cap. ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx. ``safe_to_resend`` is False: for a send the server may have applied it."""

    safe_to_resend = False


class DecodeError(TgoError):
    """A successful response whose body is not what the API describes."""

    def __init__(self, message: str, *, body: Any = None) -> None:
        super().__init__(message)
        self.body = body


class ClientClosedError(TgoError, RuntimeError):
    """The client was closed (``aclose()`` / end of ``async with``) and cannot send any more."""


class SenderNotReadyError(TgoError):
    """A sender number cannot send yet; ``missing`` says what is still to be done."""

    def __init__(self, message: str, *, missing: str, sender: Any = None) -> None:
        super().__init__(message)
        self.missing = missing
        self.sender = sender
