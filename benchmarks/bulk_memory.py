"""Peak RSS growth of ``send_many`` for 20k and 100k text sends, and throughput beside raw aiohttp.

Each measurement runs in a fresh process against the loopback benchmark server. RSS growth is
``ru_maxrss`` after the job minus ``ru_maxrss`` after a warm-up of the same client (pool, caches,
converter hooks), so it is what the job itself held at its peak. Goal: growth <= 5 MiB, and 20k vs
100k within 1 MiB (memory O(concurrency), not O(messages)). Raw aiohttp is a 64-worker pool posting
the same JSON, in a fresh process too.

    python -m benchmarks.bulk_memory [--sizes 20000,100000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from benchmarks._common import (
    API_KEY,
    CONTENT,
    PATH,
    RECIPIENT,
    ROOT,
    SENDER,
    machine_line,
    server,
    table,
    write_json,
)

WARMUP = 500


def _maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def _client_job(url: str, n: int, concurrency: int) -> dict[str, Any]:
    import tgo_async

    def items(count: int, tag: str) -> Iterator[tgo_async.TextMessage]:
        for i in range(count):
            yield tgo_async.TextMessage(
                to_phone=RECIPIENT, content=f"{CONTENT} {tag}{i}", sender_phone=SENDER, ref=f"{tag}{i}"
            )

    async with tgo_async.Client(api_key=API_KEY, base_url=url, rate_limit=1e9) as client:
        async with client.messages.send_many(items(WARMUP, "w"), concurrency=concurrency) as job:
            async for _ in job:
                pass
        before = _maxrss_kib()
        sent = 0
        start = time.perf_counter()
        async with client.messages.send_many(items(n, "m"), concurrency=concurrency) as job:
            async for outcome in job:
                sent += outcome.status == "sent"
        elapsed = time.perf_counter() - start
    return {
        "n": n,
        "sent": sent,
        "seconds": elapsed,
        "rate": n / elapsed,
        "growth_kib": _maxrss_kib() - before,
    }


async def _raw_job(url: str, n: int, concurrency: int) -> dict[str, Any]:
    import aiohttp
    import orjson

    headers = {"X-Api-Key": API_KEY, "Accept": "application/json", "Content-Type": "application/json"}
    target = url + PATH
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
        counter = iter(range(n))

        async def worker() -> int:
            ok = 0
            for i in counter:
                body = orjson.dumps(
                    {
                        "sender_phone": SENDER,
                        "to_phone": RECIPIENT,
                        "type": "text",
                        "content": f"{CONTENT} m{i}",
                    }
                )
                async with session.post(target, data=body, headers=headers) as resp:
                    orjson.loads(await resp.read())
                    ok += resp.status == 201
            return ok

        start = time.perf_counter()
        sent = sum(await asyncio.gather(*(worker() for _ in range(concurrency))))
        elapsed = time.perf_counter() - start
    return {"n": n, "sent": sent, "seconds": elapsed, "rate": n / elapsed}


def _child(kind: str, url: str, n: int, concurrency: int) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bulk_memory",
        "--child",
        kind,
        "--url",
        url,
        "--n",
        str(n),
        "--concurrency",
        str(concurrency),
    ]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bulk_memory")
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--child", choices=["client", "raw"])
    parser.add_argument("--url")
    parser.add_argument("--n", type=int)
    args = parser.parse_args(argv)
    if args.child:
        job = _client_job if args.child == "client" else _raw_job
        print(json.dumps(asyncio.run(job(args.url, args.n, args.concurrency))))
        return {}
    sizes = [int(s) for s in args.sizes.split(",")]
    rows, results = [], []
    with server() as url:
        for n in sizes:
            ours = _child("client", url, n, args.concurrency)
            raw = _child("raw", url, n, args.concurrency)
            results.append({"client": ours, "raw": raw})
            rows.append(
                [
                    f"{n:,}",
                    f"{ours['growth_kib'] / 1024:.2f}",
                    f"{ours['rate']:,.0f}",
                    f"{raw['rate']:,.0f}",
                    f"{ours['rate'] / raw['rate']:.2f}x",
                    f"{ours['sent']:,}",
                ]
            )
    growths = [r["client"]["growth_kib"] / 1024 for r in results]
    print(machine_line())
    print(f"send_many, concurrency {args.concurrency}, fresh process per row, loopback server")
    print(table(["messages", "peak RSS growth MiB", "send_many /s", "raw aiohttp /s", "ratio", "sent"], rows))
    spread = max(growths) - min(growths)
    print(f"goal: growth <= 5 MiB (worst {max(growths):.2f}); 20k vs 100k within 1 MiB (spread {spread:.2f})")
    payload = {
        "concurrency": args.concurrency,
        "results": results,
        "worst_growth_mib": max(growths),
        "spread_mib": spread,
    }
    write_json("bulk_memory", payload)
    return payload


if __name__ == "__main__":
    main()
