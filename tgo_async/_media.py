"""The ``Media`` value type and the multipart body built from it, anew for every attempt.

A body is never reused across attempts: aiohttp payloads close their file after writing and
some versions refuse a second use. Paths are reopened per attempt and streamed from disk; a
caller's file object is rewound to where it stood when ``Media`` was made, is left there after
each upload (so the same open file can be sent again), and is never closed by us (it is wrapped in
a borrower whose ``close`` leaves the original open).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import mimetypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO

from ._errors import ValidationError

__all__ = ["Media", "as_media"]


class _BorrowedFile(io.RawIOBase):
    """A view of the caller's file that aiohttp may 'close' without closing the original."""

    def __init__(self, raw: IO[bytes], start: int) -> None:
        super().__init__()
        self._raw = raw
        raw.seek(start)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        return self._raw.read(-1 if size is None else size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def fileno(self) -> int:
        return self._raw.fileno()


class Media:
    """A file to upload: a ``Path``, ``bytes`` or a binary file object, plus its name and type.

    ``filename`` defaults to the path's or file's name, ``content_type`` is guessed from it.
    A plain ``str`` is refused: it is ambiguous whether it names a file or is the content.
    """

    __slots__ = ("_lock", "_start", "content_type", "filename", "source")

    def __init__(
        self,
        source: Path | bytes | bytearray | memoryview | BinaryIO,
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> None:
        self._lock: asyncio.Lock | None = None
        self._start = 0
        if isinstance(source, str):
            raise ValidationError(
                "media",
                "a str is ambiguous (a path or the content?): pass pathlib.Path(...) for a file "
                "or bytes for content",
            )
        if isinstance(source, os.PathLike):
            source = Path(source)
            if not source.is_file():
                raise ValidationError("media", f"{source} is not a readable file")
            filename = filename or source.name
        elif isinstance(source, bytearray | memoryview):
            source = bytes(source)
        elif not isinstance(source, bytes):
            if not (hasattr(source, "read") and hasattr(source, "seek")):
                raise ValidationError(
                    "media", f"expected a Path, bytes or a binary file object, not {type(source).__name__}"
                )
            if isinstance(source, io.TextIOBase):
                raise ValidationError("media", "the file is open in text mode; open it with 'rb'")
            try:
                self._start = source.tell()
            except (OSError, ValueError) as exc:
                reason = f"the file object cannot seek, so it cannot be retried: {exc}"
                raise ValidationError("media", reason) from None
            self._lock = asyncio.Lock()
            name = getattr(source, "name", None)
            if filename is None and isinstance(name, str):
                filename = os.path.basename(name)
        self.source: Path | bytes | BinaryIO = source
        self.filename = filename or "upload"
        self.content_type = (
            content_type or mimetypes.guess_type(self.filename)[0] or "application/octet-stream"
        )

    def __repr__(self) -> str:
        kind = type(self.source).__name__
        return f"Media({kind}, filename={self.filename!r}, content_type={self.content_type!r})"

    @contextmanager
    def open(self) -> Iterator[bytes | IO[bytes]]:
        """Yield a fresh readable for one attempt and close what we opened afterwards."""
        if isinstance(self.source, bytes):
            yield self.source
        elif isinstance(self.source, Path):
            with self.source.open("rb") as handle:
                yield handle
        else:
            borrowed = _BorrowedFile(self.source, self._start)
            try:
                yield borrowed  # type: ignore[misc]
            finally:
                borrowed.close()
                with contextlib.suppress(OSError, ValueError):
                    self.source.seek(self._start)  # leave it as we found it, ready for the next send

    @property
    def exclusive(self) -> asyncio.Lock | None:
        """A caller's file object has one read position: concurrent uploads of it take turns."""
        return self._lock


def as_media(value: object) -> Media:
    """Accept a Media or anything Media accepts; anything else is a clear ValidationError."""
    if isinstance(value, Media):
        return value
    return Media(value)  # type: ignore[arg-type]
