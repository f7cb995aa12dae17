"""An in-memory TGO Business API on a loopback socket, with fault injection and a delivery ledger.

Used by our test suite, by users' tests (``tgo_async.pytest_plugin``), by ``tgo-async sandbox`` /
``python -m tgo_async.sandbox`` and by the benchmarks::

    async with SandboxServer(rate_limit=50) as sb:       # port 0: a free port
        sb.base_url                                       # "http://127.0.0.1:PORT"
        sb.state.faults.script("POST /api/v1/messages", [FaultKind.DROP_AFTER, None])
        ...
        assert not sb.state.duplicates()

The four API pages are silent on much; every choice below is the sandbox's, made to be realistic
(a Laravel application behind nginx) and stable. Clients must not depend on more than the docs say.

Seeds (``SandboxState()``; ``seed`` only affects OTP digits and the random-fault sequence)
    API keys: ``sandbox-key-all`` (``*``), ``sandbox-key-send`` (``messages.send``), ``sandbox-key-read``
    (``messages.read``), ``sandbox-key-lookup`` (``contacts.lookup``), ``sandbox-key-usage``
    (``usage.read``), ``sandbox-key-revoked`` (revoked: 401).
    Sender numbers (id, phone, display_name, status / verification_status), created 2025-01-10T08:00:00Z:
    12 ``+201001187188`` "Support" ``active``/``verified`` (the docs' example; can send) ·
    13 ``+201001187189`` "Onboarding" ``pending_verification``/``pending_verification`` (OTP pending) ·
    14 ``+201001187190`` "Sales" ``pending_account_verification``/``pending_account_verification``
    (the "status" shape) · 15 ``+201001187191`` null name, ``active``/``pending_account_verification``
    (the docs' other shape) · 16 ``+201001187192`` "Rejected" ``rejected``/``pending_verification`` ·
    17 ``+201001187193`` "Suspended" ``suspended``/``verified``. Registered numbers get ids from 100.
    ``verification_status`` takes ``pending_verification`` (OTP not entered), ``pending_account_verification``
    (OTP done, TGO Connect account not verified) or ``verified``.
    Contacts: every valid E.164 number is reachable (``exists``/``can_receive``/``is_verified`` true,
    ``reason_code`` "ok", ``recipient_id`` derived from the number by CRC32, ``phone_verified_at``
    2025-01-10T08:00:00Z), the docs' ``+201010000000`` with ``recipient_id`` 4821, except:
    ``+201010000001`` unknown (exists false, ``not_found``, recipient_id and phone_verified_at null) ·
    ``+201010000002`` exists, phone unverified (``phone_not_verified``, is_verified false) ·
    ``+201010000003`` exists, ``blocked`` · ``+201010000004`` exists, ``account_frozen`` (undocumented code).

Onboarding
    ``POST /api/v1/sender-numbers`` creates ``pending_verification``/``pending_verification`` and a 6-digit
    OTP (``state.otp_for``). ``state.enter_otp(x, otp, account_verified=False)`` (wrong OTP: ValueError)
    moves it to ``active``/``verified``, or, per ``state.account_pending_shape``, to
    ``pending_account_verification``/``pending_account_verification`` (``"status"``, default) or
    ``active``/``pending_account_verification`` (``"verification_status"``). ``state.verify_account(x)``
    makes it ``active``/``verified``; ``state.set_sender_status(x, status, verification_status)`` anything.
    Only ``active``+``verified`` can send. OTPs and full phone numbers are never logged.

Errors: ``{"message": str, "code": str, "errors": {field: [str, ...]}?, "required_scope": str?}``
    ``unauthenticated`` 401 (missing, unknown or revoked key) · ``missing_scope`` 403 with
    ``required_scope`` · ``account_not_verified`` 403, Arabic message only (OTP done, either shape) ·
    ``sender_not_active`` 422 (``errors`` names the sender field and its status: pending_verification,
    rejected, suspended or any unknown status) · ``recipient_unreachable`` 422 (``errors.to_phone``
    carries the reason_code) · ``validation_failed`` 422 with ``errors`` (an unknown sender is a
    validation error on the sender field; an unreadable, malformed or wrongly typed body is reported on
    the pseudo-field ``body``) · ``not_found`` 404 · ``method_not_allowed`` 405 (with ``Allow``) ·
    ``payload_too_large`` 413 · ``rate_limited`` 429 · ``request_timeout`` 408 · ``server_error`` 500 ·
    ``service_unavailable`` 503. 502 and 504 come from "nginx" as HTML. Order of checks: rate limit,
    fault, route (404/405, before any key check), key (401), scope (403), validation (422), sender,
    recipient.
    Every response carries ``X-Request-Id`` (``req_<hex>_<n>``); JSON is ``application/json``.

Endpoints (``/api/v1``, header ``X-Api-Key``)
    ``GET /sender-numbers`` any valid key · ``POST /sender-numbers`` messages.send, JSON ``{phone,
    display_name?}``, duplicate phone: 422 on ``phone`` · ``POST /messages`` messages.send: text as JSON,
    media as multipart with the file in ``media`` (streamed and hashed, never kept), optional ``caption``
    (≤ 4096; ``content`` is accepted as its alias), ``duration`` 1..300 for voice; content non-empty ≤ 4096;
    media ≤ ``state.max_media_bytes`` (16 MiB), non-empty; a ``media`` part with type text is refused.
    Answers 201 ``{id, sender_number_id, to_phone, message_type, content (caption for media), status,
    sent_at, media: {filename, content_type, size, sha256} | null}``; ``status`` is
    ``state.message_status`` ("queued"). · ``GET /contacts/lookup?phone=&sender_phone=`` contacts.lookup;
    a space in a phone (an unencoded ``+``) is a 422 naming that cause; sender_phone optional but must be
    registered. · ``GET /messages`` messages.read, newest first, filters ``sender_number_id``,
    ``to_phone``, ``message_type``, ``status``. · ``GET /usage`` usage.read: ``{"data": [{sender_number_id,
    sender_phone, total, text, image, voice, document}] (every sender, zeros included, by id),
    "period": {"from": first of this month, "to": now}}``.

Pagination (``GET /messages``): Laravel's envelope ``{"data", "links": {first, last, prev, next},
    "meta": {current_page, last_page, per_page, total, from, to, path}}``; ``page`` ≥ 1 (past the end:
    empty data, from/to null), ``per_page`` 1..100, default 15; out of range is 422. Links are absolute
    and keep the other query parameters; prev/next null at the ends.

Envelopes (``state.envelope``): ``"wrapped"`` (default) answers ``{"data": [...]}`` / ``{"data": {...}}`` for
    the sender list, a created sender, a sent message and usage; ``"bare"`` answers the bare array/object
    (usage then omits ``period``). ``state.log_envelope``: ``"paginated"`` (default) or ``"bare"`` (a plain
    array of every entry). ``state.lookup_envelope``: ``"bare"`` (default, as documented) or ``"wrapped"``.
    Timestamps: ``2025-01-10T08:00:00.000000Z``; ``state.timestamp_format = "seconds"`` gives ``...:00Z``.

Rate limit (``rate_limit`` req/s per raw ``X-Api-Key`` value, ``None`` = off; burst ``rate_burst`` or
    ``max(1, int(rate/10))``; loop clock; every ``/api`` request that reaches the server takes a token,
    before faults and authentication). A refused request answers 429 ``rate_limited`` with ``Retry-After``
    (whole seconds, ceil, ≥ 1) and ``retry-after-ms`` (integer ms, ceil). While limiting is on every
    ``/api`` response carries ``X-RateLimit-Limit`` (req/s, e.g. ``50`` or ``2.5``), ``X-RateLimit-Remaining``
    (whole tokens left) and ``X-RateLimit-Reset`` (seconds until one token is available, a decimal with
    up to 3 places, ``0`` when one is). Change ``state.rate_limit`` at any time.

Faults (``state.faults``, see ``FaultKind``): per request at most one; scripted steps first
    (``faults.script(route, [kind | Fault | None, ...])``), then one uniform draw over the random rules
    (``faults.add(Fault(kind, route=None|"METHOD /path", probability, retry_after, delay, times, status,
    body, headers))``) so probabilities add up. Faults apply to ``/api`` routes only, after the rate
    limit (a rate-limited request consumes no script step). Drops abort the TCP connection: the client
    sees ``ServerDisconnectedError`` or ``ClientOSError``; the server logs nothing above DEBUG.
    ``DROP_BEFORE`` reads the body first (so the request was fully sent) and records no message.

Observability: ``state.ledger`` (``LedgerEntry``: id, api_key, sender, to_phone, message_type, content,
    caption, duration, media_*, status, sent_at, recorded_at loop time, request_id), ``state.ledger_counts()``
    / ``state.duplicates()`` keyed by ``entry.identity`` = ``(to_phone, content or caption)``;
    ``state.requests`` (``RequestRecord``: method, path, received_at loop time, key name, item = text
    content or ``"to_phone|caption"`` on every send, even one answered early (429/5xx) or dropped,
    fault, status (None = no response: dropped, or the client left first), retry_after announced,
    request_id); ``state.reset_logs()`` (also refills rate-limit buckets).

Control routes (no key; ``{sender}`` = id or %2B-encoded phone): ``GET|POST /_sandbox/sender-numbers``
    (list with ``otp_pending`` / add one in any state), ``GET /_sandbox/sender-numbers/{sender}/otp``,
    ``POST .../otp`` ``{"otp", "account_verified"}`` (wrong: 422), ``POST .../verify-account``,
    ``POST .../status`` ``{"status", "verification_status"?}``, ``POST /_sandbox/keys`` ``{"key", "scopes"}``,
    ``POST /_sandbox/keys/{key}/revoke``, ``POST /_sandbox/contacts`` ``{"phone", "exists", ...}``,
    ``GET|POST|DELETE /_sandbox/faults`` (POST: a fault object, ``{"faults": [...]}`` or ``{"route",
    "script": [kind|null|{...}]}``), ``GET /_sandbox/ledger``, ``GET /_sandbox/stats`` (counts by status
    and fault, duplicates, the request log), ``POST /_sandbox/reset``, ``GET|PATCH /_sandbox/settings``.
"""

from __future__ import annotations

from ._app import make_app
from ._faults import Fault, FaultKind, FaultSet
from ._models import ApiKey, Contact, LedgerEntry, RequestRecord, SenderNumber
from ._server import SandboxServer
from ._state import SandboxState

__all__ = [
    "ApiKey",
    "Contact",
    "Fault",
    "FaultKind",
    "FaultSet",
    "LedgerEntry",
    "RequestRecord",
    "SandboxServer",
    "SandboxState",
    "SenderNumber",
    "make_app",
]
