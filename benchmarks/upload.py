"""A 20 MB document upload from a Path, from bytes and from a file object: throughput and peak RSS growth.

Each source runs in a fresh process against the loopback benchmark server (which hashes the upload
chunk by chunk and keeps nothing). RSS growth is ``ru_maxrss`` after the upload minus ``ru_maxrss``
after a small warm-up upload on the same client, with the source already prepared (for ``bytes`` the
20 MB object exists before the baseline: it is the caller's memory, not ours). Goal: path and file
object <= 2 MiB growth — the file is streamed, never read whole.

    python -m benchmarks.upload [--mib 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import API_KEY, RECIPIENT, ROOT, SENDER, machine_line, server, table, write_json

SOURCES = ("path", "bytes", "file")


def _maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def _upload(url: str, media: Any, warm_up: Any) -> dict[str, Any]:
    import tgo_async

    async with tgo_async.Client(api_key=API_KEY, base_url=url, rate_limit=None) as client:
        # the same kind of source, small: pool, executor thread and caches exist before the baseline
        await client.messages.send_document(sender_phone=SENDER, to_phone=RECIPIENT, media=warm_up)
        before = _maxrss_kib()
        start = time.perf_counter()
        msg = await client.messages.send_document(sender_phone=SENDER, to_phone=RECIPIENT, media=media)
        elapsed = time.perf_counter() - start
        growth = _maxrss_kib() - before
    assert msg.media is not None, msg
    return {"seconds": elapsed, "growth_kib": growth, "size": msg.media.size, "sha256": msg.media.sha256}


def _measure(source: str, url: str, path: Path) -> dict[str, Any]:
    """In the child: prepare the source (the caller's memory, not ours), then upload it once."""
    small = path.with_name("warm-up.pdf")
    small.write_bytes(b"%PDF-1.4 warm-up\n" * 4096)
    data = path.read_bytes() if source == "bytes" else None
    with path.open("rb") as handle, small.open("rb") as small_handle:
        media: Any = data if data is not None else handle if source == "file" else path
        warm: Any = small.read_bytes() if source == "bytes" else small_handle if source == "file" else small
        result = asyncio.run(_upload(url, media, warm))
    size = path.stat().st_size
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    ok = result["sha256"] == expected and result["size"] == size
    return {
        "source": source,
        "seconds": result["seconds"],
        "mib_per_s": size / 2**20 / result["seconds"],
        "growth_kib": result["growth_kib"],
        "sha256_ok": ok,
    }


def _child(source: str, url: str, path: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.upload", "--child", source, "--url", url, "--file", str(path)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.upload")
    parser.add_argument("--mib", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per source (median reported)")
    parser.add_argument("--child", choices=SOURCES)
    parser.add_argument("--url")
    parser.add_argument("--file", type=Path)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_measure(args.child, args.url, args.file)))
        return {}
    results: dict[str, list[dict[str, Any]]] = {s: [] for s in SOURCES}
    with tempfile.TemporaryDirectory(prefix="tgo-bench-") as tmp, server() as url:
        path = Path(tmp) / "report.pdf"
        with path.open("wb") as fh:
            block = hashlib.sha256(b"tgo").digest() * 32768  # 1 MiB, incompressible enough
            for _ in range(args.mib):
                fh.write(block)
        for _ in range(args.repeat):
            for source in SOURCES:  # interleaved, so drift hits every source alike
                results[source].append(_child(source, url, path))
    rows = []
    for source in SOURCES:
        runs = results[source]
        rows.append(
            [
                source,
                f"{statistics.median(r['mib_per_s'] for r in runs):.0f}",
                f"{statistics.median(r['growth_kib'] for r in runs) / 1024:.2f}",
                f"{max(r['growth_kib'] for r in runs) / 1024:.2f}",
                all(r["sha256_ok"] for r in runs),
            ]
        )
    print(machine_line())
    print(f"{args.mib} MiB document upload, fresh process per run, median of {args.repeat}")
    print(table(["source", "MiB/s", "RSS growth MiB (median)", "worst", "sha256 ok"], rows))
    worst = max(r["growth_kib"] for s in ("path", "file") for r in results[s]) / 1024
    print(f"goal: path and file object <= 2 MiB growth (worst {worst:.2f})")
    payload = {"mib": args.mib, "results": results, "worst_streamed_growth_mib": worst}
    write_json("upload", payload)
    return payload


if __name__ == "__main__":
    main()
