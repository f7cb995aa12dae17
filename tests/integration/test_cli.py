"""The ``tgo-async`` console script, run as a real subprocess against an in-process sandbox.

The sandbox runs on its own event loop in a background thread, so a test can read its ledger and
request log (through that loop) while the CLI process talks to it over loopback.
"""

from __future__ import annotations

import asyncio
import bisect
import csv
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest

from tgo_async._cli._rows import shard_of
from tgo_async.sandbox import Fault, FaultKind, SandboxServer, SandboxState

T = TypeVar("T")
SENDER = "+201001187188"
SEND = "POST /api/v1/messages"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_SCRIPT = Path(sys.executable).parent / "tgo-async"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "tgo_async"]


class ThreadSandbox:
    """A SandboxServer serving from a background thread's loop; ``state(fn)`` runs ``fn`` on that loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sandbox", daemon=True)
        self.thread.start()
        self.server = SandboxServer()
        self._call(self.server.start())
        self.base_url = self.server.base_url

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def state(self, fn: Callable[[SandboxState], T]) -> T:
        async def call() -> T:
            return fn(self.server.state)

        result: T = self._call(call())
        return result

    def ledger_items(self) -> Counter[tuple[str, str | None]]:
        return self.state(lambda s: Counter(e.identity for e in s.ledger))

    def close(self) -> None:
        async def shutdown() -> None:
            await self.server.close()
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in rest:  # handlers still sleeping in a LATENCY fault
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        self._call(shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def sandbox() -> Iterator[ThreadSandbox]:
    sb = ThreadSandbox()
    yield sb
    sb.close()


def _env(sb: ThreadSandbox | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGO_")}
    if sb is not None:
        env.update(TGO_API_KEY="sandbox-key-all", TGO_BASE_URL=sb.base_url)
    env.update(COLUMNS="200", **extra)
    return env


def run_cli(sb: ThreadSandbox | None, *args: str, timeout: float = 30,
            **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=_env(sb, **env), capture_output=True, text=True, timeout=timeout)


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["ref", "to_phone", "content"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def text_rows(n: int, prefix: str = "r") -> list[dict[str, str]]:
    return [{"ref": f"{prefix}{i}", "to_phone": f"+2011{i:08d}", "content": f"hello {prefix}{i}"}
            for i in range(n)]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def last_status(checkpoint: Path) -> dict[str, str]:
    return {rec["ref"]: rec["status"] for rec in read_jsonl(checkpoint)}


def test_bad_row_is_reported_by_line_and_good_rows_are_sent_once(sandbox: ThreadSandbox,
                                                                   tmp_path: Path) -> None:
    """A bad row fails alone (line number on stderr and in the report), the rest go once: exit 1."""
    rows = text_rows(4)
    rows.insert(2, {"ref": "", "to_phone": "+20 bad", "content": "never sent"})
    data = write_csv(tmp_path / "m.csv", rows)
    report = tmp_path / "report.jsonl"
    proc = run_cli(sandbox, "send-bulk", str(data), "--sender", SENDER, "--report", str(report))
    assert proc.returncode == 1, proc.stderr
    assert "line 4:" in proc.stderr and "ref line:4" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "sent" in proc.stdout and "bad row" in proc.stdout
    assert sandbox.ledger_items() == Counter({(r["to_phone"], r["content"]): 1 for r in text_rows(4)})
    lines = read_jsonl(report)
    assert sorted(rec["ref"] for rec in lines) == ["line:4", "r0", "r1", "r2", "r3"]
    bad = next(rec for rec in lines if rec["ref"] == "line:4")
    assert bad["status"] == "failed" and bad["line"] == 4 and "E.164" in bad["error"]
    ids = sandbox.state(lambda s: {e.content: e.id for e in s.ledger})
    for rec in lines:
        if rec["ref"] != "line:4":
            assert rec["status"] == "sent" and rec["message_id"] == ids[f"hello {rec['ref']}"]


def test_example_files_send_text_and_media(sandbox: ThreadSandbox, tmp_path: Path) -> None:
    """examples/messages.jsonl: media paths resolve next to the file; a bad duration is a bad row."""
    proc = run_cli(sandbox, "send-bulk", str(EXAMPLES / "messages.jsonl"), "--sender-id", "12", "--json")
    assert proc.returncode == 1, proc.stderr
    summary = orjson.loads(proc.stdout)
    assert (summary["sent"], summary["bad_rows"], summary["unknown"]) == (5, 1, 0)
    assert "line 6: duration" in proc.stderr
    types = sandbox.state(lambda s: sorted(e.message_type for e in s.ledger))
    assert types == ["document", "image", "text", "text", "voice"]


def test_checkpoint_resume_sends_nothing_new(sandbox: ThreadSandbox, tmp_path: Path) -> None:
    """A second run with the same checkpoint skips every sent row and exits 0."""
    data = write_csv(tmp_path / "m.csv", text_rows(12))
    ck = tmp_path / "ck.jsonl"
    first = run_cli(sandbox, "send-bulk", str(data), "--sender", SENDER, "--checkpoint", str(ck))
    assert first.returncode == 0, first.stderr
    second = run_cli(sandbox, "send-bulk", str(data), "--sender", SENDER, "--checkpoint", str(ck), "--json")
    assert second.returncode == 0, second.stderr
    summary = orjson.loads(second.stdout)
    assert (summary["sent"], summary["skipped"]) == (0, 12)
    assert sandbox.state(lambda s: len(s.ledger)) == 12 and not sandbox.state(lambda s: s.duplicates())


def test_shards_partition_rows_stably(sandbox: ThreadSandbox, tmp_path: Path) -> None:
    """Two shards cover every row exactly once, chosen by a stable hash of the ref (same in every run)."""
    rows = text_rows(40, "s")
    data = write_csv(tmp_path / "m.csv", rows)
    picked: dict[int, set[str]] = {}
    for i in (0, 1):
        proc = run_cli(sandbox, "send-bulk", str(data), "--sender", SENDER, "--shard", f"{i}/2",
                       "--checkpoint", str(tmp_path / "ck-{shard}.jsonl"),
                       "--report", str(tmp_path / "r-{shard}.jsonl"))
        assert proc.returncode == 0, proc.stderr
        picked[i] = {rec["ref"] for rec in read_jsonl(tmp_path / f"r-{i}.jsonl")}
    assert picked[0] | picked[1] == {r["ref"] for r in rows} and not picked[0] & picked[1]
    assert picked[0] == {r["ref"] for r in rows if shard_of(r["ref"], 2) == 0}
    assert sandbox.ledger_items() == Counter({(r["to_phone"], r["content"]): 1 for r in rows})
    again = run_cli(sandbox, "send-bulk", str(data), "--sender", SENDER, "--shard", "0/2",
                    "--checkpoint", str(tmp_path / "ck-{shard}.jsonl"),
                    "--report", str(tmp_path / "again.jsonl"))
    assert again.returncode == 0
    assert {rec["ref"] for rec in read_jsonl(tmp_path / "again.jsonl") if rec.get("skipped")} == picked[0]


def _wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _start(sb: ThreadSandbox, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*CLI, *args], env=_env(sb, **env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_sigint_stops_gracefully_and_the_checkpoint_resumes(sandbox: ThreadSandbox, tmp_path: Path) -> None:
    """Ctrl-C: in-flight sends finish, the rest are not sent, exit 130; a re-run completes, no duplicate."""
    rows = text_rows(40, "g")
    data = write_csv(tmp_path / "m.csv", rows)
    ck = tmp_path / "ck.jsonl"
    sandbox.state(lambda s: s.faults.add(Fault(kind=FaultKind.LATENCY, route=SEND, delay=0.25)))
    proc = _start(sandbox, "send-bulk", str(data), "--sender", SENDER, "--concurrency", "4",
                  "--checkpoint", str(ck))
    _wait_for(lambda: ck.exists() and len(ck.read_bytes().splitlines()) >= 4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "interrupted" in out and "not reached" in out and "Traceback" not in err
    status = last_status(ck)
    sent = {ref for ref, st in status.items() if st == "sent"}
    assert set(status.values()) <= {"sent", "failed"} and 4 <= len(sent) < 40
    by_ref = {r["ref"]: (r["to_phone"], r["content"]) for r in rows}
    assert sandbox.ledger_items() == Counter({by_ref[ref]: 1 for ref in sent})
    sandbox.state(lambda s: s.faults.clear())
    again = run_cli(sandbox, "send-bulk", str(data), "--sender", SENDER, "--checkpoint", str(ck))
    assert again.returncode == 0, again.stderr
    assert sandbox.ledger_items() == Counter({item: 1 for item in by_ref.values()})


def test_second_sigint_cancels_in_flight_sends_as_unknown(sandbox: ThreadSandbox, tmp_path: Path) -> None:
    """Ctrl-C twice: in-flight sends are cancelled and recorded unknown, exit 130 at once, no duplicate."""
    data = write_csv(tmp_path / "m.csv", text_rows(20, "h"))
    ck = tmp_path / "ck.jsonl"
    sandbox.state(lambda s: s.faults.add(Fault(kind=FaultKind.LATENCY, route=SEND, delay=10.0)))
    proc = _start(sandbox, "send-bulk", str(data), "--sender", SENDER, "--concurrency", "3",
                  "--checkpoint", str(ck))
    _wait_for(lambda: sandbox.state(lambda s: len(s.requests)) >= 3)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 5 and "unknown" in out
    status = last_status(ck)
    assert Counter(status.values())["unknown"] == 3 and "sent" not in status.values()
    assert not sandbox.state(lambda s: s.duplicates())


def test_plain_progress_without_rich(sandbox: ThreadSandbox, tmp_path: Path) -> None:
    """With rich not importable the CLI prints periodic plain progress lines and a plain summary."""
    fake = tmp_path / "fake"
    (fake / "rich").mkdir(parents=True)
    (fake / "rich" / "__init__.py").write_text("raise ImportError('rich is not installed')\n")
    data = write_csv(tmp_path / "m.csv", text_rows(8, "p"))
    sandbox.state(lambda s: s.faults.add(Fault(kind=FaultKind.LATENCY, route=SEND, delay=0.1)))
    proc = run_cli(sandbox, "send-bulk", str(data), "--sender", SENDER, "--concurrency", "2",
                   "--progress-interval", "0.1", PYTHONPATH=str(fake))
    assert proc.returncode == 0, proc.stderr
    progress = [line for line in proc.stderr.splitlines() if line.startswith("progress: ")]
    assert len(progress) >= 2 and progress[-1].startswith("progress: 8/8 (100%) sent=8")
    assert "┃" not in proc.stdout and "sent" in proc.stdout


def test_single_call_commands(sandbox: ThreadSandbox, tmp_path: Path) -> None:
    """senders list, lookup, send, usage and messages work, in --json too; errors are one line, no key."""
    senders = orjson.loads(run_cli(sandbox, "senders", "list", "--json").stdout)
    assert {s["id"] for s in senders} >= {12, 13}
    listing = run_cli(sandbox, "--plain", "senders", "list")
    assert "needs OTP" in listing.stdout
    lookup = orjson.loads(run_cli(sandbox, "lookup", "+201010000001", "--json").stdout)
    assert (lookup["exists"], lookup["reason_code"]) == (False, "not_found")
    sent = run_cli(sandbox, "send", "--to", "+201100000009", "--text", "hi", "--sender", SENDER, "--json")
    assert sent.returncode == 0 and orjson.loads(sent.stdout)["to_phone"] == "+201100000009"
    doc = run_cli(sandbox, "send", "--to", "+201100000008", "--document",
                  str(EXAMPLES / "media" / "invoice.pdf"), "--caption", "March", "--sender-id", "12")
    assert doc.returncode == 0, doc.stderr
    usage = orjson.loads(run_cli(sandbox, "usage", "--json").stdout)
    assert usage["total"] == 2
    log = run_cli(sandbox, "messages", "--json", "--per-page", "1", "--limit", "5").stdout.splitlines()
    assert [orjson.loads(line)["to_phone"] for line in log] == ["+201100000008", "+201100000009"]
    revoked = run_cli(sandbox, "usage", "--api-key", "sandbox-key-revoked")
    assert revoked.returncode == 1 and revoked.stderr.startswith("error: HTTP 401")
    assert "sandbox-key-revoked" not in revoked.stderr + revoked.stdout
    assert len(revoked.stderr.splitlines()) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["send-bulk", "m.csv", "--sender", SENDER, "--shard", "2/2"], "0 <= I < N"),
    (["send-bulk", "m.csv"], "one of the arguments --sender --sender-id is required"),
    (["send-bulk", "m.txt", "--sender", SENDER], "use .csv or .jsonl"),
    (["send", "--to", "+2011", "--text", "x", "--sender", SENDER], "E.164"),
])
def test_usage_errors_exit_2(sandbox: ThreadSandbox, tmp_path: Path, args: list[str], message: str) -> None:
    """Bad arguments and bad input files exit 2 with a one-line reason."""
    write_csv(tmp_path / "m.csv", text_rows(1))
    (tmp_path / "m.txt").write_text("x")
    proc = subprocess.run([*CLI, *args], env=_env(sandbox), capture_output=True, text=True, timeout=30,
                          cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_missing_key_is_a_usage_error(tmp_path: Path) -> None:
    """Without TGO_API_KEY the CLI says how to set it."""
    proc = run_cli(None, "usage")
    assert proc.returncode == 2 and "TGO_API_KEY" in proc.stderr


def test_demo_passes_its_ledger_check() -> None:
    """The demo onboards a sender, sends through faults and verifies the ledger: exit 0."""
    proc = run_cli(None, "demo", "--count", "300", "--plain", timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Account verification pending (no new OTP needed)" in proc.stdout
    assert "PASS: no duplicates, nothing lost" in proc.stdout


def test_redis_shared_quota_between_shards(sandbox: ThreadSandbox, tmp_path: Path) -> None:
    """Two shard workers started together share one Redis quota and still deliver every row once."""
    from tests.redis_server import RedisUnavailableError, in_ci, redis_server, redis_server_binary

    try:
        redis_server_binary()
    except RedisUnavailableError as exc:
        if in_ci():
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    rows = text_rows(60, "q")
    data = write_csv(tmp_path / "m.csv", rows)
    with redis_server() as url:
        procs = [_start(sandbox, "send-bulk", str(data), "--sender", SENDER, "--shard", f"{i}/2",
                        "--rate", "40", "--redis-url", url, "--checkpoint", str(tmp_path / f"ck{i}.jsonl"))
                 for i in (0, 1)]
        results = [p.communicate(timeout=30) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], results
    assert sandbox.ledger_items() == Counter({(r["to_phone"], r["content"]): 1 for r in rows})
    times = sorted(sandbox.state(lambda s: [r.received_at for r in s.requests
                                            if r.path == "/api/v1/messages"]))
    # 40/s shared by both workers (burst 2): 60 sends take ~1.5 s, and no 1 s window holds much more
    # than 40 of them; two separate 40/s quotas would finish in ~0.75 s with ~80 in a second.
    assert times[-1] - times[0] > 1.2
    assert max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)) <= 46


def test_checkpoint_refuses_rows_shifted_by_an_edited_file(sandbox: ThreadSandbox, tmp_path: Path) -> None:
    """Line-number refs shift when a row is inserted: the checkpoint contradicts them, nothing is resent."""
    data = tmp_path / "m.csv"
    lines = [f"+2011{i:08d},hello {i}" for i in range(5)]
    data.write_text("to_phone,content\n" + "\n".join(lines) + "\n")
    ck = tmp_path / "ck.jsonl"
    first = run_cli(sandbox, "send-bulk", str(data), "--sender", SENDER, "--checkpoint", str(ck))
    assert first.returncode == 0, first.stderr
    data.write_text("to_phone,content\n+201199999999,new row\n" + "\n".join(lines) + "\n")
    proc = run_cli(sandbox, "send-bulk", str(data), "--sender", SENDER, "--checkpoint", str(ck), "--json")
    assert proc.returncode == 1, proc.stderr
    assert orjson.loads(proc.stdout)["sent"] == 0, proc.stderr
    assert proc.stderr.count("the file changed") == 6
    assert not sandbox.state(lambda s: s.duplicates()) and sandbox.state(lambda s: len(s.ledger)) == 5


def test_reconcile_settles_unknown_rows_found_in_the_log(sandbox: ThreadSandbox, tmp_path: Path) -> None:
    """Rows left unknown by dropped connections are settled by `reconcile`: the applied ones become sent,
    a re-run with --resend-unknown sends only the rest, and nothing is duplicated."""
    src = write_csv(tmp_path / "m.csv", text_rows(12))
    ckpt = tmp_path / "c.jsonl"
    sandbox.state(lambda s: s.faults.script(SEND, [FaultKind.DROP_AFTER, FaultKind.DROP_BEFORE]))
    first = run_cli(sandbox, "send-bulk", str(src), "--sender", SENDER, "--checkpoint", str(ckpt),
                    "--concurrency", "1")
    assert first.returncode == 1
    assert sorted(last_status(ckpt).values()).count("unknown") == 2
    rec = run_cli(sandbox, "reconcile", str(ckpt), "--json")
    assert rec.returncode == 1, rec.stderr
    result = orjson.loads(rec.stdout)
    assert list(result["found"]) == ["r0"] and result["not_found"] == ["r1"]
    assert last_status(ckpt)["r0"] == "sent" and last_status(ckpt)["r1"] == "failed"
    again = run_cli(sandbox, "send-bulk", str(src), "--sender", SENDER, "--checkpoint", str(ckpt))
    assert again.returncode == 0, again.stderr
    assert max(sandbox.ledger_items().values()) == 1 and sum(sandbox.ledger_items().values()) == 12
