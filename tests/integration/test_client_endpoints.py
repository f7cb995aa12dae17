"""Every call of the issue's code block against the real sandbox on 127.0.0.1, checked in the ledger."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest

import tgo_async
from tgo_async import MessageStatus, MessageType, ReasonCode, SenderStatus, VerificationStatus
from tgo_async.sandbox import SandboxServer

if TYPE_CHECKING:
    from conftest import MakeClient, RecordingSandbox

SUPPORT = "+201001187188"  # seeded sender 12: active and verified
RECIPIENT = "+201010000000"  # the docs' reachable contact, recipient_id 4821
SEED_TIME = datetime(2025, 1, 10, 8, 0, tzinfo=UTC)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_sender_numbers_list_returns_every_seeded_sender(tgo_client: tgo_async.Client) -> None:
    """list() gives typed SenderNumbers in id order, with both verification steps visible."""
    senders = await tgo_client.sender_numbers.list()
    assert [s.id for s in senders] == [12, 13, 14, 15, 16, 17]
    support = senders[0]
    assert isinstance(support, tgo_async.SenderNumber)
    assert (support.phone, support.display_name) == (SUPPORT, "Support")
    assert support.status is SenderStatus.ACTIVE
    assert support.verification_status is VerificationStatus.VERIFIED
    assert support.created_at == SEED_TIME
    assert [s.can_send for s in senders] == [True, False, False, False, False, False]


async def test_register_creates_pending_sender(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer
) -> None:
    """register() answers the new number as pending_verification, and the sandbox issued an OTP for it."""
    new = await tgo_client.sender_numbers.register(phone="+201001234567", display_name="Support")
    assert new.id == 100
    assert (new.phone, new.display_name) == ("+201001234567", "Support")
    assert new.status is SenderStatus.PENDING_VERIFICATION
    assert new.needs_otp
    assert not new.can_send
    assert len(tgo_sandbox.state.otp_for(100)) == 6
    assert tgo_sandbox.state.sender(100).display_name == "Support"


async def test_register_without_display_name(tgo_client: tgo_async.Client) -> None:
    """display_name is optional; the server's null comes back as None."""
    new = await tgo_client.sender_numbers.register(phone="+201001234568")
    assert new.display_name is None


async def test_contact_lookup_reachable(tgo_client: tgo_async.Client) -> None:
    """lookup() with a sender_phone returns the documented fields of a reachable contact."""
    contact = await tgo_client.contacts.lookup(phone=RECIPIENT, sender_phone=SUPPORT)
    assert contact == tgo_async.ContactLookup(
        exists=True,
        can_receive=True,
        reason_code=ReasonCode.OK,
        reason_code_raw="ok",
        recipient_id=4821,
        is_verified=True,
        phone_verified_at=SEED_TIME,
    )


async def test_contact_lookup_unknown_number(tgo_client: tgo_async.Client) -> None:
    """An unknown number: exists False, reason not_found, null recipient_id and phone_verified_at."""
    contact = await tgo_client.contacts.lookup(phone="+201010000001")
    assert (contact.exists, contact.can_receive) == (False, False)
    assert contact.reason_code is ReasonCode.NOT_FOUND
    assert contact.recipient_id is None
    assert contact.phone_verified_at is None


async def test_plus_in_query_arrives_as_plus(recording_sandbox: RecordingSandbox) -> None:
    """Both phones of a lookup reach the server with their '+' (the sandbox would 422 a space)."""
    async with tgo_async.Client(api_key="sandbox-key-all", base_url=recording_sandbox.base_url) as client:
        contact = await client.contacts.lookup(phone=RECIPIENT, sender_phone=SUPPORT)
        [entry async for entry in client.messages.list(to_phone=RECIPIENT)]
    assert contact.recipient_id == 4821
    lookup, log = recording_sandbox.seen
    assert lookup.query == {"phone": RECIPIENT, "sender_phone": SUPPORT}
    assert "%2B201010000000" in lookup.query_string
    assert " " not in lookup.query_string
    assert log.query == {"to_phone": RECIPIENT}


@pytest.mark.parametrize("lent_session", [False, True], ids=["own-session", "lent-session"])
async def test_every_request_sends_api_key_and_accept_json(
    recording_sandbox: RecordingSandbox, tmp_path: Path, lent_session: bool
) -> None:
    """GET, JSON POST and multipart POST each carry X-Api-Key and Accept: application/json.

    Both header paths: an own session carries them as its defaults, a lent one gets them per request.
    """
    image = tmp_path / "a.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession()) if lent_session else None
        client = await stack.enter_async_context(
            tgo_async.Client(api_key="sandbox-key-all", base_url=recording_sandbox.base_url, session=session)
        )
        await client.sender_numbers.list()
        await client.sender_numbers.register(phone="+201001234567")
        await client.contacts.lookup(phone=RECIPIENT)
        await client.messages.send_text(sender_phone=SUPPORT, to_phone=RECIPIENT, content="Hello")
        await client.messages.send_image(sender_number_id=12, to_phone=RECIPIENT, media=image)
        [entry async for entry in client.messages.list()]
        await client.usage.get()
    seen = recording_sandbox.seen
    assert [(r.method, r.path) for r in seen] == [
        ("GET", "/api/v1/sender-numbers"),
        ("POST", "/api/v1/sender-numbers"),
        ("GET", "/api/v1/contacts/lookup"),
        ("POST", "/api/v1/messages"),
        ("POST", "/api/v1/messages"),
        ("GET", "/api/v1/messages"),
        ("GET", "/api/v1/usage"),
    ]
    for request in seen:
        assert request.headers.get("X-Api-Key") == "sandbox-key-all", request.path
        assert request.headers.get("Accept") == "application/json", request.path
    assert seen[3].headers["Content-Type"] == "application/json"
    assert seen[4].headers["Content-Type"].startswith("multipart/form-data")
    assert all(r.status == (201 if r.method == "POST" else 200) for r in recording_sandbox.state.requests)


async def test_send_text_by_sender_phone(tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer) -> None:
    """send_text(sender_phone=...) is recorded once and answered as a typed Message."""
    msg = await tgo_client.messages.send_text(sender_phone=SUPPORT, to_phone=RECIPIENT, content="Hello")
    [entry] = tgo_sandbox.state.ledger
    assert (entry.sender_number_id, entry.to_phone, entry.message_type, entry.content) == (
        12,
        RECIPIENT,
        "text",
        "Hello",
    )
    assert msg.id == entry.id
    assert (msg.sender_number_id, msg.to_phone, msg.content) == (12, RECIPIENT, "Hello")
    assert msg.message_type is MessageType.TEXT
    assert msg.status is MessageStatus.QUEUED
    assert msg.sent_at is not None
    assert msg.sent_at.tzinfo is not None
    assert msg.media is None


async def test_send_text_by_sender_number_id(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer
) -> None:
    """send_text(sender_number_id=12) is sent from the same number."""
    msg = await tgo_client.messages.send_text(sender_number_id=12, to_phone=RECIPIENT, content="Hi by id")
    [entry] = tgo_sandbox.state.ledger
    assert (entry.sender_phone, entry.content) == (SUPPORT, "Hi by id")
    assert msg.sender_number_id == 12


async def test_send_image_from_path_with_caption(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer, tmp_path: Path
) -> None:
    """The server receives exactly the file's bytes, its name, image/png and the caption."""
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 300
    path = tmp_path / "a.png"
    path.write_bytes(data)
    msg = await tgo_client.messages.send_image(
        sender_number_id=12, to_phone=RECIPIENT, media=path, caption="optional"
    )
    [entry] = tgo_sandbox.state.ledger
    assert (entry.message_type, entry.caption) == ("image", "optional")
    assert (entry.media_filename, entry.media_content_type) == ("a.png", "image/png")
    assert (entry.media_size, entry.media_sha256) == (len(data), _sha256(data))
    assert msg.message_type is MessageType.IMAGE
    assert msg.content == "optional"
    assert msg.media == tgo_async.MediaInfo("a.png", "image/png", len(data), _sha256(data))


async def test_send_voice_from_path_with_duration(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Voice is uploaded with its duration field; bytes and type arrive intact."""
    data = b"OggS" + b"\x01" * 5000
    path = tmp_path / "a.ogg"
    path.write_bytes(data)
    msg = await tgo_client.messages.send_voice(
        sender_number_id=12, to_phone=RECIPIENT, media=path, duration=45
    )
    [entry] = tgo_sandbox.state.ledger
    assert (entry.message_type, entry.duration) == ("voice", 45)
    assert entry.media_filename == "a.ogg"
    assert entry.media_content_type is not None
    assert entry.media_content_type.startswith("audio/")
    assert (entry.media_size, entry.media_sha256) == (len(data), _sha256(data))
    assert msg.message_type is MessageType.VOICE


async def test_send_document_from_open_file_leaves_it_open(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer, tmp_path: Path
) -> None:
    """An open binary file is streamed as is, named after the file, and the caller's handle stays open."""
    data = b"%PDF-1.4\n" + b"lorem ipsum " * 2000
    path = tmp_path / "a.pdf"
    path.write_bytes(data)
    with path.open("rb") as handle:
        msg = await tgo_client.messages.send_document(sender_number_id=12, to_phone=RECIPIENT, media=handle)
        assert not handle.closed
        handle.seek(0)
        assert handle.read(8) == b"%PDF-1.4"
    [entry] = tgo_sandbox.state.ledger
    assert (entry.message_type, entry.media_filename, entry.media_content_type) == (
        "document",
        "a.pdf",
        "application/pdf",
    )
    assert (entry.media_size, entry.media_sha256) == (len(data), _sha256(data))
    assert msg.content is None  # no caption: the server's null content
    assert msg.media is not None
    assert msg.media.sha256 == _sha256(data)


async def test_send_media_from_bytes_and_media_value(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer
) -> None:
    """bytes and Media(filename=, content_type=) are accepted; the given name and type are sent."""
    await tgo_client.messages.send_document(sender_number_id=12, to_phone=RECIPIENT, media=b"raw bytes")
    await tgo_client.messages.send_image(
        sender_number_id=12,
        to_phone=RECIPIENT,
        media=tgo_async.Media(b"GIF89a...", filename="x.bin", content_type="image/gif"),
    )
    first, second = tgo_sandbox.state.ledger
    assert (first.media_size, first.media_sha256) == (9, _sha256(b"raw bytes"))
    assert (second.media_filename, second.media_content_type) == ("x.bin", "image/gif")


async def _send_texts(client: tgo_async.Client, count: int, **kwargs: object) -> None:
    for n in range(count):
        await client.messages.send_text(content=f"m{n}", **kwargs)  # type: ignore[arg-type]


async def test_messages_list_follows_every_page(
    tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer
) -> None:
    """With per_page=3, seven entries come back newest first over three page requests."""
    await _send_texts(tgo_client, 7, sender_number_id=12, to_phone=RECIPIENT)
    before = len(tgo_sandbox.state.requests)
    entries = [m async for m in tgo_client.messages.list(per_page=3)]
    assert [m.content for m in entries] == [f"m{n}" for n in range(6, -1, -1)]
    assert all(isinstance(m, tgo_async.Message) for m in entries)
    assert len({m.id for m in entries}) == 7
    pages = [r for r in tgo_sandbox.state.requests[before:] if r.path == "/api/v1/messages"]
    assert len(pages) == 3


async def test_messages_list_empty_log(tgo_client: tgo_async.Client) -> None:
    """An empty log yields nothing (one page, last_page 1)."""
    assert [m async for m in tgo_client.messages.list()] == []


async def test_messages_list_filters(tgo_client: tgo_async.Client, tgo_sandbox: SandboxServer) -> None:
    """Each filter (sender_number_id, to_phone, message_type, status) narrows the log server-side."""
    state = tgo_sandbox.state
    other = state.add_sender("+201001187199", "Second")
    await _send_texts(tgo_client, 2, sender_number_id=12, to_phone=RECIPIENT)
    await _send_texts(tgo_client, 1, sender_number_id=other.id, to_phone="+201010000009")
    await tgo_client.messages.send_document(sender_number_id=12, to_phone=RECIPIENT, media=b"doc")
    state.message_status = "sent"
    await tgo_client.messages.send_text(sender_number_id=other.id, to_phone=RECIPIENT, content="late")

    async def ids(**filters: object) -> list[int]:
        return [m.id async for m in tgo_client.messages.list(per_page=2, **filters)]  # type: ignore[arg-type]

    ledger = state.ledger
    assert await ids() == [e.id for e in reversed(ledger)]
    assert await ids(sender_number_id=other.id) == [
        e.id for e in reversed(ledger) if e.sender_number_id == other.id
    ]
    assert await ids(to_phone="+201010000009") == [ledger[2].id]
    assert await ids(message_type="document") == [ledger[3].id]
    assert await ids(message_type=MessageType.TEXT) == [
        e.id for e in reversed(ledger) if e.message_type == "text"
    ]
    assert await ids(status="sent") == [ledger[4].id]
    assert await ids(status=MessageStatus.QUEUED, sender_number_id=12) == [
        ledger[3].id,
        ledger[1].id,
        ledger[0].id,
    ]


async def test_usage_counts_by_sender_and_type(tgo_client: tgo_async.Client, tmp_path: Path) -> None:
    """usage.get() reports every sender, with counts per message type matching what was sent."""
    await _send_texts(tgo_client, 2, sender_number_id=12, to_phone=RECIPIENT)
    await tgo_client.messages.send_document(sender_number_id=12, to_phone=RECIPIENT, media=b"pdf")
    usage = await tgo_client.usage.get()
    assert isinstance(usage, tgo_async.Usage)
    assert [e.sender_number_id for e in usage.entries] == [12, 13, 14, 15, 16, 17]
    support = usage.for_sender(12)
    assert support is not None
    assert support == usage.for_sender(SUPPORT)
    assert (
        support.total,
        support.count("text"),
        support.count(MessageType.DOCUMENT),
        support.count("voice"),
    ) == (3, 2, 1, 0)
    assert usage.total == 3
    assert "period" in usage.raw


async def test_sandbox_marker_configures_plugin_server(tgo_sandbox: SandboxServer) -> None:
    """Without a marker the plugin's sandbox has no rate limit and listens on loopback."""
    assert tgo_sandbox.state.rate_limit is None
    assert tgo_sandbox.base_url.startswith("http://127.0.0.1:")


@pytest.mark.tgo_sandbox(seed=7)
async def test_sandbox_marker_seed_reaches_server(
    tgo_sandbox: SandboxServer, make_client: MakeClient
) -> None:
    """The tgo_sandbox marker's kwargs reach SandboxServer (the seed drives OTP digits)."""
    assert tgo_sandbox.state.seed == 7
    assert len(await make_client().sender_numbers.list()) == 6
