"""Plain records held by the sandbox state; slotted so thousands of them per test run stay cheap."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import attrs

from ._faults import FaultKind

__all__ = [
    "ApiKey",
    "Contact",
    "LedgerEntry",
    "RequestRecord",
    "SenderNumber",
    "format_ts",
    "is_e164",
    "mask_phone",
    "utcnow",
]

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def is_e164(value: object) -> bool:
    """True for ``+`` followed by 7..15 digits, the first non-zero."""
    return isinstance(value, str) and _E164.fullmatch(value) is not None


def mask_phone(phone: str) -> str:
    """``+201001187188`` -> ``+2010*****188``: enough to tell numbers apart in a log, not to dial one."""
    if len(phone) <= 8:
        return phone[:2] + "*" * max(0, len(phone) - 2)
    return phone[:5] + "*" * (len(phone) - 8) + phone[-3:]


def utcnow() -> datetime:
    """Naive UTC now; the sandbox formats every timestamp itself with a trailing ``Z``."""
    return datetime.now(UTC).replace(tzinfo=None)


def format_ts(value: datetime | None, fmt: str) -> str | None:
    """``2025-01-10T08:00:00.000000Z`` (``"microseconds"``) or ``2025-01-10T08:00:00Z`` (``"seconds"``)."""
    if value is None:
        return None
    if fmt == "seconds":
        return value.isoformat(timespec="seconds") + "Z"
    return value.isoformat(timespec="microseconds") + "Z"


@attrs.define(slots=True)
class ApiKey:
    """An API key of the sandbox tenant."""

    key: str
    scopes: frozenset[str]
    revoked: bool = False

    def allows(self, scope: str | None) -> bool:
        """Whether the key may call an endpoint needing ``scope`` (None = any valid key)."""
        return scope is None or "*" in self.scopes or scope in self.scopes


@attrs.define(slots=True)
class SenderNumber:
    """A registered sender number; ``otp`` is set while ownership confirmation is pending."""

    id: int
    phone: str
    display_name: str | None
    status: str
    verification_status: str
    created_at: datetime
    otp: str | None = None

    def to_json(self, fmt: str) -> dict[str, Any]:
        """The documented fields (never the OTP)."""
        return {
            "id": self.id,
            "phone": self.phone,
            "display_name": self.display_name,
            "status": self.status,
            "verification_status": self.verification_status,
            "created_at": format_ts(self.created_at, fmt),
        }

    @property
    def can_send(self) -> bool:
        """Both steps done: OTP accepted and TGO Connect account verified."""
        return self.status == "active" and self.verification_status == "verified"

    @property
    def awaits_account_verification(self) -> bool:
        """OTP done, account not verified, in either of the two documented shapes."""
        return self.status == "pending_account_verification" or (
            self.status == "active" and self.verification_status == "pending_account_verification"
        )


@attrs.define(slots=True)
class Contact:
    """What contact lookup answers for one phone number."""

    phone: str
    exists: bool = True
    can_receive: bool = True
    reason_code: str = "ok"
    recipient_id: int | None = None
    is_verified: bool = True
    phone_verified_at: datetime | None = None

    def to_json(self, fmt: str) -> dict[str, Any]:
        """The documented lookup fields."""
        return {
            "exists": self.exists,
            "can_receive": self.can_receive,
            "reason_code": self.reason_code,
            "recipient_id": self.recipient_id,
            "is_verified": self.is_verified,
            "phone_verified_at": format_ts(self.phone_verified_at, fmt),
        }


@attrs.define(slots=True, frozen=True)
class LedgerEntry:
    """A message the sandbox accepted (recorded even when the response was then dropped)."""

    id: int
    api_key: str
    sender_number_id: int
    sender_phone: str
    to_phone: str
    message_type: str
    content: str | None
    caption: str | None
    duration: int | None
    media_filename: str | None
    media_content_type: str | None
    media_size: int | None
    media_sha256: str | None
    status: str
    sent_at: datetime
    recorded_at: float
    request_id: str

    @property
    def identity(self) -> tuple[str, str | None]:
        """``(to_phone, text content or media caption)``: equal for two deliveries of the same item."""
        return (self.to_phone, self.content if self.content is not None else self.caption)

    def message_json(self, fmt: str) -> dict[str, Any]:
        """The message object answered by ``POST /api/v1/messages``."""
        media = None
        if self.media_sha256 is not None:
            media = {
                "filename": self.media_filename,
                "content_type": self.media_content_type,
                "size": self.media_size,
                "sha256": self.media_sha256,
            }
        return {
            "id": self.id,
            "sender_number_id": self.sender_number_id,
            "to_phone": self.to_phone,
            "message_type": self.message_type,
            "content": self.content if self.content is not None else self.caption,
            "status": self.status,
            "sent_at": format_ts(self.sent_at, fmt),
            "media": media,
        }

    def log_json(self, fmt: str) -> dict[str, Any]:
        """An entry of ``GET /api/v1/messages``."""
        return {
            "id": self.id,
            "sender_number_id": self.sender_number_id,
            "to_phone": self.to_phone,
            "message_type": self.message_type,
            "content": self.content if self.content is not None else self.caption,
            "status": self.status,
            "sent_at": format_ts(self.sent_at, fmt),
        }

    def to_json(self) -> dict[str, Any]:
        """Everything, for ``GET /_sandbox/ledger``."""
        data = attrs.asdict(self)
        data["sent_at"] = format_ts(self.sent_at, "microseconds")
        return data


@attrs.define(slots=True)
class RequestRecord:
    """One request received on an ``/api`` route. ``status`` is None when the connection was dropped."""

    method: str
    path: str
    received_at: float
    key: str | None
    request_id: str
    item: str | None = None
    fault: FaultKind | None = None
    status: int | None = None
    retry_after: float | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-able, for ``GET /_sandbox/stats``."""
        return {
            "method": self.method,
            "path": self.path,
            "received_at": self.received_at,
            "key": self.key,
            "request_id": self.request_id,
            "item": self.item,
            "fault": None if self.fault is None else self.fault.value,
            "status": self.status,
            "retry_after": self.retry_after,
        }
