"""The cattrs converter: tolerance to nulls, unknown values, extra fields, timestamp formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tgo_async import _converter
from tgo_async._converter import get_converter, make_converter, structure
from tgo_async._errors import DecodeError
from tgo_async.models import (
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

JAN10 = datetime(2025, 1, 10, 8, 0, tzinfo=UTC)

DOC_CONTACT = {
    "exists": True,
    "can_receive": True,
    "reason_code": "ok",
    "recipient_id": 4821,
    "is_verified": True,
    "phone_verified_at": "2025-01-10T08:00:00Z",
}
DOC_SENDER = {"id": 12, "phone": "+201001187188", "status": "active",
              "verification_status": "pending_account_verification"}
LOG_ENTRY = {"id": 981, "sender_number_id": 12, "message_type": "text", "content": "Hello from TGO Business",
             "status": "delivered", "sent_at": "2025-01-10T08:00:00.000000Z"}


# --- documented shapes ----------------------------------------------------------------------------


def test_contact_lookup_documented_example() -> None:
    """The contact-lookup example from the docs structures field for field."""
    contact = structure(DOC_CONTACT, ContactLookup)
    assert contact == ContactLookup(exists=True, can_receive=True, reason_code=ReasonCode.OK,
                                    reason_code_raw="ok", recipient_id=4821, is_verified=True,
                                    phone_verified_at=JAN10)


def test_sender_number_documented_example() -> None:
    """The sender example from the account-verification page (active + pending account verification)."""
    sender = structure(DOC_SENDER, SenderNumber)
    assert sender.status is SenderStatus.ACTIVE
    assert sender.status_raw == "active"
    assert sender.verification_status is VerificationStatus.PENDING_ACCOUNT_VERIFICATION
    assert sender.verification_status_raw == "pending_account_verification"
    assert sender.display_name is None
    assert not sender.can_send


def test_message_log_entry_documented_fields() -> None:
    """A log entry with exactly the documented fields structures."""
    message = structure(LOG_ENTRY, Message)
    assert message == Message(id=981, sender_number_id=12, message_type=MessageType.TEXT,
                              message_type_raw="text", content="Hello from TGO Business",
                              status=MessageStatus.DELIVERED, status_raw="delivered", sent_at=JAN10)


def test_message_send_response_type_alias() -> None:
    """A send response saying ``type`` (the request's name) fills message_type."""
    message = structure({"id": 5, "type": "voice", "to_phone": "+201010000000"}, Message)
    assert message.message_type is MessageType.VOICE
    assert message.message_type_raw == "voice"
    assert message.to_phone == "+201010000000"


def test_message_type_prefers_message_type_over_type() -> None:
    """When both names are present, ``message_type`` wins."""
    message = structure({"id": 5, "type": "voice", "message_type": "image"}, Message)
    assert message.message_type is MessageType.IMAGE


def test_message_alias_does_not_mutate_input() -> None:
    """Filling message_type from ``type`` copies the dict rather than editing the caller's."""
    body = {"id": 5, "type": "text"}
    structure(body, Message)
    assert body == {"id": 5, "type": "text"}


def test_message_media_structured_with_aliases() -> None:
    """Media metadata is read from ``content_type`` or ``mime_type``."""
    media = {"filename": "a.png", "mime_type": "image/png", "size": 1024, "sha256": "ab" * 32}
    message = structure({"id": 1, "type": "image", "media": media}, Message)
    assert message.media == MediaInfo(filename="a.png", content_type="image/png", size=1024, sha256="ab" * 32)


@pytest.mark.parametrize("media", [None, "https://cdn.example/a.png", 3, ["a"]])
def test_message_media_unrecognised_shape_is_none(media: Any) -> None:
    """A media value that is not an object never fails a send's decoding."""
    assert structure({"id": 1, "media": media}, Message).media is None


def test_message_with_only_id() -> None:
    """A minimal send response still structures; unknown enums default to UNKNOWN."""
    message = structure({"id": 1}, Message)
    assert message.status is MessageStatus.UNKNOWN
    assert message.status_raw is None


# --- nulls ----------------------------------------------------------------------------------------


def test_sender_nulls_accepted() -> None:
    """display_name, verification_status and created_at may be null."""
    sender = structure({"id": 1, "phone": "+201", "status": "active", "display_name": None,
                        "verification_status": None, "created_at": None}, SenderNumber)
    assert sender.display_name is None
    assert sender.verification_status is None
    assert sender.verification_status_raw is None
    assert sender.created_at is None
    assert sender.can_send


def test_sender_null_status_is_unknown() -> None:
    """A null status is UNKNOWN (cannot send), not an error."""
    sender = structure({"id": 1, "phone": "+201", "status": None}, SenderNumber)
    assert sender.status is SenderStatus.UNKNOWN
    assert sender.status_raw is None
    assert not sender.can_send


def test_contact_nulls_accepted() -> None:
    """recipient_id, is_verified, reason_code and phone_verified_at may be null."""
    contact = structure({"exists": False, "can_receive": False, "reason_code": None, "recipient_id": None,
                         "is_verified": None, "phone_verified_at": None}, ContactLookup)
    assert contact == ContactLookup(exists=False, can_receive=False)


def test_message_nulls_accepted() -> None:
    """Every field but id may be null in a message."""
    message = structure({"id": 1, "sender_number_id": None, "to_phone": None, "message_type": None,
                         "content": None, "status": None, "sent_at": None, "media": None}, Message)
    assert message.message_type is MessageType.UNKNOWN
    assert message.message_type_raw is None
    assert message.content is None
    assert message.sent_at is None


# --- unknown values and fields --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "body", "attr", "enum_value", "raw"),
    [
        (SenderNumber, {"id": 1, "phone": "+2", "status": "frozen"}, "status", SenderStatus.UNKNOWN,
         "frozen"),
        (SenderNumber, {"id": 1, "phone": "+2", "status": "active", "verification_status": "audit"},
         "verification_status", VerificationStatus.UNKNOWN, "audit"),
        (Message, {"id": 1, "message_type": "sticker"}, "message_type", MessageType.UNKNOWN, "sticker"),
        (Message, {"id": 1, "type": "video"}, "message_type", MessageType.UNKNOWN, "video"),
        (Message, {"id": 1, "status": "bounced"}, "status", MessageStatus.UNKNOWN, "bounced"),
        (ContactLookup, {"exists": True, "can_receive": False, "reason_code": "opted_out"}, "reason_code",
         ReasonCode.UNKNOWN, "opted_out"),
    ],
)
def test_unknown_enum_value_keeps_raw(cls: type, body: dict[str, Any], attr: str, enum_value: Any,
                                      raw: str) -> None:
    """An unknown enum value becomes UNKNOWN and the *_raw field keeps the server's string."""
    obj: Any = structure(body, cls)
    assert getattr(obj, attr) is enum_value
    assert getattr(obj, f"{attr}_raw") == raw


def test_non_string_enum_value_raw_is_stringified() -> None:
    """A numeric status is UNKNOWN and its raw form is kept as text."""
    message = structure({"id": 1, "status": 3}, Message)
    assert message.status is MessageStatus.UNKNOWN
    assert message.status_raw == "3"


def test_documented_reason_codes_and_guesses() -> None:
    """``ok`` and the likely non-ok codes map to members."""
    for raw, member in [("ok", ReasonCode.OK), ("not_found", ReasonCode.NOT_FOUND),
                        ("phone_not_verified", ReasonCode.PHONE_NOT_VERIFIED),
                        ("blocked", ReasonCode.BLOCKED)]:
        body = {"exists": True, "can_receive": False, "reason_code": raw}
        assert structure(body, ContactLookup).reason_code is member


def test_extra_fields_ignored() -> None:
    """Fields the client does not know are ignored, not rejected."""
    body = {**LOG_ENTRY, "organization_id": 3, "meta": {"x": 1}, "created_at": "2025-01-10T08:00:00Z"}
    assert structure(body, Message).id == 981


# --- timestamps -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-10T08:00:00Z", JAN10),
        ("2025-01-10T08:00:00.000000Z", JAN10),
        ("2025-01-10T08:00:00.000Z", JAN10),
        ("2025-01-10T10:00:00+02:00", JAN10),
        ("2025-01-10T08:00:00", JAN10),
        ("2025-01-10 08:00:00", JAN10),
        (" 2025-01-10T08:00:00Z ", JAN10),
        (1736496000, JAN10),
    ],
)
def test_timestamp_formats_parse_to_aware_datetimes(text: Any, expected: datetime) -> None:
    """Z, microseconds, milliseconds, offsets, naive (taken as UTC) and epoch seconds all parse."""
    parsed = structure({**DOC_CONTACT, "phone_verified_at": text}, ContactLookup).phone_verified_at
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is not None


def test_timestamp_offset_is_preserved() -> None:
    """An offset timestamp keeps its offset."""
    parsed = structure({**DOC_CONTACT, "phone_verified_at": "2025-01-10T10:00:00+02:00"},
                       ContactLookup).phone_verified_at
    assert parsed is not None
    assert parsed.utcoffset() == timedelta(hours=2)
    assert parsed.tzinfo == timezone(timedelta(hours=2))


@pytest.mark.parametrize("bad", ["yesterday", "", True, {"date": "x"}])
def test_bad_timestamp_raises_decode_error(bad: Any) -> None:
    """A timestamp that cannot be parsed is a DecodeError naming the field."""
    with pytest.raises(DecodeError, match=r"phone_verified_at"):
        structure({**DOC_CONTACT, "phone_verified_at": bad}, ContactLookup)


# --- scalar strictness ----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), (1, True), (0, False),
                                                 ("true", True), ("false", False)])
def test_bool_tolerant_forms(value: Any, expected: bool) -> None:
    """Booleans accept JSON booleans, 0/1 and "true"/"false"."""
    assert structure({**DOC_CONTACT, "exists": value}, ContactLookup).exists is expected


@pytest.mark.parametrize("value", ["maybe", 2, None, [True]])
def test_bool_rejects_other_values(value: Any) -> None:
    """``bool("false")`` would be True, so other strings and null are a DecodeError."""
    with pytest.raises(DecodeError, match=r"expected a boolean.*\$\.exists"):
        structure({**DOC_CONTACT, "exists": value}, ContactLookup)


def test_int_tolerant_forms() -> None:
    """Integer fields accept integral floats and digit strings."""
    assert structure({"id": 12.0, "sender_number_id": "12"}, Message).sender_number_id == 12


@pytest.mark.parametrize("value", [True, 1.5, "12a", None, {}])
def test_int_rejects_other_values(value: Any) -> None:
    """A boolean, fraction, non-numeric string or null id is a DecodeError."""
    with pytest.raises(DecodeError, match=r"\$\.id"):
        structure({"id": value}, Message)


def test_str_rejects_null_and_containers() -> None:
    """A required string that is null is an error, not the text "None"."""
    with pytest.raises(DecodeError, match=r"expected a string, got NoneType @ \$\.phone"):
        structure({"id": 1, "phone": None, "status": "active"}, SenderNumber)
    with pytest.raises(DecodeError, match=r"\$\.phone"):
        structure({"id": 1, "phone": ["+2"], "status": "active"}, SenderNumber)


def test_str_accepts_number() -> None:
    """A phone sent as a JSON number is kept as text."""
    sender = structure({"id": 1, "phone": 201001187188, "status": "active"}, SenderNumber)
    assert sender.phone == "201001187188"


# --- DecodeError ----------------------------------------------------------------------------------


def test_decode_error_names_model_and_missing_field() -> None:
    """A missing required field names the model, the problem and the path; the body is attached."""
    body = {"can_receive": True}
    with pytest.raises(DecodeError) as info:
        structure(body, ContactLookup)
    assert str(info.value) == "response did not match ContactLookup: required field missing @ $.exists"
    assert info.value.body is body


def test_decode_error_lists_every_problem() -> None:
    """All bad fields are reported, not just the first."""
    with pytest.raises(DecodeError) as info:
        structure({"id": "x", "phone": None}, SenderNumber)
    assert "$.id" in str(info.value)
    assert "$.phone" in str(info.value)


@pytest.mark.parametrize("cls", [Message, SenderNumber, ContactLookup])
@pytest.mark.parametrize("body", [[1, 2], "text", None, 3])
def test_decode_error_for_non_object_body(cls: type, body: Any) -> None:
    """A body that is not an object says so and names the model."""
    with pytest.raises(DecodeError, match=rf"did not match {cls.__name__}: expected a JSON object"):
        structure(body, cls)


def test_decode_error_path_in_list() -> None:
    """Structuring a list reports the index of the bad item."""
    with pytest.raises(DecodeError, match=r"did not match list\[Message\]: .* @ \$\[1\]\.id"):
        structure([LOG_ENTRY, {"id": "x"}], list[Message])


def test_decode_error_is_not_a_cattrs_exception() -> None:
    """Callers only ever see our DecodeError; the cattrs error is kept as the cause."""
    with pytest.raises(DecodeError) as info:
        structure({}, Message)
    assert info.value.__cause__ is not None


# --- usage ----------------------------------------------------------------------------------------

ENTRY = UsageEntry(sender_number_id=12, sender_phone="+201001187188", total=5,
                   by_type={"text": 3, "image": 2})


@pytest.mark.parametrize(
    "body",
    [
        [{"sender_number_id": 12, "sender_phone": "+201001187188", "total": 5,
          "by_type": {"text": 3, "image": 2}}],
        {"data": [{"sender_number_id": 12, "sender_phone": "+201001187188", "text": 3, "image": 2}]},
        {"data": [{"sender_number": {"id": 12, "phone": "+201001187188"}, "counts": {"text": 3, "image": 2},
                   "total": 5}]},
        {"usage": [{"sender_id": "12", "phone": "+201001187188", "text": 3, "image": 2, "voice": None}]},
        {"12": {"sender_phone": "+201001187188", "text": 3, "image": 2}},
    ],
)
def test_usage_shapes(body: Any) -> None:
    """Usage as a bare list, data-wrapped, nested sender/counts, other list keys, or keyed by id."""
    usage = structure(body, Usage)
    assert usage.entries == (ENTRY,)
    assert usage.total == 5
    assert isinstance(usage.raw, dict)


def test_usage_aggregate_object() -> None:
    """One account-wide object becomes one entry without sender."""
    usage = structure({"data": {"total": 9, "by_type": {"text": 9}}}, Usage)
    assert usage.entries == (UsageEntry(None, None, 9, {"text": 9}),)


def test_usage_bare_list_raw_is_wrapped() -> None:
    """A bare-list body is kept in raw under "data"."""
    body: list[Any] = []
    assert structure(body, Usage).raw == {"data": []}


@pytest.mark.parametrize("body", ["nope", None, 5, [1, 2]])
def test_usage_bad_shape_raises_decode_error(body: Any) -> None:
    """A usage body that is neither object nor array of objects is a DecodeError."""
    with pytest.raises(DecodeError, match=r"did not match Usage: expected"):
        structure(body, Usage)


# --- one converter, built once --------------------------------------------------------------------


def test_structure_functions_are_built_once() -> None:
    """The hook for a class is generated once and reused on every call."""
    structure(LOG_ENTRY, Message)
    hook = _converter._hooks[Message]
    structure(LOG_ENTRY, Message)
    assert _converter._hooks[Message] is hook
    converter = get_converter()
    assert get_converter() is converter
    assert converter.get_structure_hook(Message) is converter.get_structure_hook(Message)


def test_make_converter_builds_an_equivalent_converter() -> None:
    """make_converter() gives an independent converter with the same hooks."""
    conv = make_converter()
    assert conv is not get_converter()
    assert conv.structure(DOC_SENDER, SenderNumber) == structure(DOC_SENDER, SenderNumber)
    assert conv.forbid_extra_keys is False
