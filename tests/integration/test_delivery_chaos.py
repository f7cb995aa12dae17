"""Chaos runs of the delivery contract: thousands of unique sends against random sandbox faults.

Each run sends 2,000 unique texts through a bounded worker pool, then checks the outcome of every
send against what the sandbox recorded (its ledger) and received (its request log). Run with ``-s``
to see the figures (sent, unknown, duplicates, losses, early retries, server requests).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import orjson
from aiohttp import web

from tgo_async import Client, OutcomeUnknownError, RetryPolicy, TgoError
from tgo_async.sandbox import Fault, FaultKind, RequestRecord, SandboxServer
from tgo_async.sandbox._send import RECORD_KEY

SEND = "POST /api/v1/messages"
SENDER = "+201001187188"
TO = "+201010000000"
ITEMS = 2_000
CONCURRENCY = 48
DROPS = (FaultKind.DROP_BEFORE, FaultKind.DROP_AFTER)
#: With 42% of attempts faulted, the default cap of 12 attempts leaves ~3e-5 of items failing (or, after
#: a drop in retry mode, unknown): ~6% of 2,000-item runs would see one. As DESIGN §4 says, bound the
#: provably-unapplied retries by the deadline (default 120 s) rather than a small count.
CHAOS_POLICY = RetryPolicy(backoff_base=0.05, max_attempts=40)
#: Loop-clock slack for "no retry earlier than Retry-After" (the sandbox announces ms, rounded up).
RETRY_AFTER_SLACK = 0.001


@web.middleware
async def _tag_items(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                     ) -> web.StreamResponse:
    """Name the item on every request record, including those answered 429/503 before processing.

    The sandbox fills ``RequestRecord.item`` only when it reads the body (normal processing and
    DROP_BEFORE); the retry-timing check needs it on the 429/503 records too. aiohttp caches the
    body, so the sandbox reads it again unchanged.
    """
    item = None
    if request.path == "/api/v1/messages" and request.content_type == "application/json":
        item = orjson.loads(await request.read()).get("content")
    resp = await handler(request)
    record: RequestRecord | None = request.get(RECORD_KEY)
    if record is not None and record.item is None:
        record.item = item
    return resp


def _add_chaos(sb: SandboxServer) -> None:
    """30% 429 (Retry-After 50/100/200 ms), 5% 503+Retry-After, 5% drop before, 2% drop after."""
    faults = sb.state.faults
    for ra in (0.05, 0.1, 0.2):
        faults.add(Fault(kind=FaultKind.RATE_LIMIT, route=SEND, probability=0.1, retry_after=ra))
    faults.add(Fault(kind=FaultKind.UNAVAILABLE_RETRY_AFTER, route=SEND, probability=0.05, retry_after=0.1))
    faults.add(Fault(kind=FaultKind.DROP_BEFORE, route=SEND, probability=0.05))
    faults.add(Fault(kind=FaultKind.DROP_AFTER, route=SEND, probability=0.02))


@attrs.define
class ChaosRun:
    outcomes: dict[str, list[tuple[str, Any]]]
    ledger: Counter[str]
    ledger_ids: dict[str, set[int]]
    requests: dict[str, list[RequestRecord]]
    server_requests: int
    retries: int

    def items(self, outcome: str) -> set[str]:
        return {item for item, ends in self.outcomes.items() if ends[0][0] == outcome}

    def met(self, item: str, *kinds: FaultKind) -> int:
        return sum(1 for r in self.requests[item] if r.fault in kinds)

    def directed_gaps(self) -> list[tuple[str, float, float]]:
        """(item, announced Retry-After, gap to the item's next request) after every 429/503+Retry-After."""
        gaps = []
        for item, records in self.requests.items():
            for prev, nxt in itertools.pairwise(records):
                if prev.status in (429, 503) and prev.retry_after is not None:
                    gaps.append((item, prev.retry_after, nxt.received_at - prev.received_at))
        return gaps

    def early_retries(self) -> list[tuple[str, float, float]]:
        """The directed retries that arrived sooner than the server said."""
        return [g for g in self.directed_gaps() if g[2] < g[1] - RETRY_AFTER_SLACK]

    def figures(self) -> dict[str, int]:
        sent = self.items("sent")
        return {
            "items": len(self.outcomes),
            "sent": len(sent),
            "unknown": len(self.items("unknown")),
            "failed": len(self.items("failed")),
            "duplicates": sum(n - 1 for n in self.ledger.values() if n > 1),
            "losses": len(sent - set(self.ledger)),
            "early_retries": len(self.early_retries()),
            "retry_after_gaps_checked": len(self.directed_gaps()),
            "server_requests": self.server_requests,
            "client_retries": self.retries,
            "met_drop_before": sum(1 for i in self.outcomes if self.met(i, FaultKind.DROP_BEFORE)),
            "met_drop_after": sum(1 for i in self.outcomes if self.met(i, FaultKind.DROP_AFTER)),
        }


async def _chaos(on_ambiguous: str, policy: RetryPolicy, seed: int) -> ChaosRun:
    sb = SandboxServer(seed=seed)
    sb.app.middlewares.insert(0, _tag_items)
    _add_chaos(sb)
    outcomes: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    retries = 0

    def on_retry(_: Any) -> None:
        nonlocal retries
        retries += 1

    contents = (f"chaos {on_ambiguous} #{i:05d}" for i in range(ITEMS))
    async with sb, Client("sandbox-key-all", sb.base_url, rate_limit=None, retry=policy,
                          on_ambiguous=on_ambiguous, on_retry=on_retry) as client:  # type: ignore[arg-type]

        async def worker() -> None:
            for content in contents:  # a shared generator: each item is taken by exactly one worker
                try:
                    msg = await client.messages.send_text(sender_phone=SENDER, to_phone=TO, content=content)
                except OutcomeUnknownError as exc:
                    outcomes[content].append(("unknown", exc))
                except TgoError as exc:
                    outcomes[content].append(("failed", exc))
                else:
                    outcomes[content].append(("sent", msg))

        async with asyncio.timeout(30):
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    state = sb.state
    by_item: dict[str, list[RequestRecord]] = defaultdict(list)
    for record in sorted(state.requests, key=lambda r: r.received_at):
        assert record.item is not None, record
        by_item[record.item].append(record)
    ids: dict[str, set[int]] = defaultdict(set)
    for entry in state.ledger:
        assert entry.content is not None
        ids[entry.content].add(entry.id)
    ledger = Counter(entry.content for entry in state.ledger if entry.content is not None)
    return ChaosRun(dict(outcomes), ledger, dict(ids), dict(by_item), len(state.requests), retries)


def _check_common(run: ChaosRun, label: str) -> str:
    figures = run.figures()
    note = f"{label}: {figures}"
    print(f"\n[chaos] {note}")
    assert len(run.outcomes) == ITEMS, note
    assert all(len(ends) == 1 for ends in run.outcomes.values()), note  # every send ends exactly once
    for item, ((kind, value),) in run.outcomes.items():
        if kind == "sent":
            assert value.content == item, (item, note)
            assert value.id in run.ledger_ids.get(item, ()), (item, note)
    assert figures["losses"] == 0, note
    assert run.early_retries() == [], note
    assert figures["retry_after_gaps_checked"] > 500, note  # 35% of attempts were told to wait
    recorded = set(run.ledger)
    assert not recorded & run.items("failed"), note  # recorded, so never reported as a failure
    assert run.server_requests == sum(len(records) for records in run.requests.values())
    assert figures["met_drop_before"] > 20, note  # the faults did fire
    assert figures["met_drop_after"] > 10, note
    return note


async def test_chaos_sends_end_exactly_once_without_duplicates() -> None:
    """Under 42% faults every send ends once: sent (recorded), or unknown only after a dropped connection."""
    run = await _chaos("raise", CHAOS_POLICY, seed=1)
    note = _check_common(run, "on_ambiguous=raise")
    assert sum(run.ledger.values()) == len(run.ledger), note  # 0 duplicates
    assert run.items("failed") == set(), note
    dropped = {item for item in run.outcomes if run.met(item, *DROPS)}
    assert run.items("unknown") == dropped, note  # unknown exactly for the items that met a drop
    for item in run.items("unknown"):
        # the drop was the item's last request; recorded only if it was dropped after processing
        assert run.requests[item][-1].fault in DROPS, (item, note)
        assert (item in run.ledger) == (run.requests[item][-1].fault is FaultKind.DROP_AFTER), (item, note)
    assert run.items("sent") | run.items("unknown") == set(run.outcomes), note


async def test_chaos_with_on_ambiguous_retry_sends_everything_duplicating_only_drop_after() -> None:
    """At-least-once mode ends every item sent; an item is duplicated once per drop-after it met."""
    # 7% of attempts drop: more speculative retries than the default budget (gRPC's 10 tokens, +0.1 per
    # success, so ~10% of successes) allows, and ~1 item in 1,000 meets three drops in a row.
    policy = CHAOS_POLICY.evolve(budget_tokens=1_000, max_speculative_attempts=6)
    run = await _chaos("retry", policy, seed=2)
    note = _check_common(run, "on_ambiguous=retry")
    assert run.items("sent") == set(run.outcomes), note
    for item, count in run.ledger.items():
        assert count == 1 + run.met(item, FaultKind.DROP_AFTER), (item, note)
    assert run.figures()["duplicates"] == sum(run.met(i, FaultKind.DROP_AFTER) for i in run.outcomes), note
