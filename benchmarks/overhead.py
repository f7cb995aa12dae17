"""CPU microseconds each layer adds to one successful send, and GC collections per 1,000 requests.

Each layer is timed in isolation, against what raw aiohttp code does in its place, by
``time.process_time_ns`` over a bounded loop; rounds of the layer and of its baseline alternate and
the median difference is reported:

* limiter: ``ScopedRateLimiter.acquire`` + ``on_response`` (the default limiter, rate high enough
  never to wait) versus nothing;
* retry wrapper: ``Requester.send`` (retry policy, budget, first attempt awaited inline) versus the
  attempt itself (``Requester._exchange``), both over a transport that answers at once;
* request build: ``prepare_text`` (E.164 and content checks, ``orjson.dumps``) versus ``orjson.dumps``;
* response decode: ``RawResponse`` + status check + ``decode_json`` + ``message_from_body`` (envelope
  and ``Message``, through the converter's fast path) versus ``orjson.loads``;
* whole stack without I/O: ``client.messages.send_text`` over a transport that answers at once versus
  the raw code over the same fake, so everything the library adds except aiohttp itself;
* transport: ``Transport.request`` versus ``session.post`` + ``read`` to the loopback server (this one
  includes real I/O, so it is noisier: client CPU per request, paired blocks).

GC: ``gc.callbacks`` counts collections per generation over the same number of loopback requests for
``send_text`` and raw aiohttp.

    python -m benchmarks.overhead [--rounds 21] [--calls 5000] [--loopback-calls 600] [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from . import _common as c

NAME = "overhead"
PAYLOAD = {"sender_phone": c.SENDER, "to_phone": c.RECIPIENT, "type": "text", "content": c.CONTENT}
HEADERS = {"X-Api-Key": c.API_KEY, "Accept": "application/json", "Content-Type": "application/json",
           "User-Agent": "bench"}
RESPONSE_HEADERS = CIMultiDictProxy(CIMultiDict({
    "Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(c.MESSAGE_BODY)),
    "Date": "Sat, 10 Jan 2025 08:00:00 GMT", "Server": "Python/3.11 aiohttp/3.14.5",
}))

Loop = Callable[[int], Awaitable[None]]


async def _cpu_ns(body: Loop, calls: int) -> float:
    t0 = time.process_time_ns()
    await body(calls)
    return (time.process_time_ns() - t0) / calls


async def _paired(ours: Loop, base: Loop, rounds: int, calls: int,
                  budget_s: float = 20.0) -> dict[str, float]:
    """Median over rounds of (ours - base) CPU ns per call; rounds alternate which runs first."""
    await ours(min(calls, 2000))
    await base(min(calls, 2000))
    diffs, o_all, b_all = [], [], []
    deadline = time.monotonic() + budget_s
    for i in range(rounds):
        if i % 2:
            b = await _cpu_ns(base, calls)
            o = await _cpu_ns(ours, calls)
        else:
            o = await _cpu_ns(ours, calls)
            b = await _cpu_ns(base, calls)
        diffs.append(o - b)
        o_all.append(o)
        b_all.append(b)
        if time.monotonic() > deadline:
            break
    return {"added_us": statistics.median(diffs) / 1e3, "ours_us": statistics.median(o_all) / 1e3,
            "base_us": statistics.median(b_all) / 1e3, "rounds": len(diffs),
            "spread_us": (max(diffs) - min(diffs)) / 1e3}


def _fake_client(base_url: str, *, rate_limit: float | None = 1e9) -> Any:
    """A Client whose transport answers every request at once with the benchmark's 201 body."""
    import tgo_async
    from tgo_async._transport import RawResponse

    client = tgo_async.Client(api_key=c.API_KEY, base_url=base_url, rate_limit=rate_limit)

    async def request(method: str, url: Any, **kwargs: Any) -> Any:
        return RawResponse(201, RESPONSE_HEADERS, c.MESSAGE_BODY)

    client._transport.request = request
    return client


async def _layers(rounds: int, calls: int) -> dict[str, dict[str, float]]:
    from tgo_async._converter import message_from_body
    from tgo_async._http import decode_json
    from tgo_async._prepare import prepare_text
    from tgo_async._scoped_limiter import ScopedRateLimiter
    from tgo_async._transport import RawResponse

    out: dict[str, dict[str, float]] = {}

    async def empty(n: int) -> None:
        for _ in range(n):
            pass

    limiter = ScopedRateLimiter(1e9)

    async def limit(n: int) -> None:
        acquire, on_response, h = limiter.acquire, limiter.on_response, RESPONSE_HEADERS
        try_acquire = getattr(limiter, "try_acquire", None)
        for _ in range(n):
            if try_acquire is None or not try_acquire(c.SENDER):  # as the requester does
                await acquire(c.SENDER)
            on_response(c.SENDER, 201, h, None)

    out["limiter acquire + feedback"] = await _paired(limit, empty, rounds, calls)

    from tgo_async._requester import Requester

    fake = _fake_client("http://127.0.0.1:9")
    requester: Requester = fake._requester
    requester.limiter = None  # timed above
    url = fake.messages._url
    prepared = prepare_text(c.SENDER, None, c.RECIPIENT, c.CONTENT)

    async def wrapped(n: int) -> None:  # the retry policy's share: Requester.send around one attempt
        send = requester.send
        for _ in range(n):
            await send(url, prepared)

    async def direct(n: int) -> None:
        exchange = requester._exchange
        for _ in range(n):
            await exchange("POST", url, prepared.json_body, prepared, prepared.sender, None)

    out["retry wrapper"] = await _paired(wrapped, direct, rounds, calls)

    async def build(n: int) -> None:
        for _ in range(n):
            prepare_text(c.SENDER, None, c.RECIPIENT, c.CONTENT)

    async def dumps(n: int) -> None:
        for _ in range(n):
            orjson.dumps(PAYLOAD)

    out["request build"] = await _paired(build, dumps, rounds, calls)

    async def decode(n: int) -> None:  # what Requester._exchange and send_text do with a 201
        for _ in range(n):
            raw = RawResponse(201, RESPONSE_HEADERS, c.MESSAGE_BODY)
            if raw.status < 300:
                message_from_body(decode_json(raw.body) if raw.body else None)

    async def loads(n: int) -> None:
        for _ in range(n):
            orjson.loads(c.MESSAGE_BODY)

    out["response decode"] = await _paired(decode, loads, rounds, calls)

    full = _fake_client("http://127.0.0.1:9")

    async def stack(n: int) -> None:
        send_text = full.messages.send_text
        for _ in range(n):
            await send_text(sender_phone=c.SENDER, to_phone=c.RECIPIENT, content=c.CONTENT)

    async def raw_answer() -> bytes:
        return c.MESSAGE_BODY

    async def raw_stack(n: int) -> None:
        for _ in range(n):
            orjson.dumps(PAYLOAD)
            orjson.loads(await raw_answer())

    out["whole stack, no I/O"] = await _paired(stack, raw_stack, rounds, calls)
    await full.aclose()
    await fake.aclose()
    return out


class _GcCounter:
    """Counts collections per generation while installed in ``gc.callbacks``."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.counts[info["generation"]] += 1

    def __enter__(self) -> _GcCounter:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


async def _loopback(base_url: str, rounds: int, calls: int) -> dict[str, Any]:
    import tgo_async

    url = base_url + c.PATH
    out: dict[str, Any] = {}
    async with tgo_async.Client(api_key=c.API_KEY, base_url=base_url, rate_limit=1e9) as client, \
            aiohttp.ClientSession() as session:
        transport = client._transport
        target = client.messages._url

        async def via_transport(n: int) -> None:
            for _ in range(n):
                raw = await transport.request("POST", target, json=orjson.dumps(PAYLOAD))
                orjson.loads(raw.body)

        async def raw(n: int) -> None:
            for _ in range(n):
                async with session.post(url, data=orjson.dumps(PAYLOAD), headers=HEADERS) as resp:
                    body = await resp.read()
                orjson.loads(body)

        async def lib(n: int) -> None:
            send_text = client.messages.send_text
            for _ in range(n):
                await send_text(sender_phone=c.SENDER, to_phone=c.RECIPIENT, content=c.CONTENT)

        out["transport (loopback)"] = await _paired(via_transport, raw, rounds, calls, budget_s=30)
        out["send_text end to end (loopback)"] = await _paired(lib, raw, rounds, calls, budget_s=30)

        gc_counts: dict[str, list[float]] = {}
        per = 1000 / (calls * rounds)
        for name, body in (("raw aiohttp", raw), ("send_text", lib)):
            gc.collect()
            with _GcCounter() as counter:
                for _ in range(rounds):
                    await body(calls)
            gc_counts[name] = [n * per for n in counter.counts]
    return {"layers": out, "gc_per_1000": gc_counts}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.overhead", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--calls", type=int, default=5000, help="calls per round for the in-memory layers")
    parser.add_argument("--loopback-calls", type=int, default=600, help="requests per round over loopback")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--no-loopback", action="store_true", help="only the in-memory layers (no server)")
    args = parser.parse_args(argv)
    rounds = max(3, args.rounds)
    use_uvloop = args.loop == "uvloop"
    layers = c.run(_layers(rounds, max(100, min(args.calls, 200_000))), use_uvloop=use_uvloop)
    loop_res: dict[str, Any] = {"layers": {}, "gc_per_1000": {}}
    if not args.no_loopback:
        with c.server() as base_url:
            loop_res = c.run(_loopback(base_url, rounds, max(100, min(args.loopback_calls, 20_000))),
                             use_uvloop=use_uvloop)
    layers.update(loop_res["layers"])
    isolated = ("limiter acquire + feedback", "retry wrapper", "request build", "response decode")
    total = sum(layers[k]["added_us"] for k in isolated)
    rows = [[k, f"{v['base_us']:.2f}", f"{v['ours_us']:.2f}", f"**{v['added_us']:+.2f}**",
             f"{v['spread_us']:.2f}"] for k, v in layers.items()]
    rows.insert(len(isolated), ["sum of the four layers", "", "", f"**{total:+.2f}**", ""])
    print(f"\noverhead ({args.loop}) — {c.machine_line()}")
    print(c.table(["layer", "raw µs/call", "ours µs/call", "added µs (median)", "spread µs"], rows))
    g = loop_res["gc_per_1000"]
    print(c.table(["GC collections per 1,000 requests", "gen0", "gen1", "gen2"],
                  [[k, *(f"{x:.2f}" for x in v)] for k, v in g.items()]))
    path = c.write_json(NAME, {"loop": args.loop, "layers": layers, "sum_of_layers_us": total,
                               "gc_per_1000": g})
    print(f"wrote {path.relative_to(c.ROOT)}")
    return {"layers": layers, "sum_of_layers_us": total, "gc_per_1000": g}


if __name__ == "__main__":
    main()
