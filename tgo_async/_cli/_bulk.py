"""``tgo-async send-bulk``: a CSV/JSONL file through ``send_many`` with progress, report and Ctrl-C.

Ctrl-C (or SIGTERM, as sent by systemd and Kubernetes) once: ``job.stop()``, in-flight sends
finish and queued ones are reported not sent; twice: ``job.aclose()``, in-flight ones become
``unknown``. Either way the summary is printed and the checkpoint is consistent, so re-running
the same command resumes.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import orjson

from .._errors import TgoError
from ..bulk import BulkJob, Outcome
from ._output import Output, UsageError
from ._progress import PlainProgress, RichProgress, Tally, make_progress, summary_rows
from ._rows import BadRow, RowSource

__all__ = ["Interrupt", "Report", "add_send_bulk", "drive", "finish_summary", "run_send_bulk"]

Progress = PlainProgress | RichProgress


def add_send_bulk(p: argparse.ArgumentParser) -> None:
    """The send-bulk arguments (types come from the app module to avoid an import cycle)."""
    from ._app import _positive_float, _positive_int, _shard

    p.add_argument("file", type=Path, help="CSV with a header, or JSON Lines: to_phone, content; optional "
                   "ref, type (text/image/voice/document), media (path relative to the file), caption, "
                   "duration")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--sender", metavar="PHONE", help="sender number (E.164) for every row")
    who.add_argument("--sender-id", type=_positive_int, metavar="N", help="sender number id for every row")
    p.add_argument("--concurrency", type=_positive_int, default=64, metavar="N", help="sends in flight (64)")
    p.add_argument("--rate", type=_positive_float, metavar="R",
                   help="requests/s for the API key (default 200, adaptive); with --redis-url, for all "
                   "workers together")
    p.add_argument("--per-sender-rate", type=_positive_float, metavar="R",
                   help="requests/s per sender number")
    p.add_argument("--checkpoint", type=Path, metavar="FILE",
                   help="JSONL of settled rows: a re-run skips what was sent ({shard} is replaced by I)")
    p.add_argument("--resend-unknown", action="store_true",
                   help="re-send rows whose outcome was unknown (may duplicate: reconcile first)")
    p.add_argument("--report", type=Path, metavar="FILE", help="write one JSON line per row ({shard} ok)")
    p.add_argument("--precheck", action="store_true", help="look recipients up first; skip unreachable ones")
    p.add_argument("--shard", type=_shard, metavar="I/N", help="send only worker I's rows (0 <= I < N) of N; "
                   "a stable hash of each row's ref decides")
    p.add_argument("--redis-url", metavar="URL", help="share one --rate quota between workers through Redis")
    p.add_argument("--ordered", action="store_true", help="report outcomes in file order")
    p.add_argument("--on-ambiguous", choices=("raise", "retry"), default="raise",
                   help="'retry' resends when the server may have applied a send (at-least-once)")
    p.add_argument("--max-outage", type=_positive_float, default=300.0, metavar="S",
                   help="fail the rest as not sent after S seconds of server outage (300)")
    p.add_argument("--progress-interval", type=_positive_float, default=2.0, metavar="S",
                   help="seconds between plain progress lines (2)")


class Interrupt:
    """How often the job was interrupted, and by which signal first."""

    def __init__(self) -> None:
        self.count = 0
        self.signum: int | None = None

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)


class Report:
    """``--report``: one JSON line per outcome, bad rows included (with their line number)."""

    def __init__(self, path: Path | None) -> None:
        self._fh: IO[bytes] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("wb")

    def outcome(self, o: Outcome) -> None:
        if self._fh is None:
            return
        rec: dict[str, Any] = {"ref": o.ref, "index": o.index, "status": o.status, "attempts": o.attempts}
        if o.skipped:
            rec["skipped"] = True
        if o.message is not None:
            rec["message_id"] = o.message.id
        if o.error is not None:
            rec["error_type"] = type(o.error).__name__
            rec["error"] = str(o.error)[:500] if isinstance(o.error, TgoError) else "internal error"
        self._fh.write(orjson.dumps(rec) + b"\n")

    def bad_row(self, row: BadRow) -> None:
        if self._fh is not None:
            self._fh.write(orjson.dumps({"ref": row.ref, "line": row.line, "status": "failed", "attempts": 0,
                                         "error_type": "BadRow", "error": row.reason}) + b"\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


async def drive(job: BulkJob, progress: Progress, on_outcome: Callable[[Outcome], None]) -> Interrupt:
    """Iterate the job to its end, turning SIGINT/SIGTERM into ``stop()`` then ``aclose()``."""
    loop = asyncio.get_running_loop()
    intr = Interrupt()

    async def consume() -> None:
        async with job:
            async for outcome in job:
                on_outcome(outcome)

    task = asyncio.create_task(consume(), name="tgo-cli-bulk")

    def on_signal(signum: int) -> None:
        intr.count += 1
        if intr.signum is None:
            intr.signum = signum
        if intr.count == 1:
            progress.note("interrupted: in-flight sends finish, queued ones are reported not sent "
                          "(press Ctrl-C again to cancel at once)")
            job.stop("interrupted")
        elif not task.done():
            progress.note("cancelling: sends still in flight are reported unknown")
            task.cancel()

    installed: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows / not main thread
            pass
    try:
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if intr.count < 2 or (current is not None and current.cancelling()):
                raise
        for outcome in job.unyielded_outcomes:
            on_outcome(outcome)
    finally:
        for installed_signum in installed:
            loop.remove_signal_handler(installed_signum)
    return intr


def finish_summary(out: Output, tally: Tally, intr: Interrupt, title: str) -> None:
    """The summary table on stdout, or a JSON object with ``--json``."""
    stopped = intr.count > 0
    if out.json:
        s = tally.stats
        out.emit_json({"total": tally.total, "sent": s.sent, "failed": tally.failed,
                       "bad_rows": tally.bad_rows, "unknown": s.unknown, "skipped": s.skipped,
                       "skipped_unknown": tally.skipped_unknown,
                       "not_reached": (tally.total - tally.done) if tally.total is not None else None,
                       "requeued": s.requeued, "elapsed_s": round(tally.elapsed, 3), "interrupted": stopped,
                       "causes": dict(tally.causes.most_common())})
        return
    if stopped:
        title += " - interrupted"
    out.table(title, ("", "count"), summary_rows(tally, stopped=stopped))
    if tally.causes:
        out.table("not sent, by cause", ("cause", "items"), tally.causes.most_common(12))


async def run_send_bulk(args: argparse.Namespace, out: Output, source: RowSource, total: int,
                        make_client: Callable[..., Any]) -> int:
    """Run the job; exit 0 all sent, 1 something failed or unknown, 130/143 interrupted."""
    tally = Tally(total)
    report = Report(args.report)
    redis_client: Any = None
    client_kw: dict[str, Any] = {"on_ambiguous": args.on_ambiguous, "per_sender_rate": args.per_sender_rate,
                                 "connector_limit": max(100, args.concurrency)}
    if args.redis_url:
        redis_client, client_kw["rate_limit"] = await _redis_limiter(args)
    elif args.rate is not None:
        client_kw["rate_limit"] = args.rate
    try:
        async with make_client(args, **client_kw) as client:
            progress = make_progress(out, tally, "sending", interval=args.progress_interval)

            def on_bad(row: BadRow) -> None:
                tally.bad_row()
                progress.note(f"line {row.line}: {row.reason} (ref {row.ref}, not sent)")
                report.bad_row(row)
                progress.refresh()

            def on_outcome(outcome: Outcome) -> None:
                tally.outcome(outcome)
                report.outcome(outcome)
                progress.refresh()

            job = client.messages.send_many(
                source.messages(on_bad), concurrency=args.concurrency, ordered=args.ordered,
                checkpoint=args.checkpoint, resend_unknown=args.resend_unknown, precheck=args.precheck,
                max_outage=args.max_outage, on_ambiguous=args.on_ambiguous)
            tally.stats = job.stats
            progress.start()
            try:
                intr = await drive(job, progress, on_outcome)
            finally:
                await progress.stop()
                report.close()
    finally:
        if redis_client is not None:
            await client_kw["rate_limit"].aclose()
            await redis_client.aclose()
    shard = f" (shard {args.shard[0]}/{args.shard[1]})" if args.shard else ""
    finish_summary(out, tally, intr, f"send-bulk {args.file.name}{shard}")
    _hints(out, tally, args)
    if intr.count:
        return intr.exit_code
    return 0 if tally.ok else 1


async def _redis_limiter(args: argparse.Namespace) -> tuple[Any, Any]:
    """One quota for every worker of the key; the Redis key is a hash of the API key, never the key."""
    from .._config import DEFAULT_RATE_LIMIT
    from .._redis_limiter import RedisRateLimiter, _import_redis

    try:
        aioredis = _import_redis()
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    redis_client = aioredis.Redis.from_url(args.redis_url)
    try:
        await redis_client.ping()
    except Exception as exc:
        await redis_client.aclose()
        raise TgoError(f"cannot reach Redis at --redis-url: {type(exc).__name__}: {exc}") from None
    limiter = RedisRateLimiter(redis_client, key=RedisRateLimiter.key_for(args.resolved_api_key),
                               rate=args.rate or DEFAULT_RATE_LIMIT)
    return redis_client, limiter


def _hints(out: Output, tally: Tally, args: argparse.Namespace) -> None:
    if out.json:
        return
    again = "re-run the same command" if args.checkpoint else "re-run with --checkpoint next time"
    if tally.stats.unknown or tally.skipped_unknown:
        out.note("note: unknown items may have been delivered; check `tgo-async messages` (or reconcile) "
                 "before re-running with --resend-unknown")
    if tally.failed - tally.bad_rows > 0 or (tally.total is not None and tally.done < tally.total):
        out.note(f"note: failed and unreached items were not delivered and are safe to resend: {again}")
