"""Local validation: every bad input raises a ValueError-compatible error naming its field, before I/O."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from tgo_async import ImageMessage, Media, TextMessage, ValidationError, VoiceMessage
from tgo_async._prepare import prepare_text

S = "+201001187188"
R = "+201010000000"


@pytest.mark.parametrize(
    ("kwargs", "field", "text"),
    [
        ({"sender_phone": S, "sender_number_id": 12}, "sender_phone", "exactly one"),
        ({}, "sender_phone", "exactly one"),
        ({"sender_phone": "201001187188"}, "sender_phone", "not an E.164"),
        ({"sender_phone": " 201001187188"}, "sender_phone", "decoded as a space"),
        ({"sender_number_id": 0}, "sender_number_id", "positive int"),
        ({"sender_number_id": True}, "sender_number_id", "positive int"),
        ({"sender_phone": S, "to_phone": "+20 101 000"}, "to_phone", "not an E.164"),
        ({"sender_phone": S, "content": "   "}, "content", "must not be empty"),
        ({"sender_phone": S, "content": "x" * 4097}, "content", "4097 characters; the limit is 4096"),
        ({"sender_phone": S, "content": 5}, "content", "must be a str"),
    ],
)
def test_bad_text_input_names_the_field(kwargs: dict[str, Any], field: str, text: str) -> None:
    """Each bad text-send argument is a ValidationError (a ValueError) naming the field."""
    args = {"to_phone": R, "content": "hi", **kwargs}
    with pytest.raises(ValueError, match=text) as info:
        TextMessage(**args).prepare()
    assert isinstance(info.value, ValidationError)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_text_payload_is_the_documented_json() -> None:
    """A text send is the documented JSON body with type 'text'."""
    prepared = prepare_text(None, 12, R, "Hello")
    assert orjson.loads(prepared.json_body or b"") == {
        "sender_number_id": 12,
        "to_phone": R,
        "type": "text",
        "content": "Hello",
    }
    assert prepared.sender == "12"


@pytest.mark.parametrize("duration", [0, 301, 4.5, "45", None, True])
def test_voice_duration_must_be_int_in_1_to_300(duration: Any) -> None:
    """Voice duration outside 1..300 or not an int is refused."""
    with pytest.raises(ValidationError, match="duration") as info:
        VoiceMessage(to_phone=R, sender_phone=S, media=b"ogg", duration=duration).prepare()
    assert info.value.field == "duration"


def test_voice_form_fields_carry_duration() -> None:
    """A voice message sends type=voice and duration as form fields."""
    prepared = VoiceMessage(to_phone=R, sender_number_id=12, media=b"ogg", duration=45).prepare()
    assert dict(prepared.form_fields) == {
        "sender_number_id": "12",
        "to_phone": R,
        "type": "voice",
        "duration": "45",
    }


def test_str_media_is_refused_as_ambiguous() -> None:
    """A plain str could be a path or content, so it is refused with a clear message."""
    with pytest.raises(ValidationError, match="ambiguous"):
        ImageMessage(to_phone=R, sender_phone=S, media="a.png").prepare()  # type: ignore[arg-type]


def test_missing_path_is_refused(tmp_path: Path) -> None:
    """A path that is not a file is refused before any I/O."""
    with pytest.raises(ValidationError, match="not a readable file"):
        Media(tmp_path / "nope.png")


def test_text_mode_file_is_refused(tmp_path: Path) -> None:
    """A file opened in text mode cannot be uploaded byte-exact."""
    p = tmp_path / "a.txt"
    p.write_text("x")
    with p.open() as fh, pytest.raises(ValidationError, match="text mode"):
        Media(fh)  # type: ignore[arg-type]


def test_content_type_is_guessed_from_the_name(tmp_path: Path) -> None:
    """The content type comes from the file name unless given."""
    p = tmp_path / "a.ogg"
    p.write_bytes(b"x")
    assert Media(p).content_type == "audio/ogg"
    assert Media(p).filename == "a.ogg"
    assert Media(b"x", filename="r.pdf").content_type == "application/pdf"
    assert Media(b"x").content_type == "application/octet-stream"
    assert Media(b"x", content_type="image/webp").content_type == "image/webp"


def test_borrowed_file_is_rewound_and_never_closed() -> None:
    """A caller's file object is read from where it stood, each time, and stays open."""
    fh = io.BytesIO(b"headerPAYLOAD")
    fh.seek(6)
    media = Media(fh, filename="p.bin")
    for _ in range(2):
        with media.open() as readable:
            assert readable.read() == b"PAYLOAD"  # type: ignore[union-attr]
    assert not fh.closed
    assert fh.tell() == 6  # left where it stood, so the same open file can be sent again
    assert media.exclusive is not None


def test_path_media_is_opened_per_use_and_closed(tmp_path: Path) -> None:
    """A Path is reopened for each attempt and closed afterwards."""
    p = tmp_path / "doc.pdf"
    p.write_bytes(b"%PDF")
    media = Media(p)
    with media.open() as handle:
        assert handle.read() == b"%PDF"  # type: ignore[union-attr]
    assert handle.closed  # type: ignore[union-attr]
