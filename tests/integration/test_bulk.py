"""send_many against the sandbox: one outcome per item, the ledger agrees, faults and stops handled."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import tgo_async
from tgo_async import (
    AuthenticationError,
    ImageMessage,
    PermissionDeniedError,
    RecipientUnreachableError,
    SenderNotActiveError,
    TextMessage,
    ValidationError,
)
from tgo_async.bulk import Outcome, read_checkpoint, reconcile
from tgo_async.sandbox import Fault, FaultKind, SandboxServer

SENDER = "+201001187188"
ROUTE = "POST /api/v1/messages"
DROPS = {FaultKind.DROP_BEFORE, FaultKind.DROP_AFTER}


def texts(n: int, tag: str = "m", start: int = 0) -> Iterator[TextMessage]:
    for i in range(start, start + n):
        yield TextMessage(
            to_phone=f"+2011{i:08d}", content=f"{tag} {i}", sender_phone=SENDER, ref=f"{tag}:{i}"
        )


def client_for(sb: SandboxServer, **kw: object) -> tgo_async.Client:
    kw.setdefault("rate_limit", None)
    return tgo_async.Client(api_key=kw.pop("api_key", "sandbox-key-all"), base_url=sb.base_url, **kw)  # type: ignore[arg-type]


async def collect(job: tgo_async.bulk.BulkJob) -> list[Outcome]:
    async with job:
        return [o async for o in job]


def faults_by_item(sb: SandboxServer) -> dict[str, set[FaultKind]]:
    seen: dict[str, set[FaultKind]] = {}
    for rec in sb.state.requests:
        if rec.item is not None and rec.fault is not None:
            seen.setdefault(rec.item, set()).add(rec.fault)
    return seen


async def test_chaos_5000_items_each_get_one_outcome_and_the_ledger_agrees() -> None:
    """5,000 sends under 30% 429 / 5% 503+RA / 5% drop-before / 2% drop-after: exactly one outcome each,
    sent <=> recorded, failed => not recorded, unknown only where a dropped connection hit, 0 duplicates."""
    async with SandboxServer(seed=7) as sb:
        for kind, p in [
            (FaultKind.RATE_LIMIT, 0.30),
            (FaultKind.UNAVAILABLE_RETRY_AFTER, 0.05),
            (FaultKind.DROP_BEFORE, 0.05),
            (FaultKind.DROP_AFTER, 0.02),
        ]:
            sb.state.faults.add(Fault(kind=kind, route=ROUTE, probability=p, retry_after=0.02))
        async with client_for(sb) as client:
            outcomes = await collect(client.messages.send_many(texts(5000), concurrency=64))
        by_ref = Counter(o.ref for o in outcomes)
        assert len(by_ref) == 5000
        assert set(by_ref.values()) == {1}
        recorded = {e.content for e in sb.state.ledger}
        assert not sb.state.duplicates()
        hit = faults_by_item(sb)
        status = Counter(o.status for o in outcomes)
        for o in outcomes:
            content = f"m {o.index}"
            if o.status == "sent":
                assert content in recorded
                assert o.message is not None
            elif o.status == "failed":
                assert content not in recorded, o
            else:
                assert hit.get(content, set()) & DROPS, (o, hit.get(content))
        assert recorded <= {f"m {o.index}" for o in outcomes if o.status in ("sent", "unknown")}
        dropped = {c for c, kinds in hit.items() if kinds & DROPS}
        assert {f"m {o.index}" for o in outcomes if o.status == "unknown"} == dropped
        assert status["failed"] == 0 and status["sent"] == 5000 - len(dropped), status


async def test_reconcile_then_resend_unknown_completes_the_job_exactly_once(tmp_path: Path) -> None:
    """After a run with dropped connections, reconcile settles the unknowns the log has and a resend of
    the rest delivers every item exactly once."""
    ckpt = tmp_path / "job.jsonl"
    async with SandboxServer(seed=3) as sb:
        sb.state.faults.add(Fault(kind=FaultKind.DROP_BEFORE, route=ROUTE, probability=0.05))
        sb.state.faults.add(Fault(kind=FaultKind.DROP_AFTER, route=ROUTE, probability=0.05))
        async with client_for(sb) as client:
            first = await collect(client.messages.send_many(texts(400), concurrency=16, checkpoint=ckpt))
            unknown = {o.ref for o in first if o.status == "unknown"}
            assert unknown, "the fault mix should leave some items unknown"
            sb.state.faults.clear()
            report = await reconcile(client, ckpt)
            assert set(report.found) | set(report.not_found) == unknown
            recorded = {e.content for e in sb.state.ledger}
            for ref, message in report.found.items():
                assert message.content == f"m {ref.split(':')[1]}"
                assert message.content in recorded
            for ref in report.not_found:
                assert f"m {ref.split(':')[1]}" not in recorded
            assert all(read_checkpoint(ckpt)[ref]["status"] == "failed" for ref in report.not_found)
            second = await collect(client.messages.send_many(texts(400), concurrency=16, checkpoint=ckpt))
        assert sum(not o.skipped for o in second) == len(report.not_found)
        assert not sb.state.duplicates()
        assert len(sb.state.ledger) == 400


async def test_memory_is_bounded_by_the_concurrency_window() -> None:
    """The source is pulled lazily: items pulled but not yet yielded never exceed 2 x concurrency."""
    pulled = 0

    def source() -> Iterator[TextMessage]:
        nonlocal pulled
        for m in texts(3000):
            pulled += 1
            yield m

    async with SandboxServer() as sb, client_for(sb) as client:
        yielded = worst = 0
        async with client.messages.send_many(source(), concurrency=16) as job:
            async for _ in job:
                yielded += 1
                worst = max(worst, pulled - yielded)
        assert yielded == 3000
        assert worst <= 2 * 16


async def test_ordered_mode_yields_in_input_order() -> None:
    """ordered=True yields outcomes in input order even when completion order differs."""
    async with SandboxServer(seed=1) as sb:
        sb.state.faults.add(Fault(kind=FaultKind.LATENCY, route=ROUTE, probability=0.3, delay=0.01))
        async with client_for(sb) as client:
            outcomes = await collect(client.messages.send_many(texts(300), concurrency=16, ordered=True))
    assert [o.index for o in outcomes] == list(range(300))


async def test_async_source_and_bad_items_fail_without_stopping_the_job() -> None:
    """A bad phone, an inactive sender and an unreachable recipient are failed outcomes; the rest sends."""

    async def source() -> AsyncIterator[TextMessage]:
        yield TextMessage(to_phone="+201110000001", content="ok 1", sender_phone=SENDER, ref="good-1")
        yield TextMessage(to_phone="0101", content="x", sender_phone=SENDER, ref="bad-phone")
        yield TextMessage(to_phone="+201110000002", content="x", sender_number_id=13, ref="inactive")
        yield TextMessage(to_phone="+201010000003", content="x", sender_phone=SENDER, ref="unreachable")
        yield TextMessage(to_phone="+201110000003", content="ok 2", sender_phone=SENDER, ref="good-2")

    async with SandboxServer() as sb, client_for(sb) as client:
        outcomes = {o.ref: o for o in await collect(client.messages.send_many(source(), concurrency=2))}
        assert {r for r, o in outcomes.items() if o.status == "sent"} == {"good-1", "good-2"}
        assert isinstance(outcomes["bad-phone"].error, ValidationError)
        assert "to_phone" in str(outcomes["bad-phone"].error)
        assert isinstance(outcomes["inactive"].error, SenderNotActiveError)
        assert isinstance(outcomes["unreachable"].error, RecipientUnreachableError)
        assert all(o.safe_to_resend for o in outcomes.values() if o.status == "failed")
        assert sorted(e.content for e in sb.state.ledger) == ["ok 1", "ok 2"]


@pytest.mark.parametrize(
    ("key", "error"), [("revoke", AuthenticationError), ("sandbox-key-read", PermissionDeniedError)]
)
async def test_key_refusal_stops_dispatch_and_fails_the_rest(key: str, error: type[Exception]) -> None:
    """A 401 (key revoked mid-job) or 403 missing scope stops at once: every unsent item fails, none lost."""
    async with SandboxServer() as sb:
        sb.state.add_key("job-key-123456789", ["*"])
        api_key = "job-key-123456789" if key == "revoke" else key
        async with client_for(sb, api_key=api_key) as client:
            outcomes: list[Outcome] = []
            requests_at_stop = 0
            async with client.messages.send_many(texts(2000), concurrency=8) as job:
                async for o in job:
                    outcomes.append(o)
                    if len(outcomes) == 100 and key == "revoke":
                        sb.state.revoke_key("job-key-123456789")
                        requests_at_stop = len(sb.state.requests)
        assert len({o.ref for o in outcomes}) == 2000
        failed = [o for o in outcomes if o.status == "failed"]
        assert all(isinstance(o.error, error) for o in failed)
        recorded = {e.content for e in sb.state.ledger}
        assert all(f"m {o.index}" not in recorded for o in failed)
        assert {f"m {o.index}" for o in outcomes if o.status == "sent"} == recorded
        assert len(sb.state.requests) - requests_at_stop <= 2 * 8  # within one concurrency window


async def test_outage_pauses_dispatch_and_resumes_without_loss() -> None:
    """Connection refused mid-job pauses and probes; after the server returns, everything is sent once."""
    state = tgo_async.sandbox.SandboxState()
    sb = SandboxServer(state=state)
    await sb.__aenter__()
    port = int(sb.base_url.rsplit(":", 1)[1])
    async with tgo_async.Client(api_key="sandbox-key-all", base_url=sb.base_url, rate_limit=None) as client:
        outcomes: list[Outcome] = []
        restarted: SandboxServer | None = None
        async with client.messages.send_many(texts(600), concurrency=8, max_outage=30) as job:
            async for o in job:
                outcomes.append(o)
                if len(outcomes) == 200:
                    await sb.__aexit__(None, None, None)
                    for _ in range(1000):  # bounded: the job notices the refused connections
                        if job.stats.paused:
                            break
                        await asyncio.sleep(0.01)
                    assert job.stats.paused
                    restarted = SandboxServer(port=port, state=state)
                    await restarted.__aenter__()
        assert restarted is not None
        await restarted.__aexit__(None, None, None)
    status = Counter(o.status for o in outcomes)
    assert status["failed"] == 0
    assert len(outcomes) == 600
    recorded = Counter(e.content for e in state.ledger)
    assert max(recorded.values()) == 1
    assert {f"m {o.index}" for o in outcomes if o.status == "sent"} <= set(recorded)
    assert job.stats.requeued > 0


async def test_outage_longer_than_max_outage_fails_the_rest_as_not_sent() -> None:
    """If the server stays away past max_outage, the remaining items fail (safe to resend)."""
    sb = SandboxServer()
    await sb.__aenter__()
    async with tgo_async.Client(
        api_key="sandbox-key-all",
        base_url=sb.base_url,
        rate_limit=None,
        retry=tgo_async.RetryPolicy(max_attempts=2),
    ) as client:
        outcomes: list[Outcome] = []
        async with client.messages.send_many(texts(300), concurrency=4, max_outage=0.5) as job:
            async for o in job:
                outcomes.append(o)
                if len(outcomes) == 50:
                    await sb.__aexit__(None, None, None)
    assert len({o.ref for o in outcomes}) == 300
    failed = [o for o in outcomes if o.status == "failed"]
    assert failed
    assert all(isinstance(o.error, tgo_async.ConnectError) for o in failed)
    assert "unavailable for more than 0.5s" in str(failed[-1].error)
    recorded = {e.content for e in sb.state.ledger}
    assert all(f"m {o.index}" not in recorded for o in failed)


async def test_long_retry_after_requeues_instead_of_holding_a_worker() -> None:
    """A Retry-After above requeue_after puts the item back with a not-before time; it is sent later,
    no earlier than announced, and other items keep flowing meanwhile."""
    async with SandboxServer() as sb:
        sb.state.faults.script(ROUTE, [Fault(kind=FaultKind.RATE_LIMIT, retry_after=0.4)])
        async with client_for(sb) as client:
            outcomes = await collect(client.messages.send_many(texts(50), concurrency=1, requeue_after=0.1))
        assert all(o.status == "sent" for o in outcomes)
        assert outcomes[-1].ref == "m:0"  # the throttled first item finished last: the worker moved on
        assert outcomes[-1].attempts == 2
        throttled = sb.state.requests[0]  # concurrency 1: the first request was item 0's
        assert throttled.fault is FaultKind.RATE_LIMIT
        resent = [r for r in sb.state.requests if r.item == "m 0" and r.status == 201]
        assert len(resent) == 1
        assert resent[0].received_at - throttled.received_at >= 0.4 - 0.001


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_cancel_at_a_random_point_then_resume_sends_nothing_twice(seed: int, tmp_path: Path) -> None:
    """Cancelling the consumer leaves no task running; resuming from the checkpoint duplicates nothing."""
    rng = random.Random(seed)
    ckpt = tmp_path / "ckpt.jsonl"
    async with SandboxServer(seed=seed) as sb:
        sb.state.faults.add(Fault(kind=FaultKind.LATENCY, route=ROUTE, probability=0.5, delay=0.02))
        async with client_for(sb) as client:
            stop_after = rng.randrange(1, 300)
            job = client.messages.send_many(texts(400), concurrency=16, checkpoint=ckpt)

            async def consume() -> None:
                n = 0
                async with job:
                    async for _ in job:
                        n += 1
                        if n == stop_after:
                            await asyncio.sleep(rng.random() * 0.02)
                            raise asyncio.CancelledError

            task = asyncio.create_task(consume())
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("tgo-bulk")]
            records = read_checkpoint(ckpt)
            recorded = {e.content for e in sb.state.ledger}
            for ref, rec in records.items():
                content = f"m {ref.split(':')[1]}"
                if rec["status"] == "sent":
                    assert content in recorded
                if rec["status"] == "failed":
                    assert content not in recorded
            sb.state.faults.clear()
            await collect(client.messages.send_many(texts(400), concurrency=16, checkpoint=ckpt))
        assert not sb.state.duplicates()
        unknown = {f"m {r.split(':')[1]}" for r, rec in records.items() if rec["status"] == "unknown"}
        assert {f"m {i}" for i in range(400)} - unknown <= {e.content for e in sb.state.ledger}


async def test_graceful_stop_reports_queued_items_as_not_sent() -> None:
    """stop(): in-flight items finish, every other pulled item is failed as not sent."""
    async with SandboxServer() as sb, client_for(sb) as client:
        outcomes: list[Outcome] = []
        async with client.messages.send_many(texts(500), concurrency=8) as job:
            async for o in job:
                outcomes.append(o)
                if len(outcomes) == 20:
                    job.stop("interrupted")
        assert len({o.ref for o in outcomes}) == len(outcomes) < 500
        not_sent = [o for o in outcomes if o.status == "failed"]
        assert not_sent
        assert all("not sent: interrupted" in str(o.error) for o in not_sent)
        assert {e.content for e in sb.state.ledger} == {
            f"m {o.index}" for o in outcomes if o.status == "sent"
        }


async def test_checkpoint_rerun_skips_sent_items(tmp_path: Path) -> None:
    """A second run with the same checkpoint sends nothing and reports each item as skipped."""
    ckpt = tmp_path / "c.jsonl"
    async with SandboxServer() as sb, client_for(sb) as client:
        await collect(client.messages.send_many(texts(100), checkpoint=ckpt))
        again = await collect(client.messages.send_many(texts(100), checkpoint=ckpt))
        assert len(sb.state.ledger) == 100
        assert all(o.skipped and o.status == "sent" for o in again)
        assert len(again) == 100


async def test_precheck_fails_unreachable_recipients_locally_with_one_lookup_each() -> None:
    """precheck=True looks each recipient up once and never sends to unreachable ones."""
    items = [
        TextMessage(to_phone=p, content=f"c{i}", sender_phone=SENDER, ref=f"p{i}")
        for i, p in enumerate(["+201010000003", "+201110000009", "+201010000003", "+201010000001"] * 5)
    ]
    async with SandboxServer() as sb, client_for(sb) as client:
        outcomes = await collect(client.messages.send_many(items, concurrency=1, precheck=True))
        lookups = [r for r in sb.state.requests if r.path == "/api/v1/contacts/lookup"]
        assert len(lookups) == 3
        failed = [o for o in outcomes if o.status == "failed"]
        assert len(failed) == 15
        assert all(isinstance(o.error, RecipientUnreachableError) for o in failed)
        assert "reason_code=blocked" in str(failed[0].error) or "reason_code=not_found" in str(
            failed[0].error
        )
        assert {e.to_phone for e in sb.state.ledger} == {"+201110000009"}


async def test_one_media_file_streams_to_many_recipients(tmp_path: Path) -> None:
    """One Path reused for many recipients arrives intact every time."""
    pic = tmp_path / "promo.png"
    pic.write_bytes(bytes(range(256)) * 400)
    media = tgo_async.Media(pic)
    items = [
        ImageMessage(to_phone=f"+2011{i:08d}", media=media, sender_phone=SENDER, caption=f"c{i}")
        for i in range(40)
    ]
    async with SandboxServer() as sb, client_for(sb) as client:
        outcomes = await collect(client.messages.send_many(items, concurrency=8))
        assert {o.status for o in outcomes} == {"sent"}
        assert len({e.media_sha256 for e in sb.state.ledger}) == 1
        assert len(sb.state.ledger) == 40


async def test_reconcile_leaves_media_unknowns_undetermined(tmp_path: Path) -> None:
    """A media item that ended unknown cannot be confirmed by the log: it is reported undetermined."""
    ckpt = tmp_path / "m.jsonl"
    items = [ImageMessage(to_phone="+201110000001", media=b"\x89PNG", sender_phone=SENDER, ref="img"),
             TextMessage(to_phone="+201110000002", content="t", sender_phone=SENDER, ref="txt")]
    async with SandboxServer() as sb:
        sb.state.faults.script(ROUTE, [FaultKind.DROP_AFTER, FaultKind.DROP_AFTER])
        async with client_for(sb) as client:
            outcomes = await collect(client.messages.send_many(items, concurrency=1, checkpoint=ckpt))
            assert [o.status for o in outcomes] == ["unknown", "unknown"]
            report = await reconcile(client, ckpt)
    assert report.undetermined == ["img"] and list(report.found) == ["txt"] and report.not_found == []
    assert read_checkpoint(ckpt)["img"]["status"] == "unknown"
