"""Append-only JSONL checkpoints: one line per settled item, flushed as it completes.

The last line for a ref wins, so a reconciliation can append a correction. A re-run skips refs
whose last status is ``sent`` (and ``unknown`` unless asked to resend them).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import IO, Any

import orjson

from .._errors import TgoError
from ._outcome import Outcome

__all__ = ["Checkpoint", "read_checkpoint"]


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """ref -> its last record. A torn last line (crash mid-write) is ignored."""
    records: dict[str, dict[str, Any]] = {}
    p = Path(path)
    if not p.exists():
        return records
    with p.open("rb") as fh:
        for raw in fh:
            try:
                rec = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("ref"), str):
                records[rec["ref"]] = rec
    return records


class Checkpoint:
    """Writer side; one job, one file, one process."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fh: IO[bytes] | None = None

    def settled(self, resend_unknown: bool) -> dict[str, dict[str, Any]]:
        """Refs a re-run must not send again, with their records."""
        keep = {"sent"} if resend_unknown else {"sent", "unknown"}
        return {ref: rec for ref, rec in read_checkpoint(self.path).items() if rec.get("status") in keep}

    def write(
        self, outcome: Outcome, *, to_phone: str | None, digest: str | None, kind: str | None = None
    ) -> None:
        if outcome.skipped:
            return
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("ab")
        rec: dict[str, Any] = {
            "ref": outcome.ref,
            "index": outcome.index,
            "status": outcome.status,
            "attempts": outcome.attempts,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        }
        if outcome.message is not None:
            rec["message_id"] = outcome.message.id
        if outcome.error is not None:
            rec["error_type"] = type(outcome.error).__name__
            rec["error"] = (
                str(outcome.error)[:500] if isinstance(outcome.error, TgoError) else "internal error"
            )
        if to_phone is not None:
            rec["to_phone"] = to_phone
        if digest is not None:
            rec["digest"] = digest
        if kind is not None:
            rec["type"] = kind
        self._fh.write(orjson.dumps(rec) + b"\n")
        self._fh.flush()

    def append_record(self, rec: dict[str, Any]) -> None:
        if self._fh is None:
            self._fh = self.path.open("ab")
        self._fh.write(orjson.dumps(rec) + b"\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
