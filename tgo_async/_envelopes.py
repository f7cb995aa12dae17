"""Response envelopes: bare JSON or Laravel's ``{"data": ...}`` wrapping, and pagination.

The docs show bare objects and say nothing about wrapping or pagination; the API is a Laravel
app, whose resources wrap in ``data`` and whose paginators add ``links``/``meta`` (or, for
``simplePaginate``, ``next_page_url``/``current_page`` at the top level). Every shape is
accepted; anything else is a ``DecodeError`` that says what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import attrs

from ._errors import DecodeError

__all__ = ["PageInfo", "parse_page", "unwrap_list", "unwrap_object"]

T = TypeVar("T")


@attrs.frozen
class PageInfo(Generic[T]):
    """One page of a list endpoint: its items and how to reach the next page, if any.

    ``next_url`` may be relative; the caller resolves it against the request URL. When the
    server gives only page numbers, ``current_page < last_page`` means there is more.
    """

    items: list[T]
    next_url: str | None = None
    current_page: int | None = None
    last_page: int | None = None

    @property
    def has_next(self) -> bool:
        """Whether the envelope says another page exists."""
        if self.next_url:
            return True
        return (
            self.current_page is not None
            and self.last_page is not None
            and self.current_page < self.last_page
        )


def _kind(body: Any) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if body is None:
        return "null"
    if isinstance(body, bool):
        return "boolean"
    if isinstance(body, Mapping):
        keys = ", ".join(sorted(map(str, body))[:8])
        return f"an object with keys [{keys}]" if keys else "an empty object"
    if isinstance(body, list):
        return "an array"
    if isinstance(body, str):
        return "a string"
    if isinstance(body, int | float):
        return "a number"
    return type(body).__name__


def unwrap_object(body: Any) -> dict[str, Any]:
    """A bare object, or the object inside ``{"data": {...}}``."""
    if type(body) is dict:
        data = body.get("data")
        if type(data) is dict:
            return data
        return body
    raise DecodeError(f'expected a JSON object or {{"data": {{...}}}}, got {_kind(body)}', body=body)


def unwrap_list(body: Any) -> list[Any]:
    """A bare array, or the array inside ``{"data": [...]}``."""
    if type(body) is list:
        return body
    if type(body) is dict and type(body.get("data")) is list:
        return body["data"]  # type: ignore[no-any-return]
    raise DecodeError(f'expected a JSON array or {{"data": [...]}}, got {_kind(body)}', body=body)


def _page_number(value: Any) -> int | None:
    """Laravel sends ints; a string or float from a proxy or another framework is tolerated."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def parse_page(body: Any) -> PageInfo[Any]:
    """A bare array (one page), or a paginated ``{"data": [...]}`` envelope.

    ``links.next`` and ``meta.current_page/last_page`` (Laravel resources) win over the top-level
    ``next_page_url``/``current_page``/``last_page`` (Laravel's plain paginator and
    ``simplePaginate``). In the plain paginator ``links`` is a list of page buttons: ignored.
    """
    if type(body) is list:
        return PageInfo(items=body)
    if type(body) is not dict or type(body.get("data")) is not list:
        raise DecodeError(
            f'expected a message-log JSON array or a paginated {{"data": [...]}} envelope, got {_kind(body)}',
            body=body,
        )
    links = body.get("links")
    meta = body.get("meta")
    links = links if isinstance(links, Mapping) else {}
    meta = meta if isinstance(meta, Mapping) else {}
    next_url = _url(links.get("next")) or _url(body.get("next_page_url")) or _url(meta.get("next_page_url"))
    current = _page_number(meta.get("current_page"))
    if current is None:
        current = _page_number(body.get("current_page"))
    last = _page_number(meta.get("last_page"))
    if last is None:
        last = _page_number(body.get("last_page"))
    return PageInfo(items=body["data"], next_url=next_url, current_page=current, last_page=last)
