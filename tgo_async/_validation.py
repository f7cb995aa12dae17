"""Local checks that run before any I/O, each raising a ValidationError that names its field."""

from __future__ import annotations

import re

from ._errors import ValidationError

__all__ = ["MAX_TEXT_LENGTH", "check_content", "check_duration", "check_phone", "check_sender"]

MAX_TEXT_LENGTH = 4096
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


def check_phone(field: str, value: object) -> str:
    """E.164: a '+', then 8 to 15 digits with no leading zero; no spaces or punctuation."""
    if not isinstance(value, str):
        raise ValidationError(
            field, f"must be an E.164 string like '+201001187188', not {type(value).__name__}"
        )
    if _E164.fullmatch(value) is None:
        hint = " (a '+' may have been decoded as a space)" if value.startswith(" ") else ""
        raise ValidationError(field, f"{value!r} is not an E.164 phone number like '+201001187188'{hint}")
    return value


def check_sender(sender_phone: object, sender_number_id: object) -> tuple[str, str | int]:
    """Exactly one of the two, as the API requires; returns the form field name and value."""
    if (sender_phone is None) == (sender_number_id is None):
        raise ValidationError(
            "sender_phone",
            "give exactly one of sender_phone or sender_number_id"
            + (" (both were given)" if sender_phone is not None else ""),
        )
    if sender_phone is not None:
        return "sender_phone", check_phone("sender_phone", sender_phone)
    if isinstance(sender_number_id, bool) or not isinstance(sender_number_id, int) or sender_number_id <= 0:
        raise ValidationError("sender_number_id", f"must be a positive int, not {sender_number_id!r}")
    return "sender_number_id", sender_number_id


def check_content(content: object) -> str:
    if not isinstance(content, str):
        raise ValidationError("content", f"must be a str, not {type(content).__name__}")
    if not content.strip():
        raise ValidationError("content", "must not be empty")
    if len(content) > MAX_TEXT_LENGTH:
        raise ValidationError("content", f"is {len(content)} characters; the limit is {MAX_TEXT_LENGTH}")
    return content


def check_duration(duration: object) -> int:
    """Voice duration in whole seconds, 1..300 as the API documents."""
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise ValidationError("duration", f"must be an int number of seconds, not {duration!r}")
    if not 1 <= duration <= 300:
        raise ValidationError("duration", f"must be between 1 and 300 seconds, not {duration}")
    return duration
