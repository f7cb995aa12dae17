"""``POST /api/v1/messages``: read JSON or streamed multipart, validate, check sender/recipient, record."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import attrs
import orjson
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ._http import ACCOUNT_NOT_VERIFIED_MESSAGE, STATE_KEY, ApiError, json_response, validation_error
from ._models import ApiKey, LedgerEntry, RequestRecord, is_e164
from ._state import SandboxState

__all__ = ["KEY_KEY", "RECORD_KEY", "SendForm", "parse_send", "send_message"]

if hasattr(web, "RequestKey"):  # aiohttp >= 3.13 warns about plain string keys
    RECORD_KEY = web.RequestKey("tgo_sandbox_record", RequestRecord)
    KEY_KEY = web.RequestKey("tgo_sandbox_key", ApiKey)
else:  # pragma: no cover - older aiohttp
    RECORD_KEY = "tgo_sandbox.record"  # type: ignore[assignment]
    KEY_KEY = "tgo_sandbox.key"  # type: ignore[assignment]

MEDIA_TYPES = frozenset({"image", "voice", "document"})
MESSAGE_TYPES = frozenset({"text"}) | MEDIA_TYPES
MAX_CONTENT = 4096
_FIELD_LIMIT = 64 * 1024
_CHUNK = 64 * 1024


@attrs.define(slots=True)
class MediaInfo:
    """What is kept of an upload: never the bytes, only what identifies them."""

    filename: str | None
    content_type: str | None
    size: int
    sha256: str
    too_large: bool = False


@attrs.define(slots=True)
class SendForm:
    """The raw fields of a send, before validation; ``body_error`` when the body could not be read."""

    fields: dict[str, Any]
    media: MediaInfo | None = None
    media_not_file: bool = False
    oversized: list[str] = attrs.Factory(list)
    body_error: str | None = None

    def identity(self) -> str | None:
        """Item identity for the request log: text content, or ``to_phone|caption`` for media."""
        fields = self.fields
        if fields.get("type") == "text" or self.media is None:
            content = fields.get("content")
            return content if isinstance(content, str) else None
        return f"{fields.get('to_phone')}|{fields.get('caption') or ''}"


async def _read_media(part: BodyPartReader, limit: int) -> MediaInfo:
    """Hash while streaming; nothing but the digest and the size survives."""
    digest = hashlib.sha256()
    size = 0
    while chunk := await part.read_chunk(_CHUNK):
        size += len(chunk)
        digest.update(chunk)
    return MediaInfo(part.filename, part.headers.get("Content-Type"), size, digest.hexdigest(), size > limit)


async def _read_field(part: BodyPartReader) -> str | None:
    """A small text field; None when larger than 64 KiB (drained, not kept)."""
    buf = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        if len(buf) <= _FIELD_LIMIT:
            buf += chunk
    if len(buf) > _FIELD_LIMIT:
        return None
    return buf.decode("utf-8", "replace")


async def parse_send(request: web.Request, state: SandboxState) -> SendForm:
    """Read the body by its content type: JSON for text, multipart/form-data for media (or text)."""
    ctype = request.content_type
    if ctype == "application/json":
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return SendForm({}, body_error="The request body is not valid JSON.")
        if not isinstance(data, dict):
            return SendForm({}, body_error="The request body must be a JSON object.")
        return SendForm(data)
    if ctype == "multipart/form-data":
        try:
            return await _parse_multipart(request, state)
        except (ValueError, HttpProcessingError):
            return SendForm({}, body_error="The multipart/form-data body is malformed.")
    return SendForm({}, body_error="Send text as application/json or media as multipart/form-data.")


async def _parse_multipart(request: web.Request, state: SandboxState) -> SendForm:
    """Stream the parts: small fields are kept, the ``media`` file only as size and digest."""
    form = SendForm({})
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader):  # nested multipart: not part of the API
            form.body_error = "Nested multipart bodies are not supported."
            continue
        name = part.name or ""
        if name == "media":
            if part.filename is None:
                form.media_not_file = True
                await part.release()
            else:
                form.media = await _read_media(part, state.max_media_bytes)
        else:
            value = await _read_field(part)
            if value is None:
                form.oversized.append(name)
            else:
                form.fields[name] = value
    return form


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _validate(form: SendForm, state: SandboxState) -> dict[str, Any]:
    """Laravel-style field validation; every problem is reported at once, keyed by field."""
    if form.body_error is not None:
        raise validation_error({"body": [form.body_error]})
    f = form.fields
    errors: dict[str, list[str]] = {}
    for name in form.oversized:
        errors.setdefault(name, []).append(f"The {name} field is too large.")
    sender_phone, sender_id = f.get("sender_phone"), f.get("sender_number_id")
    out: dict[str, Any] = {}
    if _present(sender_phone) and _present(sender_id):
        msg = "Provide exactly one of sender_phone or sender_number_id, not both."
        errors.setdefault("sender_phone", []).append(msg)
        errors.setdefault("sender_number_id", []).append(msg)
    elif not _present(sender_phone) and not _present(sender_id):
        errors["sender_phone"] = ["The sender_phone field is required without sender_number_id."]
        errors["sender_number_id"] = ["The sender_number_id field is required without sender_phone."]
    elif _present(sender_phone):
        if is_e164(sender_phone):
            out["sender_phone"] = sender_phone
        else:
            errors["sender_phone"] = ["The sender_phone field must be a valid E.164 phone number."]
    else:
        parsed = _int_or_none(sender_id)
        if parsed is None:
            errors["sender_number_id"] = ["The sender_number_id field must be an integer."]
        else:
            out["sender_number_id"] = parsed
    to_phone = f.get("to_phone")
    if not _present(to_phone):
        errors["to_phone"] = ["The to_phone field is required."]
    elif not is_e164(to_phone):
        errors["to_phone"] = ["The to_phone field must be a valid E.164 phone number."]
    out["to_phone"] = to_phone
    mtype = f.get("type")
    if not _present(mtype):
        errors["type"] = ["The type field is required."]
    elif mtype not in MESSAGE_TYPES:
        errors["type"] = ["The selected type is invalid (text, image, voice, document)."]
    out["type"] = mtype
    media = form.media
    if mtype == "text":
        content = f.get("content")
        if not isinstance(content, str) or not content.strip():
            errors["content"] = ["The content field is required when type is text."]
        elif len(content) > MAX_CONTENT:
            errors["content"] = [f"The content field must not be greater than {MAX_CONTENT} characters."]
        if media is not None or form.media_not_file:
            errors["media"] = ["The media field is prohibited when type is text."]
        out["content"] = content
    elif mtype in MEDIA_TYPES:
        if form.media_not_file:
            errors["media"] = ["The media field must be a file."]
        elif media is None:
            errors["media"] = [f"The media field is required when type is {mtype}."]
        elif media.size == 0:
            errors["media"] = ["The media field must be a file of at least 1 byte."]
        elif media.too_large:
            errors["media"] = [f"The media field must not be greater than {state.max_media_bytes} bytes."]
        caption = f.get("caption", f.get("content"))
        if _present(caption) and (not isinstance(caption, str) or len(caption) > MAX_CONTENT):
            errors["caption"] = [f"The caption field must be a string of at most {MAX_CONTENT} characters."]
        out["caption"] = caption if _present(caption) else None
        if mtype == "voice":
            raw = f.get("duration")
            duration = _int_or_none(raw)
            if not _present(raw):
                errors["duration"] = ["The duration field is required when type is voice."]
            elif duration is None:
                errors["duration"] = ["The duration field must be an integer."]
            elif not 1 <= duration <= 300:
                errors["duration"] = ["The duration field must be between 1 and 300."]
            out["duration"] = duration
    if errors:
        raise validation_error(errors)
    return out


def _accept(
    state: SandboxState, key: ApiKey, values: dict[str, Any], form: SendForm, rid: str
) -> LedgerEntry:
    """Sender and recipient checks, then the ledger entry (validated input only)."""
    field = "sender_phone" if "sender_phone" in values else "sender_number_id"
    sender = state.find_sender(values[field])
    if sender is None:
        raise validation_error({field: [f"The selected {field} is invalid."]})
    if not sender.can_send:
        if sender.awaits_account_verification:
            raise ApiError(403, "account_not_verified", ACCOUNT_NOT_VERIFIED_MESSAGE)
        raise ApiError(
            422,
            "sender_not_active",
            "Sender number is not active.",
            errors={field: [f"The sender number status is {sender.status}."]},
        )
    to_phone = values["to_phone"]
    contact = state.contact(to_phone)
    if not contact.can_receive:
        raise ApiError(
            422,
            "recipient_unreachable",
            "Recipient cannot receive messages.",
            errors={"to_phone": [f"The recipient cannot receive messages ({contact.reason_code})."]},
        )
    media = form.media if values["type"] != "text" else None
    return state.record_message(
        api_key=key.key,
        sender_number_id=sender.id,
        sender_phone=sender.phone,
        to_phone=to_phone,
        message_type=values["type"],
        content=values.get("content"),
        caption=values.get("caption"),
        duration=values.get("duration"),
        media_filename=media.filename if media else None,
        media_content_type=media.content_type if media else None,
        media_size=media.size if media else None,
        media_sha256=media.sha256 if media else None,
        recorded_at=asyncio.get_running_loop().time(),
        request_id=rid,
    )


async def send_message(request: web.Request) -> web.Response:
    """Send a text (JSON) or media (multipart) message."""
    state = request.app[STATE_KEY]
    form = await parse_send(request, state)
    record = request[RECORD_KEY]
    record.item = form.identity()
    values = _validate(form, state)
    entry = _accept(state, request[KEY_KEY], values, form, record.request_id)
    body = entry.message_json(state.timestamp_format)
    return json_response({"data": body} if state.envelope == "wrapped" else body, 201)
