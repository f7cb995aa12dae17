"""Fault injection: what can go wrong between a client and the real API, on demand and reproducibly."""

from __future__ import annotations

import enum
import random
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = ["Fault", "FaultKind", "FaultSet"]


class FaultKind(enum.StrEnum):
    """One way a request can fail; the value is the spelling used by the CLI and the control route."""

    RATE_LIMIT = "rate_limit"
    """429 ``rate_limited`` with ``Retry-After`` and ``retry-after-ms`` from ``Fault.retry_after``."""
    UNAVAILABLE_RETRY_AFTER = "unavailable_retry_after"
    """503 ``service_unavailable`` with ``Retry-After``: provably not applied, retry later."""
    UNAVAILABLE = "unavailable"
    """Bare 503 without ``Retry-After``."""
    SERVER_ERROR = "server_error"
    """500 ``server_error`` JSON, request not processed (the client cannot know that)."""
    BAD_GATEWAY_HTML = "bad_gateway_html"
    """502 with an HTML body, as an nginx in front of the API would answer."""
    GATEWAY_TIMEOUT = "gateway_timeout"
    """504 with an HTML body (proxy gave up waiting)."""
    REQUEST_TIMEOUT = "request_timeout"
    """408 ``request_timeout`` JSON with ``Connection: close``."""
    DROP_BEFORE = "drop_before"
    """Body read, then the connection is aborted; nothing processed or recorded."""
    DROP_AFTER = "drop_after"
    """Processed and recorded, then the connection is aborted without a response."""
    ERROR_AFTER = "error_after"
    """Processed and recorded, then 500 ``server_error`` is answered."""
    LATENCY = "latency"
    """Wait ``Fault.delay`` seconds, then process normally."""
    RESPOND = "respond"
    """Answer ``Fault.status`` / ``Fault.body`` / ``Fault.headers`` verbatim, nothing processed."""


#: Kinds answered before the request is processed (so never recorded in the ledger).
PRE_KINDS = frozenset(
    {
        FaultKind.RATE_LIMIT,
        FaultKind.UNAVAILABLE_RETRY_AFTER,
        FaultKind.UNAVAILABLE,
        FaultKind.SERVER_ERROR,
        FaultKind.BAD_GATEWAY_HTML,
        FaultKind.GATEWAY_TIMEOUT,
        FaultKind.REQUEST_TIMEOUT,
        FaultKind.DROP_BEFORE,
        FaultKind.RESPOND,
    }
)


@attrs.define(slots=True)
class Fault:
    """A fault rule. ``route`` is ``"METHOD /path"`` (e.g. ``"POST /api/v1/messages"``) or None for all
    ``/api`` routes; ``times`` bounds how often it fires (None = unlimited); ``probability`` is used
    only by random rules (``FaultSet.add``), scripted steps always fire."""

    kind: FaultKind = attrs.field(converter=FaultKind)
    route: str | None = None
    probability: float = 1.0
    retry_after: float = 1.0
    delay: float = 0.0
    times: int | None = None
    status: int = 200
    body: Any = None
    headers: Mapping[str, str] | None = None

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Parse a CLI spec ``KIND[:PROBABILITY][,key=value...]``.

        Keys: route, retry_after, delay, times, status, body. Example:
        ``rate_limit:0.3,retry_after=2,route=POST /api/v1/messages``.
        """
        head, *pairs = spec.split(",")
        kind, _, prob = head.partition(":")
        fields: dict[str, Any] = {"kind": FaultKind(kind.strip().lower())}
        if prob:
            fields["probability"] = float(prob)
        for pair in pairs:
            key, sep, value = pair.partition("=")
            key = key.strip()
            if not sep:
                raise ValueError(f"fault option {pair!r} is not key=value")
            if key in ("retry_after", "delay", "probability"):
                fields[key] = float(value)
            elif key in ("times", "status"):
                fields[key] = int(value)
            elif key in ("route", "body"):
                fields[key] = value.strip()
            else:
                raise ValueError(f"unknown fault option {key!r}")
        return cls(**fields)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """Build from the JSON accepted by ``POST /_sandbox/faults`` (the attribute names)."""
        allowed = {a.name for a in attrs.fields(cls)}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        """JSON-able form, for ``GET /_sandbox/faults``."""
        body = self.body
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        return {
            "kind": self.kind.value,
            "route": self.route,
            "probability": self.probability,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "times": self.times,
            "status": self.status,
            "body": body,
            "headers": dict(self.headers) if self.headers else None,
        }


class FaultSet:
    """The active rules. Scripted steps take precedence over random rules; a request gets at most one.

    Random rules that match a route share a single uniform draw: rule *i* fires when the draw falls in
    its own slice of [0, 1), so the configured probabilities add up (0.3 + 0.05 -> 35 % faulted).
    """

    __slots__ = ("_random", "_rng", "_scripts")

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._random: list[Fault] = []
        self._scripts: dict[str, deque[Fault | None]] = {}

    def add(self, fault: Fault) -> Fault:
        """Add a random rule; returns it so a test can later ``remove`` it."""
        self._random.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        """Remove a rule added with ``add``."""
        self._random.remove(fault)

    def script(self, route: str, steps: Iterable[FaultKind | Fault | str | None]) -> None:
        """Queue exact outcomes for the next requests of ``route`` (None = process normally).

        Appends to an existing script of that route. Steps given as a kind use the ``Fault`` defaults
        (``retry_after=1.0``); pass a ``Fault`` for anything else (``RESPOND`` bodies, delays).
        """
        queue = self._scripts.setdefault(route, deque())
        for step in steps:
            if step is None or isinstance(step, Fault):
                queue.append(step)
            else:
                queue.append(Fault(kind=FaultKind(step), route=route))

    def clear(self) -> None:
        """Remove every rule and script."""
        self._random.clear()
        self._scripts.clear()

    def reseed(self, seed: int) -> None:
        """Restart the random sequence (reproducible fault patterns across runs)."""
        self._rng.seed(seed)

    @property
    def rules(self) -> list[Fault]:
        """The random rules, in order of addition."""
        return list(self._random)

    def pending_script(self, route: str) -> int:
        """How many scripted steps remain for ``route``."""
        queue = self._scripts.get(route)
        return len(queue) if queue else 0

    def to_json(self) -> dict[str, Any]:
        """Current rules and scripts, JSON-able."""
        return {
            "rules": [f.to_json() for f in self._random],
            "scripts": {
                route: [None if s is None else s.to_json() for s in queue]
                for route, queue in self._scripts.items()
            },
        }

    def pick(self, route: str) -> Fault | None:
        """The fault for this request of ``route`` (``"METHOD /path"``), consuming script steps/times."""
        if self._scripts:
            queue = self._scripts.get(route)
            if queue:
                step = queue.popleft()
                if not queue:
                    del self._scripts[route]
                return step
        if not self._random:
            return None
        draw = self._rng.random()
        edge = 0.0
        for fault in self._random:
            if fault.route is not None and fault.route != route:
                continue
            edge += fault.probability
            if draw < edge:
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._random.remove(fault)
                return fault
        return None
