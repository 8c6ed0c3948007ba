"""SyncClient on the real broker: many threads at once, errors unchanged, lifecycle."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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
