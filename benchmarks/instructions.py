"""CPU instructions per request, ``send_text`` versus raw aiohttp, counted by valgrind (callgrind).

Why: on a shared 2-core VM the wall-clock ratios of ``throughput.py`` swing by ±10% from block to
block. An instruction count does not: the same code path gives the same count to within ~0.3%, so
this is the figure to compare commits by. It does not see kernel time (system calls) or cache
misses, which is why ``throughput.py`` stays the headline.

How: the client process runs under ``valgrind --tool=callgrind`` (the loopback server, in its own
process, does not). Each side runs twice, with a small and a large number of requests after the
same warm-up; the difference of the two totals over the difference of the counts is the cost of
one request, free of interpreter start-up and imports. Runs go two at a time, one per core.

Needs ``valgrind`` on PATH (Debian package ``valgrind``); without it the script says so and exits 0.

    python -m benchmarks.instructions [--small 500] [--large 2500] [--concurrency 1 100]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import _common as c

NAME = "instructions"
WARMUP = 300
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


async def _probe(mode: str, count: int, concurrency: int, base_url: str) -> None:
    """The measured process: WARMUP + ``count`` requests from ``concurrency`` workers, nothing else."""
    import aiohttp
    import orjson

    import tgo_async

    from .throughput import HEADERS, PAYLOAD

    url = base_url + c.PATH
    async with tgo_async.Client(api_key=c.API_KEY, base_url=base_url, rate_limit=1e9) as client, \
            aiohttp.ClientSession() as session:
        send_text = client.messages.send_text

        async def lib() -> Any:
            return await send_text(sender_phone=c.SENDER, to_phone=c.RECIPIENT, content=c.CONTENT)

        async def raw() -> Any:
            async with session.post(url, data=orjson.dumps(PAYLOAD), headers=HEADERS) as resp:
                body = await resp.read()
            return orjson.loads(body)

        call = lib if mode == "lib" else raw
        left = WARMUP + count

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await call()

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def _count(mode: str, count: int, concurrency: int, base_url: str) -> int:
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m",
           "benchmarks.instructions", "_probe", mode, str(count), str(concurrency), base_url]
    out = subprocess.run(cmd, cwd=c.ROOT, capture_output=True, text=True, timeout=600, check=True)
    match = _COLLECTED.search(out.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output: {out.stderr[-500:]}")
    return int(match.group(1))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=500, help="requests in the short run")
    parser.add_argument("--large", type=int, default=2500, help="requests in the long run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 100])
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("instructions: skipped, valgrind is not installed (Debian package 'valgrind')")
        return {"skipped": "valgrind not found"}
    small, large = max(50, args.small), max(args.small + 100, min(args.large, 20_000))
    jobs = [(mode, n, conc) for conc in args.concurrency for mode in ("raw", "lib") for n in (small, large)]
    with c.server() as base_url, ThreadPoolExecutor(max_workers=2) as pool:
        totals = dict(zip(jobs, pool.map(lambda job: _count(*job, base_url), jobs), strict=True))
    results: dict[str, Any] = {}
    rows = []
    for conc in args.concurrency:
        per = {mode: (totals[(mode, large, conc)] - totals[(mode, small, conc)]) / (large - small)
               for mode in ("raw", "lib")}
        ratio = per["lib"] / per["raw"]
        results[str(conc)] = {"raw": per["raw"], "lib": per["lib"], "ratio": ratio}
        rows.append([conc, f"{per['raw']:,.0f}", f"{per['lib']:,.0f}", f"{per['lib'] - per['raw']:+,.0f}",
                     f"**{ratio:.3f}×**"])
    print(f"\ninstructions per request (callgrind, asyncio loop) — {c.machine_line()}")
    print(c.table(["concurrency", "raw aiohttp", "send_text", "added", "ratio"], rows))
    path = c.write_json(NAME, {"small": small, "large": large, "results": results})
    print(f"wrote {path.relative_to(c.ROOT)}")
    return results


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_probe":
        asyncio.run(_probe(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
    else:
        main()
