from __future__ import annotations

from urllib.parse import quote

from yarl import URL

from .._converter import structure
from .._envelopes import unwrap_object
from .._validation import check_phone
from ..models import ContactLookup
from ._base import Resource

__all__ = ["Contacts"]


def query_url(base: URL, params: dict[str, str]) -> URL:
    """Encode every value ourselves: a raw '+' in a query decodes as a space on the server."""
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())
    return URL(f"{base}?{query}", encoded=True) if query else base


class Contacts(Resource):
    """``GET /api/v1/contacts/lookup`` (scope ``contacts.lookup``)."""

    __slots__ = ()

    async def lookup(self, phone: str, *, sender_phone: str | None = None) -> ContactLookup:
        """Whether ``phone`` exists in TGO Connect and can receive messages (``reason_code``)."""
        params = {"phone": check_phone("phone", phone)}
        if sender_phone is not None:
            params["sender_phone"] = check_phone("sender_phone", sender_phone)
        url = query_url(self._r.transport.url("/api/v1/contacts/lookup"), params)
        body = await self._r.get(url)
        return structure(unwrap_object(body), ContactLookup)
