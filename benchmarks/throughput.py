"""Sends per second: ``client.messages.send_text`` (default stack) versus raw aiohttp, side by side.

Both post the same JSON to the same loopback server from one process and one loop. The library runs
its whole default stack: limiter on (set high enough never to throttle), retry policy on, the
response decoded into a ``Message``. Raw aiohttp is what a careful user would write by hand: one
``ClientSession``, ``session.post(url, data=orjson bytes, headers=...)``, ``await resp.read()``,
``orjson.loads``. Blocks alternate which side goes first; the figure is the median of the per-block
ratios, so drift of the machine during the run cancels out. Client CPU per request
(``time.process_time``) is reported too: when the server process is the bottleneck the req/s ratio
flatters the client, the CPU ratio does not.

    python -m benchmarks.throughput [--blocks 24] [--seconds 0.5] [--loop asyncio|uvloop] [--sock-read]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import orjson

from . import _common as c

NAME = "throughput"
PAYLOAD = {"sender_phone": c.SENDER, "to_phone": c.RECIPIENT, "type": "text", "content": c.CONTENT}
HEADERS = {"X-Api-Key": c.API_KEY, "Accept": "application/json", "Content-Type": "application/json",
           "User-Agent": "bench"}
MAX_PER_BLOCK = 200_000  # a count bound beside the time bound

Call = Callable[[], Awaitable[Any]]


async def _block(call: Call, concurrency: int, seconds: float) -> tuple[float, float]:
    """Run ``call`` from ``concurrency`` workers for ``seconds``; (requests/s, client CPU µs/request)."""
    loop = asyncio.get_running_loop()
    done = 0
    end = loop.time() + seconds

    async def worker() -> None:
        nonlocal done
        while done < MAX_PER_BLOCK and loop.time() < end:
            await call()
            done += 1

    cpu0, t0 = time.process_time_ns(), time.perf_counter_ns()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time_ns() - cpu0, time.perf_counter_ns() - t0
    return done / (wall / 1e9), cpu / done / 1e3


async def _compare(base_url: str, concurrencies: Sequence[int], blocks: int, seconds: float,
                   sock_read: bool) -> dict[str, Any]:
    import tgo_async

    url = base_url + c.PATH
    out: dict[str, Any] = {}
    async with tgo_async.Client(api_key=c.API_KEY, base_url=base_url, rate_limit=1e9) as client, \
            aiohttp.ClientSession() as raw_session, \
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_connect=5,
                                                                sock_read=30)) as timed_session:
        send_text = client.messages.send_text

        async def lib() -> Any:
            return await send_text(sender_phone=c.SENDER, to_phone=c.RECIPIENT, content=c.CONTENT)

        def raw_with(session: aiohttp.ClientSession) -> Call:
            async def raw() -> Any:
                async with session.post(url, data=orjson.dumps(PAYLOAD), headers=HEADERS) as resp:
                    body = await resp.read()
                    if resp.status != 201:
                        raise RuntimeError(f"server answered {resp.status}")
                return orjson.loads(body)

            return raw

        contenders: dict[str, Call] = {"raw": raw_with(raw_session), "lib": lib}
        if sock_read:
            contenders["raw+sock_read"] = raw_with(timed_session)
        for conc in concurrencies:
            for call in contenders.values():  # warm up: connections, caches, lazy imports
                await _block(call, conc, min(seconds, 0.3))
            rps: dict[str, list[float]] = {k: [] for k in contenders}
            cpu: dict[str, list[float]] = {k: [] for k in contenders}
            names = list(contenders)
            for i in range(blocks):
                order = names[i % len(names):] + names[:i % len(names)]
                if i % 2:
                    order.reverse()
                for name in order:
                    r, u = await _block(contenders[name], conc, seconds)
                    rps[name].append(r)
                    cpu[name].append(u)
            result: dict[str, Any] = {"blocks": blocks, "seconds_per_block": seconds, "rps": rps,
                                      "cpu_us": cpu}
            for name in names[1:]:
                ratios = [a / b for a, b in zip(rps[name], rps["raw"], strict=True)]
                cpu_ratios = [a / b for a, b in zip(cpu[name], cpu["raw"], strict=True)]
                result[f"{name}_ratio"] = c.summary(ratios)
                result[f"{name}_cpu_ratio"] = c.summary(cpu_ratios)
            out[str(conc)] = result
    return out


def _rows(loop: str, results: dict[str, Any]) -> list[list[str]]:
    rows = []
    for conc, r in results.items():
        for name in r["rps"]:
            if name == "raw":
                continue
            ratio = r[f"{name}_ratio"]
            rows.append([
                loop, conc, name,
                f"{statistics.median(r['rps']['raw']):,.0f}", f"{statistics.median(r['rps'][name]):,.0f}",
                f"**{ratio['median']:.3f}×**", f"{ratio['q1']:.3f}–{ratio['q3']:.3f}",
                f"{ratio['min']:.3f}–{ratio['max']:.3f}",
                f"{statistics.median(r['cpu_us']['raw']):.0f} / {statistics.median(r['cpu_us'][name]):.0f}",
                f"{r[f'{name}_cpu_ratio']['median']:.3f}×",
            ])
    return rows


HEADERS_TABLE = ["loop", "concurrency", "vs raw", "raw req/s", "client req/s", "ratio (median)", "IQR",
                 "min–max", "client CPU µs/req raw / ours", "CPU ratio"]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=24, help="paired blocks per cell (>= 12)")
    parser.add_argument("--seconds", type=float, default=0.5, help="seconds per block and side")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default=None, help="only this loop")
    parser.add_argument("--sock-read", action="store_true",
                        help="also time raw aiohttp with ClientTimeout(sock_read=30) (a timer per read)")
    args = parser.parse_args(argv)
    blocks, seconds = max(1, args.blocks), min(max(0.05, args.seconds), 10.0)
    results: dict[str, Any] = {}
    with c.server() as base_url:
        for loop in c.loops(args.loop):
            results[loop] = c.run(_compare(base_url, args.concurrency, blocks, seconds, args.sock_read),
                                  use_uvloop=loop == "uvloop")
    rows = [row for loop, r in results.items() for row in _rows(loop, r)]
    print(f"\nthroughput — {c.machine_line()}")
    print(c.table(HEADERS_TABLE, rows))
    if "asyncio" in results and "uvloop" in results:
        for conc in results["asyncio"]:
            a = statistics.median(results["asyncio"][conc]["rps"]["lib"])
            u = statistics.median(results["uvloop"][conc]["rps"]["lib"])
            print(f"uvloop effect on the client at concurrency {conc}: {u / a:.2f}× req/s "
                  f"({a:,.0f} -> {u:,.0f})")
    path = c.write_json(NAME, {"results": results})
    print(f"wrote {path.relative_to(c.ROOT)}")
    return results


if __name__ == "__main__":
    main()
