"""Local validation happens before any I/O: every bad call leaves the sandbox's request log empty."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import tgo_async
from tgo_async import ValidationError
from tgo_async.sandbox import SandboxServer

S, R = "+201001187188", "+201010000000"

Call = Callable[[tgo_async.Client, Path], Awaitable[Any]]


async def _drain(aiter: Any) -> list[Any]:
    return [x async for x in aiter]


def _text(**kw: Any) -> Call:
    args = {"sender_number_id": 12, "to_phone": R, "content": "hi", **kw}
    args = {k: v for k, v in args.items() if v is not _OMIT}
    return lambda c, _: c.messages.send_text(**args)


def _voice(**kw: Any) -> Call:
    def call(c: tgo_async.Client, tmp: Path) -> Awaitable[Any]:
        (tmp / "a.ogg").write_bytes(b"OggS")
        args = {"sender_number_id": 12, "to_phone": R, "media": tmp / "a.ogg", "duration": 45, **kw}
        return c.messages.send_voice(**args)

    return call


_OMIT = object()

CASES: list[tuple[str, Call, str, str]] = [
    ("both-senders", _text(sender_phone=S), "sender_phone", "exactly one"),
    ("no-sender", _text(sender_number_id=_OMIT), "sender_phone", "exactly one"),
    (
        "media-no-sender",
        lambda c, _: c.messages.send_document(to_phone=R, media=b"x"),
        "sender_phone",
        "exactly one",
    ),
    (
        "media-both-senders",
        lambda c, _: c.messages.send_image(to_phone=R, media=b"x", sender_phone=S, sender_number_id=12),
        "sender_phone",
        "both",
    ),
    (
        "sender-phone-no-plus",
        _text(sender_number_id=_OMIT, sender_phone="201001187188"),
        "sender_phone",
        "E.164",
    ),
    ("sender-id-zero", _text(sender_number_id=0), "sender_number_id", "positive int"),
    ("sender-id-str", _text(sender_number_id="12"), "sender_number_id", "positive int"),
    ("sender-id-bool", _text(sender_number_id=True), "sender_number_id", "positive int"),
    ("to-phone-spaces", _text(to_phone="+20 101 000 0000"), "to_phone", "E.164"),
    ("to-phone-leading-zero", _text(to_phone="+0201010000000"), "to_phone", "E.164"),
    ("to-phone-decoded-plus", _text(to_phone=" 201010000000"), "to_phone", "decoded as a space"),
    ("to-phone-too-long", _text(to_phone="+2010100000001234"), "to_phone", "E.164"),
    ("to-phone-int", _text(to_phone=201010000000), "to_phone", "E.164"),
    ("content-empty", _text(content=""), "content", "empty"),
    ("content-blank", _text(content="  \n "), "content", "empty"),
    ("content-too-long", _text(content="x" * 4097), "content", "4096"),
    ("content-none", _text(content=None), "content", "str"),
    ("duration-zero", _voice(duration=0), "duration", "between 1 and 300"),
    ("duration-301", _voice(duration=301), "duration", "between 1 and 300"),
    ("duration-float", _voice(duration=45.0), "duration", "int"),
    ("duration-str", _voice(duration="45"), "duration", "int"),
    ("duration-bool", _voice(duration=True), "duration", "int"),
    (
        "media-str",
        lambda c, _: c.messages.send_image(sender_number_id=12, to_phone=R, media="a.png"),
        "media",
        "ambiguous",
    ),
    (
        "media-missing-file",
        lambda c, tmp: c.messages.send_document(sender_number_id=12, to_phone=R, media=tmp / "nope.pdf"),
        "media",
        "not a readable",
    ),
    (
        "media-text-mode",
        lambda c, _: c.messages.send_document(sender_number_id=12, to_phone=R, media=io.StringIO("text")),
        "media",
        "text mode",
    ),
    (
        "media-int",
        lambda c, _: c.messages.send_document(sender_number_id=12, to_phone=R, media=42),
        "media",
        "expected a Path",
    ),
    ("lookup-phone", lambda c, _: c.contacts.lookup(phone="01010000000"), "phone", "E.164"),
    (
        "lookup-sender-phone",
        lambda c, _: c.contacts.lookup(phone=R, sender_phone="+20-100"),
        "sender_phone",
        "E.164",
    ),
    ("register-phone", lambda c, _: c.sender_numbers.register(phone="201001234567"), "phone", "E.164"),
    (
        "register-empty-name",
        lambda c, _: c.sender_numbers.register(phone="+201001234567", display_name=" "),
        "display_name",
        "non-empty",
    ),
    ("list-per-page", lambda c, _: _drain(c.messages.list(per_page=0)), "per_page", "positive int"),
    ("list-to-phone", lambda c, _: _drain(c.messages.list(to_phone="0101")), "to_phone", "E.164"),
    ("get-ref", lambda c, _: c.sender_numbers.get("support"), "id_or_phone", "E.164"),
    ("wait-ref", lambda c, _: c.sender_numbers.wait_until_ready(12.5), "id_or_phone", "sender id"),
    ("wait-timeout", lambda c, _: c.sender_numbers.wait_until_ready(12, timeout=-1), "timeout", ">= 0"),
    ("on-ambiguous", _text(on_ambiguous="sometimes"), "on_ambiguous", "'raise' or 'retry'"),
]


@pytest.mark.parametrize(("call", "field", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_bad_input_is_rejected_before_any_io(
    tgo_client: tgo_async.Client,
    tgo_sandbox: SandboxServer,
    tmp_path: Path,
    call: Call,
    field: str,
    words: str,
) -> None:
    """A ValidationError (also a ValueError) naming the field; nothing reached the server."""
    with pytest.raises(ValidationError) as info:
        await call(tgo_client, tmp_path)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.field == field
    assert str(err).startswith(f"{field}: ")
    assert words in str(err)
    assert tgo_sandbox.state.requests == []
    assert tgo_sandbox.state.ledger == []


async def test_boundary_values_pass_both_checks(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer
) -> None:
    """4096 characters of content and durations 1 and 300 are accepted locally and by the server."""
    await tgo_client.messages.send_text(sender_number_id=12, to_phone=R, content="x" * 4096)
    for duration in (1, 300):
        await tgo_client.messages.send_voice(
            sender_number_id=12,
            to_phone=R,
            duration=duration,
            media=tgo_async.Media(b"OggS", filename="v.ogg"),
        )
    assert [(e.message_type, e.duration) for e in tgo_sandbox.state.ledger] == [
        ("text", None),
        ("voice", 1),
        ("voice", 300),
    ]
    assert tgo_sandbox.state.ledger[0].content == "x" * 4096
