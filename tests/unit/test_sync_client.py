"""SyncClient over MemoryTransport: blocking calls, errors passed through, lifecycle, threads."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import anyio
import pytest
from pydantic import BaseModel
from tests.unit.conftest import create_trio

from kafkarpc import (
    ClientClosed,
    ConfigurationError,
    LifecycleError,
    MemoryBroker,
    MemoryTransport,
    RemoteError,
    RequestTimeout,
    RpcClient,
    RpcServer,
    SyncClient,
    TopicTrio,
)
from kafkarpc._legacy import LegacyClientOptions
from kafkarpc.client.sync import ClientOptions, PublishOptions

pytestmark = pytest.mark.timeout(30)

OP = "sync.echo"
UNSERVED = "sync.unserved"
EVENTS = "sync.events.v1"


class Echo(BaseModel):
    echoed: dict[str, Any]


async def echo(payload: dict[str, Any]) -> dict[str, Any]:
    if payload.get("fail"):
        raise ValueError("asked to fail")
    return {"echoed": payload}


@pytest.fixture
def bare_client(broker: MemoryBroker) -> Iterator[SyncClient]:
    """A SyncClient on the memory broker, with the topics of the tests but no server."""
    create_trio(broker, OP)
    create_trio(broker, UNSERVED)
    broker.create_topic(EVENTS)
    with SyncClient(transport=MemoryTransport(broker), service="sync-client") as sync:
        yield sync


@pytest.fixture
def client(bare_client: SyncClient, broker: MemoryBroker) -> Iterator[SyncClient]:
    """``bare_client``, answered by an RpcServer on the same loop thread.

    The memory broker is not thread-safe, so the server runs on the client's own
    loop thread (its private portal) rather than on a second loop.
    """
    server = RpcServer(transport=MemoryTransport(broker), service="sync-server")
    server.add_responder(OP, echo)
    with bare_client._portal.wrap_async_context_manager(server):
        yield bare_client


def test_request_returns_the_reply(client: SyncClient) -> None:
    assert client.request(OP, {"n": 1}) == {"echoed": {"n": 1}}
    assert client.stats.succeeded == 1


def test_request_with_response_model(client: SyncClient) -> None:
    reply = client.request(OP, {"n": 2}, response_model=Echo, timeout=10)
    assert reply == Echo(echoed={"n": 2})


def test_publish_stores_the_event(client: SyncClient, broker: MemoryBroker) -> None:
    event_id = client.publish(EVENTS, {"kind": "done"}, key="k")
    (stored,) = broker.records(EVENTS)
    assert stored.value is not None
    assert event_id.encode() in stored.value


def test_remote_error_reaches_the_caller_unchanged(client: SyncClient) -> None:
    with pytest.raises(RemoteError) as caught:
        client.request(OP, {"fail": True})
    assert type(caught.value) is RemoteError
    error = caught.value
    assert error.topic == TopicTrio.from_base(OP).failed
    assert (error.error_code, error.error_type) == ("HANDLER_ERROR", "ValueError")
    assert error.error_message == "asked to fail"
    assert error.correlation_id


def test_timeout_reaches_the_caller_unchanged(client: SyncClient) -> None:
    with pytest.raises(RequestTimeout) as caught:
        client.request(UNSERVED, {}, timeout=0.05)
    assert caught.value.correlation_id


def test_argument_errors_reach_the_caller(client: SyncClient) -> None:
    with pytest.raises(ConfigurationError):
        client.request(OP, {}, timeout=-1)


def test_every_method_raises_client_closed_after_close(bare_client: SyncClient) -> None:
    client = bare_client
    client.close()
    with pytest.raises(ClientClosed):
        client.request(OP, {})
    with pytest.raises(ClientClosed):
        client.publish(EVENTS, {})


def test_close_is_idempotent(broker: MemoryBroker) -> None:
    sync = SyncClient(transport=MemoryTransport(broker), service="twice")
    sync.close()
    sync.close()
    with sync:  # leaving the block closes a third time
        pass
    with pytest.raises(ClientClosed):
        sync.publish(EVENTS, {})


def test_close_stops_the_loop_thread(broker: MemoryBroker) -> None:
    before = set(threading.enumerate())
    with SyncClient(transport=MemoryTransport(broker), service="thread"):
        started = set(threading.enumerate()) - before
    assert [t.name for t in started] == ["kafkarpc-sync-client"]
    assert not any(t.is_alive() for t in started)


def test_close_fails_pending_calls_with_client_closed(bare_client: SyncClient) -> None:
    client = bare_client
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            client.request(UNSERVED, {}, timeout=30)
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    stop_waiting = threading.Event()
    while client.pending_count == 0 and caller.is_alive():  # until the request is out
        stop_waiting.wait(0.01)
    client.close()
    caller.join()
    assert len(outcome) == 1
    assert isinstance(outcome[0], ClientClosed)


def test_constructor_errors_reach_the_caller_and_stop_the_thread() -> None:
    before = set(threading.enumerate())
    with pytest.raises(ConfigurationError):
        SyncClient(transport=MemoryTransport(MemoryBroker()), service="bad", timeout=0)
    assert not any(t.is_alive() for t in set(threading.enumerate()) - before)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_blocking_call_inside_a_running_loop_is_refused(client: SyncClient, backend: str) -> None:
    async def inside() -> None:
        with pytest.raises(LifecycleError, match=f"running {backend} event loop"):
            client.request(OP, {})
        with pytest.raises(LifecycleError, match="RpcClient"):
            client.publish(EVENTS, {})
        with pytest.raises(LifecycleError):
            client.close()
        with pytest.raises(LifecycleError):
            SyncClient(transport=MemoryTransport(MemoryBroker()), service="inside")

    anyio.run(inside, backend=backend)
    # Nothing was sent, and the client still works outside the loop.
    assert client.stats.requests == 0
    assert client.request(OP, {"after": True}) == {"echoed": {"after": True}}


def test_async_code_may_call_it_from_a_worker_thread(client: SyncClient) -> None:
    """The refusal is per thread: a worker thread of a running loop has no loop."""

    async def main() -> dict[str, Any]:
        return await anyio.to_thread.run_sync(partial(client.request, OP, {"from": "worker"}))

    assert anyio.run(main) == {"echoed": {"from": "worker"}}


def test_refused_from_a_plain_asyncio_callback(client: SyncClient) -> None:
    """A loop callback runs outside any task, where sniffio sees no library."""
    caught: list[BaseException] = []

    def callback() -> None:
        try:
            client.request(OP, {})
        except LifecycleError as exc:
            caught.append(exc)

    async def main() -> None:
        asyncio.get_running_loop().call_soon(callback)
        await asyncio.sleep(0)

    asyncio.run(main())
    assert len(caught) == 1


def test_eight_threads_at_once_are_all_answered(client: SyncClient) -> None:
    threads, calls_each = 8, 25
    start_together = threading.Barrier(threads)

    def worker(index: int) -> list[dict[str, Any]]:
        start_together.wait()
        return [client.request(OP, {"t": index, "i": i}, timeout=20) for i in range(calls_each)]

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, range(threads)))
    for index, replies in enumerate(results):
        assert replies == [{"echoed": {"t": index, "i": i}} for i in range(calls_each)]
    assert client.stats.succeeded == threads * calls_each


def test_options_are_rpc_clients_keywords() -> None:
    """SyncClient's typed options cannot drift from RpcClient's constructor."""
    parameters = inspect.signature(RpcClient.__init__).parameters.values()
    keywords = {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
    legacy = LegacyClientOptions.__optional_keys__ | LegacyClientOptions.__required_keys__
    assert ClientOptions.__optional_keys__ | ClientOptions.__required_keys__ == keywords | legacy


def test_publish_options_are_rpc_clients_publish_keywords() -> None:
    parameters = inspect.signature(RpcClient.publish).parameters.values()
    keywords = {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert PublishOptions.__optional_keys__ == keywords
