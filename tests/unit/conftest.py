"""Shared fixtures for the unit suite: an in-memory broker per test, both async backends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import pytest

import kafkarpc
from kafkarpc import MemoryBroker, MemoryTransport, TopicTrio
from kafkarpc.transport import InboundRecord


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def broker() -> MemoryBroker:
    """A fresh in-memory cluster for one test."""
    return MemoryBroker()


def create_trio(broker: MemoryBroker, op: str, *, partitions: int = 3) -> TopicTrio:
    """Create the request/completed/failed topics and the request DLQ of ``op``."""
    trio = TopicTrio.from_base(op)
    for topic in (trio.requested, trio.completed, trio.failed, f"{trio.requested}.dlq"):
        broker.create_topic(topic, partitions)
    return trio


@dataclass(frozen=True)
class MemoryRpc:
    """One test's in-memory cluster, and the topics, clients and servers built on it.

    Tests take the ``rpc`` fixture (typed by importing this class under
    ``TYPE_CHECKING``) instead of one fixture per factory.
    """

    broker: MemoryBroker

    def trio(self, op: str, *, partitions: int = 3) -> TopicTrio:
        return create_trio(self.broker, op, partitions=partitions)

    def client(self, **options: Any) -> kafkarpc.RpcClient:
        """An RpcClient on its own MemoryTransport of the broker (not started)."""
        options.setdefault("service", "test-client")
        return kafkarpc.RpcClient(transport=MemoryTransport(self.broker), **options)

    def server(self, **options: Any) -> kafkarpc.RpcServer:
        """An RpcServer on its own MemoryTransport of the broker (not started)."""
        options.setdefault("service", "test-server")
        return kafkarpc.RpcServer(transport=MemoryTransport(self.broker), **options)

    def serve(
        self, op: str, handler: Callable[..., Any], **options: Any
    ) -> tuple[TopicTrio, kafkarpc.RpcServer]:
        """The topics of ``op`` and a server (not started) answering them with ``handler``."""
        trio = self.trio(op)
        server = self.server(**options)
        server.add_responder(trio, handler)
        return trio, server


@pytest.fixture
def rpc(broker: MemoryBroker) -> MemoryRpc:
    return MemoryRpc(broker)


@pytest.fixture
def make_trio(rpc: MemoryRpc) -> Callable[..., TopicTrio]:
    return rpc.trio


@pytest.fixture
def make_client(rpc: MemoryRpc) -> Callable[..., kafkarpc.RpcClient]:
    return rpc.client


@pytest.fixture
def make_server(rpc: MemoryRpc) -> Callable[..., kafkarpc.RpcServer]:
    return rpc.server


async def _wait_until(predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while True:
            if predicate():
                return
            await anyio.sleep(0.005)


WaitUntil = Callable[..., Awaitable[None]]
WaitForRecords = Callable[..., Awaitable[list[InboundRecord]]]


@pytest.fixture
def wait_until() -> WaitUntil:
    """``await wait_until(lambda: condition)``: poll until true (bounded by a timeout)."""
    return _wait_until


@pytest.fixture
def wait_for_records(broker: MemoryBroker) -> WaitForRecords:
    """Poll ``broker.records(topic)`` until it holds at least ``count`` records (bounded)."""

    async def wait(topic: str, count: int = 1, *, timeout: float = 5.0) -> list[InboundRecord]:
        await _wait_until(lambda: len(broker.records(topic)) >= count, timeout=timeout)
        return broker.records(topic)

    return wait
