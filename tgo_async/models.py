"""Response models: frozen attrs classes and tolerant ``StrEnum``s.

Every enum has an ``UNKNOWN`` member that ``_missing_`` returns, so a status the server adds
tomorrow never breaks today's client; the model keeps the raw string beside the enum
(``status`` + ``status_raw``) so nothing is lost for debugging. Structuring from JSON lives in
``_converter`` (one cattrs converter); these classes do no I/O and no parsing.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs

__all__ = [
    "ContactLookup",
    "MediaInfo",
    "Message",
    "MessageStatus",
    "MessageType",
    "ReasonCode",
    "SenderNumber",
    "SenderStatus",
    "Usage",
    "UsageEntry",
    "VerificationStatus",
]


class _TolerantEnum(enum.StrEnum):
    """A ``StrEnum`` that maps unknown values to ``UNKNOWN`` and folds case and whitespace."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        members = cls._value2member_map_
        if isinstance(value, str):
            member = members.get(value.strip().lower())
            if member is not None:
                return member
        return members["unknown"]

    def __repr__(self) -> str:
        # ``SenderStatus.ACTIVE`` reads better in model reprs than ``<SenderStatus.ACTIVE: 'active'>``.
        return f"{type(self).__name__}.{self.name}"


class SenderStatus(_TolerantEnum):
    """Lifecycle of a sender number (sender numbers page; ``suspended`` is from the errors page)."""

    PENDING_VERIFICATION = "pending_verification"
    ACTIVE = "active"
    PENDING_ACCOUNT_VERIFICATION = "pending_account_verification"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    UNKNOWN = "unknown"


class VerificationStatus(_TolerantEnum):
    """The second verification step: the owner's TGO Connect account."""

    VERIFIED = "verified"
    PENDING_VERIFICATION = "pending_verification"
    PENDING_ACCOUNT_VERIFICATION = "pending_account_verification"
    UNKNOWN = "unknown"


class MessageType(_TolerantEnum):
    """The four documented message types."""

    TEXT = "text"
    IMAGE = "image"
    VOICE = "voice"
    DOCUMENT = "document"
    UNKNOWN = "unknown"


class MessageStatus(_TolerantEnum):
    """Delivery state of a message; the docs name none, these are the usual ones."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNKNOWN = "unknown"


class ReasonCode(_TolerantEnum):
    """Why a contact can or cannot receive; only ``ok`` is documented."""

    OK = "ok"
    NOT_FOUND = "not_found"
    PHONE_NOT_VERIFIED = "phone_not_verified"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"


def _short(value: object, limit: int = 60) -> str:
    """Repr of a possibly long text, cut so model reprs stay one readable line."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit] + "…")
    return repr(value)


_SENDER_DEAD = (SenderStatus.REJECTED, SenderStatus.SUSPENDED)


@attrs.frozen
class SenderNumber:
    """A registered sender number and how far it is through the two verification steps."""

    id: int
    phone: str
    display_name: str | None = None
    status: SenderStatus = SenderStatus.UNKNOWN
    status_raw: str | None = None
    verification_status: VerificationStatus | None = None
    verification_status_raw: str | None = None
    created_at: datetime | None = None

    @property
    def can_send(self) -> bool:
        """True only when ``active`` and the TGO Connect account is verified (or not reported)."""
        return self.status is SenderStatus.ACTIVE and self.verification_status in (
            None,
            VerificationStatus.VERIFIED,
        )

    @property
    def needs_otp(self) -> bool:
        """The OTP has not been entered in the TGO Business dashboard yet."""
        if self.status in _SENDER_DEAD:
            return False
        return (
            self.status is SenderStatus.PENDING_VERIFICATION
            or self.verification_status is VerificationStatus.PENDING_VERIFICATION
        )

    @property
    def needs_account_verification(self) -> bool:
        """OTP is done; the owner must still verify the TGO Connect account.

        Both documented shapes count: ``status="pending_account_verification"``, and
        ``status="active"`` with ``verification_status="pending_account_verification"``.
        """
        if self.status in _SENDER_DEAD or self.needs_otp:
            return False
        return (
            self.status is SenderStatus.PENDING_ACCOUNT_VERIFICATION
            or self.verification_status is VerificationStatus.PENDING_ACCOUNT_VERIFICATION
        )

    @property
    def blocker(self) -> str | None:
        """What still stops this number from sending, as one sentence; None when it can send."""
        if self.status is SenderStatus.REJECTED:
            return "The number was rejected and cannot send: register another sender number."
        if self.status is SenderStatus.SUSPENDED:
            return "The number is suspended: contact your account administrator."
        if self.needs_otp:
            return ("The OTP sent to the number's TGO Connect account must be entered "
                    "in the TGO Business dashboard.")
        if self.needs_account_verification:
            return ("The number owner must verify their TGO Connect account inside TGO Connect; "
                    "no new OTP is needed.")
        if self.status is not SenderStatus.ACTIVE:
            return f"Unknown sender status {self.status_raw!r}: the number cannot be used to send."
        if not self.can_send:
            return (f"Unknown verification status {self.verification_status_raw!r}: "
                    "the number cannot be used to send.")
        return None


@attrs.frozen
class ContactLookup:
    """Whether a phone number can receive messages (``GET /api/v1/contacts/lookup``)."""

    exists: bool
    can_receive: bool
    reason_code: ReasonCode | None = None
    reason_code_raw: str | None = None
    recipient_id: int | None = None
    is_verified: bool | None = None
    phone_verified_at: datetime | None = None


@attrs.frozen
class MediaInfo:
    """What the server reports about a message's uploaded file; every field is optional."""

    filename: str | None = None
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None


# Frozen like every model, but not slotted: one is built per send, and a frozen slotted class can
# only set its fields through ``object.__setattr__`` (about 11k CPU instructions for ten fields),
# where a frozen dict class writes its instance dict directly (about 6k). Attribute reads cost the same.
@attrs.frozen(slots=False)
class Message:
    """A sent message: the send response and each message-log entry share this shape."""

    id: int
    sender_number_id: int | None = None
    to_phone: str | None = None
    message_type: MessageType = MessageType.UNKNOWN
    message_type_raw: str | None = None
    content: str | None = attrs.field(default=None, repr=_short)
    status: MessageStatus = MessageStatus.UNKNOWN
    status_raw: str | None = None
    sent_at: datetime | None = None
    media: MediaInfo | None = None


@attrs.frozen
class UsageEntry:
    """Messages counted for one sender number (or for the whole account when ids are None)."""

    sender_number_id: int | None
    sender_phone: str | None
    total: int
    by_type: dict[str, int] = attrs.field(factory=dict)

    def count(self, message_type: MessageType | str) -> int:
        """Messages of one type; 0 when the server did not report that type."""
        return self.by_type.get(str(message_type), 0)


@attrs.frozen
class Usage:
    """``GET /api/v1/usage``. The shape is undocumented, so ``raw`` keeps the whole body.

    A bare-list body is kept as ``{"data": [...]}``.
    """

    entries: tuple[UsageEntry, ...]
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def total(self) -> int:
        """Messages across all entries."""
        return sum(e.total for e in self.entries)

    def for_sender(self, sender: int | str) -> UsageEntry | None:
        """The entry for a sender number id or phone, or None."""
        for entry in self.entries:
            if sender in (entry.sender_number_id, entry.sender_phone):
                return entry
        return None

