"""SyncClient.gather and SyncClient.stream over MemoryTransport: blocking, from many threads."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import anyio
import pytest
from tests.unit.conftest import create_trio

from kafkarpc import (
    ClientClosed,
    LifecycleError,
    MemoryBroker,
    MemoryTransport,
    Progress,
    RemoteError,
    RpcClient,
    RpcServer,
    SyncClient,
)
from kafkarpc.client.sync import GatherOptions, StreamOptions

pytestmark = pytest.mark.timeout(30)

ASK = "sync.ask"
COUNT = "sync.count"


async def count(payload: dict[str, int]) -> AsyncIterator[dict[str, int]]:
    for n in range(payload["n"]):
        yield {"i": n}


async def build(payload: dict[str, Any]) -> AsyncIterator[Progress]:
    for percent in (10, 100):
        yield Progress(work_item_id="w", progress_percentage=percent)


async def breaks(payload: dict[str, Any]) -> AsyncIterator[dict[str, int]]:
    yield {"i": 0}
    raise ValueError("broke")


async def answer(payload: dict[str, Any], service: str) -> dict[str, Any]:
    return {"from": service, **payload}


@pytest.fixture
def client(broker: MemoryBroker) -> Iterator[SyncClient]:
    """A SyncClient answered, on its own loop thread (the memory broker is not
    thread-safe), by two groups for ASK and one streaming responder per stream op."""
    for op in (ASK, COUNT, "sync.build", "sync.breaks"):
        create_trio(broker, op)
    with ExitStack() as stack:
        sync = stack.enter_context(
            SyncClient(transport=MemoryTransport(broker), service="sync-client")
        )
        for service in ("north", "south"):
            server = RpcServer(transport=MemoryTransport(broker), service=service, group_id=service)

            server.add_responder(ASK, functools.partial(answer, service=service))
            if service == "north":
                server.add_responder(COUNT, count)
                server.add_responder("sync.build", build)
                server.add_responder("sync.breaks", breaks)
            stack.enter_context(sync._portal.wrap_async_context_manager(server))
        yield sync


def test_gather_blocks_for_every_groups_reply(client: SyncClient) -> None:
    result = client.gather(ASK, {"q": 1}, expect=2, timeout=10)
    assert result.complete
    assert sorted(r["from"] for r in result.results) == ["north", "south"]
    assert client.pending_count == 0


def test_gather_on_timeout_is_incomplete(client: SyncClient) -> None:
    result = client.gather(ASK, {"q": 2}, expect=3, timeout=2)
    assert not result.complete
    assert sorted(result.services) == ["north", "south"]


def test_stream_is_a_plain_iterator_in_order(client: SyncClient) -> None:
    assert list(client.stream(COUNT, {"n": 200}, timeout=10)) == [{"i": n} for n in range(200)]
    steps = list(client.stream("sync.build", {}, item_model=Progress))
    assert [step.progress_percentage for step in steps] == [10, 100]


def test_stream_failure_raises_after_its_items(client: SyncClient) -> None:
    items = client.stream("sync.breaks", {}, timeout=10)
    assert next(items) == {"i": 0}
    with pytest.raises(RemoteError, match="broke"):
        next(items)


def test_leaving_a_stream_early_leaves_nothing_pending(client: SyncClient) -> None:
    for item in client.stream(COUNT, {"n": 1000}, timeout=10):
        if item["i"] == 5:
            break
    assert client.pending_count == 0


def test_eight_threads_gather_and_stream_at_once(client: SyncClient) -> None:
    threads = 8
    start_together = threading.Barrier(threads)

    def worker(index: int) -> tuple[list[str], list[dict[str, int]]]:
        start_together.wait()
        gathered = client.gather(ASK, {"t": index}, expect=2, timeout=20)
        streamed = list(client.stream(COUNT, {"n": 50 + index}, timeout=20))
        return sorted(gathered.services), streamed

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, range(threads)))
    for index, (services, streamed) in enumerate(results):
        assert services == ["north", "south"]
        assert streamed == [{"i": n} for n in range(50 + index)]
    assert client.pending_count == 0


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_gather_and_stream_inside_a_running_loop_are_refused(
    client: SyncClient, backend: str
) -> None:
    async def inside() -> None:
        with pytest.raises(LifecycleError, match=f"running {backend} event loop"):
            client.gather(ASK, {})
        with pytest.raises(LifecycleError, match="RpcClient"):
            client.stream(COUNT, {"n": 1})

    anyio.run(inside, backend=backend)
    assert client.stats.requests == 0


def test_gather_and_stream_after_close_raise_client_closed(broker: MemoryBroker) -> None:
    client = SyncClient(transport=MemoryTransport(broker), service="closed")
    client.close()
    with pytest.raises(ClientClosed):
        client.gather(ASK, {})
    with pytest.raises(ClientClosed):
        client.stream(COUNT, {"n": 1})


@pytest.mark.parametrize(
    ("method", "options"),
    [(RpcClient.gather, GatherOptions), (RpcClient.stream, StreamOptions)],
)
def test_options_are_rpc_clients_keywords(method: Any, options: Any) -> None:
    parameters = inspect.signature(method).parameters.values()
    keywords = {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert options.__optional_keys__ == keywords
