"""``send_many``: a bounded worker pool that turns an iterable of messages into one outcome each.

Memory is O(concurrency): the source is pulled lazily and at most ``2 x concurrency`` items are
alive at once (queued, in flight, waiting out a Retry-After, or waiting to be yielded). Every
item ends in exactly one outcome, including when the job stops early:

* 401, or 403 for a missing scope: dispatch stops at once; every item not yet sent, including
  the rest of the source, is reported ``failed`` (safe to resend).
* an outage (connection refused, a run of 503s): dispatch pauses and one prober checks the
  server with backoff; after ``max_outage`` seconds the remaining items fail as not sent.
* ``stop()`` (Ctrl-C in the CLI): queued items are reported not sent, in-flight ones finish.
* cancellation / ``aclose()``: in-flight items are reported ``unknown`` if their request left
  (``failed`` if not) to the checkpoint and, with every outcome settled but not yet yielded,
  to ``unyielded_outcomes``; nothing is left running.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING, Any

from .._errors import (
    APIError,
    AuthenticationError,
    ConnectError,
    DecodeError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    RecipientUnreachableError,
    ServerError,
    TgoError,
)
from .._messages import OutgoingMessage
from .._retry import NO_RETRY, RetryPolicy
from ._checkpoint import Checkpoint
from ._outcome import BulkStats, Outcome, auto_ref, content_digest

if TYPE_CHECKING:
    from ..models import ContactLookup
    from ..resources.contacts import Contacts
    from ..resources.messages import Messages

__all__ = ["BulkJob", "SendTracker"]

log = logging.getLogger("tgo_async.bulk")
_DONE: Any = object()


class SendTracker:
    """Set by the requester when an attempt's request is handed to the transport."""

    __slots__ = ("dispatched",)

    def __init__(self) -> None:
        self.dispatched = False


class _Item:
    __slots__ = ("attempts", "index", "message", "ref", "requeues", "tracker")

    def __init__(self, index: int, message: OutgoingMessage, ref: str) -> None:
        self.index = index
        self.message = message
        self.ref = ref
        self.attempts = 0
        self.requeues = 0
        self.tracker = SendTracker()


class BulkJob:
    """An async iterator of ``Outcome``; also an async context manager that cleans up."""

    def __init__(
        self,
        messages: Messages,
        contacts: Contacts,
        source: Iterable[OutgoingMessage] | AsyncIterable[OutgoingMessage],
        *,
        concurrency: int = 64,
        ordered: bool = False,
        checkpoint: Checkpoint | None = None,
        resend_unknown: bool = False,
        precheck: bool = False,
        max_outage: float = 300.0,
        requeue_after: float = 5.0,
        max_requeues: int = 50,
        retry: RetryPolicy | None = None,
        on_ambiguous: str | None = None,
    ) -> None:
        self._messages = messages
        self._contacts_api = contacts
        self._r = messages._r
        self._source = source
        self.concurrency = concurrency
        self._ordered = ordered
        self._checkpoint = checkpoint
        self._resend_unknown = resend_unknown
        self._precheck = precheck
        self._max_outage = max_outage
        self._max_requeues = max_requeues
        base = retry or self._r.retrier.policy
        self._policy = base.evolve(max_retry_after=min(base.max_retry_after, requeue_after))
        self._on_ambiguous = on_ambiguous
        self.stats = BulkStats()
        self.unyielded_outcomes: list[Outcome] = []
        """After an early close: outcomes the iterator never yielded (settled, or cancelled in flight)."""
        self._work: asyncio.Queue[Any] = asyncio.Queue()
        self._out: asyncio.Queue[Any] = asyncio.Queue()
        self._window = asyncio.Semaphore(2 * concurrency)
        self._resume = asyncio.Event()
        self._resume.set()
        self._stop_error: TgoError | None = None
        self._drain_source = False
        self._live = 0
        self._source_done = False
        self._tasks: list[asyncio.Task[None]] = []
        self._prober: asyncio.Task[None] | None = None
        self._in_flight: dict[int, _Item] = {}
        self._reorder: dict[int, Outcome] = {}
        self._next_index = 0
        self._unavailable_run = 0
        self._contacts: OrderedDict[str, asyncio.Future[ContactLookup | None]] = OrderedDict()
        self._delayed: dict[int, tuple[asyncio.TimerHandle, _Item]] = {}
        self._started = False
        self._finished = False
        self._done_signalled = False

    # -- public control -------------------------------------------------------------------------
    def stop(self, reason: str = "stopped by the caller") -> None:
        """Graceful stop: no new dispatch; queued items end as not sent; in-flight ones finish."""
        if self._stop_error is None:
            self._stop_error = TgoError(f"not sent: {reason}")
        self._resume.set()

    async def aclose(self) -> None:
        """Cancel everything still running; in-flight items are recorded as unknown or not sent."""
        tasks = [*self._tasks, *([self._prober] if self._prober else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        while not self._out.empty():
            settled = self._out.get_nowait()
            if settled is not _DONE:
                self.unyielded_outcomes.append(settled)
        self.unyielded_outcomes.extend(self._reorder[i] for i in sorted(self._reorder))
        self._reorder.clear()
        for item in list(self._in_flight.values()):
            self._record_cancelled(item)
        self._in_flight.clear()
        for handle, item in self._delayed.values():
            handle.cancel()
            self._record_cancelled(item)
        self._delayed.clear()
        while not self._work.empty():
            queued = self._work.get_nowait()
            if queued is not _DONE:
                self._record_cancelled(queued)
        if self._checkpoint is not None:
            self._checkpoint.close()
        self._finished = True

    async def __aenter__(self) -> BulkJob:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> BulkJob:
        return self

    async def __anext__(self) -> Outcome:
        if self._finished:
            raise StopAsyncIteration
        if not self._started:
            self._start()
        try:
            outcome = await self._next_outcome()
        except BaseException:
            await self.aclose()
            raise
        if outcome is _DONE:
            await self.aclose()
            raise StopAsyncIteration
        self._window.release()
        return outcome  # type: ignore[no-any-return]

    # -- plumbing -------------------------------------------------------------------------------
    def _start(self) -> None:
        self._started = True
        self._settled = self._checkpoint.settled(self._resend_unknown) if self._checkpoint else {}
        self._tasks.append(asyncio.create_task(self._feed(), name="tgo-bulk-feeder"))
        self._tasks.extend(
            asyncio.create_task(self._worker(), name=f"tgo-bulk-worker-{i}") for i in range(self.concurrency)
        )

    async def _next_outcome(self) -> Any:
        if not self._ordered:
            return await self._out.get()
        while self._next_index not in self._reorder:
            outcome = await self._out.get()
            if outcome is _DONE:
                return _DONE
            self._reorder[outcome.index] = outcome
        self._next_index += 1
        return self._reorder.pop(self._next_index - 1)

    async def _feed(self) -> None:
        index = 0
        try:
            if isinstance(self._source, AsyncIterable):
                async for message in self._source:
                    if not await self._admit(index, message):
                        break
                    index += 1
            else:
                for message in self._source:
                    if not await self._admit(index, message):
                        break
                    index += 1
        finally:
            self._source_done = True
            self._check_done()

    async def _admit(self, index: int, message: OutgoingMessage) -> bool:
        """Take one item into the window; False ends the feed (stopped, and not draining)."""
        await self._window.acquire()
        self._live += 1
        ref = getattr(message, "ref", None) or _safe_auto_ref(message)
        item = _Item(index, message, ref)
        settled = self._settled.get(ref)
        if settled is not None:
            self._emit(
                item,
                Outcome(
                    ref, index, settled["status"], attempts=int(settled.get("attempts", 0)), skipped=True
                ),
            )
        elif self._stop_error is not None:
            self._emit(item, Outcome(ref, index, "failed", error=self._stop_error))
            return self._drain_source
        else:
            self._work.put_nowait(item)
        return True

    def _emit(self, item: _Item, outcome: Outcome) -> None:
        self._in_flight.pop(item.index, None)
        self.stats.count(outcome)
        if self._checkpoint is not None:
            self._write_checkpoint(item, outcome)
        self._out.put_nowait(outcome)
        self._live -= 1
        self._check_done()

    def _check_done(self) -> None:
        if self._source_done and self._live == 0 and not self._done_signalled:
            self._done_signalled = True
            for _ in self._tasks:
                self._work.put_nowait(_DONE)
            self._out.put_nowait(_DONE)

    async def _worker(self) -> None:
        while True:
            item = await self._work.get()
            if item is _DONE:
                return
            if not self._resume.is_set() and self._stop_error is None:
                await self._resume.wait()
            if self._stop_error is not None:
                self._emit(
                    item,
                    Outcome(item.ref, item.index, "failed", error=self._stop_error, attempts=item.attempts),
                )
                continue
            self._in_flight[item.index] = item
            try:
                outcome = await self._send_one(item)
            except Exception as exc:  # a bug must not hang the job or lose the item
                log.exception("internal error while sending item %d", item.index)
                status = "unknown" if item.tracker.dispatched else "failed"
                outcome = Outcome(item.ref, item.index, status, error=exc, attempts=item.attempts)  # type: ignore[arg-type]
            if outcome is not None:
                self._emit(item, outcome)

    async def _send_one(self, item: _Item) -> Outcome | None:
        """Send once through the retry engine; None means the item was re-queued."""
        try:
            prepared = item.message.prepare()
        except TgoError as exc:
            return Outcome(item.ref, item.index, "failed", error=exc)
        if self._precheck:
            refusal = await self._precheck_refusal(item)
            if refusal is not None:
                return Outcome(item.ref, item.index, "failed", error=refusal)
        item.tracker.dispatched = False
        try:
            body = await self._r.send(
                self._messages._url,
                prepared,
                policy=self._policy,
                on_ambiguous=self._on_ambiguous,
                tracker=item.tracker,
            )
            message = self._messages._structure(body)
        except OutcomeUnknownError as exc:
            item.attempts += exc.attempts
            self._note_unavailable(exc.cause)
            return Outcome(item.ref, item.index, "unknown", error=exc, attempts=item.attempts)
        except DecodeError as exc:
            item.attempts += 1
            return Outcome(item.ref, item.index, "unknown", error=exc, attempts=item.attempts)
        except (ConnectError, RateLimitError, ServerError) as exc:
            item.attempts += 1
            return self._requeue(item, exc)
        except (AuthenticationError, PermissionDeniedError) as exc:
            item.attempts += 1
            self._halt(exc)
            return Outcome(item.ref, item.index, "failed", error=exc, attempts=item.attempts)
        except TgoError as exc:
            item.attempts += 1
            self._unavailable_run = 0
            return Outcome(item.ref, item.index, "failed", error=exc, attempts=item.attempts)
        item.attempts += 1
        self._unavailable_run = 0
        return Outcome(item.ref, item.index, "sent", message=message, attempts=item.attempts)

    def _requeue(self, item: _Item, exc: TgoError) -> Outcome | None:
        """Provably not applied: try again later instead of holding a worker or failing it."""
        if isinstance(exc, ServerError) and exc.retry_after is None:  # not directed: ambiguous
            return Outcome(item.ref, item.index, "unknown", error=exc, attempts=item.attempts)
        item.requeues += 1
        if item.requeues > self._max_requeues:
            return Outcome(item.ref, item.index, "failed", error=exc, attempts=item.attempts)
        self.stats.requeued += 1
        self._in_flight.pop(item.index, None)
        if isinstance(exc, ConnectError | ServerError):
            self._enter_outage()
        delay = exc.retry_after if isinstance(exc, APIError) and exc.retry_after else 0.0
        if delay > 0:
            handle = asyncio.get_running_loop().call_later(delay, self._wake_delayed, item.index)
            self._delayed[item.index] = (handle, item)
        else:
            self._work.put_nowait(item)
        return None

    def _wake_delayed(self, index: int) -> None:
        entry = self._delayed.pop(index, None)
        if entry is not None:
            self._work.put_nowait(entry[1])

    def _halt(self, exc: TgoError) -> None:
        """A key-wide refusal: nothing else can be sent, so fail the rest now (safe to resend)."""
        if self._stop_error is None:
            log.error("stopping the job: %s", exc)
            self._stop_error = exc
            self._drain_source = True
        self._resume.set()

    def _note_unavailable(self, cause: BaseException | None) -> None:
        if isinstance(cause, ServerError) and cause.status == 503:
            self._unavailable_run += 1
            if self._unavailable_run >= 3:
                self._enter_outage()
        else:
            self._unavailable_run = 0

    # -- outage ---------------------------------------------------------------------------------
    def _enter_outage(self) -> None:
        if self._prober is None or self._prober.done():
            self._resume.clear()
            self.stats.paused = True
            self._prober = asyncio.create_task(self._probe(), name="tgo-bulk-prober")

    async def _probe(self) -> None:
        r = self._r.retrier
        started = r.now()
        delay = 0.25
        url = self._r.transport.url("/api/v1/sender-numbers")
        log.warning("server unavailable: pausing dispatch and probing")
        while self._stop_error is None:
            try:
                await self._r.get(url, policy=NO_RETRY)
                break
            except (AuthenticationError, PermissionDeniedError) as exc:
                self._halt(exc)
                break
            except APIError as exc:
                if exc.status < 500 and exc.status != 429:
                    break  # it answers: reachable
            except TgoError:
                pass
            if r.now() - started >= self._max_outage:
                self._halt(
                    ConnectError(f"not sent: the server was unavailable for more than {self._max_outage:g}s")
                )
                break
            await r._sleep(min(delay, max(0.0, self._max_outage - (r.now() - started))))
            delay = min(delay * 2, 10.0)
        self._unavailable_run = 0
        self.stats.paused = False
        self._resume.set()

    # -- precheck -------------------------------------------------------------------------------
    async def _precheck_refusal(self, item: _Item) -> TgoError | None:
        phone = item.message.to_phone
        fut = self._contacts.get(phone)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._contacts[phone] = fut
            if len(self._contacts) > 65536:
                self._contacts.popitem(last=False)
            try:
                fut.set_result(await self._contacts_api.lookup(phone, sender_phone=item.message.sender_phone))
            except (AuthenticationError, PermissionDeniedError) as exc:
                fut.set_result(None)
                self._halt(exc)
                return exc
            except TgoError:
                fut.set_result(None)  # the lookup is advisory: send and let the server decide
        else:
            self._contacts.move_to_end(phone)
        contact = await asyncio.shield(fut)
        if contact is not None and not contact.can_receive:
            return RecipientUnreachableError(
                f"precheck: {phone[:5]}… cannot receive messages (reason_code={contact.reason_code_raw})",
                status=0,
                code=contact.reason_code_raw,
            )
        return None

    def _write_checkpoint(self, item: _Item, outcome: Outcome) -> None:
        assert self._checkpoint is not None
        message = item.message
        self._checkpoint.write(
            outcome,
            to_phone=getattr(message, "to_phone", None),
            digest=_safe_digest(message),
            kind=_KINDS.get(type(message).__name__),
        )

    def _record_cancelled(self, item: _Item) -> None:
        status = "unknown" if item.tracker.dispatched else "failed"
        error = (
            OutcomeUnknownError("cancelled while in flight", cause=None, attempts=item.attempts + 1)
            if status == "unknown"
            else TgoError("not sent: the job was cancelled")
        )
        outcome = Outcome(item.ref, item.index, status, error=error, attempts=item.attempts)  # type: ignore[arg-type]
        self.stats.count(outcome)
        self.unyielded_outcomes.append(outcome)
        if self._checkpoint is not None:
            self._write_checkpoint(item, outcome)


_KINDS = {
    "TextMessage": "text",
    "ImageMessage": "image",
    "VoiceMessage": "voice",
    "DocumentMessage": "document",
}


def _safe_auto_ref(message: Any) -> str:
    try:
        return auto_ref(message)
    except Exception:
        return f"auto:invalid:{id(message)}"


def _safe_digest(message: Any) -> str | None:
    try:
        return content_digest(message)
    except Exception:
        return None
