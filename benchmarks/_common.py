"""Shared by every benchmark: the loopback server, machine facts, paired-block statistics, output.

The server is a minimal ``aiohttp.web`` app in its own process (so it does not share the client's
interpreter or GIL), bound to 127.0.0.1 only. It answers ``POST /api/v1/messages`` with a small
201 message body like the sandbox's; a multipart upload is hashed chunk by chunk and discarded,
so a 20 MB document never sits in the server's memory either.

Run as ``python -m benchmarks._common serve [--uvloop]``: it prints its port on the first line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PATH = "/api/v1/messages"
API_KEY = "bench-key-0123456789abcdef"
SENDER = "+201001187188"
RECIPIENT = "+201001234567"
CONTENT = "Your verification code is 482913. It expires in 10 minutes."

# What the sandbox answers for a text send, as bytes built once: the server should cost little.
MESSAGE_BODY = json.dumps({
    "id": 1042, "sender_number_id": 12, "to_phone": RECIPIENT, "message_type": "text",
    "content": CONTENT, "status": "queued", "sent_at": "2025-01-10T08:00:00.000000Z", "media": None,
}, separators=(",", ":")).encode()


# --- the server ------------------------------------------------------------------------------------


def _make_app() -> Any:
    from aiohttp import web

    async def send(request: web.Request) -> web.Response:
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            digest = hashlib.sha256()
            size = 0
            while (part := await reader.next()) is not None:
                while chunk := await part.read_chunk(256 * 1024):  # type: ignore[union-attr]
                    if getattr(part, "filename", None):
                        size += len(chunk)
                        digest.update(chunk)
            media = {"size": size, "sha256": digest.hexdigest()}
            body = json.dumps({"id": 1043, "message_type": "document", "status": "queued",
                               "sent_at": "2025-01-10T08:00:00Z", "media": media}).encode()
            return web.Response(status=201, body=body, content_type="application/json")
        await request.read()
        return web.Response(status=201, body=MESSAGE_BODY, content_type="application/json")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post(PATH, send)
    return app


async def _serve() -> None:
    from aiohttp import web

    runner = web.AppRunner(_make_app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(port, flush=True)
    try:
        # Exits when the parent closes our stdin (or dies): never outlives the benchmark.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def server(*, use_uvloop: bool = True) -> Iterator[str]:
    """Start the server process; yield its base URL; stop it (by its own pid) on exit."""
    cmd = [sys.executable, "-m", "benchmarks._common", "serve"]
    if use_uvloop and has_uvloop():
        cmd.append("--uvloop")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"benchmark server did not start (said {line!r})")
        yield f"http://{HOST}:{int(line)}"
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# --- loops -----------------------------------------------------------------------------------------


def has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def run(coro: Any, *, use_uvloop: bool = False) -> Any:
    """Run a coroutine on a fresh loop: asyncio's default or uvloop (never installed as the policy)."""
    if use_uvloop:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    return asyncio.run(coro)


def loops(only: str | None = None) -> list[str]:
    """The loop names to run: ``asyncio`` and, when installed, ``uvloop``."""
    names = ["asyncio"] + (["uvloop"] if has_uvloop() else [])
    return [n for n in names if only in (None, n)]


# --- machine and versions --------------------------------------------------------------------------


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    return {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu_model(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {d: _version(d) for d in
                     ("tgo_async", "aiohttp", "orjson", "cattrs", "attrs", "tenacity", "uvloop", "yarl",
                      "multidict")},
    }


def machine_line(info: dict[str, Any] | None = None) -> str:
    m = info or machine()
    v = m["versions"]
    return (f"{m['date']} · {m['nproc']} CPU ({m['cpu']}) · {m['os']} · Python {m['python']} · "
            f"aiohttp {v['aiohttp']} · uvloop {v['uvloop']}")


# --- statistics ------------------------------------------------------------------------------------


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        v = values[0] if values else float("nan")
        return v, v, v
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, quartiles and range of paired-block ratios (or any sample)."""
    q1, _, q3 = quartiles(values)
    return {"median": statistics.median(values), "q1": q1, "q3": q3, "min": min(values), "max": max(values),
            "n": len(values)}


# --- output ----------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table (prints fine in a terminal too)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n")
    return path


def _main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._common")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args(argv)
    run(_serve(), use_uvloop=args.uvloop)


if __name__ == "__main__":
    _main()
