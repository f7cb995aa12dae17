from __future__ import annotations

import logging

import orjson

from .._converter import structure
from .._envelopes import unwrap_list, unwrap_object
from .._errors import NotFoundError, SenderNotReadyError, ValidationError
from .._logging import mask_phone
from .._validation import check_phone
from ..models import SenderNumber, SenderStatus
from ._base import Resource

__all__ = ["SenderNumbers"]

log = logging.getLogger("tgo_async")
_PATH = "/api/v1/sender-numbers"


class SenderNumbers(Resource):
    """Sender numbers and their two-step verification (OTP, then TGO Connect account)."""

    __slots__ = ()

    async def list(self) -> list[SenderNumber]:
        """Every sender number of the organisation (a bare array or a ``data`` envelope)."""
        body = await self._r.get(self._r.transport.url(_PATH))
        return [structure(item, SenderNumber) for item in unwrap_list(body)]

    async def register(self, phone: str, display_name: str | None = None) -> SenderNumber:
        """Register a number (scope ``messages.send``); it starts as ``pending_verification``.

        The OTP goes to the owner's TGO Connect account and is entered in the TGO Business
        dashboard; then poll with ``wait_until_ready``.
        """
        payload: dict[str, str] = {"phone": check_phone("phone", phone)}
        if display_name is not None:
            if not isinstance(display_name, str) or not display_name.strip():
                raise ValidationError("display_name", "must be a non-empty str or None")
            payload["display_name"] = display_name
        body = await self._r.post_json(self._r.transport.url(_PATH), orjson.dumps(payload))
        return structure(unwrap_object(body), SenderNumber)

    async def get(self, id_or_phone: int | str) -> SenderNumber:
        """One sender by id or E.164 phone. The API documents only the list, so this filters it."""
        key = _check_ref(id_or_phone)
        senders = await self.list()
        for sender in senders:
            if sender.id == key or sender.phone == key:
                return sender
        shown = mask_phone(key) if isinstance(key, str) else key
        raise NotFoundError(
            f"no sender number {shown} among the {len(senders)} registered", status=404, code="not_found"
        )

    async def wait_until_ready(
        self,
        id_or_phone: int | str,
        *,
        timeout: float = 600.0,  # noqa: ASYNC109 - the documented name; a deadline for polling
        poll_interval: float = 2.0,
        max_poll_interval: float = 30.0,
    ) -> SenderNumber:
        """Poll with backoff until the number can send; return it.

        Raises ``SenderNotReadyError`` at once when the number is rejected or suspended, and at
        ``timeout`` with what is still missing: the OTP step in the dashboard, or the owner's TGO
        Connect account verification (for which no new OTP is needed).
        """
        _check_ref(id_or_phone)
        if timeout < 0 or poll_interval <= 0:
            raise ValidationError("timeout", "timeout must be >= 0 and poll_interval > 0")
        r = self._r.retrier
        deadline = r.now() + timeout
        interval = poll_interval
        while True:
            sender = await self.get(id_or_phone)
            if sender.can_send:
                return sender
            if sender.status in (SenderStatus.REJECTED, SenderStatus.SUSPENDED):
                raise SenderNotReadyError(_why(sender), missing=sender.status_raw or "unknown", sender=sender)
            left = deadline - r.now()
            if left <= 0:
                raise SenderNotReadyError(
                    f"gave up after {timeout:g}s: {_why(sender)}", missing=_missing(sender), sender=sender
                )
            log.info(
                "sender %s not ready (%s); next check in %.1fs",
                mask_phone(sender.phone),
                _missing(sender),
                min(interval, left),
            )
            await r._sleep(min(interval, left))
            interval = min(interval * 1.5, max_poll_interval)


def _check_ref(id_or_phone: object) -> int | str:
    if isinstance(id_or_phone, int) and not isinstance(id_or_phone, bool):
        return id_or_phone
    if isinstance(id_or_phone, str):
        return check_phone("id_or_phone", id_or_phone)
    raise ValidationError("id_or_phone", f"must be a sender id or an E.164 phone, not {id_or_phone!r}")


def _missing(sender: SenderNumber) -> str:
    if sender.needs_otp:
        return "otp"
    if sender.needs_account_verification:
        return "account_verification"
    return sender.status_raw or "unknown"


def _why(sender: SenderNumber) -> str:
    return f"sender number {mask_phone(sender.phone)} (id {sender.id}) cannot send: {sender.blocker}"
