"""The sandbox tenant: keys, sender numbers, contacts, settings, and the ledger / request log tests read.

Everything is plain in-memory data mutated on the event loop thread; tests change it directly.
The seeds are listed in the package docstring (``tgo_async.sandbox``).
"""

from __future__ import annotations

import logging
import random
import zlib
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from datetime import datetime
from typing import Any, Literal

from ._faults import FaultSet
from ._models import ApiKey, Contact, LedgerEntry, RequestRecord, SenderNumber, is_e164, mask_phone, utcnow
from ._ratelimit import KeyBuckets

__all__ = ["SEED_KEYS", "SEED_SENDERS", "SandboxState"]

log = logging.getLogger("tgo_async.sandbox")

SEED_TIME = datetime(2025, 1, 10, 8, 0, 0)

SEED_KEYS: dict[str, frozenset[str]] = {
    "sandbox-key-all": frozenset({"*"}),
    "sandbox-key-send": frozenset({"messages.send"}),
    "sandbox-key-read": frozenset({"messages.read"}),
    "sandbox-key-lookup": frozenset({"contacts.lookup"}),
    "sandbox-key-usage": frozenset({"usage.read"}),
    "sandbox-key-revoked": frozenset({"*"}),
}

#: (id, phone, display_name, status, verification_status)
SEED_SENDERS: tuple[tuple[int, str, str | None, str, str], ...] = (
    (12, "+201001187188", "Support", "active", "verified"),
    (13, "+201001187189", "Onboarding", "pending_verification", "pending_verification"),
    (14, "+201001187190", "Sales", "pending_account_verification", "pending_account_verification"),
    (15, "+201001187191", None, "active", "pending_account_verification"),
    (16, "+201001187192", "Rejected", "rejected", "pending_verification"),
    (17, "+201001187193", "Suspended", "suspended", "verified"),
)

FIRST_NEW_SENDER_ID = 100

Shape = Literal["status", "verification_status"]


def _default_contact(phone: str) -> Contact:
    """Reachable, with a recipient id derived from the number so it is stable across runs."""
    return Contact(
        phone=phone,
        recipient_id=10_000 + zlib.crc32(phone.encode()) % 90_000_000,
        phone_verified_at=SEED_TIME,
    )


class SandboxState:
    """The whole tenant. Attributes are meant to be read and assigned by tests.

    Settings: ``envelope`` (``"wrapped"``/``"bare"``), ``log_envelope`` (``"paginated"``/``"bare"``),
    ``lookup_envelope`` (``"bare"``/``"wrapped"``), ``timestamp_format`` (``"microseconds"``/``"seconds"``),
    ``account_pending_shape`` (``"status"``/``"verification_status"``), ``message_status`` (status given
    to new messages), ``rate_limit`` (req/s per key, None = unlimited), ``rate_burst`` (None =
    ``max(1, rate/10)``), ``max_media_bytes``.
    """

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed
        self._otp_rng = random.Random(seed)
        self.faults = FaultSet(seed)
        self.buckets = KeyBuckets()
        self.keys: dict[str, ApiKey] = {}
        self.senders: dict[int, SenderNumber] = {}
        self._senders_by_phone: dict[str, SenderNumber] = {}
        self._next_sender_id = FIRST_NEW_SENDER_ID
        self.contacts: dict[str, Contact] = {}
        self.ledger: list[LedgerEntry] = []
        self.requests: list[RequestRecord] = []
        self._next_message_id = 1
        self.envelope: Literal["wrapped", "bare"] = "wrapped"
        self.log_envelope: Literal["paginated", "bare"] = "paginated"
        self.lookup_envelope: Literal["bare", "wrapped"] = "bare"
        self.timestamp_format: Literal["microseconds", "seconds"] = "microseconds"
        self.account_pending_shape: Shape = "status"
        self.message_status = "queued"
        self.rate_limit: float | None = None
        self.rate_burst: int | None = None
        self.max_media_bytes = 16 * 1024 * 1024
        self._seed()

    def _seed(self) -> None:
        for key, scopes in SEED_KEYS.items():
            self.add_key(key, scopes)
        self.revoke_key("sandbox-key-revoked")
        for sid, phone, name, status, vstatus in SEED_SENDERS:
            sender = SenderNumber(sid, phone, name, status, vstatus, SEED_TIME)
            if status == "pending_verification":
                sender.otp = self._new_otp()
            self._put_sender(sender)
        self.contacts["+201010000000"] = Contact(
            "+201010000000", recipient_id=4821, phone_verified_at=SEED_TIME
        )
        self.set_contact("+201010000001", exists=False, can_receive=False, reason_code="not_found")
        self.set_contact(
            "+201010000002", can_receive=False, reason_code="phone_not_verified", is_verified=False
        )
        self.set_contact("+201010000003", can_receive=False, reason_code="blocked")
        self.set_contact("+201010000004", can_receive=False, reason_code="account_frozen")

    # ------------------------------------------------------------------ keys
    def add_key(self, key: str, scopes: Iterable[str]) -> ApiKey:
        """Create (or replace) an API key with these scopes (``"*"`` = all)."""
        api_key = self.keys[key] = ApiKey(key, frozenset(scopes))
        return api_key

    def revoke_key(self, key: str) -> None:
        """Revoke a key: every call with it answers 401 from now on."""
        self.keys[key].revoked = True

    # --------------------------------------------------------------- senders
    def _put_sender(self, sender: SenderNumber) -> None:
        self.senders[sender.id] = sender
        self._senders_by_phone[sender.phone] = sender

    def _new_otp(self) -> str:
        return f"{self._otp_rng.randrange(1_000_000):06d}"

    def sender(self, id_or_phone: int | str) -> SenderNumber:
        """The sender with this id (int or digit string) or E.164 phone; KeyError if there is none."""
        if isinstance(id_or_phone, int) or id_or_phone.isdigit():
            return self.senders[int(id_or_phone)]
        return self._senders_by_phone[id_or_phone]

    def find_sender(self, id_or_phone: int | str) -> SenderNumber | None:
        """Like ``sender`` but None when unknown."""
        try:
            return self.sender(id_or_phone)
        except KeyError:
            return None

    def register_sender(self, phone: str, display_name: str | None = None) -> SenderNumber:
        """What ``POST /api/v1/sender-numbers`` does: a ``pending_verification`` sender with a new OTP."""
        if phone in self._senders_by_phone:
            raise ValueError("phone already registered")
        sender = SenderNumber(
            self._next_sender_id,
            phone,
            display_name,
            "pending_verification",
            "pending_verification",
            utcnow(),
            otp=self._new_otp(),
        )
        self._next_sender_id += 1
        self._put_sender(sender)
        log.debug("registered sender %d %s; OTP issued", sender.id, mask_phone(phone))
        return sender

    def add_sender(
        self,
        phone: str,
        display_name: str | None = None,
        *,
        status: str = "active",
        verification_status: str = "verified",
    ) -> SenderNumber:
        """Test setup shortcut: a sender in any state, without the OTP dance."""
        sender = self.register_sender(phone, display_name)
        sender.otp = None
        sender.status = status
        sender.verification_status = verification_status
        return sender

    def otp_for(self, id_or_phone: int | str) -> str:
        """The OTP the owner would receive in TGO Connect; LookupError if none is pending."""
        otp = self.sender(id_or_phone).otp
        if otp is None:
            raise LookupError("no OTP pending for this sender")
        return otp

    def enter_otp(self, id_or_phone: int | str, otp: str, *, account_verified: bool = False) -> SenderNumber:
        """The owner types the OTP in the dashboard. ValueError if it is wrong or none is pending.

        Afterwards the sender is ``active``+``verified`` when ``account_verified``, else awaits account
        verification in the shape chosen by ``account_pending_shape``.
        """
        sender = self.sender(id_or_phone)
        if sender.otp is None or otp != sender.otp:
            raise ValueError("wrong OTP")
        sender.otp = None
        if account_verified:
            sender.status, sender.verification_status = "active", "verified"
        elif self.account_pending_shape == "status":
            sender.status = sender.verification_status = "pending_account_verification"
        else:
            sender.status, sender.verification_status = "active", "pending_account_verification"
        log.debug("OTP accepted for sender %d -> %s/%s", sender.id, sender.status, sender.verification_status)
        return sender

    def verify_account(self, id_or_phone: int | str) -> SenderNumber:
        """The owner verified the TGO Connect account: the sender becomes active and verified."""
        sender = self.sender(id_or_phone)
        sender.otp = None
        sender.status, sender.verification_status = "active", "verified"
        return sender

    def set_sender_status(
        self, id_or_phone: int | str, status: str, verification_status: str | None = None
    ) -> SenderNumber:
        """Force any status (e.g. ``suspended``, or an undocumented ``frozen``); None keeps the other."""
        sender = self.sender(id_or_phone)
        sender.status = status
        if verification_status is not None:
            sender.verification_status = verification_status
        return sender

    # -------------------------------------------------------------- contacts
    def contact(self, phone: str) -> Contact:
        """Lookup result for ``phone``: a seeded/set special one, else reachable by default."""
        found = self.contacts.get(phone)
        return found if found is not None else _default_contact(phone)

    def set_contact(
        self,
        phone: str,
        *,
        exists: bool = True,
        can_receive: bool | None = None,
        reason_code: str | None = None,
        recipient_id: int | None = None,
        is_verified: bool | None = None,
        phone_verified_at: datetime | None = None,
    ) -> Contact:
        """Define what lookup (and sending) sees for ``phone``; unspecified fields follow ``exists``."""
        if not is_e164(phone):
            raise ValueError("phone must be E.164")
        base = _default_contact(phone)
        can = exists if can_receive is None else can_receive
        verified = exists if is_verified is None else is_verified
        contact = Contact(
            phone=phone,
            exists=exists,
            can_receive=can,
            reason_code=reason_code if reason_code is not None else ("ok" if can else "not_found"),
            recipient_id=recipient_id
            if recipient_id is not None
            else (base.recipient_id if exists else None),
            is_verified=verified,
            phone_verified_at=phone_verified_at
            if phone_verified_at is not None
            else (SEED_TIME if verified else None),
        )
        self.contacts[phone] = contact
        return contact

    # -------------------------------------------------------- ledger / logs
    def record_message(self, **fields: Any) -> LedgerEntry:
        """Append an accepted message to the ledger (called by the send handler)."""
        entry = LedgerEntry(id=self._next_message_id, status=self.message_status, sent_at=utcnow(), **fields)
        self._next_message_id += 1
        self.ledger.append(entry)
        return entry

    def ledger_counts(self, key: Callable[[LedgerEntry], Hashable] | None = None) -> Counter[Hashable]:
        """How often each item was delivered; default key ``entry.identity`` = (to_phone, content|caption)."""
        if key is None:
            return Counter(entry.identity for entry in self.ledger)
        return Counter(key(entry) for entry in self.ledger)

    def duplicates(self, key: Callable[[LedgerEntry], Hashable] | None = None) -> dict[Hashable, int]:
        """Items delivered more than once, with their counts (empty = at-most-once held)."""
        return {item: n for item, n in self.ledger_counts(key).items() if n > 1}

    def reset_logs(self) -> None:
        """Empty the ledger and request log (ids keep increasing) and refill the rate-limit buckets."""
        self.ledger.clear()
        self.requests.clear()
        self.buckets.clear()

    def effective_burst(self) -> int:
        """``rate_burst`` or the default ``max(1, int(rate_limit / 10))``."""
        if self.rate_burst is not None:
            return max(1, self.rate_burst)
        return max(1, int((self.rate_limit or 0) / 10))
