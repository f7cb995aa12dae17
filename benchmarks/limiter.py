"""Limiter benchmark: tgo_async.TokenBucket against aiolimiter, side by side in one run.

Scenario (the issue's): ``--waiters`` tasks (1,000) each loop ``await limiter.acquire()`` against a
limiter set to ``--rate`` (1,000/s) for ``--duration`` seconds (10). Every limiter gets a fresh event loop.

Reported per limiter:
  rate          grants per second over the whole run (includes the initial burst)
  steady        grants per second after the first second (goal: within ±1% of --rate)
  out_of_order  grants made while an earlier request was still waiting (goal 0: strict FIFO)
  wait p50/p99/max  seconds from calling acquire() to being granted
  cpu           process CPU seconds during the run (time.process_time) and as % of wall time

aiolimiter is run twice: with the same rate and burst as the TokenBucket (``AsyncLimiter(rate/20, 1/20)``),
and as commonly written (``AsyncLimiter(rate, 1)``, a burst of a whole second).

A second table times the uncontended hot path (tokens available, nobody queued): ns per acquire().

    .venv/bin/python benchmarks/limiter.py                 # ~35 s
    .venv/bin/python benchmarks/limiter.py --duration 2    # quick look

Writes benchmarks/results/limiter.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiolimiter import AsyncLimiter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tgo_async._limiter import TokenBucket
from tgo_async._scoped_limiter import ScopedRateLimiter

RESULTS = Path(__file__).resolve().parent / "results" / "limiter.json"


async def run_contended(make: Callable[[], Any], waiters: int, duration: float) -> dict[str, Any]:
    """``waiters`` tasks hammer one limiter for ``duration`` s; measure rate, order, waits and CPU."""
    limiter = make()
    loop = asyncio.get_running_loop()
    seq = itertools.count()
    waiting: dict[int, None] = {}  # insertion-ordered: the first key is the oldest outstanding request
    grants: list[float] = []
    waits: list[float] = []
    out_of_order = 0
    start = loop.time() + 0.05
    end = start + duration

    async def worker() -> None:
        nonlocal out_of_order
        await asyncio.sleep(max(0.0, start - loop.time()))
        while True:
            me = next(seq)
            waiting[me] = None
            asked = loop.time()
            await limiter.acquire()
            now = loop.time()
            overtook = next(iter(waiting)) != me  # someone who asked earlier is still waiting
            del waiting[me]
            if now >= end:
                return
            out_of_order += overtook
            grants.append(now)
            waits.append(now - asked)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(*(worker() for _ in range(waiters)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    steady = sum(1 for t in grants if t >= start + 1.0) / (duration - 1.0) if duration > 1 else float("nan")
    waits.sort()
    return {
        "grants": len(grants),
        "rate": len(grants) / duration,
        "steady_rate": steady,
        "out_of_order": out_of_order,
        "wait_p50": statistics.median(waits),
        "wait_p99": waits[int(0.99 * (len(waits) - 1))],
        "wait_max": waits[-1],
        "cpu_s": cpu,
        "cpu_pct": 100 * cpu / wall,
        "ctx_switches": (ru1.ru_nvcsw + ru1.ru_nivcsw) - (ru0.ru_nvcsw + ru0.ru_nivcsw),
    }


async def run_uncontended(make: Callable[[], Any], calls: int, sender: bool = False) -> float:
    """ns per acquire() when tokens are always available and nobody waits."""
    limiter = make()
    acquire = limiter.acquire
    arg = ("+15550000000",) if sender else ()
    for _ in range(1000):
        await acquire(*arg)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls):
            await acquire(*arg)
        best = min(best, (time.perf_counter() - t0) / calls)
    return best * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiters", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    rate, burst = args.rate, max(1, round(args.rate / 20))

    contenders: dict[str, Callable[[], Any]] = {
        f"tgo_async.TokenBucket(rate={rate:g}, burst={burst})": lambda: TokenBucket(rate, burst),
        f"aiolimiter.AsyncLimiter({burst}, {burst / rate:g})": lambda: AsyncLimiter(burst, burst / rate),
        f"aiolimiter.AsyncLimiter({rate:g}, 1)": lambda: AsyncLimiter(rate, 1),
    }
    contended = {}
    for name, make in contenders.items():
        contended[name] = asyncio.run(run_contended(make, args.waiters, args.duration))
        print(f"  done: {name}", file=sys.stderr)

    huge = 1e12
    hot = {
        "tgo_async.TokenBucket": asyncio.run(run_uncontended(lambda: TokenBucket(huge, 10**9), 200_000)),
        "tgo_async.ScopedRateLimiter (global + sender)": asyncio.run(run_uncontended(
            lambda: ScopedRateLimiter(huge, burst=10**9, per_sender_rate=huge), 200_000, sender=True)),
        "aiolimiter.AsyncLimiter": asyncio.run(run_uncontended(lambda: AsyncLimiter(huge, 1), 200_000)),
    }

    print(f"\n{args.waiters} waiters, {rate:g}/s, {args.duration:g} s "
          f"(Python {platform.python_version()}, {os.cpu_count()} CPUs)\n")
    print("| limiter | rate /s | steady /s | out-of-order | wait p50 / p99 / max (s) | CPU s (% of wall) |")
    print("|---|---:|---:|---:|---|---:|")
    for name, r in contended.items():
        print(f"| {name} | {r['rate']:.1f} | {r['steady_rate']:.1f} | {r['out_of_order']} | "
              f"{r['wait_p50']:.3f} / {r['wait_p99']:.3f} / {r['wait_max']:.3f} | "
              f"{r['cpu_s']:.2f} ({r['cpu_pct']:.1f}%) |")
    print("\n| uncontended acquire() | ns/call |\n|---|---:|")
    for name, ns in hot.items():
        print(f"| {name} | {ns:.0f} |")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "benchmark": "limiter",
        "args": {"waiters": args.waiters, "rate": rate, "burst": burst, "duration": args.duration},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "contended": contended,
        "uncontended_ns_per_call": hot,
    }, indent=2) + "\n")
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
