"""Client configuration: one frozen value, read from arguments or the environment in one place."""

from __future__ import annotations

import os
from typing import Literal

import attrs

from ._errors import ValidationError

__all__ = ["DEFAULT_RATE_LIMIT", "ClientConfig", "OnAmbiguous", "Timeouts", "load_config", "mask_key"]

ENV_API_KEY = "TGO_API_KEY"
ENV_BASE_URL = "TGO_BASE_URL"
DEFAULT_RATE_LIMIT = 200.0
"""Requests per second per API key unless the caller says otherwise; lowered adaptively on 429s."""

OnAmbiguous = Literal["raise", "retry"]


@attrs.frozen
class Timeouts:
    """Separate phases so that "never sent" and "sent, then timed out" are told apart.

    ``connect`` covers waiting for a pooled connection plus establishing one (both provably
    before the request left us); ``read`` bounds a JSON call's response once the request is
    written (the gap between reads on a borrowed session); ``media_read`` is the gap between
    reads for uploads, whose response comes only after the whole file.
    """

    connect: float = 10.0
    sock_connect: float = 5.0
    read: float = 30.0
    media_read: float = 300.0


def mask_key(key: str) -> str:
    """Enough of a key to tell two apart in a log line, never enough to use it."""
    return f"…{key[-4:]}" if len(key) > 12 else "…"


@attrs.frozen(repr=False)
class ClientConfig:
    """Everything a Client needs except its live objects (session, limiter, budget)."""

    api_key: str
    base_url: str
    timeouts: Timeouts = Timeouts()
    on_ambiguous: OnAmbiguous = "raise"
    connector_limit: int = 100
    connector_limit_per_host: int = 0
    keepalive_timeout: float = 15.0
    user_agent: str = "tgo-async"

    def __repr__(self) -> str:
        return (
            f"ClientConfig(api_key={mask_key(self.api_key)!r}, base_url={self.base_url!r}, "
            f"timeouts={self.timeouts!r}, on_ambiguous={self.on_ambiguous!r})"
        )


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    import ipaddress  # only when a client is configured, not at import

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_base_url(url: str, *, allow_insecure_http: bool) -> str:
    """Check scheme and host; plain http would send the key in clear, so only to loopback."""
    from yarl import URL

    try:
        parsed = URL(url.strip())
    except (TypeError, ValueError) as exc:
        raise ValidationError("base_url", f"not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValidationError("base_url", "must be an http(s) URL with a host, e.g. https://tenant.example")
    if parsed.scheme == "http" and not allow_insecure_http and not _is_loopback(parsed.host):
        raise ValidationError(
            "base_url",
            f"plain http to {parsed.host} would send the API key unencrypted; use https "
            "or pass allow_insecure_http=True",
        )
    text = str(parsed.with_query(None).with_fragment(None))
    return text.rstrip("/")


def load_config(
    api_key: str | None,
    base_url: str | None,
    *,
    allow_insecure_http: bool = False,
    **options: object,
) -> ClientConfig:
    """Arguments win over ``TGO_API_KEY`` / ``TGO_BASE_URL``; missing values are a clear error."""
    key = api_key if api_key is not None else os.environ.get(ENV_API_KEY)
    url = base_url if base_url is not None else os.environ.get(ENV_BASE_URL)
    if not key or not key.strip():
        raise ValidationError("api_key", f"missing: pass api_key= or set {ENV_API_KEY}")
    if not url:
        raise ValidationError("base_url", f"missing: pass base_url= or set {ENV_BASE_URL}")
    if any(c in key for c in "\r\n"):
        raise ValidationError("api_key", "contains a line break")
    on_ambiguous = options.get("on_ambiguous", "raise")
    if on_ambiguous not in ("raise", "retry"):
        raise ValidationError("on_ambiguous", f"must be 'raise' or 'retry', not {on_ambiguous!r}")
    return ClientConfig(
        api_key=key.strip(),
        base_url=normalise_base_url(url, allow_insecure_http=allow_insecure_http),
        **options,  # type: ignore[arg-type]
    )
