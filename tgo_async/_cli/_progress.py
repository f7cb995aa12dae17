"""Progress and the end-of-job summary for send-bulk and the demo.

With rich on a terminal: a live bar (done/total, rate, sent/failed/unknown, ETA) on stderr.
Otherwise (no rich, ``--plain``, or stderr is not a terminal, e.g. under systemd or in a pod):
one plain line every few seconds, which reads well in a log.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from typing import Any

from ..bulk import BulkStats, Outcome
from ._output import Output, mask_phones

__all__ = ["PlainProgress", "RichProgress", "Tally", "make_progress", "summary_rows"]


class Tally:
    """The job's own stats plus what only the CLI sees: bad rows, causes, skipped-but-unknown."""

    def __init__(self, total: int | None, stats: BulkStats | None = None) -> None:
        self.total = total
        self.stats = stats or BulkStats()
        self.bad_rows = 0
        self.skipped_unknown = 0
        self.causes: Counter[str] = Counter()
        self.started = time.monotonic()

    def outcome(self, outcome: Outcome) -> None:
        """Note an outcome the job already counted in its stats."""
        if outcome.skipped:
            if outcome.status == "unknown":
                self.skipped_unknown += 1
        elif outcome.status != "sent":
            self.causes[f"{outcome.status}: {_cause(outcome.error)}"] += 1

    def bad_row(self) -> None:
        self.bad_rows += 1
        self.causes["failed: bad row"] += 1

    @property
    def done(self) -> int:
        return self.stats.done + self.bad_rows

    @property
    def failed(self) -> int:
        return self.stats.failed + self.bad_rows

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        """Items settled per second in this run (checkpoint skips excluded)."""
        elapsed = self.elapsed
        return (self.done - self.stats.skipped) / elapsed if elapsed > 0 else 0.0

    @property
    def ok(self) -> bool:
        """Exit 0 only when everything is sent (now or in an earlier run)."""
        return self.failed == 0 and self.stats.unknown == 0 and self.skipped_unknown == 0

    def line(self) -> str:
        total = "?" if self.total is None else str(self.total)
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        eta = ""
        rate = self.rate
        if self.total is not None and rate > 0:
            eta = f", ETA {max(0.0, (self.total - self.done) / rate):.0f}s"
        paused = " [paused: server unavailable]" if self.stats.paused else ""
        return (f"progress: {self.done}/{total}{pct} sent={self.stats.sent} failed={self.failed} "
                f"unknown={self.stats.unknown} skipped={self.stats.skipped} - {rate:.0f}/s{eta}{paused}")


def _cause(error: BaseException | None) -> str:
    if error is None:
        return "unspecified"
    code = getattr(error, "code", None)
    name = type(error).__name__
    text = str(error)
    if name == "TgoError" and text.startswith("not sent:"):
        return text[:60]
    return f"{name} ({code})" if isinstance(code, str) and code else name


def summary_rows(tally: Tally, *, stopped: bool) -> list[tuple[str, str]]:
    s = tally.stats
    rows = [("rows", "?" if tally.total is None else str(tally.total)),
            ("sent", str(s.sent)),
            ("failed", f"{tally.failed}" + _bad_rows(tally.bad_rows)),
            ("unknown", str(s.unknown) + (" (may have been delivered: reconcile before resending)"
                                          if s.unknown else ""))]
    if s.skipped:
        rows.append(("skipped (checkpoint)", str(s.skipped) + (f" ({tally.skipped_unknown} still unknown)"
                                                                if tally.skipped_unknown else "")))
    if tally.total is not None and tally.done < tally.total:
        rows.append(("not reached", f"{tally.total - tally.done}" + (" (stopped before reading them)"
                                                                      if stopped else "")))
    if s.requeued:
        rows.append(("requeued", f"{s.requeued} (waited out a Retry-After or an outage)"))
    rows.append(("elapsed", f"{tally.elapsed:.1f}s ({tally.rate:.0f} msg/s)"))
    return rows


class PlainProgress:
    """A line on stderr every ``interval`` seconds while the job runs."""

    def __init__(self, tally: Tally, interval: float = 2.0) -> None:
        self.tally = tally
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._tick(), name="tgo-cli-progress")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.note(self.tally.line())

    def refresh(self) -> None:
        """Nothing to do per outcome: the ticker prints."""

    def note(self, text: str) -> None:
        print(mask_phones(text), file=sys.stderr, flush=True)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.note(self.tally.line())


class RichProgress:
    """rich's live bar on stderr, refreshed at most every 50 ms from the outcome loop."""

    def __init__(self, rich: Any, console: Any, tally: Tally, label: str) -> None:
        self.tally = tally
        p = rich.progress
        self._progress = p.Progress(
            p.SpinnerColumn(), p.TextColumn("[bold]{task.description}"), p.BarColumn(),
            p.MofNCompleteColumn(), p.TextColumn("{task.fields[rate]}"),
            p.TextColumn("[green]sent {task.fields[sent]}[/] [red]failed {task.fields[failed]}[/] "
                         "[yellow]unknown {task.fields[unknown]}[/]{task.fields[extra]}"),
            p.TimeRemainingColumn(), console=console, transient=False, refresh_per_second=10)
        self._task = self._progress.add_task(label, total=tally.total, **self._fields())
        self._last = 0.0

    def _fields(self) -> dict[str, Any]:
        t = self.tally
        extra = f" [dim]skipped {t.stats.skipped}[/]" if t.stats.skipped else ""
        if t.stats.paused:
            extra += " [bold red]paused: server unavailable[/]"
        return {"rate": f"{t.rate:.0f}/s", "sent": t.stats.sent, "failed": t.failed,
                "unknown": t.stats.unknown, "extra": extra}

    def start(self) -> None:
        self._progress.start()

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= 0.05:
            self._last = now
            self._progress.update(self._task, completed=self.tally.done, **self._fields())

    def note(self, text: str) -> None:
        self._progress.console.print(mask_phones(text), markup=False, highlight=False)

    async def stop(self) -> None:
        self.refresh(force=True)
        self._progress.stop()


def _bad_rows(n: int) -> str:
    return f" ({n} bad row{'s' if n != 1 else ''})" if n else ""


def make_progress(out: Output, tally: Tally, label: str, *,
                  interval: float = 2.0) -> PlainProgress | RichProgress:
    """The live bar only when rich is available and stderr is a terminal."""
    if out.rich is not None and out.err_console.is_terminal:
        return RichProgress(out.rich, out.err_console, tally, label)
    return PlainProgress(tally, interval)
