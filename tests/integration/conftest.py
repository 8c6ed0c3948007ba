"""Real-broker tests: one embedded Tansu broker per session, fresh topics per test.

The broker fixture ``kafkarpc_broker`` and ``unique_topic_base`` come from the
package's own pytest plugin (``kafkarpc.testing._plugin``), the same one users get.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import pytest
from tests.integration.nestjs_peer import NestPeer
from tests.integration.nestjs_peer import install as install_nestjs

from kafkarpc import KafkaTransport, RpcClient, RpcServer, Topics, TopicTrio
from kafkarpc.transport import InboundRecord

# Tansu holds a JoinGroup for about half the session timeout; 2 s keeps joins ~1 s.
FAST_GROUP = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration needs the broker; mark it so `-m "not broker"` works."""
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.broker)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fast_group() -> dict[str, int]:
    return dict(FAST_GROUP)


@pytest.fixture
def make_server(kafkarpc_broker: str, unique_topic_base: str) -> Callable[..., RpcServer]:
    """An RpcServer on the session broker with fast group settings and topic creation."""

    def make(**overrides: Any) -> RpcServer:
        options: dict[str, Any] = {
            "service": "test-responder",
            "group_id": f"group-{unique_topic_base}",
            "topics": Topics(create=True),
            "config": dict(FAST_GROUP),
        }
        options.update(overrides)
        return RpcServer(kafkarpc_broker, **options)

    return make


@pytest.fixture
def trio(unique_topic_base: str) -> TopicTrio:
    """The topics of the test's own operation."""
    return TopicTrio.from_base(unique_topic_base)


@pytest.fixture
def serve(
    make_server: Callable[..., RpcServer], unique_topic_base: str
) -> Callable[..., RpcServer]:
    """A server (not started) answering the operation ``unique_topic_base`` with ``handler``."""

    def make(handler: Callable[..., Any], **overrides: Any) -> RpcServer:
        server = make_server(**overrides)
        server.add_responder(unique_topic_base, handler)
        return server

    return make


@pytest.fixture
def make_client(kafkarpc_broker: str) -> Callable[..., RpcClient]:
    """An RpcClient on the session broker with topic creation (not started)."""

    def make(**overrides: Any) -> RpcClient:
        options: dict[str, Any] = {"service": "test-client", "topics": Topics(create=True)}
        options.update(overrides)
        return RpcClient(kafkarpc_broker, **options)

    return make


@pytest.fixture
async def client(make_client: Callable[..., RpcClient]) -> AsyncIterator[RpcClient]:
    async with make_client() as rpc:
        yield rpc


@pytest.fixture
def topic_records(kafkarpc_broker: str) -> Callable[[str], Awaitable[list[InboundRecord]]]:
    """Reads back every record now in a topic (oldest first per partition)."""

    async def read(topic: str) -> list[InboundRecord]:
        transport = KafkaTransport(kafkarpc_broker)
        await transport.start()
        try:
            async with aclosing(transport.read_topic(topic)) as batches:
                return [record async for batch in batches for record in batch]
        finally:
            await transport.aclose()

    return read


@pytest.fixture(scope="session")
def nestjs(kafkarpc_broker: str) -> NestPeer:
    """A real NestJS peer (microservice and ClientKafka) on the session broker."""
    return NestPeer(install_nestjs(), kafkarpc_broker)
