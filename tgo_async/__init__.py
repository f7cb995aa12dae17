"""tgo_async: the asyncio client for the TGO Business messaging API.

async with tgo_async.Client(api_key=..., base_url=...) as client:
    await client.messages.send_text(sender_phone=..., to_phone=..., content="Hello")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._client import Client
from ._config import Timeouts
from ._errors import (
    AccountNotVerifiedError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConnectError,
    ConnectionLostError,
    DecodeError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    RecipientUnreachableError,
    RedirectError,
    SenderNotActiveError,
    SenderNotReadyError,
    ServerError,
    TgoError,
    TransportError,
    ValidationError,
)
from ._limiter import TokenBucket
from ._media import Media
from ._messages import DocumentMessage, ImageMessage, TextMessage, VoiceMessage
from ._retry import RetryEvent, RetryPolicy
from ._scoped_limiter import ScopedRateLimiter
from .models import (
    ContactLookup,
    MediaInfo,
    Message,
    MessageStatus,
    MessageType,
    ReasonCode,
    SenderNumber,
    SenderStatus,
    Usage,
    UsageEntry,
    VerificationStatus,
)

if TYPE_CHECKING:
    from ._redis_limiter import RedisRateLimiter
    from .bulk import BulkJob, Outcome

__all__ = [
    "APIError",
    "AccountNotVerifiedError",
    "AuthenticationError",
    "BadRequestError",
    "BulkJob",
    "Client",
    "ClientClosedError",
    "ConnectError",
    "ConnectionLostError",
    "ContactLookup",
    "DecodeError",
    "DocumentMessage",
    "ImageMessage",
    "Media",
    "MediaInfo",
    "Message",
    "MessageStatus",
    "MessageType",
    "NotFoundError",
    "Outcome",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitError",
    "ReasonCode",
    "RecipientUnreachableError",
    "RedirectError",
    "RedisRateLimiter",
    "RetryEvent",
    "RetryPolicy",
    "ScopedRateLimiter",
    "SenderNotActiveError",
    "SenderNotReadyError",
    "SenderNumber",
    "SenderStatus",
    "ServerError",
    "TextMessage",
    "TgoError",
    "Timeouts",
    "TokenBucket",
    "TransportError",
    "Usage",
    "UsageEntry",
    "ValidationError",
    "VerificationStatus",
    "VoiceMessage",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Lazy attributes: the version, the bulk types, and RedisRateLimiter (needs the redis extra)."""
    if name == "__version__":
        from ._version import __version__

        return __version__
    if name in ("BulkJob", "Outcome"):  # imported on first use: most callers never bulk-send
        from . import bulk

        return getattr(bulk, name)
    if name == "RedisRateLimiter":
        from ._redis_limiter import RedisRateLimiter

        return RedisRateLimiter
    raise AttributeError(f"module 'tgo_async' has no attribute {name!r}")
