"""kafkarpc.spi against typing.Protocol copies of the reference (omnibase_spi) signatures.

The Protocol classes below copy the reference documents' signatures (seeds/000:
``ProtocolEventPublisher``, ``ProtocolKafkaAdapter``'s event-bus methods,
``ProtocolDLQHandler``, ``ProtocolEventMessage``, ``ProtocolEventBusHeaders``).
mypy --strict checks the assignments in ``test_the_classes_satisfy_the_reference_protocols``
structurally; ``runtime_checkable`` checks the same names at run time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Optional, Protocol, runtime_checkable
from uuid import UUID

import anyio
import pytest

from kafkarpc import (
    CircuitBreaker,
    CircuitOpenError,
    DlqReason,
    MemoryTransport,
    RpcClient,
    decode_envelope,
    inspect_dlq,
)
from kafkarpc.spi import (
    DlqHandler,
    EventBusAdapter,
    EventHeaders,
    EventMessage,
    EventPublisher,
    PublisherOptions,
)
from kafkarpc.spi.headers import header_list
from kafkarpc.transport import InboundRecord

if TYPE_CHECKING:
    from tests.unit.conftest import MemoryRpc


@runtime_checkable
class ProtocolEventBusHeaders(Protocol):
    @property
    def content_type(self) -> str: ...
    @property
    def correlation_id(self) -> UUID: ...
    @property
    def message_id(self) -> UUID: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def source(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def schema_version(self) -> str: ...
    @property
    def trace_id(self) -> str | None: ...
    @property
    def span_id(self) -> str | None: ...
    @property
    def parent_span_id(self) -> str | None: ...
    @property
    def priority(self) -> Literal["low", "normal", "high", "critical"] | None: ...
    @property
    def routing_key(self) -> str | None: ...
    @property
    def partition_key(self) -> str | None: ...
    @property
    def retry_count(self) -> int | None: ...
    @property
    def max_retries(self) -> int | None: ...
    @property
    def ttl_seconds(self) -> int | None: ...


@runtime_checkable
class ProtocolEventMessage(Protocol):
    topic: str
    key: bytes | None
    value: bytes
    headers: ProtocolEventBusHeaders
    offset: str | None
    partition: int | None

    async def ack(self) -> None: ...


@runtime_checkable
class ProtocolEventPublisher(Protocol):
    async def publish(
        self,
        event_type: str,
        payload: Any,
        correlation_id: Optional[str] = None,  # noqa: UP045 - the reference's spelling
        causation_id: Optional[str] = None,  # noqa: UP045
        metadata: Optional[dict[str, Any]] = None,  # noqa: UP045
        topic: Optional[str] = None,  # noqa: UP045
        partition_key: Optional[str] = None,  # noqa: UP045
    ) -> bool: ...

    async def get_metrics(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


@runtime_checkable
class ProtocolKafkaEventBusAdapter(Protocol):
    @property
    def bootstrap_servers(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def group(self) -> str: ...
    async def build_topic_name(self, topic: str) -> str: ...
    async def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: ProtocolEventBusHeaders
    ) -> None: ...
    async def subscribe(
        self,
        topic: str,
        group_id: str,
        on_message: Callable[[ProtocolEventMessage], Awaitable[None]],
    ) -> Callable[[], Awaitable[None]]: ...
    async def close(self) -> None: ...


@runtime_checkable
class ProtocolDLQHandler(Protocol):
    async def send_to_dlq(
        self,
        original_topic: str,
        message: ProtocolEventMessage,
        error: Exception,
        retry_count: int,
    ) -> None: ...

    async def reprocess_dlq_messages(
        self,
        dlq_topic: str,
        handler: Callable[[ProtocolEventMessage], Awaitable[bool]],
        max_retries: int = 3,
    ) -> dict[str, int]: ...


def test_the_classes_satisfy_the_reference_protocols(rpc: MemoryRpc) -> None:
    transport = MemoryTransport(rpc.broker)
    publisher: ProtocolEventPublisher = EventPublisher(rpc.client())
    adapter: ProtocolKafkaEventBusAdapter = EventBusAdapter(transport=transport)
    dlq: ProtocolDLQHandler = DlqHandler(transport=transport)
    record = InboundRecord("t", 0, 7, b"k", b"{}", [("correlation_id", b"c")])
    message: ProtocolEventMessage = EventMessage(record)
    headers: ProtocolEventBusHeaders = message.headers
    for value, protocol in [
        (publisher, ProtocolEventPublisher),
        (adapter, ProtocolKafkaEventBusAdapter),
        (dlq, ProtocolDLQHandler),
        (message, ProtocolEventMessage),
        (headers, ProtocolEventBusHeaders),
    ]:
        assert isinstance(value, protocol)


def test_headers_read_as_the_reference_types() -> None:
    headers = EventHeaders(
        [
            ("correlation_id", b"550e8400-e29b-41d4-a716-446655440000"),
            ("message_id", b"not-a-uuid"),
            ("timestamp", b"2026-11-22T06:30:00.123+00:00"),
            ("priority", b"high"),
            ("retry_count", b"2"),
            ("ttl_seconds", b"x"),
        ]
    )
    assert headers.correlation_id == UUID("550e8400-e29b-41d4-a716-446655440000")
    assert isinstance(headers.message_id, UUID)  # a stable UUID derived from the text
    assert headers.message_id == EventHeaders([("message_id", b"not-a-uuid")]).message_id
    assert headers.timestamp.year == 2026
    assert (headers.priority, headers.retry_count, headers.ttl_seconds) == ("high", 2, None)
    assert headers.content_type == "application/json"
    assert EventHeaders(None).timestamp.year == 1970


pytestmark = pytest.mark.anyio


async def test_the_publisher_counts_and_opens_its_circuit(rpc: MemoryRpc) -> None:
    rpc.broker.create_topic("omninode.shop.order.placed.v1", 1)
    rpc.broker.create_topic("missing.v1.dlq", 1)
    options = PublisherOptions(
        max_retries=2, circuit_breaker=CircuitBreaker(failure_threshold=2, reset_timeout=60)
    )
    async with rpc.client() as client:
        publisher = EventPublisher(client, options=options)
        assert await publisher.publish(
            "omninode.shop.order.placed.v1",
            {"order": 1},
            correlation_id="corr-1",
            causation_id="cause-1",
            metadata={"tenant": "t"},
            partition_key="tenant-t",
        )
        assert not await publisher.publish("X_FAILED", {}, topic="missing.v1")
        assert not await publisher.publish("X_FAILED", {}, topic="missing.v1")
        with pytest.raises(CircuitOpenError) as caught:
            await publisher.publish("X_FAILED", {}, topic="missing.v1")
        assert isinstance(caught.value, RuntimeError)
        metrics = await publisher.get_metrics()
        await publisher.close()  # the caller's client stays open
        assert client.pending_count == 0
    assert metrics == {
        "events_published": 1,
        "events_failed": 2,
        "events_sent_to_dlq": 2,
        "circuit_state": "open",
    }
    (record,) = rpc.broker.records("omninode.shop.order.placed.v1")
    envelope = decode_envelope(record.value)
    assert (envelope.correlation_id, envelope.causation_id) == ("corr-1", "cause-1")
    assert envelope.metadata == {"tenant": "t"}
    assert record.key == b"tenant-t"
    assert len(rpc.broker.records("missing.v1.dlq")) == 2


async def test_the_adapter_prefixes_publishes_raw_bytes_and_delivers(rpc: MemoryRpc) -> None:
    rpc.broker.create_topic("dev.orders.placed", 1)
    transport = MemoryTransport(rpc.broker)
    await transport.start()
    adapter = EventBusAdapter(transport=transport, environment="dev", group="orders")
    got: list[ProtocolEventMessage] = []
    seen = anyio.Event()

    async def on_message(message: ProtocolEventMessage) -> None:
        got.append(message)
        await message.ack()
        seen.set()

    try:
        assert await adapter.build_topic_name("placed") == "dev.orders.placed"
        unsubscribe = await adapter.subscribe("placed", "orders-group", on_message)
        await adapter.publish("placed", b"k", b"raw bytes", {"event_type": "ORDER_PLACED"})
        with anyio.fail_after(5):
            await seen.wait()
        await unsubscribe()
        await adapter.close()
    finally:
        await transport.aclose()
    (message,) = got
    assert (message.topic, message.key, message.value) == ("dev.orders.placed", b"k", b"raw bytes")
    assert message.headers.event_type == "ORDER_PLACED"
    assert (message.partition, message.offset) == (0, "0")


async def test_the_dlq_handler_parks_and_reprocesses(rpc: MemoryRpc) -> None:
    rpc.broker.create_topic("orders.placed.dlq", 1)
    transport = MemoryTransport(rpc.broker)
    await transport.start()
    handler = DlqHandler(transport=transport)
    try:
        for n in range(3):
            record = InboundRecord("orders.placed", 0, n, None, b'{"n": %d}' % n, [])
            await handler.send_to_dlq("orders.placed", EventMessage(record), ValueError("x"), 2)
        letters = await inspect_dlq("", "orders.placed.dlq", transport=transport)
        assert [letter.reason for letter in letters] == [DlqReason.HANDLER_EXHAUSTED] * 3
        assert [letter.headers["dlq_retry_count"] for letter in letters] == ["2"] * 3
        calls: list[bytes] = []

        async def reprocess(message: ProtocolEventMessage) -> bool:
            calls.append(message.value)
            if message.value == b'{"n": 1}':
                raise RuntimeError("still broken")
            # n=0 at once, n=2 on its second try.
            return message.value == b'{"n": 0}' or calls.count(message.value) == 2

        stats = await handler.reprocess_dlq_messages("orders.placed.dlq", reprocess, max_retries=2)
    finally:
        await handler.close()
        await transport.aclose()
    assert stats == {"processed": 3, "succeeded": 2, "failed": 1}
    # n=0 once; n=1 twice (raising); n=2 fails once, then succeeds on its second try.
    assert calls == [b'{"n": 0}', b'{"n": 1}', b'{"n": 1}', b'{"n": 2}', b'{"n": 2}']


async def test_an_owned_publisher_connects_on_first_publish_and_closes(rpc: MemoryRpc) -> None:
    rpc.broker.create_topic("events.v1", 1)
    client = RpcClient(transport=MemoryTransport(rpc.broker), service="svc")
    publisher = EventPublisher(client, owns_client=True)
    assert await publisher.publish("EVENT_HAPPENED", {"a": 1}, topic="events.v1")
    await publisher.close()
    assert len(rpc.broker.records("events.v1")) == 1
    with pytest.raises(Exception, match="closed"):
        await client.publish("events.v1", {})


def test_reference_headers_objects_become_kafkarpc_headers() -> None:
    class Headers:  # what a reference caller builds: properties, None for the unset
        content_type = "application/json"
        correlation_id = UUID("550e8400-e29b-41d4-a716-446655440000")
        message_id = UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
        timestamp = datetime(2026, 11, 22, 6, 30)
        source = "omniclaude"
        event_type = "prompt.submitted"
        schema_version = "1.0.0"
        trace_id = None
        retry_count = 0

    assert header_list(Headers()) == [
        ("content_type", b"application/json"),
        ("correlation_id", b"550e8400-e29b-41d4-a716-446655440000"),
        ("message_id", b"6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        ("timestamp", b"2026-11-22T06:30:00"),
        ("source", b"omniclaude"),
        ("event_type", b"prompt.submitted"),
        ("schema_version", b"1.0.0"),
        ("retry_count", b"0"),
    ]
    assert header_list({"x-tenant": "t", "raw": b"\x00"}) == [("x-tenant", b"t"), ("raw", b"\x00")]
    assert header_list(None) == []
