"""send-bulk input: CSV or JSON Lines read lazily, one message or one bad row per record.

The file is read twice, once to count the rows (for the progress total) and once, lazily, for
the send, so memory stays flat however long it is. Every row has a ref that is stable across
runs (its ``ref`` column, else ``line:<n>``) because checkpoints and shards are keyed by it.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson

from .._errors import TgoError
from .._media import Media
from .._messages import DocumentMessage, ImageMessage, OutgoingMessage, TextMessage, VoiceMessage
from ..bulk import read_checkpoint
from ..bulk._outcome import content_digest

__all__ = ["BadRow", "InputError", "RowSource", "parse_shard", "shard_of"]

TYPES = ("text", "image", "voice", "document")


class InputError(Exception):
    """The file as a whole cannot be used (unknown format, no to_phone column): a usage error."""


@attrs.frozen(slots=True)
class BadRow:
    """A row that cannot become a message; it is reported as a failed outcome, the job goes on."""

    line: int
    ref: str
    reason: str


class _Bad(Exception):
    pass


def shard_of(ref: str, shards: int) -> int:
    """The worker that owns ``ref``: blake2b, so it is the same in every process and every run
    (``hash()`` is salted per process)."""
    digest = hashlib.blake2b(ref.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` with 0 <= I < N; ValueError says what is wrong."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise ValueError(f"expected I/N such as 0/4, not {text!r}") from None
    if not sep or n < 1 or not 0 <= i < n:
        raise ValueError(f"expected I/N with 0 <= I < N, not {text!r}")
    return i, n


class RowSource:
    """Rows of one file for one worker: parses, filters by shard, validates, builds messages."""

    def __init__(
        self,
        path: Path,
        *,
        sender_phone: str | None = None,
        sender_number_id: int | None = None,
        shard: tuple[int, int] | None = None,
        checkpoint: Path | None = None,
    ) -> None:
        self.path = path
        self.base_dir = path.resolve().parent
        self.sender_phone = sender_phone
        self.sender_number_id = sender_number_id
        self.shard = shard
        suffix = path.suffix.lower()
        if suffix == ".csv":
            self._records = self._csv_records
        elif suffix in (".jsonl", ".ndjson"):
            self._records = self._jsonl_records
        else:
            raise InputError(f"{path}: unknown format {suffix or '(no suffix)'}; use .csv or .jsonl")
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        # What an earlier run settled (sent or unknown), by ref and by (to_phone, digest): line-number
        # refs shift when rows are inserted, and a shifted row must not be sent a second time.
        self._guard: dict[str, tuple[str | None, str | None]] = {}
        self._settled_content: dict[tuple[str | None, str | None], str] = {}
        if checkpoint is not None:
            for ref, rec in read_checkpoint(checkpoint).items():
                if rec.get("status") in ("sent", "unknown"):
                    key = (rec.get("to_phone"), rec.get("digest"))
                    self._guard[ref] = key
                    self._settled_content.setdefault(key, ref)

    # -- records -----------------------------------------------------------------------------
    def _csv_records(self) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
        with self.path.open("r", encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = [h.strip().lower() for h in next(reader, [])]
            if "to_phone" not in header:
                raise InputError(f"{self.path}: the header has no to_phone column "
                                 f"(found: {', '.join(header)})")
            last = reader.line_num
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield last + 1, None, f"unreadable CSV: {exc}"
                    last = reader.line_num
                    continue
                line, last = last + 1, reader.line_num
                if not any(f.strip() for f in fields):
                    continue
                if len(fields) > len(header):
                    yield line, None, f"{len(fields)} fields but the header has {len(header)}"
                    continue
                yield line, {h: v for h, v in zip(header, fields, strict=False) if h}, None

    def _jsonl_records(self) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
        with self.path.open("rb") as fh:
            for line, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    rec = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    yield line, None, f"not valid JSON: {exc}"
                    continue
                if not isinstance(rec, dict):
                    yield line, None, "not a JSON object"
                    continue
                yield line, rec, None

    def _mine(self) -> Iterator[tuple[int, str, dict[str, Any] | None, str | None]]:
        """(line, ref, record, parse error) of the rows this shard owns."""
        for line, rec, error in self._records():
            raw_ref = rec.get("ref") if rec is not None else None
            ref = str(raw_ref).strip() if raw_ref not in (None, "") else ""
            ref = ref or f"line:{line}"
            if self.shard is not None and shard_of(ref, self.shard[1]) != self.shard[0]:
                continue
            yield line, ref, rec, error

    def count(self) -> int:
        """How many rows (good or bad) this worker will report: the progress total."""
        return sum(1 for _ in self._mine())

    def messages(self, on_bad: Callable[[BadRow], None]) -> Iterator[OutgoingMessage]:
        """The valid messages, lazily; each bad row goes to ``on_bad`` instead."""
        for line, ref, rec, error in self._mine():
            if rec is None:
                on_bad(BadRow(line, ref, error or "unreadable row"))
                continue
            try:
                message = self._build(rec, ref)
                message.prepare()
            except _Bad as exc:
                on_bad(BadRow(line, ref, str(exc)))
                continue
            except TgoError as exc:
                on_bad(BadRow(line, ref, str(exc)))
                continue
            collision = self._collides(ref, message)
            if collision:
                on_bad(BadRow(line, ref, collision))
                continue
            yield message

    # -- building ----------------------------------------------------------------------------
    def _build(self, rec: dict[str, Any], ref: str) -> OutgoingMessage:
        kind = str(rec.get("type") or "text").strip().lower()
        to_phone = _text(rec, "to_phone", required=True)
        assert to_phone is not None
        common: dict[str, Any] = {"to_phone": to_phone.strip(), "sender_phone": self.sender_phone,
                                  "sender_number_id": self.sender_number_id, "ref": ref}
        if kind == "text":
            return TextMessage(content=_text(rec, "content", required=True) or "", **common)
        if kind not in TYPES:
            raise _Bad(f"unknown type {kind!r} (expected one of {', '.join(TYPES)})")
        media = self._media(rec)
        if kind == "voice":
            return VoiceMessage(media=media, duration=_duration(rec), **common)
        caption = _text(rec, "caption")
        if kind == "image":
            return ImageMessage(media=media, caption=caption, **common)
        return DocumentMessage(media=media, caption=caption, **common)

    def _media(self, rec: dict[str, Any]) -> Media:
        name = _text(rec, "media", required=True)
        assert name is not None
        path = Path(name.strip()).expanduser()
        return Media(path if path.is_absolute() else self.base_dir / path)

    def _collides(self, ref: str, message: OutgoingMessage) -> str | None:
        """Refuse a row the checkpoint contradicts: its ref settled another message, or (for a
        line-number ref) its message settled under another ref. Both mean the file changed."""
        if not self._guard:
            return None
        digest = content_digest(message)
        seen = self._guard.get(ref)
        if seen is not None:
            phone, recorded = seen
            if phone not in (None, message.to_phone) or recorded not in (None, digest):
                return (f"the checkpoint settled ref {ref} for a different message: the file changed since "
                        "that run; give each row a stable 'ref' column")
            return None
        other = self._settled_content.get((message.to_phone, digest))
        if other is not None and ref.startswith("line:"):
            return (f"this message was already settled as ref {other} in the checkpoint: the file changed "
                    "since that run; give each row a stable 'ref' column")
        return None


def _text(rec: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = rec.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _Bad(f"missing {key}")
        return None
    if not isinstance(value, str):
        raise _Bad(f"{key} must be a string, not {type(value).__name__}")
    return value


def _duration(rec: dict[str, Any]) -> int:
    value = rec.get("duration")
    if value is None or value == "":
        raise _Bad("missing duration (whole seconds, 1..300) for a voice row")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _Bad(f"bad duration {value!r}: whole seconds, 1..300")
