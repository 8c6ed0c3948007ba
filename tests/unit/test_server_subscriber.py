"""Event subscribers over MemoryTransport: handled once, never answered, parked on failure."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import BaseModel

from kafkarpc import (
    ConfigurationError,
    DlqHeader,
    DlqReason,
    HandlerRetry,
    InvalidTopicName,
    LifecycleError,
    Limits,
    MemoryBroker,
    RemoteError,
    RequestContext,
    Telemetry,
    TopicNotFound,
)
from kafkarpc.server import decide
from kafkarpc.server.outcome import Outcome
from kafkarpc.server.subscriber import (
    FOREIGN_SERVICE,
    HandlerTable,
    Subscriber,
    decode_event,
)
from kafkarpc.transport import InboundRecord, OutboundRecord
from kafkarpc.wire.failure import failure_payload
from kafkarpc.wire.headers import header_dict

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .conftest import MemoryRpc

    WaitUntil = Callable[..., Awaitable[None]]
    WaitForRecords = Callable[..., Awaitable[list[InboundRecord]]]

pytestmark = pytest.mark.anyio

TOPIC = "orders.created"


class OrderCreated(BaseModel):
    order_id: str
    cents: int


def _topics(broker: MemoryBroker, *names: str) -> None:
    for name in names:
        broker.create_topic(name)
        broker.create_topic(f"{name}.dlq")


def _record(topic: str, value: bytes | None, offset: int = 7) -> InboundRecord:
    return InboundRecord(
        topic=topic,
        partition=2,
        offset=offset,
        key=None,
        value=value,
        headers=[],
        timestamp_ms=1_796_000_000_123,
    )


def ignore(event: dict[str, Any]) -> None:
    """A handler for tests about registration, never about handling."""


# ------------------------------------------------------------------ handling


async def test_published_event_reaches_the_subscriber_validated_and_nothing_is_answered(
    rpc: MemoryRpc, broker: MemoryBroker, wait_until: WaitUntil
) -> None:
    _topics(broker, TOPIC)
    seen: list[tuple[OrderCreated, str, str]] = []
    server = rpc.server(group_id="billing")

    @server.subscriber(TOPIC)
    async def on_order(event: OrderCreated, context: RequestContext) -> str:
        seen.append((event, context.caller, context.event_type))
        return "ignored: an event has no reply"

    async with server, rpc.client(service="shop") as client:
        await client.publish(TOPIC, {"order_id": "o-1", "cents": 1200})
        await wait_until(lambda: len(seen) == 1)
        await wait_until(lambda: server.stats.succeeded == 1)

    assert seen == [(OrderCreated(order_id="o-1", cents=1200), "shop", "ORDERS_CREATED")]
    assert broker.records(f"{TOPIC}.dlq") == []
    assert broker.topics() == [TOPIC, f"{TOPIC}.dlq"]  # no reply topic was made or written


async def test_a_handled_event_is_committed_and_not_handled_again_by_the_next_member(
    rpc: MemoryRpc, broker: MemoryBroker, wait_until: WaitUntil
) -> None:
    _topics(broker, TOPIC)
    calls: list[dict[str, Any]] = []

    def serving() -> Any:
        def record(event: dict[str, Any]) -> None:
            calls.append(event)

        server = rpc.server(group_id="billing")
        server.subscribe(TOPIC, record)
        return server

    async with serving(), rpc.client() as client:
        for n in range(5):
            await client.publish(TOPIC, {"n": n})
        await wait_until(lambda: len(calls) == 5)
    async with serving() as second, rpc.client() as client:
        await client.publish(TOPIC, {"n": 5})
        await wait_until(lambda: len(calls) == 6)
        await wait_until(lambda: second.stats.succeeded == 1)

    assert sorted(c["n"] for c in calls) == list(range(6))


async def test_each_group_gets_every_event_and_one_member_per_group_handles_it(
    rpc: MemoryRpc, broker: MemoryBroker, wait_until: WaitUntil
) -> None:
    _topics(broker, TOPIC)
    handled: list[tuple[str, int]] = []

    def member(group: str) -> Any:
        def record(event: dict[str, Any]) -> None:
            handled.append((group, event["n"]))

        server = rpc.server(group_id=group)
        server.subscribe(TOPIC, record)
        return server

    async with (
        member("billing"),
        member("billing"),
        member("shipping"),
        rpc.client() as client,
    ):
        for n in range(6):
            await client.publish(TOPIC, {"n": n})
        await wait_until(lambda: len(handled) == 12)

    assert sorted(handled) == sorted((g, n) for g in ("billing", "shipping") for n in range(6))


async def test_an_event_unfinished_when_its_member_stops_is_redelivered_to_the_next(
    rpc: MemoryRpc, broker: MemoryBroker, wait_until: WaitUntil
) -> None:
    _topics(broker, TOPIC)
    started = anyio.Event()
    finished: list[tuple[int, int]] = []

    async def stuck(event: dict[str, Any]) -> None:
        started.set()
        await anyio.sleep_forever()

    async def done(event: dict[str, Any], context: RequestContext) -> None:
        finished.append((event["n"], context.offset))

    first = rpc.server(group_id="billing", limits=Limits(shutdown_timeout=0.05))
    first.subscribe(TOPIC, stuck)
    async with first, rpc.client() as client:
        await client.publish(TOPIC, {"n": 1})
        await started.wait()
    second = rpc.server(group_id="billing")
    second.subscribe(TOPIC, done)
    async with second:
        await wait_until(lambda: len(finished) == 1)

    assert finished == [(1, 0)]


async def test_invalid_event_is_dead_lettered_without_running_the_handler(
    rpc: MemoryRpc, broker: MemoryBroker, wait_for_records: WaitForRecords
) -> None:
    _topics(broker, TOPIC)
    calls: list[OrderCreated] = []

    async def typed(event: OrderCreated) -> None:
        calls.append(event)

    server = rpc.server()
    server.subscribe(TOPIC, typed)
    async with server, rpc.client() as client:
        await client.publish(TOPIC, {"order_id": "o-1"}, key="o-1")
        (parked,) = await wait_for_records(f"{TOPIC}.dlq")

    assert calls == []
    headers = header_dict(parked.headers)
    assert headers[DlqHeader.REASON] == DlqReason.INVALID_PAYLOAD
    assert headers[DlqHeader.ORIGINAL_TOPIC] == TOPIC
    assert "cents" in headers[DlqHeader.EXCEPTION_MESSAGE]
    assert json.loads(parked.value or b"")["payload"] == {"order_id": "o-1"}
    assert parked.key == b"o-1"
    assert server.stats.validation_errors == 1


async def test_failing_handler_is_retried_then_succeeds(
    rpc: MemoryRpc, broker: MemoryBroker, wait_until: WaitUntil
) -> None:
    _topics(broker, TOPIC)
    attempts: list[int] = []
    server = rpc.server(retry=HandlerRetry(max_attempts=3, initial_delay=0.001, jitter=0))

    @server.subscriber(TOPIC)
    async def flaky(event: dict[str, Any], context: RequestContext) -> None:
        attempts.append(context.attempt)
        if context.attempt == 1:
            raise ConnectionError("database blinked")

    async with server, rpc.client() as client:
        await client.publish(TOPIC, {"n": 1})
        await wait_until(lambda: server.stats.succeeded == 1)

    assert attempts == [1, 2]
    assert server.stats.retries == 1
    assert broker.records(f"{TOPIC}.dlq") == []


async def test_handler_failing_every_retry_is_dead_lettered_with_its_retry_count(
    rpc: MemoryRpc, broker: MemoryBroker, wait_for_records: WaitForRecords
) -> None:
    _topics(broker, TOPIC)
    server = rpc.server()

    @server.subscriber(TOPIC, retry=HandlerRetry(max_attempts=3, initial_delay=0.001, jitter=0))
    async def broken(event: dict[str, Any]) -> None:
        raise ValueError(f"cannot ship {event['n']}")

    async with server, rpc.client() as client:
        await client.publish(TOPIC, {"n": 4})
        (parked,) = await wait_for_records(f"{TOPIC}.dlq")

    headers = header_dict(parked.headers)
    assert headers[DlqHeader.REASON] == DlqReason.HANDLER_EXHAUSTED
    assert headers[DlqHeader.RETRY_COUNT] == "2"
    assert headers[DlqHeader.EXCEPTION_MESSAGE] == "cannot ship 4"


@pytest.mark.parametrize(
    "failure",
    [
        ValueError("no retry policy"),
        RemoteError(error_code="REJECTED", error_message="handler refused it"),
    ],
    ids=["crash", "remote-error"],
)
async def test_without_a_retry_policy_a_failed_event_is_still_parked(
    rpc: MemoryRpc, broker: MemoryBroker, wait_for_records: WaitForRecords, failure: Exception
) -> None:
    # A responder without a retry policy answers its caller; an event has no
    # caller, so dropping it would lose it.
    _topics(broker, TOPIC)
    server = rpc.server()

    def broken(event: dict[str, Any]) -> None:
        raise failure

    server.subscribe(TOPIC, broken)
    async with server, rpc.client() as client:
        await client.publish(TOPIC, {"n": 1})
        (parked,) = await wait_for_records(f"{TOPIC}.dlq")

    assert header_dict(parked.headers)[DlqHeader.REASON] == DlqReason.HANDLER_EXHAUSTED
    assert header_dict(parked.headers)[DlqHeader.RETRY_COUNT] == "0"


async def test_an_idempotency_key_header_deduplicates_events(
    rpc: MemoryRpc, broker: MemoryBroker, wait_until: WaitUntil
) -> None:
    _topics(broker, TOPIC)
    calls: list[dict[str, Any]] = []
    server = rpc.server()

    @server.subscriber(TOPIC)
    async def on_order(event: dict[str, Any]) -> None:
        calls.append(event)

    async with server, rpc.client() as client:
        for n in (1, 2):  # a producer retrying one logical event
            await client.publish(TOPIC, {"n": n}, headers={"idempotency_key": "order-7"})
        await wait_until(lambda: server.stats.deduplicated == 1)

    assert calls == [{"n": 1}]


async def test_events_are_traced_and_measured_like_requests(
    rpc: MemoryRpc, broker: MemoryBroker, wait_until: WaitUntil
) -> None:
    _topics(broker, TOPIC)
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    telemetry = Telemetry(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader])
    )
    server = rpc.server(telemetry=telemetry)

    @server.subscriber(TOPIC)
    async def on_order(event: OrderCreated) -> None: ...

    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with server, rpc.client() as client:
        await client.publish(
            TOPIC,
            {"order_id": "o-1", "cents": 1},
            headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
        )
        await client.publish(TOPIC, {"order_id": "o-2"})
        await wait_until(lambda: server.stats.dead_lettered == 1 and server.stats.succeeded == 1)

    (traced,) = [s for s in spans.get_finished_spans() if s.context.trace_id == int(trace_id, 16)]
    assert traced.kind is SpanKind.CONSUMER
    assert traced.parent is not None and traced.parent.span_id == 0x00F067AA0BA902B7
    outcomes: dict[str, int] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != "kafkarpc.server.handling.duration":
                    continue
                for point in metric.data.data_points:
                    attributes = dict(point.attributes or {})
                    assert attributes["kafkarpc.operation"] == TOPIC
                    outcome = str(attributes["kafkarpc.outcome"])
                    outcomes[outcome] = outcomes.get(outcome, 0) + point.count  # type: ignore[union-attr]
    assert outcomes == {"ok": 1, "validation_error": 1}


# ------------------------------------------------------------------ events without an envelope


async def test_plain_json_event_from_another_producer_is_handled_as_its_payload(
    rpc: MemoryRpc, broker: MemoryBroker, wait_until: WaitUntil
) -> None:
    _topics(broker, TOPIC)
    seen: list[tuple[OrderCreated, RequestContext]] = []
    server = rpc.server()

    @server.subscriber(TOPIC)
    def on_order(event: OrderCreated, context: RequestContext) -> None:
        seen.append((event, context))

    async with server:
        stored = broker.append(
            OutboundRecord(topic=TOPIC, value=b'{"order_id": "o-9", "cents": 5}', key=b"o-9")
        )
        await wait_until(lambda: len(seen) == 1)

    (event, context) = seen[0]
    assert event == OrderCreated(order_id="o-9", cents=5)
    assert context.caller == FOREIGN_SERVICE
    assert context.correlation_id == f"{TOPIC}/{stored.partition}/{stored.offset}"
    assert broker.records(f"{TOPIC}.dlq") == []


@pytest.mark.parametrize("value", [b"not json", b"[1, 2]", b"42"], ids=["bytes", "array", "int"])
async def test_an_event_that_is_not_a_json_object_is_poison(
    rpc: MemoryRpc, broker: MemoryBroker, wait_for_records: WaitForRecords, value: bytes
) -> None:
    _topics(broker, TOPIC)
    calls: list[Any] = []

    def record(event: dict[str, Any]) -> None:
        calls.append(event)

    server = rpc.server()
    server.subscribe(TOPIC, record)

    async with server:
        broker.append(OutboundRecord(topic=TOPIC, value=value, key=b"k"))
        (parked,) = await wait_for_records(f"{TOPIC}.dlq")

    assert calls == []
    assert parked.value == value
    assert header_dict(parked.headers)[DlqHeader.REASON] == DlqReason.POISON


# ------------------------------------------------------------------ patterns


async def test_pattern_subscriber_gets_every_matching_topic_even_one_created_later(
    rpc: MemoryRpc, broker: MemoryBroker, wait_until: WaitUntil
) -> None:
    _topics(broker, "orders.created", "orders.paid", "payments.settled")
    seen: list[tuple[str, int]] = []
    server = rpc.server()

    @server.subscriber(r"^orders\..*")
    async def on_order(event: dict[str, Any], context: RequestContext) -> None:
        seen.append((context.topic, event["n"]))

    async with server, rpc.client() as client:
        await client.publish("orders.created", {"n": 1})
        await client.publish("orders.paid", {"n": 2})
        await client.publish("payments.settled", {"n": 3})
        broker.create_topic("orders.shipped")
        await client.publish("orders.shipped", {"n": 4})
        await wait_until(lambda: len(seen) == 3)
        # The memory broker hands records over as they are appended, in order, so
        # one of payments.settled would have been handled before orders.shipped's.

    assert sorted(seen) == [("orders.created", 1), ("orders.paid", 2), ("orders.shipped", 4)]


async def test_pattern_subscriber_does_not_consume_its_own_dead_letters(
    rpc: MemoryRpc, broker: MemoryBroker, wait_until: WaitUntil
) -> None:
    # ^orders\..* matches orders.created.dlq too: a parked event is not a new one.
    _topics(broker, "orders.created")
    calls: list[dict[str, Any]] = []
    server = rpc.server()

    def broken(event: dict[str, Any]) -> None:
        calls.append(event)
        raise ValueError("always")

    server.subscribe(r"^orders\..*", broken)
    async with server, rpc.client() as client:
        await client.publish("orders.created", {"n": 1})
        await wait_until(lambda: server.stats.dead_lettered == 1)
        await client.publish("orders.created", {"n": 2})
        await wait_until(lambda: server.stats.dead_lettered == 2)

    assert calls == [{"n": 1}, {"n": 2}]
    assert len(broker.records("orders.created.dlq")) == 2


def test_exact_topic_wins_over_a_pattern_and_dead_letter_topics_match_nothing() -> None:
    def handle(event: dict[str, Any]) -> None: ...

    exact = Subscriber.build("orders.created", handle, None)
    everything = Subscriber.build(r"^orders\.", handle, None)
    table = HandlerTable({}, [everything, exact])

    assert table.find("orders.created") is exact
    assert table.find("orders.paid") is everything
    assert table.find("orders.paid.dlq") is None
    assert table.find("payments.settled") is None


# ------------------------------------------------------------------ registration


async def test_server_with_only_subscribers_starts(rpc: MemoryRpc, broker: MemoryBroker) -> None:
    _topics(broker, TOPIC)
    server = rpc.server()
    server.subscribe(TOPIC, ignore)
    async with server:
        assert list(server.subscribers) == [TOPIC]
        assert server.responders == {}


async def test_a_missing_subscribed_topic_is_refused_at_start_but_a_pattern_may_match_none(
    rpc: MemoryRpc,
) -> None:
    server = rpc.server()
    server.subscribe(TOPIC, ignore)
    with pytest.raises(TopicNotFound):
        await server.__aenter__()

    patterned = rpc.server()
    patterned.subscribe(r"^nothing\..*", ignore)
    async with patterned:
        assert list(patterned.subscribers) == [r"^nothing\..*"]


async def test_responder_and_subscriber_on_one_topic_is_refused_at_start(rpc: MemoryRpc) -> None:
    trio = rpc.trio("billing.charge")
    server = rpc.server()
    server.add_responder(trio, ignore)
    server.subscribe(trio.requested, ignore)

    with pytest.raises(ConfigurationError, match="both a responder and a subscriber"):
        await server.__aenter__()


async def test_subscribing_after_start_is_refused(rpc: MemoryRpc, broker: MemoryBroker) -> None:
    _topics(broker, TOPIC)
    server = rpc.server()
    server.subscribe(TOPIC, ignore)
    async with server:
        with pytest.raises(LifecycleError):
            server.subscribe("orders.paid", ignore)


@pytest.mark.parametrize("topic", ["orders created", "^orders(", ""])
def test_bad_topic_or_pattern_is_refused_when_registered(rpc: MemoryRpc, topic: str) -> None:
    server = rpc.server()
    with pytest.raises(InvalidTopicName):
        server.subscribe(topic, ignore)


def test_a_topic_takes_one_subscriber(rpc: MemoryRpc) -> None:
    server = rpc.server()
    server.subscribe(TOPIC, ignore)
    with pytest.raises(ConfigurationError, match="already has a subscriber"):
        server.subscribe(TOPIC, ignore)


# ------------------------------------------------------------------ pure parts


def test_decode_event_keeps_a_kafkarpc_envelope_as_it_is() -> None:
    value = json.dumps(
        {
            "event_id": "e-1",
            "event_type": "ORDERS_CREATED",
            "correlation_id": "c-1",
            "timestamp": "2026-12-06T20:00:00.000Z",
            "service": "shop",
            "payload": {"order_id": "o-1"},
        }
    ).encode()

    envelope = decode_event(_record(TOPIC, value))

    assert (envelope.correlation_id, envelope.service) == ("c-1", "shop")
    assert envelope.payload == {"order_id": "o-1"}


def test_decode_event_wraps_a_plain_json_object_with_its_record_position_and_time() -> None:
    envelope = decode_event(_record(TOPIC, b'{"order_id": "o-1", "service": 3}'))

    assert envelope.payload == {"order_id": "o-1", "service": 3}
    assert envelope.correlation_id == envelope.event_id == f"{TOPIC}/2/7"
    assert envelope.service == FOREIGN_SERVICE
    assert envelope.event_type == "ORDERS_CREATED"
    assert envelope.timestamp == "2026-11-30T00:53:20.123Z"


@pytest.mark.parametrize("value", [None, b"\xff\xfe", b'"text"', b"null"])
def test_decode_event_refuses_what_is_not_a_json_object(value: bytes | None) -> None:
    from kafkarpc import EnvelopeError

    with pytest.raises(EnvelopeError):
        decode_event(_record(TOPIC, value))


def test_a_subscriber_failure_is_parked_for_a_reason_a_responder_failure_is_answered() -> None:
    def handle(event: dict[str, Any]) -> None: ...

    subscriber = Subscriber.build(TOPIC, handle, None)
    error = ValueError("boom")

    assert decide.crashed(None, error, 1).dead_letter is None  # a responder replies instead
    parked = decide.crashed(None, error, 1, replies=subscriber.replies)
    assert parked.dead_letter is error
    assert decide.dead_letter_reason(parked) == DlqReason.HANDLER_EXHAUSTED
    invalid = Outcome(False, failure_payload("VALIDATION_ERROR", "bad"), True, error)
    assert decide.dead_letter_reason(invalid) == DlqReason.INVALID_PAYLOAD
    assert subscriber.render({"ignored": True}) == {}
