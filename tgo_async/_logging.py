"""Masking for log records: phone numbers keep a prefix and the last two digits, OTPs and
message bodies never appear, query strings are reduced to their keys."""

from __future__ import annotations

import re

from yarl import URL

__all__ = ["mask_phone", "mask_text", "mask_url"]

_PHONE = re.compile(r"\+?\d{7,15}")


def mask_phone(phone: object) -> str:
    """'+201001187188' -> '+2010******88': enough to tell numbers apart in an incident."""
    text = str(phone)
    if len(text) <= 6:
        return "*" * len(text)
    return text[:5] + "*" * (len(text) - 7) + text[-2:]


def mask_text(text: str) -> str:
    """Message bodies and OTPs are the customer's data: log only their length."""
    return f"<{len(text)} chars>"


def mask_url(url: URL | str) -> str:
    """Path with query values hidden (they hold phone numbers)."""
    url = URL(url) if isinstance(url, str) else url
    path = _PHONE.sub(lambda m: mask_phone(m.group(0)), url.path)
    if not url.query:
        return path
    return path + "?" + "&".join(f"{k}=***" for k in url.query)
