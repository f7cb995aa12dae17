"""Retried media uploads: the body is rebuilt per attempt and arrives byte-identical (sandbox sha256)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tgo_async import Client, Media, OutcomeUnknownError, RetryPolicy
from tgo_async.sandbox import Fault, FaultKind, SandboxServer

SEND = "POST /api/v1/messages"
SENDER = "+201001187188"
TO = "+201010000000"
DATA = os.urandom(300_000) + b"tail"  # several multipart chunks, so a half-read retry would show
DIGEST = hashlib.sha256(DATA).hexdigest()
KINDS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "image": ("send_image", "photo.jpg", {"caption": "retried image"}),
    "voice": ("send_voice", "note.ogg", {"duration": 7}),
    "document": ("send_document", "report.pdf", {"caption": "retried document"}),
}


def rate_limited(seconds: float = 0.01) -> Fault:
    return Fault(kind=FaultKind.RATE_LIMIT, retry_after=seconds)


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer() as sb:
        yield sb


@pytest.fixture
def media_file(tmp_path: Path) -> Path:
    path = tmp_path / "upload.bin"
    path.write_bytes(DATA)
    return path


@pytest.fixture
def opened(media_file: Path) -> Iterator[Any]:
    with media_file.open("rb") as handle:
        yield handle


async def _upload(sb: SandboxServer, kind: str, media: Any, **kw: Any) -> Any:
    method, filename, extra = KINDS[kind]
    async with Client("sandbox-key-all", sb.base_url, rate_limit=None,
                      retry=RetryPolicy(backoff_base=0.01), **kw) as client:
        send = getattr(client.messages, method)
        return await send(sender_phone=SENDER, to_phone=TO, media=Media(media, filename=filename), **extra)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("source", ["path", "bytes", "file object"])
async def test_retried_upload_arrives_byte_identical(sandbox: SandboxServer, media_file: Path, opened: Any,
                                                     kind: str, source: str) -> None:
    """A 429 then ok: the second attempt re-sends the whole file, same sha256, caller's file left open."""
    media = {"path": media_file, "bytes": DATA, "file object": opened}[source]
    sandbox.state.faults.script(SEND, [rate_limited(), None])
    msg = await _upload(sandbox, kind, media)
    requests = sandbox.state.requests
    assert [r.status for r in requests] == [429, 201]
    (entry,) = sandbox.state.ledger
    assert entry.message_type == kind
    assert entry.media_sha256 == DIGEST
    assert entry.media_size == len(DATA)
    assert msg.media is not None
    assert msg.media.sha256 == DIGEST
    assert not opened.closed
    opened.seek(0)
    assert opened.read(4) == DATA[:4]  # still usable by its owner


async def test_file_object_upload_starts_where_the_caller_left_it_on_every_attempt(
        sandbox: SandboxServer, opened: Any) -> None:
    """Media from a file positioned past a header sends the rest, on the retry too."""
    opened.seek(1000)
    sandbox.state.faults.script(SEND, [rate_limited(), rate_limited(), None])
    await _upload(sandbox, "document", opened)
    (entry,) = sandbox.state.ledger
    assert entry.media_sha256 == hashlib.sha256(DATA[1000:]).hexdigest()
    assert len(sandbox.state.requests) == 3
    assert not opened.closed


async def test_upload_dropped_after_processing_is_unknown_and_retry_mode_resends_identical(
        sandbox: SandboxServer, media_file: Path) -> None:
    """A dropped upload ends unknown; with on_ambiguous="retry" it is resent whole (a consented duplicate)."""
    sandbox.state.faults.script(SEND, [FaultKind.DROP_AFTER])
    with pytest.raises(OutcomeUnknownError):
        await _upload(sandbox, "image", media_file)
    sandbox.state.faults.script(SEND, [FaultKind.DROP_AFTER, None])
    await _upload(sandbox, "image", media_file, on_ambiguous="retry")
    assert [e.media_sha256 for e in sandbox.state.ledger] == [DIGEST] * 3
