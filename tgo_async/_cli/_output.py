"""Terminal output: rich when installed (the ``cli`` extra), plain text otherwise, JSON on request.

rich is imported lazily and only here, so the CLI works without it and ``--plain`` /
``TGO_ASYNC_PLAIN=1`` exercises the same fallback a bare install takes. Results go to stdout,
progress, notes and errors to stderr, so ``--json`` output stays pipeable.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

import attrs
import orjson

from .._logging import mask_phone

__all__ = ["Output", "UsageError", "install_log_handler", "load_rich", "mask_phones", "to_jsonable"]

_PHONE = re.compile(r"\+?\d{7,15}")


class UsageError(Exception):
    """Bad arguments or input file: ``error: …`` and exit status 2."""


def mask_phones(text: str) -> str:
    """Mask every phone-like run of digits in a line meant for stderr or a log."""
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


def load_rich(plain: bool) -> Any:
    """The ``rich`` package, or None when plain output is forced or rich is not installed."""
    if plain or os.environ.get("TGO_ASYNC_PLAIN", "").strip().lower() not in ("", "0", "false", "no"):
        return None
    try:
        import rich.console
        import rich.progress
        import rich.table
        import rich.text
    except ImportError:
        return None
    return rich


def to_jsonable(value: Any) -> Any:
    """attrs models (recursively) to dicts; orjson does datetimes and enums itself."""
    if attrs.has(type(value)):
        return attrs.asdict(value, recurse=True)
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at emit time, so rich's live display can redirect it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(f"{record.levelname.lower()}: {mask_phones(record.getMessage())}\n")
            sys.stderr.flush()
        except Exception:  # pragma: no cover - logging must never break the command
            self.handleError(record)


def install_log_handler(level: int) -> None:
    """Show the library's warnings (outage pauses, a stopped job) as ``warning: …`` lines."""
    logger = logging.getLogger("tgo_async")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(level)
    logger.propagate = False


class Output:
    """One place that decides between rich tables, aligned plain text and JSON."""

    def __init__(self, *, json: bool = False, plain: bool = False) -> None:
        self.json = json
        self.rich = load_rich(plain)
        self._stdout: Any = None
        self._stderr: Any = None

    @property
    def console(self) -> Any:
        """rich Console on stdout (only when rich is in use)."""
        if self._stdout is None:
            self._stdout = self.rich.console.Console()
        return self._stdout

    @property
    def err_console(self) -> Any:
        """rich Console on stderr, for progress bars."""
        if self._stderr is None:
            self._stderr = self.rich.console.Console(stderr=True)
        return self._stderr

    def print(self, text: str = "") -> None:
        """A line of result text on stdout (rich markup is not interpreted)."""
        if self.rich is not None:
            self.console.print(text, markup=False, highlight=False)
        else:
            print(text, flush=True)

    def note(self, text: str) -> None:
        """A human note on stderr (never in JSON output)."""
        print(text, file=sys.stderr, flush=True)

    def emit_json(self, value: Any) -> None:
        sys.stdout.write(orjson.dumps(to_jsonable(value), option=orjson.OPT_INDENT_2).decode() + "\n")
        sys.stdout.flush()

    def emit_json_line(self, value: Any) -> None:
        sys.stdout.write(orjson.dumps(to_jsonable(value)).decode() + "\n")

    def table(self, title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """A table on stdout: rich's when available, else space-aligned columns."""
        cells = [["" if v is None else str(v) for v in row] for row in rows]
        if self.rich is not None:
            table = self.rich.table.Table(title=title, title_justify="left")
            for col in columns:
                table.add_column(col, overflow="fold")
            for row in cells:
                table.add_row(*(self.rich.text.Text(c) for c in row))
            self.console.print(table)
            return
        widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
        if title:
            print(title)
        print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
        print("  ".join("-" * w for w in widths))
        for row in cells:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        sys.stdout.flush()

    def pairs(self, title: str | None, items: Sequence[tuple[str, Any]]) -> None:
        """A two-column key/value block."""
        self.table(title, ("field", "value"), [(k, v) for k, v in items])
