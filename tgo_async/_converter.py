"""The one cattrs converter: every structure hook for the response models lives here.

Why a hand-tuned converter rather than cattrs' defaults:

* cattrs' ``str``/``bool`` hooks call ``str(v)``/``bool(v)``, so ``null`` becomes ``"None"`` and
  ``"false"`` becomes ``True``. The hooks below accept only sane inputs.
* The docs show ``2025-01-10T08:00:00Z``; Laravel also emits ``.000000Z`` and offsets. All become
  aware datetimes (a naive timestamp is taken as UTC).
* Unknown enum values become ``UNKNOWN`` and the ``*_raw`` field keeps the server's string.
* Unknown fields are ignored and ``null`` is accepted wherever the docs show a value.

The converter is built on first need (``get_converter``), not at import: generating its structure
functions is most of what ``import tgo_async`` would otherwise add over its dependencies, and a
service that only sends text may never need it (``Message`` bodies of the usual shape take
``_fast_message``). cattrs generates one structure function per class on first use and caches it;
``structure`` additionally caches the dispatch result. The send path calls ``message_from_body``:
envelope and fast path in one call, the general route only for bodies the fast path declines.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import NoneType, UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

import cattrs
from cattrs.gen import make_dict_structure_fn, override

from ._envelopes import unwrap_object
from ._errors import DecodeError
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

__all__ = ["get_converter", "make_converter", "message_from_body", "structure"]

T = TypeVar("T")

_ENUMS = (SenderStatus, VerificationStatus, MessageType, MessageStatus, ReasonCode)
_MESSAGE_TYPES = tuple(t.value for t in MessageType if t is not MessageType.UNKNOWN)


# --- scalar hooks -------------------------------------------------------------------------------


def _structure_str(value: Any, _: Any) -> str:
    """A string; numbers are tolerated (a phone sent as a number), null and containers are not."""
    if type(value) is str:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _structure_int(value: Any, _: Any) -> int:
    """An integer; integral floats and digit strings are tolerated, ``True`` and ``1.5`` are not."""
    if type(value) is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise TypeError(f"expected an integer, got {type(value).__name__}")


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def _structure_bool(value: Any, _: Any) -> bool:
    """A boolean; 0/1 and "true"/"false" are tolerated, other strings are not (``bool("false")``)."""
    if value is True or value is False:
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        folded = value.strip().lower()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
    raise TypeError(f"expected a boolean, got {type(value).__name__}")


def _parse_datetime(value: Any, _: Any = None) -> datetime:
    """ISO 8601 with ``Z``, fractions or an offset, or epoch seconds -> aware datetime."""
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"expected an ISO 8601 timestamp, got {value[:40]!r}") from None
    elif isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return datetime.fromtimestamp(value, UTC)
    else:
        raise TypeError(f"expected an ISO 8601 timestamp, got {type(value).__name__}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _structure_raw(value: Any, _: Any) -> str | None:
    """The server's original value of an enum field, kept for debugging; never fails."""
    if value is None or type(value) is str:
        return value
    return str(value)


def _enum_hook(enum_cls: type[Any]) -> Callable[[Any, Any], Any]:
    """Unknown values (and null) become ``UNKNOWN``: a dict hit first, ``_missing_`` otherwise.

    ``Enum.__call__`` costs ~3x a dict lookup, and each model has one or two enums.
    """
    get = enum_cls._value2member_map_.get

    def structure_enum(value: Any, _: Any) -> Any:
        if type(value) is str:
            member = get(value)
            if member is not None:
                return member
        return enum_cls(value)

    return structure_enum


def _is_optional(tp: Any) -> bool:
    return get_origin(tp) in (Union, UnionType) and len(args := get_args(tp)) == 2 and NoneType in args


def _optional_hook(tp: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """``X | None``: cattrs' own hook re-inspects the union on every call; this resolves it once."""
    inner_type = next(a for a in get_args(tp) if a is not NoneType)
    inner = conv.get_structure_hook(inner_type)
    if inner_type is str or inner_type is int:
        # The common case returns the value itself: skip the inner call entirely.
        def structure_optional_scalar(value: Any, _: Any) -> Any:
            if value is None or type(value) is inner_type:
                return value
            return inner(value, inner_type)

        return structure_optional_scalar

    def structure_optional(value: Any, _: Any) -> Any:
        return None if value is None else inner(value, inner_type)

    return structure_optional


def _structure_media(value: Any, _: Any) -> MediaInfo | None:
    """Media metadata is undocumented: take what is recognisable, never fail a send over it."""
    if value is None or not isinstance(value, Mapping):  # None first: an ABC isinstance is not free
        return None
    size = value.get("size", value.get("size_bytes"))
    return MediaInfo(
        filename=_opt_str(value.get("filename", value.get("file_name", value.get("name")))),
        content_type=_opt_str(value.get("content_type", value.get("mime_type"))),
        size=size if type(size) is int else None,
        sha256=_opt_str(value.get("sha256")),
    )


_message_type: Callable[[str], MessageType | None] = MessageType._value2member_map_.get  # type: ignore[assignment]
_message_status: Callable[[str], MessageStatus | None] = MessageStatus._value2member_map_.get  # type: ignore[assignment]
_fromisoformat = datetime.fromisoformat


def _fast_message(o: dict[str, Any]) -> Message | None:
    """A ``Message`` from a body that is already exactly what the model wants, else None.

    The send path structures one per request and the generated hook costs ~10 hook calls and a
    kwargs dict (about 3 µs here). This builds the common shape directly and answers None for
    anything else (a wrong type, an unknown status, media metadata, a bad timestamp), which then
    goes through the cattrs hook: it alone owns the tolerance rules and the error messages, and
    for every input this accepts it returns an equal ``Message`` (tests/unit/test_converter_fast_path.py).
    """
    id_ = o.get("id")
    sender_id = o.get("sender_number_id")
    to_phone = o.get("to_phone")
    content = o.get("content")
    type_raw = o.get("message_type")
    if type_raw is None and "message_type" not in o:
        type_raw = o.get("type")
    status_raw = o.get("status")
    sent_at = o.get("sent_at")
    if (type(id_) is not int or type(type_raw) is not str or type(status_raw) is not str
            or (sender_id is not None and type(sender_id) is not int)
            or (to_phone is not None and type(to_phone) is not str)
            or (content is not None and type(content) is not str)
            or o.get("media") is not None):
        return None
    message_type = _message_type(type_raw)
    status = _message_status(status_raw)
    if message_type is None or status is None:
        return None
    if sent_at is not None:
        if type(sent_at) is not str:
            return None
        try:
            sent_at = _fromisoformat(sent_at)
        except ValueError:
            return None
        if sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=UTC)
    return Message(id_, sender_id, to_phone, message_type, type_raw, content, status, status_raw, sent_at,
                   None)


def _opt_str(value: Any) -> str | None:
    return value if type(value) is str else None


def _opt_int(value: Any) -> int | None:
    try:
        return None if value is None else _structure_int(value, int)
    except TypeError:
        return None


# --- usage: undocumented, so tolerant by hand ---------------------------------------------------

_ENTRY_LIST_KEYS = ("data", "usage", "senders", "sender_numbers", "items", "results")
_BY_TYPE_KEYS = ("by_type", "counts", "types", "per_type", "messages_by_type", "breakdown")
_TOTAL_KEYS = ("total", "total_messages", "messages_count", "count", "messages")


def _structure_usage(body: Any, _: Any) -> Usage:
    """Usage as a bare list, ``{"data": [...]}``, ``{"data": {...}}``, a map keyed by sender or one object."""
    if isinstance(body, list):
        return Usage(entries=_usage_entries(body), raw={"data": body})
    if not isinstance(body, dict):
        raise TypeError(f"expected a JSON object or array, got {type(body).__name__}")
    for key in _ENTRY_LIST_KEYS:
        inner = body.get(key)
        if isinstance(inner, list | dict):
            return Usage(entries=_structure_usage(inner, Usage).entries, raw=body)
    if body and all(isinstance(v, Mapping) and _is_sender_key(k) for k, v in body.items()):
        # {"12": {...}, "+2010...": {...}}: keyed by sender number id or phone.
        items = [{_sender_key(k): k, **v} for k, v in body.items()]
        return Usage(entries=_usage_entries(items), raw=body)
    return Usage(entries=_usage_entries([body]), raw=body)


def _is_sender_key(key: str) -> bool:
    return key.isdigit() or (key.startswith("+") and key[1:].isdigit())


def _sender_key(key: str) -> str:
    return "sender_number_id" if key.isdigit() else "sender_phone"


def _usage_entries(items: list[Any]) -> tuple[UsageEntry, ...]:
    entries = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise TypeError(f"expected an object for usage entry [{index}], got {type(item).__name__}")
        entries.append(_structure_usage_entry(item))
    return tuple(entries)


def _structure_usage_entry(item: Mapping[str, Any]) -> UsageEntry:
    sender = item.get("sender_number") or item.get("sender")
    sender = sender if isinstance(sender, Mapping) else {}
    sender_id = _opt_int(item.get("sender_number_id", item.get("sender_id", sender.get("id"))))
    phone = _opt_str(item.get("sender_phone", item.get("phone", sender.get("phone"))))

    by_type: dict[str, int] = {}
    nested = next((item[k] for k in _BY_TYPE_KEYS if isinstance(item.get(k), Mapping)), None)
    for key, value in (nested or item).items():
        if nested is not None or key in _MESSAGE_TYPES:
            count = _opt_int(value)
            if count is not None:
                by_type[str(key)] = count
    total = next((t for t in (_opt_int(item.get(k)) for k in _TOTAL_KEYS) if t is not None), None)
    return UsageEntry(
        sender_number_id=sender_id,
        sender_phone=phone,
        total=total if total is not None else sum(by_type.values()),
        by_type=by_type,
    )


# --- the converter -------------------------------------------------------------------------------


def _dict_only(hook: Callable[[Any, Any], T], name: str) -> Callable[[Any, Any], T]:
    """Reject a non-object body with a clear message instead of a ``KeyError``/``TypeError`` deep inside."""

    def structure_object(value: Any, cls: Any) -> T:
        if type(value) is not dict and not isinstance(value, Mapping):
            raise TypeError(f"expected a JSON object for {name}, got {type(value).__name__}")
        return hook(value, cls)

    return structure_object


def make_converter() -> cattrs.Converter:
    """Build a converter with every hook; ``get_converter()`` builds the shared one once."""
    # detailed_validation costs nothing measurable here (try blocks are free on 3.11) and gives
    # transform_error a path for every bad field.
    conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=True)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(datetime, _parse_datetime)
    for enum_cls in _ENUMS:
        conv.register_structure_hook(enum_cls, _enum_hook(enum_cls))
    conv.register_structure_hook_factory(_is_optional, lambda tp: _optional_hook(tp, conv))
    raw = _structure_raw

    def register(cls: type[Any], **overrides: Any) -> Callable[[Any, Any], Any]:
        hook = _dict_only(make_dict_structure_fn(cls, conv, **overrides), cls.__name__)
        conv.register_structure_hook(cls, hook)
        return hook

    register(
        SenderNumber,
        status_raw=override(rename="status", struct_hook=raw),
        verification_status_raw=override(rename="verification_status", struct_hook=raw),
    )
    register(ContactLookup, reason_code_raw=override(rename="reason_code", struct_hook=raw))
    conv.register_structure_hook(MediaInfo, _structure_media)
    message_hook = make_dict_structure_fn(
        Message,
        conv,
        message_type_raw=override(rename="message_type", struct_hook=raw),
        status_raw=override(rename="status", struct_hook=raw),
        media=override(struct_hook=_structure_media),
    )

    def structure_message(value: Any, cls: Any) -> Message:
        if type(value) is dict:
            fast = _fast_message(value)
            if fast is not None:
                return fast
            # The send response may say ``type`` (the request's name) where logs say ``message_type``.
            if "message_type" not in value and "type" in value:
                value = {**value, "message_type": value["type"]}
        elif not isinstance(value, Mapping):
            raise TypeError(f"expected a JSON object for Message, got {type(value).__name__}")
        return message_hook(value, cls)

    conv.register_structure_hook(Message, structure_message)
    conv.register_structure_hook(Usage, _structure_usage)
    return conv


@functools.cache
def get_converter() -> cattrs.Converter:
    """The one converter, built on first use."""
    return make_converter()


def _structure_message(value: Any, cls: Any) -> Message:
    """The send path's hook: the fast path first, so the usual body never builds the converter."""
    if type(value) is dict:
        fast = _fast_message(value)
        if fast is not None:
            return fast
    hook = _hooks[Message] = get_converter().get_structure_hook(Message)
    return hook(value, cls)  # type: ignore[no-any-return]


_hooks: dict[Any, Callable[[Any, Any], Any]] = {Message: _structure_message}


def message_from_body(body: Any) -> Message:
    """``structure(unwrap_object(body), Message)`` for a send response, the fast path tried first.

    One call instead of four on every send; any body the fast path declines takes the general route,
    with its envelope checks and error messages.
    """
    if type(body) is dict:
        data = body.get("data")
        fast = _fast_message(data if type(data) is dict else body)
        if fast is not None:
            return fast
    return structure(unwrap_object(body), Message)


def _describe(cls: Any) -> str:
    """``Message``, or ``list[Message]`` for a generic alias (whose ``__name__`` is just ``list``)."""
    if isinstance(cls, type):
        return cls.__name__
    return repr(cls).replace("tgo_async.models.", "")


def _format_exception(exc: BaseException, type_: type | None) -> str:
    """Our hooks' own reason ("expected an integer, got str") when there is one, else cattrs' wording."""
    if isinstance(exc, TypeError | ValueError) and exc.args and str(exc.args[0]).startswith("expected "):
        return str(exc.args[0])
    return cattrs.v.format_exception(exc, type_)


def structure(data: Any, cls: type[T]) -> T:
    """Structure decoded JSON into ``cls``; any mismatch raises ``DecodeError`` with the body attached."""
    try:
        hook = _hooks[cls]
    except KeyError:
        hook = _hooks[cls] = get_converter().get_structure_hook(cls)
    try:
        return hook(data, cls)  # type: ignore[no-any-return]
    except DecodeError:
        raise
    except Exception as exc:
        problems = cattrs.transform_error(exc, format_exception=_format_exception)
        raise DecodeError(
            f"response did not match {_describe(cls)}: {'; '.join(problems)}", body=data
        ) from exc
