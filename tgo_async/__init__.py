"""tgo_async: the asyncio client for the TGO Business messaging API.

async with tgo_async.Client(api_key=..., base_url=...) as client:
    await client.messages.send_text(sender_phone=..., to_phone=..., content="Hello")
"""

from __future__ import annotations

import importlib
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
    from ._messages import DocumentMessage, ImageMessage, TextMessage, VoiceMessage
    from ._redis_limiter import RedisRateLimiter
    from .bulk import BulkJob, Outcome

# Imported on first use, keeping ``import tgo_async`` light (each attrs class costs ~0.7 ms to
# generate): the message value types serve send_many / send(), the bulk engine bulk sends, and
# RedisRateLimiter needs the redis extra.
_LAZY = {
    "DocumentMessage": "._messages",
    "ImageMessage": "._messages",
    "TextMessage": "._messages",
    "VoiceMessage": "._messages",
    "BulkJob": ".bulk",
    "Outcome": ".bulk",
    "RedisRateLimiter": "._redis_limiter",
    "__version__": "._version",
}

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
    """The lazy attributes in ``_LAZY``, imported on first access."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tgo_async' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value
