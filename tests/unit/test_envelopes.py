"""Envelopes: bare or ``data``-wrapped bodies, and every pagination shape."""

from __future__ import annotations

from typing import Any

import pytest

from tgo_async._envelopes import PageInfo, parse_page, unwrap_list, unwrap_object
from tgo_async._errors import DecodeError

ITEM = {"id": 1, "message_type": "text"}


def test_unwrap_object_bare() -> None:
    """A bare object is returned as is."""
    assert unwrap_object(ITEM) is ITEM


def test_unwrap_object_data_wrapped() -> None:
    """``{"data": {...}}`` yields the inner object."""
    assert unwrap_object({"data": ITEM, "message": "created"}) is ITEM


def test_unwrap_object_keeps_object_whose_data_is_not_an_object() -> None:
    """An object with a non-object ``data`` field is itself the payload."""
    body = {"id": 1, "data": "x"}
    assert unwrap_object(body) is body


@pytest.mark.parametrize(("body", "kind"), [([ITEM], "an array"), (None, "null"), ("ok", "a string"),
                                            (3, "a number"), (True, "boolean")])
def test_unwrap_object_rejects_non_objects(body: Any, kind: str) -> None:
    """Anything but an object is a DecodeError saying what was expected and found."""
    expected = rf"expected a JSON object or {{\"data\": {{...}}}}, got {kind}"
    with pytest.raises(DecodeError, match=expected) as info:
        unwrap_object(body)
    assert info.value.body == body


def test_unwrap_list_bare() -> None:
    """A bare array is returned as is."""
    body = [ITEM]
    assert unwrap_list(body) is body


def test_unwrap_list_data_wrapped() -> None:
    """``{"data": [...]}`` yields the inner array."""
    assert unwrap_list({"data": [ITEM], "meta": {}}) == [ITEM]


@pytest.mark.parametrize("body", [ITEM, {"data": ITEM}, None, "x", {}])
def test_unwrap_list_rejects_other_shapes(body: Any) -> None:
    """An object without a ``data`` array is a DecodeError naming what was found."""
    with pytest.raises(DecodeError, match=r'expected a JSON array or \{"data": \[...\]\}, got'):
        unwrap_list(body)


def test_unwrap_list_error_lists_keys() -> None:
    """The error names the keys of an unexpected object, to show what the server sent."""
    with pytest.raises(DecodeError, match=r"an object with keys \[id, message_type\]"):
        unwrap_list(ITEM)


def test_parse_page_bare_array_is_single_page() -> None:
    """A bare array is the whole log: no next page."""
    page = parse_page([ITEM])
    assert page == PageInfo(items=[ITEM])
    assert not page.has_next


def test_parse_page_data_without_pagination() -> None:
    """``{"data": [...]}`` with no links or meta is a single page."""
    page = parse_page({"data": [ITEM]})
    assert page == PageInfo(items=[ITEM])


def test_parse_page_laravel_resource_collection() -> None:
    """Laravel resources: ``links.next`` and ``meta.current_page/last_page``."""
    body = {
        "data": [ITEM],
        "links": {"first": "https://t.example/api/v1/messages?page=1", "last": "https://t.example/api/v1/messages?page=3",
                  "prev": None, "next": "https://t.example/api/v1/messages?page=2"},
        "meta": {"current_page": 1, "last_page": 3, "per_page": 15, "total": 40},
    }
    page = parse_page(body)
    assert page == PageInfo(items=[ITEM], next_url="https://t.example/api/v1/messages?page=2",
                            current_page=1, last_page=3)
    assert page.has_next


def test_parse_page_laravel_last_page() -> None:
    """On the last page ``links.next`` is null and there is no next page."""
    page = parse_page({"data": [], "links": {"next": None}, "meta": {"current_page": 3, "last_page": 3}})
    assert page.next_url is None
    assert not page.has_next


def test_parse_page_laravel_plain_paginator() -> None:
    """``paginate()`` as JSON: top-level fields, and ``links`` is a list of page buttons."""
    body = {
        "current_page": 2,
        "data": [ITEM],
        "last_page": 4,
        "next_page_url": "/api/v1/messages?page=3",
        "links": [{"url": None, "label": "&laquo; Previous", "active": False}],
    }
    assert parse_page(body) == PageInfo(items=[ITEM], next_url="/api/v1/messages?page=3", current_page=2,
                                        last_page=4)


def test_parse_page_laravel_simple_paginate() -> None:
    """``simplePaginate()``: no last_page; a next_page_url is enough."""
    page = parse_page({"current_page": 1, "data": [ITEM], "next_page_url": "/api/v1/messages?page=2"})
    assert page.next_url == "/api/v1/messages?page=2"
    assert page.last_page is None
    assert page.has_next


def test_parse_page_numbers_only_has_next() -> None:
    """Without any URL, ``current_page < last_page`` still says there is more."""
    page = parse_page({"data": [ITEM], "meta": {"current_page": "1", "last_page": 2.0}})
    assert page.next_url is None
    assert (page.current_page, page.last_page) == (1, 2)
    assert page.has_next


def test_parse_page_ignores_empty_and_bad_values() -> None:
    """An empty next URL and non-numeric page numbers are treated as absent."""
    meta = {"current_page": True, "last_page": "x"}
    page = parse_page({"data": [ITEM], "links": {"next": ""}, "meta": meta})
    assert page == PageInfo(items=[ITEM])


@pytest.mark.parametrize("body", [ITEM, {"data": ITEM}, {"messages": [ITEM]}, None, "html", 5])
def test_parse_page_rejects_other_shapes(body: Any) -> None:
    """Anything but an array or a ``data`` array is a DecodeError saying what was expected."""
    with pytest.raises(DecodeError, match=r"expected a message-log JSON array or a paginated") as info:
        parse_page(body)
    assert info.value.body == body
