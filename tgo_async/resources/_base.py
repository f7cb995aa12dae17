from __future__ import annotations

from .._requester import Requester


class Resource:
    __slots__ = ("_r",)

    def __init__(self, requester: Requester) -> None:
        self._r = requester

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
