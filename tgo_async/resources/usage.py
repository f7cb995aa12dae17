from __future__ import annotations

from .._converter import structure
from ..models import Usage as UsageReport
from ._base import Resource

__all__ = ["Usage"]


class Usage(Resource):
    """``GET /api/v1/usage`` (scope ``usage.read``): message counts grouped by sender number."""

    __slots__ = ()

    async def get(self) -> UsageReport:
        body = await self._r.get(self._r.transport.url("/api/v1/usage"))
        return structure(body, UsageReport)
