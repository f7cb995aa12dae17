"""Models: tolerant enums, sender readiness, readable reprs."""

from __future__ import annotations

import itertools

import attrs
import pytest

from tgo_async.models import (
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

ENUMS = [SenderStatus, VerificationStatus, MessageType, MessageStatus, ReasonCode]


@pytest.mark.parametrize("enum_cls", ENUMS)
def test_enum_unknown_value_maps_to_unknown(enum_cls: type) -> None:
    """A value the server adds later becomes UNKNOWN instead of raising."""
    assert enum_cls("brand_new_state") is enum_cls.UNKNOWN  # type: ignore[attr-defined]


@pytest.mark.parametrize("enum_cls", ENUMS)
@pytest.mark.parametrize("value", [None, 3, ["x"]])
def test_enum_non_string_maps_to_unknown(enum_cls: type, value: object) -> None:
    """Null, numbers and even unhashable values become UNKNOWN."""
    assert enum_cls(value) is enum_cls.UNKNOWN  # type: ignore[attr-defined]


def test_enum_folds_case_and_whitespace() -> None:
    """" ACTIVE " is still ACTIVE."""
    assert SenderStatus(" ACTIVE ") is SenderStatus.ACTIVE


def test_enum_members_are_upper_case_with_lower_case_values() -> None:
    """Members are UPPER_CASE names whose values are the API's snake_case strings."""
    for enum_cls in ENUMS:
        for member in enum_cls:
            assert member.name.isupper()
            assert member.value == member.name.lower()


def test_enum_is_a_str() -> None:
    """StrEnum members compare equal to the API's strings."""
    assert isinstance(MessageType.TEXT, str)
    assert "text" in {MessageType.TEXT}
    assert f"{MessageStatus.DELIVERED}" == "delivered"


def test_enum_repr_is_short() -> None:
    """Enum reprs read as Class.MEMBER inside model reprs."""
    assert repr(SenderStatus.ACTIVE) == "SenderStatus.ACTIVE"


def test_sender_status_includes_suspended() -> None:
    """The errors page names ``suspended``; it is a real member, not UNKNOWN."""
    assert SenderStatus("suspended") is SenderStatus.SUSPENDED


def _sender(status: SenderStatus, verification: VerificationStatus | None = None) -> SenderNumber:
    return SenderNumber(
        id=12,
        phone="+201001187188",
        status=status,
        status_raw="weird" if status is SenderStatus.UNKNOWN else status.value,
        verification_status=verification,
        verification_status_raw=None if verification is None else (
            "odd" if verification is VerificationStatus.UNKNOWN else verification.value
        ),
    )


def test_sender_active_without_verification_status_can_send() -> None:
    """``active`` with no verification_status is ready."""
    sender = _sender(SenderStatus.ACTIVE)
    assert sender.can_send
    assert sender.blocker is None
    assert not sender.needs_otp
    assert not sender.needs_account_verification


def test_sender_active_and_verified_can_send() -> None:
    """``active`` + ``verified`` is ready."""
    assert _sender(SenderStatus.ACTIVE, VerificationStatus.VERIFIED).can_send


def test_sender_active_with_pending_account_verification_cannot_send() -> None:
    """The documented shape ``status=active`` + ``verification_status=pending_account_verification``."""
    sender = _sender(SenderStatus.ACTIVE, VerificationStatus.PENDING_ACCOUNT_VERIFICATION)
    assert not sender.can_send
    assert sender.needs_account_verification
    assert not sender.needs_otp
    assert sender.blocker is not None
    assert "TGO Connect account" in sender.blocker
    assert "no new OTP" in sender.blocker


def test_sender_status_pending_account_verification_needs_account_verification() -> None:
    """The other documented shape: ``status=pending_account_verification``."""
    sender = _sender(SenderStatus.PENDING_ACCOUNT_VERIFICATION)
    assert not sender.can_send
    assert sender.needs_account_verification
    assert sender.blocker is not None
    assert "no new OTP" in sender.blocker


def test_sender_pending_verification_needs_otp() -> None:
    """``pending_verification``: the OTP must be entered in the dashboard."""
    sender = _sender(SenderStatus.PENDING_VERIFICATION)
    assert sender.needs_otp
    assert not sender.needs_account_verification
    assert sender.blocker is not None
    assert "TGO Business dashboard" in sender.blocker


def test_sender_rejected_says_register_another() -> None:
    """A rejected number needs no OTP or verification: it needs replacing."""
    sender = _sender(SenderStatus.REJECTED, VerificationStatus.PENDING_ACCOUNT_VERIFICATION)
    assert not sender.needs_otp
    assert not sender.needs_account_verification
    assert sender.blocker is not None
    assert "register another" in sender.blocker


def test_sender_suspended_says_contact_administrator() -> None:
    """A suspended number's blocker points to the administrator."""
    blocker = _sender(SenderStatus.SUSPENDED).blocker
    assert blocker is not None
    assert "administrator" in blocker


def test_sender_unknown_status_names_the_raw_value() -> None:
    """An unknown status cannot send and the blocker quotes the server's string."""
    sender = _sender(SenderStatus.UNKNOWN)
    assert not sender.can_send
    assert sender.blocker is not None
    assert "'weird'" in sender.blocker


def test_sender_unknown_verification_status_blocks() -> None:
    """``active`` with an unknown verification status is not assumed ready."""
    sender = _sender(SenderStatus.ACTIVE, VerificationStatus.UNKNOWN)
    assert not sender.can_send
    assert sender.blocker is not None
    assert "'odd'" in sender.blocker


@pytest.mark.parametrize(
    ("status", "verification"),
    list(itertools.product(SenderStatus, [None, *VerificationStatus])),
)
def test_sender_blocker_is_none_exactly_when_can_send(
    status: SenderStatus, verification: VerificationStatus | None
) -> None:
    """For every status combination, blocker is None if and only if the number can send."""
    sender = _sender(status, verification)
    assert (sender.blocker is None) == sender.can_send
    assert not (sender.needs_otp and sender.needs_account_verification)


def test_models_are_frozen() -> None:
    """Models are immutable."""
    message = Message(id=1)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        message.id = 2  # type: ignore[misc]


def test_message_repr_truncates_long_content() -> None:
    """A long message body does not flood the repr."""
    text = repr(Message(id=1, content="x" * 500))
    assert len(text) < 400
    assert "…" in text


def test_message_defaults_are_unknown_and_none() -> None:
    """A message with only an id has UNKNOWN enums and None elsewhere."""
    message = Message(id=7)
    assert message.message_type is MessageType.UNKNOWN
    assert message.status is MessageStatus.UNKNOWN
    assert message.media is None


def test_usage_repr_hides_raw_body() -> None:
    """``Usage.raw`` can be large, so it stays out of the repr."""
    usage = Usage(entries=(), raw={"huge": list(range(1000))})
    assert "huge" not in repr(usage)


def test_usage_total_and_lookup() -> None:
    """``Usage.total`` sums entries; ``for_sender`` finds by id or phone; ``count`` defaults to 0."""
    a = UsageEntry(sender_number_id=1, sender_phone="+201", total=3, by_type={"text": 3})
    b = UsageEntry(sender_number_id=2, sender_phone="+202", total=4, by_type={"image": 4})
    usage = Usage(entries=(a, b))
    assert usage.total == 7
    assert usage.for_sender(2) is b
    assert usage.for_sender("+201") is a
    assert usage.for_sender(99) is None
    assert a.count(MessageType.TEXT) == 3
    assert a.count("voice") == 0


def test_media_info_all_optional() -> None:
    """MediaInfo can be built empty: every field is undocumented."""
    assert MediaInfo() == MediaInfo(filename=None, content_type=None, size=None, sha256=None)
