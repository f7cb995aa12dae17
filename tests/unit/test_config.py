"""Client configuration: environment fallback, base URL safety, secrets kept out of repr."""

from __future__ import annotations

import pytest

from tgo_async import ValidationError
from tgo_async._config import load_config, mask_key
from tgo_async._logging import mask_phone, mask_url

KEY = "sk-live-0123456789abcdef"


def test_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """TGO_API_KEY / TGO_BASE_URL fill in only what is not passed."""
    monkeypatch.setenv("TGO_API_KEY", "env-key-xxxxxxxxxxxx")
    monkeypatch.setenv("TGO_BASE_URL", "https://env.example/")
    cfg = load_config(None, None)
    assert (cfg.api_key, cfg.base_url) == ("env-key-xxxxxxxxxxxx", "https://env.example")
    cfg = load_config(KEY, "https://arg.example")
    assert (cfg.api_key, cfg.base_url) == (KEY, "https://arg.example")


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a key the error says how to give one."""
    monkeypatch.delenv("TGO_API_KEY", raising=False)
    with pytest.raises(ValidationError, match="TGO_API_KEY"):
        load_config(None, "https://x.example")


@pytest.mark.parametrize("url", ["http://tenant.example", "http://10.0.0.5:8080"])
def test_plain_http_is_refused_off_loopback(url: str) -> None:
    """Plain http would send the key in clear, so only loopback hosts may use it."""
    with pytest.raises(ValidationError, match="unencrypted"):
        load_config(KEY, url)
    assert load_config(KEY, url, allow_insecure_http=True).base_url == url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9"])
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    """Loopback hosts are fine over http (the sandbox)."""
    assert load_config(KEY, url).base_url == url


@pytest.mark.parametrize("url", ["ftp://x.example", "not a url", "https://"])
def test_bad_base_url_is_refused(url: str) -> None:
    """Anything but an http(s) URL with a host is refused."""
    with pytest.raises(ValidationError, match="base_url"):
        load_config(KEY, url)


def test_config_repr_masks_the_key() -> None:
    """repr() of the config never shows the key."""
    cfg = load_config(KEY, "https://x.example")
    assert KEY not in repr(cfg)
    assert KEY not in str(cfg)
    assert mask_key(KEY) == "…cdef"


def test_log_masks_phones_and_query_values() -> None:
    """Phones keep a prefix and two digits; query values are hidden."""
    assert mask_phone("+201001187188") == "+2010******88"
    assert (
        mask_url("http://h/api/v1/contacts/lookup?phone=%2B201010000000")
        == "/api/v1/contacts/lookup?phone=***"
    )
