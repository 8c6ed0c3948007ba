"""Under every wire profile the rest of kafkarpc works as on its own wire: replies, failures,
call retries, the circuit breaker, deadlines, idempotency and tracing (in-memory broker)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from kafkarpc import (
    CallRetry,
    CircuitBreaker,
    CircuitOpenError,
    DlqHeader,
    DlqReason,
    HandlerRetry,
    MemoryBroker,
    MemoryTransport,
    PayloadCorrelated,
    RemoteError,
    ReplyContent,
    RequestContext,
    RpcClient,
    RpcServer,
    Telemetry,
    Topics,
    WireProfile,
)
from kafkarpc.transport import InboundRecord, OutboundRecord

pytestmark = pytest.mark.anyio

OP = "orders.price"


def _profile(kind: str) -> str | WireProfile:
    if kind == "payload":
        return PayloadCorrelated(request_topic=OP, reply_topic="orders.results")
    return kind


@asynccontextmanager
async def _pair(
    kind: str, server: RpcServer, broker: MemoryBroker, **client_options: Any
) -> AsyncIterator[RpcClient]:
    client = RpcClient(
        service="caller",
        wire=_profile(kind),
        transport=MemoryTransport(broker),
        topics=Topics(create=True),
        **client_options,
    )
    async with server, client:
        yield client


def _server(kind: str, broker: MemoryBroker) -> RpcServer:
    return RpcServer(
        service="orders",
        wire=_profile(kind),
        transport=MemoryTransport(broker),
        topics=Topics(create=True),
    )


KINDS = ["nestjs", "spring", "payload"]


@pytest.mark.parametrize("kind", KINDS)
async def test_replies_failures_and_the_request_context(broker: MemoryBroker, kind: str) -> None:
    server = _server(kind, broker)
    contexts: list[RequestContext] = []

    @server.responder(OP)
    async def price(request: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        contexts.append(context)
        if request["sku"] == "none":
            raise RemoteError(error_code="NOT_FOUND", error_message="no such sku")
        return {"cents": 250}

    async with _pair(kind, server, broker) as client:
        assert await client.request(OP, {"sku": "w"}, timeout=5) == {"cents": 250}
        with pytest.raises(RemoteError) as caught:
            await client.request(OP, {"sku": "none"}, timeout=5)
    assert (caught.value.error_code, caught.value.error_message) == ("NOT_FOUND", "no such sku")
    # The caller's deadline rode along in kafkarpc's own header, and was honoured.
    assert all(context.deadline_ms is not None for context in contexts)
    assert server.wire == (kind if kind != "payload" else "payload-correlated")


@pytest.mark.parametrize("kind", KINDS)
async def test_call_retries_idempotency_and_the_circuit_breaker(
    broker: MemoryBroker, kind: str
) -> None:
    server = _server(kind, broker)
    calls: list[str] = []

    @server.responder(OP)
    async def flaky(request: dict[str, Any]) -> dict[str, Any]:
        calls.append(request["sku"])
        if request["sku"] == "down" or (calls.count("flaky") == 1 and request["sku"] == "flaky"):
            raise RemoteError(error_code="BUSY", error_message="busy", retryable=True)
        return {"ok": request["sku"]}

    retry = CallRetry(max_attempts=2, retry_remote=True, initial_delay=0.01)
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=60)
    async with _pair(kind, server, broker, retry=retry, circuit_breaker=breaker) as client:
        assert await client.request(OP, {"sku": "flaky"}, timeout=5) == {"ok": "flaky"}
        first = await client.request(OP, {"sku": "once"}, idempotency_key="k", timeout=5)
        again = await client.request(OP, {"sku": "once"}, idempotency_key="k", timeout=5)
        for _ in range(2):
            with pytest.raises(RemoteError):
                await client.request(OP, {"sku": "down"}, timeout=5, retry=None)
        with pytest.raises(CircuitOpenError):
            await client.request(OP, {"sku": "w"}, timeout=5)
    assert calls.count("flaky") == 2  # retried once, as on kafkarpc's own wire
    assert first == again == {"ok": "once"} and calls.count("once") == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_one_trace_from_caller_to_responder(broker: MemoryBroker, kind: str) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    traced = Telemetry(tracer_provider=provider)
    server = RpcServer(
        service="orders",
        wire=_profile(kind),
        transport=MemoryTransport(broker),
        topics=Topics(create=True),
        telemetry=traced,
    )

    @server.responder(OP)
    async def price(request: dict[str, Any]) -> dict[str, Any]:
        return {"cents": 1}

    async with _pair(kind, server, broker, telemetry=traced) as client:
        await client.request(OP, {"sku": "w"}, timeout=5)
    finished = exporter.get_finished_spans()
    (send,) = [s for s in finished if s.kind is SpanKind.PRODUCER]
    (process,) = [s for s in finished if s.kind is SpanKind.CONSUMER]
    assert process.parent is not None and process.parent.span_id == send.context.span_id
    assert process.context.trace_id == send.context.trace_id


@pytest.mark.parametrize("kind", KINDS)
async def test_handler_retries_and_the_dead_letter_of_an_exhausted_handler(
    broker: MemoryBroker, kind: str
) -> None:
    server = RpcServer(
        service="orders",
        wire=_profile(kind),
        transport=MemoryTransport(broker),
        topics=Topics(create=True),
        retry=HandlerRetry(max_attempts=2, initial_delay=0.01),
    )
    attempts: list[str] = []

    @server.responder(OP)
    async def shaky(request: dict[str, Any]) -> dict[str, Any]:
        attempts.append(request["sku"])
        if request["sku"] == "broken" or attempts.count(request["sku"]) == 1:
            raise ValueError("flaky")
        return {"ok": True}

    async with _pair(kind, server, broker) as client:
        assert await client.request(OP, {"sku": "w"}, timeout=5) == {"ok": True}
        with pytest.raises(RemoteError) as caught:
            await client.request(OP, {"sku": "broken"}, timeout=5)
    assert attempts.count("w") == 2 and attempts.count("broken") == 2
    assert caught.value.error_code == "HANDLER_ERROR"
    (parked,) = broker.records(f"{OP}.dlq")  # parked for replay, as on kafkarpc's own wire
    assert dict(parked.headers)[DlqHeader.REASON] == DlqReason.HANDLER_EXHAUSTED.value.encode()


class _BrokenReader(PayloadCorrelated):
    """A custom profile with a bug in reading replies."""

    def reply_correlation_id(self, record: InboundRecord) -> str | None:
        if b"boom" in (record.value or b""):
            raise KeyError("a bug in the profile")
        return super().reply_correlation_id(record)

    def decode_reply(self, record: InboundRecord) -> ReplyContent:
        if b"bad-decode" in (record.value or b""):
            raise KeyError("a bug in the profile")
        return super().decode_reply(record)


async def test_a_buggy_profile_neither_stops_the_reply_reader_nor_escapes_as_a_bare_error(
    broker: MemoryBroker,
) -> None:
    wire = _BrokenReader(request_topic=OP, reply_topic="orders.results")
    server = RpcServer(
        service="orders", wire=wire, transport=MemoryTransport(broker), topics=Topics(create=True)
    )

    @server.responder(OP)
    async def echo(request: dict[str, Any]) -> dict[str, Any]:
        return {"note": request["note"]}

    client = RpcClient(
        service="caller", wire=wire, transport=MemoryTransport(broker), topics=Topics(create=True)
    )
    async with server, client:
        assert await client.request(OP, {"note": "fine"}, timeout=5) == {"note": "fine"}
        broker.append(OutboundRecord("orders.results", b'{"boom": 1}'))  # read from here on
        with pytest.raises(RemoteError) as caught:
            await client.request(OP, {"note": "bad-decode"}, timeout=5)
    assert client.stats.undecodable_replies == 1
    assert caught.value.error_code == "INVALID_REPLY"


async def test_a_reply_partition_that_does_not_exist_is_dropped_and_the_reply_still_sent(
    broker: MemoryBroker,
) -> None:
    server = _server("nestjs", broker)

    @server.responder(OP)
    async def price(request: dict[str, Any]) -> dict[str, Any]:
        return {"cents": 250}

    headers = [
        ("kafka_correlationId", b"nest-1"),
        ("kafka_replyTopic", f"{OP}.reply".encode()),
        ("kafka_replyPartition", b"99"),  # the topic has 3
    ]
    replies: list[InboundRecord] = []
    arrived = anyio.Event()

    def on_batch(batch: list[InboundRecord]) -> None:
        replies.extend(batch)
        arrived.set()

    reader = MemoryTransport(broker)
    async with server:
        await reader.start()
        consumer = await reader.reply_consumer(on_batch)
        await consumer.assign([f"{OP}.reply"])
        broker.append(OutboundRecord(OP, b'{"sku":"w"}', None, headers))
        with anyio.fail_after(5):
            await arrived.wait()
        await consumer.aclose()
        await reader.aclose()
    (reply,) = replies
    assert reply.value == b'{"cents":250}'
    assert dict(reply.headers)["kafka_correlationId"] == b"nest-1"
    assert broker.records(f"{OP}.dlq") == []


@pytest.mark.parametrize("kind", KINDS)
async def test_a_streaming_responder_under_each_wire(broker: MemoryBroker, kind: str) -> None:
    server = _server(kind, broker)

    @server.responder(OP)
    async def ticks(payload: dict[str, int]) -> AsyncIterator[dict[str, int]]:
        for tick in range(payload["n"]):
            yield {"tick": tick}

    async with _pair(kind, server, broker) as client:
        streamed = [item async for item in client.stream(OP, {"n": 3}, timeout=5)]
        collected = await client.request(OP, {"n": 2}, timeout=5)
    if kind == "nestjs":
        # NestJS's wire streams: a reply per item, the last one marked as the end.
        assert streamed == [{"tick": 0}, {"tick": 1}, {"tick": 2}]
        assert collected == {"tick": 0}  # a plain request takes the first reply
    else:
        # The other wires carry one reply per request: the items arrive collected.
        assert streamed == [{"items": [{"tick": 0}, {"tick": 1}, {"tick": 2}]}]
        assert collected == {"items": [{"tick": 0}, {"tick": 1}]}
