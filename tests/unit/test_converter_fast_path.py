"""The Message fast path agrees with the cattrs hook on every input, and is taken for the common shape."""

from __future__ import annotations

from typing import Any

import pytest

from tgo_async import _converter
from tgo_async._converter import message_from_body, structure
from tgo_async._envelopes import unwrap_object
from tgo_async._errors import DecodeError
from tgo_async.models import Message

SEND_RESPONSE = {"id": 1042, "sender_number_id": 12, "to_phone": "+201001234567", "message_type": "text",
                 "content": "Hello", "status": "queued", "sent_at": "2025-01-10T08:00:00.000000Z",
                 "media": None}


def _with(**changes: Any) -> dict[str, Any]:
    body = {**SEND_RESPONSE, **changes}
    return {k: v for k, v in body.items() if v is not _DROP}


_DROP = object()

BODIES = [
    SEND_RESPONSE,
    _with(message_type=_DROP, type="image"),
    _with(message_type=None, type="image"),
    _with(message_type=_DROP),
    _with(status="delivered_late"),
    _with(status=" QUEUED "),
    _with(status=None),
    _with(message_type="sticker"),
    _with(sent_at=None),
    _with(sent_at=_DROP),
    _with(sent_at="2025-01-10T08:00:00"),
    _with(sent_at="2025-01-10T10:00:00+02:00"),
    _with(sent_at=" 2025-01-10T08:00:00Z "),
    _with(sent_at=1736496000),
    _with(sent_at="yesterday"),
    _with(sender_number_id="12"),
    _with(sender_number_id=None),
    _with(id="1042"),
    _with(id=True),
    _with(id=_DROP),
    _with(to_phone=201001234567),
    _with(to_phone=None),
    _with(content=None),
    _with(content=["not", "text"]),
    _with(media={"filename": "a.pdf", "size": 3}),
    _with(media={}),
    _with(extra="ignored", another={"nested": 1}),
    {"id": 1},
]


def _outcome(body: dict[str, Any]) -> Message | str:
    try:
        return structure(body, Message)
    except DecodeError as exc:
        return f"DecodeError: {exc}"


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_fast_path_gives_what_the_cattrs_hook_gives(body: dict[str, Any],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the body, the result (or the error) is the same with the fast path on and off."""
    fast = _outcome(dict(body))
    monkeypatch.setattr(_converter, "_fast_message", lambda o: None)
    slow = _outcome(dict(body))
    assert fast == slow
    if isinstance(fast, Message) and isinstance(slow, Message):
        assert fast.message_type is slow.message_type
        assert fast.status is slow.status
        assert (fast.sent_at is None) == (slow.sent_at is None)
        if fast.sent_at is not None and slow.sent_at is not None:
            assert fast.sent_at.utcoffset() == slow.sent_at.utcoffset()


@pytest.mark.parametrize("body", [SEND_RESPONSE, _with(message_type=_DROP, type="text"), _with(sent_at=None),
                                  {"id": 7, "message_type": "voice", "status": "sent"}])
def test_common_shapes_take_the_fast_path(body: dict[str, Any]) -> None:
    """The sandbox's and the docs' shapes never reach the per-field hooks."""
    assert _converter._fast_message(body) is not None


def _from_body(body: Any) -> Message | str:
    try:
        return message_from_body(body)
    except DecodeError as exc:
        return f"DecodeError: {exc}"


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_message_from_body_equals_the_general_route(body: dict[str, Any]) -> None:
    """The send path's one-call decode gives what structure(unwrap_object(...)) gives, bare or enveloped."""
    expected = _outcome(unwrap_object(dict(body)))
    assert _from_body(dict(body)) == expected
    assert _from_body({"data": dict(body)}) == expected


@pytest.mark.parametrize("body", [None, [SEND_RESPONSE], "created", {"data": "x"}, {"data": None}])
def test_message_from_body_rejects_what_the_general_route_rejects(body: Any) -> None:
    """A body that is no message (not an object, or an object without one) fails with the same text."""
    with pytest.raises(DecodeError) as general:
        structure(unwrap_object(body), Message)
    with pytest.raises(DecodeError) as fast:
        message_from_body(body)
    assert str(fast.value) == str(general.value)
