"""The client's limiter against a rate-limited sandbox: it converges on the server's rate."""

from __future__ import annotations

import asyncio

import tgo_async
from tgo_async.sandbox import SandboxServer

R = 100.0  # the sandbox's limit, requests per second
TOTAL = 500
WARMUP = 100


async def test_client_configured_10x_too_fast_converges_on_the_server_rate() -> None:
    """Sandbox at R/s, client at 10R/s: after warm-up under 5% of requests are 429 and throughput >= 0.9R."""
    async with SandboxServer(rate_limit=R) as sb:
        async with tgo_async.Client(
            api_key="sandbox-key-all", base_url=sb.base_url, rate_limit=10 * R
        ) as client:
            done_at: list[float] = []
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(TOTAL):
                queue.put_nowait(i)

            async def worker() -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    await client.messages.send_text(
                        sender_phone="+201001187188", to_phone=f"+2011{i:08d}", content=f"rl {i}"
                    )
                    done_at.append(loop.time())

            await asyncio.gather(*(worker() for _ in range(32)))
        requests = sb.state.requests
        assert len(sb.state.ledger) == TOTAL
        assert not sb.state.duplicates()
        warm = done_at[WARMUP - 1]
        after = [r for r in requests if r.received_at > warm]
        limited = sum(r.status == 429 for r in after)
        share = limited / len(after)
        rate = (TOTAL - WARMUP) / (done_at[-1] - warm)
        print(f"\nRATE-LIMIT: 429s after warm-up {share:.1%} ({limited}/{len(after)}), {rate:.1f}/s")
        assert share < 0.05, f"429 share after warm-up {share:.1%} ({limited}/{len(after)})"
        assert rate >= 0.9 * R, f"throughput {rate:.1f}/s < 0.9 x {R}"
