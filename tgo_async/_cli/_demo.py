"""``tgo-async demo``: the whole product in one command, with no key and no network.

An embedded sandbox with realistic faults (429s, 503s with Retry-After, connections dropped before
and after the server acted, a server-side rate limit); a new sender walked through OTP and account
verification; a few lookups; a few thousand text and media messages through ``send_many`` with the
progress bar; and then the proof: every outcome checked against the sandbox's ledger and request
log (no duplicate, nothing lost, ``unknown`` only where a connection was dropped mid-request).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._errors import SenderNotReadyError
from .._logging import mask_phone
from .._media import Media
from .._messages import DocumentMessage, ImageMessage, OutgoingMessage, TextMessage, VoiceMessage
from ..bulk import Outcome
from ._bulk import drive, finish_summary
from ._commands import sender_state
from ._output import Output
from ._progress import Tally, make_progress

__all__ = ["handle_demo"]

SEND = "POST /api/v1/messages"
SENDER = "+201001234500"
UNREACHABLE = "+201010000001"
SANDBOX_RATE = 600.0
"""Requests/s the sandbox allows the key; the client is configured a little below it."""
CLIENT_RATE = 550.0
AMBIGUOUS = frozenset({"drop_before", "drop_after", "error_after", "unavailable", "server_error",
                       "bad_gateway_html", "gateway_timeout"})


def handle_demo(args: argparse.Namespace, out: Output) -> int:
    out.json = False  # a narrated walk-through; its machine-readable result is the exit status
    return asyncio.run(run_demo(args, out))


def _media_files(tmp: Path) -> dict[str, Media]:
    """Small but real files: a 1x1 PNG, an Ogg page header, a one-page PDF."""
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15"
           b"\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
    files = {"image": ("parcel.png", png), "voice": ("note.ogg", b"OggS\x00\x02" + bytes(2048)),
             "document": ("invoice.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + bytes(4096))}
    media = {}
    for kind, (name, data) in files.items():
        path = tmp / name
        path.write_bytes(data)
        media[kind] = Media(path)
    return media


class _Plan:
    """The demo's messages, generated lazily; ``expect`` keeps what the ledger should show per ref."""

    def __init__(self, count: int, media: dict[str, Media]) -> None:
        self.count = count
        self.media = media
        # ref -> (to_phone, content or caption, the request log's item)
        self.expect: dict[str, tuple[str, str | None, str]] = {}
        self.step = max(4, min(100, count // 10))
        self.unreachable_every = min(600, max(50, count // 5))

    def messages(self) -> Iterator[OutgoingMessage]:
        for i in range(self.count):
            ref = f"demo-{i:05d}"
            to = UNREACHABLE if i % self.unreachable_every == self.unreachable_every - 1 else f"+2011{i:08d}"
            common: dict[str, Any] = {"to_phone": to, "sender_phone": SENDER, "ref": ref}
            slot = i % self.step
            msg: OutgoingMessage
            if slot == 1:
                caption = f"Parcel #{i} at your door"
                msg = ImageMessage(media=self.media["image"], caption=caption, **common)
                self.expect[ref] = (to, caption, f"{to}|{caption}")
            elif slot == 2:
                msg = VoiceMessage(media=self.media["voice"], duration=3 + i % 20, **common)
                self.expect[ref] = (to, None, f"{to}|")
            elif slot == 3:
                caption = f"Invoice #{i}"
                msg = DocumentMessage(media=self.media["document"], caption=caption, **common)
                self.expect[ref] = (to, caption, f"{to}|{caption}")
            else:
                code = zlib.crc32(ref.encode()) % 10000
                content = f"Order #{i}: your parcel is on its way (code {code:04d})"
                msg = TextMessage(content=content, **common)
                self.expect[ref] = (to, content, content)
            yield msg


async def _onboard(out: Output, client: Any, state: Any) -> None:
    """register -> OTP pending -> OTP entered -> account verification pending -> verified -> ready."""
    sender = await client.sender_numbers.register(SENDER, display_name="Demo notifications")
    out.print(f"  registered {mask_phone(SENDER)} as sender #{sender.id}: {sender_state(sender)}")

    async def wait_briefly() -> SenderNotReadyError | None:
        try:
            await client.sender_numbers.wait_until_ready(sender.id, timeout=0.5, poll_interval=0.2)
        except SenderNotReadyError as exc:
            return exc
        return None

    pending = await wait_briefly()
    if pending is None or pending.missing != "otp":
        raise RuntimeError(f"demo: expected the OTP step to be pending, got {pending!r}")
    out.print(f"  wait_until_ready: not yet. {pending.sender.blocker}")
    state.enter_otp(sender.id, state.otp_for(sender.id), account_verified=False)
    out.print("  (the owner types the OTP from TGO Connect into the dashboard)")
    pending = await wait_briefly()
    if pending is None or pending.missing != "account_verification":
        raise RuntimeError(f"demo: expected account verification to be pending, got {pending!r}")
    out.print("  wait_until_ready: not yet. Account verification pending (no new OTP needed).")
    state.verify_account(sender.id)
    out.print("  (the owner verifies their TGO Connect account)")
    ready = await client.sender_numbers.wait_until_ready(sender.id, timeout=10, poll_interval=0.2)
    out.print(f"  wait_until_ready: {sender_state(ready)} "
              f"({ready.status_raw}/{ready.verification_status_raw})")


async def _lookups(out: Output, client: Any) -> None:
    rows = []
    for phone in ("+201100000000", "+201100000001", UNREACHABLE, "+201010000003"):
        c = await client.contacts.lookup(phone, sender_phone=SENDER)
        rows.append((mask_phone(phone), c.exists, c.can_receive, c.reason_code_raw))
    out.table(None, ("recipient", "exists", "can_receive", "reason"), rows)


def _check(plan: _Plan, outcomes: dict[str, Outcome], dup_refs: int,
           state: Any) -> list[tuple[str, str, bool]]:
    """The delivery contract, item by item, against what the server recorded and received."""
    ledger = list(state.ledger)
    by_identity: dict[tuple[str, str | None], list[Any]] = {}
    for entry in ledger:
        by_identity.setdefault(entry.identity, []).append(entry)
    dropped: Counter[str] = Counter()
    for rec in state.requests:
        fault = rec.fault.value if rec.fault is not None else None
        if rec.path == "/api/v1/messages" and fault in AMBIGUOUS and rec.item:
            dropped[rec.item] += 1
    statuses = Counter(o.status for o in outcomes.values())
    missing = len(plan.expect) - len(outcomes)
    lost = wrong = failed_recorded = unexplained_unknown = unknown_delivered = 0
    for ref, (to, text, item) in plan.expect.items():
        o = outcomes.get(ref)
        entries = by_identity.pop((to, text), [])
        if o is None:
            continue
        if o.status == "sent":
            if not entries:
                lost += 1
            elif o.message is None or o.message.id != entries[0].id:
                wrong += 1
        elif o.status == "failed" and entries:
            failed_recorded += 1
        elif o.status == "unknown":
            unknown_delivered += bool(entries)
            if not dropped[item]:
                unexplained_unknown += 1
    orphans = sum(len(v) for v in by_identity.values())
    dups = len(state.duplicates())
    u = statuses["unknown"]
    return [
        ("every item has exactly one outcome", f"{len(outcomes)}/{len(plan.expect)}",
         missing == 0 and not dup_refs),
        ("duplicates in the ledger", str(dups), dups == 0),
        ("sent but not in the ledger (lost)", str(lost + wrong), lost + wrong == 0),
        ("in the ledger without a sent/unknown outcome", str(orphans + failed_recorded),
         orphans + failed_recorded == 0),
        ("unknown without a dropped connection", f"{unexplained_unknown} of {u}", unexplained_unknown == 0),
        ("unknown that the server did apply", f"{unknown_delivered} of {u} (reconcile before resending)",
         True),
    ]


def _fault_counts(state: Any) -> str:
    counts: Counter[str] = Counter()
    for rec in state.requests:
        if rec.path != "/api/v1/messages":
            continue
        if rec.fault is not None:
            counts[rec.fault.value] += 1
        elif rec.status == 429:
            counts["429 from the rate limit"] += 1
    sends = sum(1 for r in state.requests if r.path == "/api/v1/messages")
    return f"{sends} send requests; " + ", ".join(f"{k} {v}" for k, v in counts.most_common())


async def run_demo(args: argparse.Namespace, out: Output) -> int:
    from .._client import Client
    from ..sandbox import Fault, FaultKind, SandboxServer

    with tempfile.TemporaryDirectory(prefix="tgo-demo-") as tmp:
        plan = _Plan(args.count, _media_files(Path(tmp)))
        async with SandboxServer(rate_limit=SANDBOX_RATE, seed=args.seed) as sb:
            out.print(f"sandbox at {sb.base_url}: {SANDBOX_RATE:g} req/s per key; faults on sends: 3% 429, "
                      "2% 503 + Retry-After, 1% dropped before and 0.5% after the server acted")
            client = Client(api_key="sandbox-key-all", base_url=sb.base_url, rate_limit=CLIENT_RATE)
            async with client:
                out.print("\n1. onboarding a new sender number")
                await _onboard(out, client, sb.state)
                out.print("\n2. looking up recipients")
                await _lookups(out, client)
                faults = sb.state.faults
                faults.reseed(args.seed)
                faults.add(Fault(kind=FaultKind.RATE_LIMIT, route=SEND, probability=0.03, retry_after=0.05))
                faults.add(Fault(kind=FaultKind.UNAVAILABLE_RETRY_AFTER, route=SEND, probability=0.02,
                                 retry_after=0.2))
                faults.add(Fault(kind=FaultKind.DROP_BEFORE, route=SEND, probability=0.01))
                faults.add(Fault(kind=FaultKind.DROP_AFTER, route=SEND, probability=0.005))
                out.print(f"\n3. sending {args.count} messages (text, image, voice, document) with "
                          f"concurrency {args.concurrency}")
                tally = Tally(args.count)
                progress = make_progress(out, tally, "sending", interval=args.progress_interval)
                outcomes: dict[str, Outcome] = {}
                dup_refs = 0

                def on_outcome(o: Outcome) -> None:
                    nonlocal dup_refs
                    dup_refs += o.ref in outcomes
                    outcomes[o.ref] = o
                    tally.outcome(o)
                    progress.refresh()

                job = client.messages.send_many(plan.messages(), concurrency=args.concurrency)
                tally.stats = job.stats
                progress.start()
                try:
                    intr = await drive(job, progress, on_outcome)
                finally:
                    await progress.stop()
            finish_summary(out, tally, intr, f"demo: {args.count} messages")
            if intr.count:
                return intr.exit_code
            checks = _check(plan, outcomes, dup_refs, sb.state)
            out.print(f"\n4. checking every outcome against the sandbox ledger ({_fault_counts(sb.state)})")
            out.table(None, ("check", "result", "ok"), [(name, value, "yes" if ok else "NO")
                                                        for name, value, ok in checks])
            passed = all(ok for _, _, ok in checks)
            out.print("PASS: no duplicates, nothing lost" if passed
                      else "FAIL: the delivery contract was broken")
            return 0 if passed else 1
