"""Sender onboarding: ``sender_numbers.get`` and ``wait_until_ready`` through the OTP and account steps.

Polling uses an injected clock and sleep (``Client(clock=..., sleep=...)``), so nothing waits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import tgo_async
from tgo_async import SenderNotReadyError, SenderStatus, VerificationStatus
from tgo_async.sandbox import SandboxServer

if TYPE_CHECKING:
    from conftest import FakeTime, MakeClient

NEW = "+201001234567"


def _sender_list_requests(sb: SandboxServer) -> int:
    return sum(1 for r in sb.state.requests if (r.method, r.path) == ("GET", "/api/v1/sender-numbers"))


@pytest.mark.parametrize("ref", [12, "+201001187188"])
async def test_get_by_id_or_phone(tgo_client: tgo_async.Client, ref: int | str) -> None:
    """get() finds a sender by its id or by its E.164 phone."""
    sender = await tgo_client.sender_numbers.get(ref)
    assert (sender.id, sender.phone, sender.can_send) == (12, "+201001187188", True)


async def test_get_unknown_sender_raises_not_found(tgo_client: tgo_async.Client) -> None:
    """An unregistered id is a NotFoundError (404, not_found) that masks nothing it should not."""
    with pytest.raises(tgo_async.NotFoundError) as info:
        await tgo_client.sender_numbers.get(999)
    assert (info.value.status, info.value.code) == (404, "not_found")
    assert "999" in str(info.value)


async def test_wait_until_ready_after_otp_and_account_verification(
    tgo_sandbox: SandboxServer, make_client: MakeClient, fake_time: FakeTime
) -> None:
    """A registered number that went through OTP and account verification is returned at once."""
    client = make_client(**fake_time.kwargs())
    new = await client.sender_numbers.register(phone=NEW)
    state = tgo_sandbox.state
    state.enter_otp(new.id, state.otp_for(new.id))
    state.verify_account(new.id)
    ready = await client.sender_numbers.wait_until_ready(NEW, timeout=60)
    assert (ready.id, ready.can_send, ready.status) == (new.id, True, SenderStatus.ACTIVE)
    assert fake_time.sleeps == []
    msg = await client.messages.send_text(sender_number_id=new.id, to_phone="+201010000000", content="ok")
    assert msg.sender_number_id == new.id


async def test_wait_until_ready_polls_with_backoff_until_verified(
    tgo_sandbox: SandboxServer, make_client: MakeClient, fake_time: FakeTime
) -> None:
    """While pending it polls with growing intervals; the account verified mid-wait ends the wait."""
    client = make_client(**fake_time.kwargs())
    new = await client.sender_numbers.register(phone=NEW)
    state = tgo_sandbox.state
    state.enter_otp(new.id, state.otp_for(new.id))  # now awaiting account verification

    def verify_on_third_sleep(n: int) -> None:
        if n == 3:
            state.verify_account(new.id)

    fake_time.on_sleep = verify_on_third_sleep
    before = _sender_list_requests(tgo_sandbox)
    ready = await client.sender_numbers.wait_until_ready(new.id, timeout=600, poll_interval=2.0)
    assert ready.can_send
    assert fake_time.sleeps == [2.0, 3.0, 4.5]
    assert _sender_list_requests(tgo_sandbox) - before == 4


async def test_wait_until_ready_caps_the_poll_interval(
    tgo_sandbox: SandboxServer, make_client: MakeClient, fake_time: FakeTime
) -> None:
    """Intervals grow to max_poll_interval and the last sleep is cut to the time left."""
    client = make_client(**fake_time.kwargs())
    with pytest.raises(SenderNotReadyError):
        await client.sender_numbers.wait_until_ready(13, timeout=20, poll_interval=4, max_poll_interval=6)
    assert fake_time.sleeps == [4, 6, 6, 4]
    assert sum(fake_time.sleeps) == 20


async def test_wait_until_ready_pending_otp_says_enter_the_otp(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    """Still pending OTP at the timeout: missing == "otp", and the message names the dashboard step."""
    client = make_client(**fake_time.kwargs())
    with pytest.raises(SenderNotReadyError) as info:
        await client.sender_numbers.wait_until_ready(13, timeout=10)
    err = info.value
    assert err.missing == "otp"
    assert "OTP" in str(err)
    assert "TGO Business dashboard" in str(err)
    assert "gave up after 10s" in str(err)
    assert err.sender.id == 13
    assert "+201001187189" not in str(err)  # the phone is masked
    assert fake_time.sleeps  # it did poll before giving up


@pytest.mark.parametrize(
    ("shape", "status", "verification_status"),
    [
        (
            "status",
            SenderStatus.PENDING_ACCOUNT_VERIFICATION,
            VerificationStatus.PENDING_ACCOUNT_VERIFICATION,
        ),
        ("verification_status", SenderStatus.ACTIVE, VerificationStatus.PENDING_ACCOUNT_VERIFICATION),
    ],
)
async def test_wait_until_ready_account_pending_in_both_shapes(
    tgo_sandbox: SandboxServer,
    make_client: MakeClient,
    fake_time: FakeTime,
    shape: str,
    status: SenderStatus,
    verification_status: VerificationStatus,
) -> None:
    """OTP done, account unverified (either documented shape): missing is the TGO Connect verification."""
    state = tgo_sandbox.state
    state.account_pending_shape = shape
    client = make_client(**fake_time.kwargs())
    new = await client.sender_numbers.register(phone=NEW)
    state.enter_otp(NEW, state.otp_for(NEW))
    pending = await client.sender_numbers.get(NEW)
    assert (pending.status, pending.verification_status) == (status, verification_status)
    assert pending.needs_account_verification
    assert not pending.needs_otp
    assert not pending.can_send
    with pytest.raises(SenderNotReadyError) as info:
        await client.sender_numbers.wait_until_ready(new.id, timeout=5)
    err = info.value
    assert err.missing == "account_verification"
    assert "TGO Connect account" in str(err)
    assert "no new OTP" in str(err)


@pytest.mark.parametrize(
    ("sender_id", "missing", "words"),
    [(16, "rejected", "rejected"), (17, "suspended", "suspended")],
)
async def test_wait_until_ready_rejected_or_suspended_raises_at_once(
    make_client: MakeClient, fake_time: FakeTime, sender_id: int, missing: str, words: str
) -> None:
    """A rejected or suspended number is final: no polling, the error says which."""
    client = make_client(**fake_time.kwargs())
    with pytest.raises(SenderNotReadyError) as info:
        await client.sender_numbers.wait_until_ready(sender_id, timeout=600)
    assert info.value.missing == missing
    assert words in str(info.value)
    assert fake_time.sleeps == []


async def test_wait_until_ready_suspended_later_stops_polling(
    tgo_sandbox: SandboxServer, make_client: MakeClient, fake_time: FakeTime
) -> None:
    """A number suspended while being waited for ends the wait with "suspended", not a timeout."""
    fake_time.on_sleep = lambda n: tgo_sandbox.state.set_sender_status(13, "suspended") if n == 2 else None
    client = make_client(**fake_time.kwargs())
    with pytest.raises(SenderNotReadyError) as info:
        await client.sender_numbers.wait_until_ready(13, timeout=600)
    assert info.value.missing == "suspended"
    assert "administrator" in str(info.value)
    assert len(fake_time.sleeps) == 2


async def test_wait_until_ready_undocumented_status_times_out_with_raw_status(
    tgo_sandbox: SandboxServer, make_client: MakeClient, fake_time: FakeTime
) -> None:
    """An undocumented status is UNKNOWN, keeps polling, and the error carries the raw string."""
    tgo_sandbox.state.set_sender_status(12, "frozen", "verified")
    client = make_client(**fake_time.kwargs())
    sender = await client.sender_numbers.get(12)
    assert (sender.status, sender.status_raw, sender.can_send) == (SenderStatus.UNKNOWN, "frozen", False)
    with pytest.raises(SenderNotReadyError) as info:
        await client.sender_numbers.wait_until_ready(12, timeout=3)
    assert info.value.missing == "frozen"
    assert "'frozen'" in str(info.value)
