"""SyncClient on the real broker: many threads at once, errors unchanged, lifecycle."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal

from kafkarpc import (
    ClientClosed,
    LifecycleError,
    RemoteError,
    RequestTimeout,
    RpcServer,
    SyncClient,
    Topics,
    TopicTrio,
)

pytestmark = pytest.mark.timeout(60)


async def echo(payload: dict[str, Any]) -> dict[str, Any]:
    assert not payload.get("fail"), "asked to fail"
    return {"echo": payload}


@pytest.fixture
def sync_client(kafkarpc_broker: str) -> Iterator[SyncClient]:
    with SyncClient(kafkarpc_broker, service="sync-client", topics=Topics(create=True)) as client:
        yield client


@pytest.fixture
def served(serve: Callable[..., RpcServer]) -> Iterator[None]:
    """An RpcServer answering ``unique_topic_base`` with ``echo``, on its own loop thread."""
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(serve(echo)):
        yield


@pytest.mark.usefixtures("served")
def test_eight_threads_at_once_are_all_answered(
    sync_client: SyncClient, unique_topic_base: str
) -> None:
    threads, calls_each = 8, 20
    start_together = threading.Barrier(threads)

    def worker(index: int) -> list[dict[str, Any]]:
        start_together.wait()
        return [
            sync_client.request(unique_topic_base, {"t": index, "i": i}, timeout=20)
            for i in range(calls_each)
        ]

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, range(threads)))
    for index, replies in enumerate(results):
        assert replies == [{"echo": {"t": index, "i": i}} for i in range(calls_each)]
    assert sync_client.stats.succeeded == threads * calls_each
    assert sync_client.pending_count == 0


@pytest.mark.usefixtures("served")
def test_remote_error_reaches_the_caller_unchanged(
    sync_client: SyncClient, trio: TopicTrio
) -> None:
    with pytest.raises(RemoteError) as caught:
        sync_client.request(trio, {"fail": True}, timeout=20)
    error = caught.value
    assert (error.error_code, error.error_type) == ("HANDLER_ERROR", "AssertionError")
    assert error.topic == trio.failed


def test_timeout_reaches_the_caller_unchanged(
    sync_client: SyncClient, unique_topic_base: str
) -> None:
    with pytest.raises(RequestTimeout) as caught:
        sync_client.request(unique_topic_base, {}, timeout=0.5)
    assert caught.value.correlation_id


def test_a_closed_client_refuses_calls(sync_client: SyncClient, unique_topic_base: str) -> None:
    """Closing fails pending calls too: tests/unit/test_sync_client.py holds that."""
    sync_client.close()
    sync_client.close()
    with pytest.raises(ClientClosed):
        sync_client.request(unique_topic_base, {})
    with pytest.raises(ClientClosed):
        sync_client.publish(f"{unique_topic_base}.events.v1", {})


@pytest.mark.anyio
async def test_refused_inside_a_running_loop(
    sync_client: SyncClient, unique_topic_base: str
) -> None:
    with pytest.raises(LifecycleError, match="running asyncio event loop"):
        sync_client.request(unique_topic_base, {})
    assert sync_client.stats.requests == 0


async def pages(payload: dict[str, int]) -> AsyncIterator[dict[str, int]]:
    for page in range(payload["pages"]):
        yield {"page": page}


@pytest.fixture
def conversing(make_server: Callable[..., RpcServer], unique_topic_base: str) -> Iterator[str]:
    """Two groups answering ``unique_topic_base``; the first also streams pages on the
    operation it yields."""
    streamed = f"{unique_topic_base}.pages"
    with start_blocking_portal() as portal, ExitStack() as stack:
        for service in ("north", "south"):
            server = make_server(service=service, group_id=f"{unique_topic_base}-{service}")
            server.add_responder(unique_topic_base, partial(where, service=service))
            if service == "north":
                server.add_responder(streamed, pages)
            stack.enter_context(portal.wrap_async_context_manager(server))
        yield streamed


async def where(payload: dict[str, Any], service: str) -> dict[str, Any]:
    return {"from": service, **payload}


def test_eight_threads_gather_and_stream_at_once(
    sync_client: SyncClient, conversing: str, unique_topic_base: str
) -> None:
    threads = 8
    start_together = threading.Barrier(threads)

    def worker(index: int) -> tuple[list[str], list[dict[str, int]]]:
        start_together.wait()
        gathered = sync_client.gather(unique_topic_base, {"t": index}, expect=2, timeout=30)
        streamed = list(sync_client.stream(conversing, {"pages": 40 + index}, timeout=30))
        return sorted(gathered.services), streamed

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, range(threads)))
    for index, (services, streamed) in enumerate(results):
        assert services == ["north", "south"]
        assert streamed == [{"page": n} for n in range(40 + index)]
    assert sync_client.pending_count == 0


@pytest.mark.anyio
async def test_gather_and_stream_are_refused_inside_a_running_loop(
    sync_client: SyncClient, unique_topic_base: str
) -> None:
    with pytest.raises(LifecycleError, match="running asyncio event loop"):
        sync_client.gather(unique_topic_base, {})
    with pytest.raises(LifecycleError, match="running asyncio event loop"):
        sync_client.stream(unique_topic_base, {})
    assert sync_client.stats.requests == 0
