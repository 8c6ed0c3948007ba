"""Fifty thousand requests, a third of which time out: nothing is left behind."""

from __future__ import annotations

import gc
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator

import anyio
import pytest

from kafkarpc import (
    InMemoryIdempotencyStore,
    Limits,
    RequestTimeout,
    RpcClient,
    RpcServer,
    TopicTrio,
    ensure_topics,
)

pytestmark = pytest.mark.anyio

TOTAL = 50_000
WARM_UP = 5_000
CONCURRENCY = 400
# Many partitions: the embedded broker lists every stored batch of a partition on
# each fetch, so spreading 50k requests keeps each partition short.
PARTITIONS = 12


@pytest.mark.timeout(300)
async def test_fifty_thousand_requests_with_a_third_timing_out_leave_nothing_behind(
    kafkarpc_broker: str, make_server: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    served = TopicTrio.from_base(f"{unique_topic_base}.served")
    ignored = TopicTrio.from_base(f"{unique_topic_base}.ignored")  # nobody answers these
    await ensure_topics(kafkarpc_broker, [served, ignored], partitions=PARTITIONS)
    # The responder shares this process: give it an idempotency store that is full
    # after the warm-up, so its (bounded) growth does not hide the client's.
    server = make_server(
        limits=Limits(max_concurrency=128),
        idempotency_store=InMemoryIdempotencyStore(max_entries=1000),
    )

    @server.responder(served)
    async def echo(payload: dict[str, int]) -> dict[str, int]:
        return payload

    outcomes: Counter[str] = Counter()

    async def run(client: RpcClient, numbers: range) -> None:
        queue: Iterator[int] = iter(numbers)

        async def worker() -> None:
            for n in queue:
                try:
                    if n % 3 == 0:
                        await client.request(ignored, {"n": n}, timeout=0.3)
                    else:
                        assert await client.request(served, {"n": n}, timeout=60) == {"n": n}
                    outcomes["ok"] += 1
                except RequestTimeout:
                    outcomes["timeout"] += 1

        async with anyio.create_task_group() as tg:
            for _ in range(CONCURRENCY):
                tg.start_soon(worker)

    async with (
        server,
        RpcClient(kafkarpc_broker, service="soak", limits=Limits(max_in_flight=1000)) as client,
    ):
        await run(client, range(WARM_UP))
        gc.collect()
        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            before = tracemalloc.take_snapshot()
            await run(client, range(WARM_UP, TOTAL))
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - baseline
            growth = tracemalloc.take_snapshot().compare_to(before, "lineno")[:5]
        finally:
            tracemalloc.stop()
        assert client.pending_count == 0

    timeouts = len(range(0, TOTAL, 3))
    assert outcomes == {"ok": TOTAL - timeouts, "timeout": timeouts}
    # 45,000 calls went through; anything kept per call (even 100 bytes) would show.
    top = "\n".join(str(stat) for stat in growth)
    assert grown < 3_000_000, f"memory grew by {grown} bytes over 45k requests:\n{top}"
    assert client.stats.requests == TOTAL
