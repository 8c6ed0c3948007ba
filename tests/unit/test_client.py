"""RpcClient over MemoryTransport (docs/wire.md §4, §6)."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Awaitable, Callable
from types import MappingProxyType
from typing import Any

import anyio
import pytest
import sniffio
from pydantic import BaseModel

from kafkarpc import (
    CallRetry,
    ClientClosed,
    ConfigurationError,
    DlqHeader,
    DlqReason,
    InvalidTopicName,
    LifecycleError,
    Limits,
    MemoryBroker,
    MemoryTransport,
    PayloadNotSerializable,
    PayloadTooLarge,
    PublishError,
    RemoteError,
    RequestContext,
    RequestTimeout,
    ResponseValidationError,
    RpcClient,
    RpcServer,
    Topics,
    TopicTrio,
    TransportError,
    decode_envelope,
)
from kafkarpc.transport import InboundRecord, OutboundRecord
from kafkarpc.wire.envelope import encode_envelope, make_envelope
from kafkarpc.wire.headers import build_headers, header_dict

pytestmark = pytest.mark.anyio

OP = "agent.routing"

# The type of the unit conftest's ``wait_until`` fixture.
WaitUntil = Callable[..., Awaitable[None]]


class RouteRequest(BaseModel):
    query: str
    limit: int = 3


class RouteResponse(BaseModel):
    agent: str
    score: float


def reply_record(
    trio: TopicTrio,
    request: InboundRecord,
    payload: dict[str, Any],
    *,
    failed: bool = False,
    with_headers: bool = True,
    partition: int | None = None,
    correlation_id: str | None = None,
) -> OutboundRecord:
    """What a peer that only knows the wire contract (docs/wire.md) would answer to ``request``."""
    envelope = decode_envelope(request.value)
    reply = make_envelope(
        event_type=trio.event_type("failed" if failed else "completed"),
        correlation_id=correlation_id or envelope.correlation_id,
        causation_id=envelope.event_id,
        service="peer",
        payload=payload,
    )
    return OutboundRecord(
        topic=trio.failed if failed else trio.completed,
        value=encode_envelope(reply),
        key=reply.correlation_id.encode(),
        headers=build_headers(reply) if with_headers else [],
        partition=partition,
    )


async def hand_responder(
    broker: MemoryBroker,
    trio: TopicTrio,
    answer: Callable[[InboundRecord], OutboundRecord | None],
) -> None:
    """Answer every request appended to ``trio.requested`` (a peer without kafkarpc)."""
    seen: set[tuple[int, int]] = set()
    while True:
        for record in broker.records(trio.requested):
            if (record.partition, record.offset) not in seen:
                seen.add((record.partition, record.offset))
                reply = answer(record)
                if reply is not None:
                    broker.append(reply)
        await anyio.sleep(0.002)


def echo_server(make_server: Callable[..., RpcServer], op: str = OP, **options: Any) -> RpcServer:
    server = make_server(**options)

    @server.responder(op)
    async def echo(payload: dict[str, Any]) -> dict[str, Any]:
        return {"echo": payload}

    return server


# ------------------------------------------------------------------ round trips


async def test_dict_round_trip(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    async with make_client() as client, echo_server(make_server):
        reply = await client.request(OP, {"query": "hello", "n": [1, 2]})
    assert reply == {"echo": {"query": "hello", "n": [1, 2]}}
    assert client.pending_count == 0
    assert client.stats.succeeded == 1


async def test_a_call_leaves_the_callers_async_library_context_as_it_was(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
    anyio_backend: str,
) -> None:
    # The client tells sniffio its loop for the duration of a call (a shortcut for
    # anyio); the caller's context must come out unchanged, success or failure.
    make_trio(OP)
    make_trio("nobody.listens")
    # anyio's test runner may have set the variable already; start from "unset".
    outer = sniffio.current_async_library_cvar.set(None)
    async with make_client() as client, echo_server(make_server):
        seen_inside: list[str] = []

        async def observing() -> None:
            await client.request(OP, {"n": 1})
            seen_inside.append(sniffio.current_async_library())

        await observing()
        with pytest.raises(RequestTimeout):
            await client.request("nobody.listens", {"n": 2}, timeout=0.05)
    left_behind = sniffio.current_async_library_cvar.get()
    sniffio.current_async_library_cvar.reset(outer)
    assert left_behind is None
    assert seen_inside == [anyio_backend]


async def test_typed_round_trip(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    server = make_server()

    @server.responder(OP)
    async def route(req: RouteRequest) -> RouteResponse:
        return RouteResponse(agent=f"agent-{req.query}", score=req.limit / 2)

    async with make_client() as client, server:
        reply = await client.request(
            OP, RouteRequest(query="x", limit=5), response_model=RouteResponse
        )
    assert reply == RouteResponse(agent="agent-x", score=2.5)


async def test_mapping_payload_is_accepted(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    # request() is annotated ``payload: Mapping[str, Any] | BaseModel``.
    make_trio(OP)
    async with make_client() as client, echo_server(make_server):
        reply = await client.request(OP, MappingProxyType({"a": 1}))
    assert reply == {"echo": {"a": 1}}


async def test_response_model_mismatch_raises_response_validation_error(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    async with make_client() as client, echo_server(make_server):
        with pytest.raises(ResponseValidationError) as info:
            await client.request(OP, {"q": 1}, response_model=RouteResponse)
    assert info.value.correlation_id
    assert client.pending_count == 0


async def test_create_topics_creates_the_trio(
    broker: MemoryBroker,
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
) -> None:
    server = echo_server(make_server, topics=Topics(create=True))
    async with make_client(topics=Topics(create=True)) as client, server:
        assert await client.request(OP, {"a": 1}) == {"echo": {"a": 1}}
    trio = TopicTrio.from_base(OP)
    assert {trio.requested, trio.completed, trio.failed} <= set(broker.topics())


async def test_request_to_missing_topic_fails_clearly(
    make_client: Callable[..., RpcClient],
) -> None:
    async with make_client() as client:
        with pytest.raises(Exception, match=r"agent\.routing\.requested\.v1") as info:
            await client.request(OP, {}, timeout=1)
    assert not isinstance(info.value, RequestTimeout)
    assert client.pending_count == 0


async def test_request_envelope_and_headers_follow_the_spec(
    broker: MemoryBroker, make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    trio = make_trio(OP)
    async with make_client(service="checkout") as client:
        with pytest.raises(RequestTimeout) as info:
            await client.request(
                OP, {"q": 1}, timeout=0.2, partition_key="tenant-7", priority="high"
            )
    (record,) = broker.records(trio.requested)
    assert record.value is not None
    body = json.loads(record.value)
    assert body["event_type"] == "AGENT_ROUTING_REQUESTED"
    assert body["service"] == "checkout"
    assert body["payload"] == {"q": 1}
    assert body["correlation_id"] == info.value.correlation_id
    assert record.key == b"tenant-7"
    headers = header_dict(record.headers)
    assert headers["content_type"] == "application/json"
    assert headers["correlation_id"] == body["correlation_id"]
    assert headers["message_id"] == body["event_id"]
    assert headers["source"] == "checkout"
    assert headers["event_type"] == "AGENT_ROUTING_REQUESTED"
    assert headers["schema_version"] == body["version"]
    assert headers["timestamp"] == body["timestamp"]
    assert headers["reply_to"] == trio.completed
    assert headers["partition_key"] == "tenant-7"
    assert int(headers["deadline_ms"]) > 0
    assert headers["idempotency_key"]
    assert headers["priority"] == "high"
    assert headers["retry_count"] == "0"


async def test_message_key_defaults_to_the_correlation_id(
    broker: MemoryBroker, make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    trio = make_trio(OP)
    async with make_client() as client:
        with pytest.raises(RequestTimeout) as info:
            await client.request(OP, {}, timeout=0.1)
    (record,) = broker.records(trio.requested)
    assert info.value.correlation_id is not None
    assert record.key == info.value.correlation_id.encode()


async def test_explicit_trio_op(
    broker: MemoryBroker,
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
) -> None:
    trio = TopicTrio(
        requested="dev.archon-intelligence.intelligence.code-analysis-requested.v1",
        completed="dev.archon-intelligence.intelligence.code-analysis-completed.v1",
        failed="dev.archon-intelligence.intelligence.code-analysis-failed.v1",
    )
    for topic in (trio.requested, trio.completed, trio.failed):
        broker.create_topic(topic)
    server = make_server()

    @server.responder(trio)
    async def analyse(payload: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        return {"event_type": ctx.event_type}

    async with make_client() as client, server:
        assert await client.request(trio, {}) == {"event_type": "CODE_ANALYSIS_REQUESTED"}
    (reply,) = broker.records(trio.completed)
    assert reply.value is not None
    assert json.loads(reply.value)["event_type"] == "CODE_ANALYSIS_COMPLETED"


# ------------------------------------------------------------------ failures


async def test_failure_reply_raises_remote_error(
    broker: MemoryBroker, make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    trio = make_trio(OP)
    failure = {
        "error_code": "NOT_FOUND",
        "error_message": "no agent for 'x'",
        "error_type": "LookupError",
        "retryable": True,
        "details": {"query": "x"},
    }
    async with make_client() as client, anyio.create_task_group() as tg:
        tg.start_soon(
            hand_responder, broker, trio, lambda r: reply_record(trio, r, failure, failed=True)
        )
        with pytest.raises(RemoteError) as info:
            await client.request(OP, {"query": "x"})
        tg.cancel_scope.cancel()
    err = info.value
    assert err.error_code == "NOT_FOUND"
    assert err.error_message == "no agent for 'x'"
    assert err.error_type == "LookupError"
    assert err.retryable is True
    assert err.details == {"query": "x"}
    (request,) = broker.records(trio.requested)
    assert err.correlation_id == decode_envelope(request.value).correlation_id
    assert client.pending_count == 0
    assert client.stats.remote_errors == 1


async def test_malformed_failure_payload_still_raises_remote_error(
    broker: MemoryBroker, make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    trio = make_trio(OP)
    async with make_client() as client, anyio.create_task_group() as tg:
        tg.start_soon(
            hand_responder, broker, trio, lambda r: reply_record(trio, r, {"oops": 1}, failed=True)
        )
        with pytest.raises(RemoteError) as info:
            await client.request(OP, {})
        tg.cancel_scope.cancel()
    assert info.value.error_code
    assert client.pending_count == 0


async def test_no_responder_times_out(
    make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    trio = make_trio(OP)
    async with make_client() as client:
        with pytest.raises(RequestTimeout) as info:
            await client.request(OP, {"q": 1}, timeout=0.2)
        assert client.pending_count == 0
    err = info.value
    assert isinstance(err, TimeoutError)
    uuid.UUID(err.correlation_id)
    assert err.topic == trio.requested
    assert err.elapsed is not None
    assert err.elapsed >= 0.2
    assert client.stats.timeouts == 1


async def test_client_default_timeout_applies(
    make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    make_trio(OP)
    async with make_client(timeout=0.1) as client:
        with pytest.raises(RequestTimeout):
            await client.request(OP, {})
    assert client.pending_count == 0


# ------------------------------------------------------------------ call-site errors


@pytest.mark.parametrize("timeout", [0, -1, -0.5, math.nan, math.inf, "1", True])
async def test_bad_timeouts_are_configuration_errors(
    make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio], timeout: Any
) -> None:
    make_trio(OP)
    async with make_client() as client:
        with pytest.raises(ConfigurationError):
            await client.request(OP, {}, timeout=timeout)
    assert client.stats.requests == 0


@pytest.mark.parametrize("timeout", [0, -1, math.nan])
def test_bad_client_timeout_is_a_configuration_error(
    make_client: Callable[..., RpcClient], timeout: float
) -> None:
    with pytest.raises(ConfigurationError):
        make_client(timeout=timeout)


@pytest.mark.parametrize(
    "options",
    # Built inside the test: a bad option object raises as soon as it is made.
    [
        lambda: {"limits": Limits(max_in_flight=0)},
        lambda: {"topics": Topics(reply_partition=-1)},
        lambda: {"service": ""},
    ],
)
def test_bad_client_options_are_configuration_errors(
    make_client: Callable[..., RpcClient], options: Callable[[], dict[str, Any]]
) -> None:
    with pytest.raises(ConfigurationError):
        make_client(**options())


def test_client_needs_exactly_one_of_bootstrap_or_transport(broker: MemoryBroker) -> None:
    with pytest.raises(ConfigurationError):
        RpcClient(service="x")
    with pytest.raises(ConfigurationError):
        RpcClient("localhost:9092", service="x", transport=MemoryTransport(broker))


@pytest.mark.parametrize(
    "payload",
    [{1, 2}, object(), [1, 2], "text", {"when": object()}],
    # Stable ids: repr(object()) holds an address, which breaks --lf and xdist.
    ids=["set", "object", "list", "str", "dict-with-object"],
)
async def test_non_serializable_payload(
    broker: MemoryBroker,
    make_client: Callable[..., RpcClient],
    make_trio: Callable[..., TopicTrio],
    payload: Any,
) -> None:
    trio = make_trio(OP)
    async with make_client() as client:
        with pytest.raises(PayloadNotSerializable):
            await client.request(OP, payload)
    assert broker.records(trio.requested) == []
    assert client.pending_count == 0


async def test_payload_over_broker_limit(
    make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    broker = MemoryBroker(max_message_bytes=2_000)
    trio = TopicTrio.from_base(OP)
    for topic in (trio.requested, trio.completed, trio.failed):
        broker.create_topic(topic)
    async with RpcClient(service="c", transport=MemoryTransport(broker)) as client:
        with pytest.raises(PayloadTooLarge) as info:
            await client.request(OP, {"blob": "x" * 5_000}, timeout=1)
        assert client.pending_count == 0
        assert broker.records(trio.requested) == []
    assert info.value.limit == 2_000
    assert info.value.size > 2_000


@pytest.mark.parametrize("op", ["bad op", "", "agent/routing", "x" * 240])
async def test_illegal_op_name(make_client: Callable[..., RpcClient], op: str) -> None:
    async with make_client() as client:
        with pytest.raises(InvalidTopicName):
            await client.request(op, {})


@pytest.mark.parametrize(
    "name", ["correlation_id", "reply_to", "deadline_ms", "idempotency_key", "event_type"]
)
async def test_reserved_header_is_a_configuration_error(
    make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio], name: str
) -> None:
    make_trio(OP)
    async with make_client() as client:
        with pytest.raises(ConfigurationError, match=name):
            await client.request(OP, {}, headers={name: "x"})


async def test_user_headers_are_sent(
    broker: MemoryBroker, make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    trio = make_trio(OP)
    async with make_client() as client:
        with pytest.raises(RequestTimeout):
            await client.request(OP, {}, headers={"tenant": "t-9"}, timeout=0.1)
    (record,) = broker.records(trio.requested)
    assert header_dict(record.headers)["tenant"] == "t-9"


async def test_bad_priority_is_a_configuration_error(
    make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    make_trio(OP)
    async with make_client() as client:
        with pytest.raises(ConfigurationError):
            await client.request(OP, {}, priority="urgent")


# ------------------------------------------------------------------ lifecycle


async def test_request_before_start(
    make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    make_trio(OP)
    client = make_client()
    with pytest.raises(LifecycleError) as info:
        await client.request(OP, {})
    assert not isinstance(info.value, ClientClosed)


async def test_request_after_close(
    make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    make_trio(OP)
    client = make_client()
    async with client:
        pass
    with pytest.raises(ClientClosed):
        await client.request(OP, {})
    with pytest.raises(ClientClosed):
        await client.publish("some.topic", {})


async def test_client_cannot_restart_after_close(make_client: Callable[..., RpcClient]) -> None:
    client = make_client()
    await client.start()
    await client.aclose()
    with pytest.raises(LifecycleError):
        await client.start()


async def test_client_cannot_start_twice(make_client: Callable[..., RpcClient]) -> None:
    client = make_client()
    await client.start()
    try:
        with pytest.raises(LifecycleError):
            await client.start()
    finally:
        await client.aclose()


async def test_aclose_is_idempotent(make_client: Callable[..., RpcClient]) -> None:
    client = make_client()
    await client.start()
    await client.aclose()
    await client.aclose()


async def test_aclose_fails_pending_calls(
    wait_until: WaitUntil,
    make_client: Callable[..., RpcClient],
    make_trio: Callable[..., TopicTrio],
) -> None:
    trio = make_trio(OP)
    client = make_client()
    await client.start()
    errors: list[BaseException] = []

    async def call() -> None:
        try:
            await client.request(OP, {}, timeout=30)
        except BaseException as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(call)
        await wait_until(lambda: client.pending_count >= 3)
        await client.aclose()
    assert len(errors) == 3
    assert all(isinstance(e, ClientClosed) for e in errors), errors
    assert {e.topic for e in errors} == {trio.requested}  # type: ignore[attr-defined]
    assert len({e.correlation_id for e in errors}) == 3  # type: ignore[attr-defined]
    assert client.pending_count == 0


async def test_aclose_fails_calls_waiting_for_a_slot(
    wait_until: WaitUntil,
    make_client: Callable[..., RpcClient],
    make_trio: Callable[..., TopicTrio],
) -> None:
    # docs/wire.md §6: closing fails *every* pending call with a clear error, including the
    # ones still waiting for an in-flight slot.
    make_trio(OP)
    client = make_client(limits=Limits(max_in_flight=1))
    await client.start()
    errors: list[BaseException] = []

    async def call() -> None:
        try:
            await client.request(OP, {}, timeout=30)
        except BaseException as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        await wait_until(lambda: client.pending_count >= 1)
        tg.start_soon(call)
        await anyio.sleep(0.05)  # let the second call block on the slot
        await client.aclose()
    assert len(errors) == 2
    assert all(isinstance(e, ClientClosed) for e in errors), errors
    assert client.pending_count == 0


async def test_cancelled_call_leaves_nothing_behind(
    wait_until: WaitUntil,
    broker: MemoryBroker,
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    trio = make_trio(OP)
    async with make_client(limits=Limits(max_in_flight=1)) as client:
        with anyio.move_on_after(0.1) as scope:
            await client.request(OP, {}, timeout=30)
        assert scope.cancelled_caught
        assert client.pending_count == 0
        # The late reply is dropped and counted; the slot was released.
        (request,) = broker.records(trio.requested)
        broker.append(reply_record(trio, request, {"late": True}))
        await wait_until(lambda: client.stats.late_replies >= 1)
        async with echo_server(make_server):
            assert await client.request(OP, {"n": 1}, timeout=5) == {"echo": {"n": 1}}


# ------------------------------------------------------------------ concurrency


async def test_max_in_flight_makes_callers_wait(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    server = make_server()
    running = 0
    most = 0

    @server.responder(OP)
    async def slow(payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await anyio.sleep(0.02)
        running -= 1
        return {"i": payload["i"]}

    results: dict[int, dict[str, Any]] = {}
    async with make_client(limits=Limits(max_in_flight=2)) as client, server:

        async def call(i: int) -> None:
            results[i] = await client.request(OP, {"i": i}, timeout=10)

        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(call, i)
    assert results == {i: {"i": i} for i in range(5)}
    assert most <= 2
    assert client.pending_count == 0


async def test_many_concurrent_calls_each_get_their_own_reply(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    results: dict[int, dict[str, Any]] = {}
    async with make_client() as client, echo_server(make_server):

        async def call(i: int) -> None:
            results[i] = await client.request(OP, {"i": i})

        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(call, i)
    assert results == {i: {"echo": {"i": i}} for i in range(50)}
    assert client.pending_count == 0


# ------------------------------------------------------------------ publish


async def test_publish_stores_an_envelope(
    broker: MemoryBroker, make_client: Callable[..., RpcClient]
) -> None:
    broker.create_topic("agent.routing.decided.v1")
    async with make_client(service="router") as client:
        event_id = await client.publish(
            "agent.routing.decided.v1", {"agent": "a1"}, key="tenant-1", correlation_id="c-1"
        )
    (record,) = broker.records("agent.routing.decided.v1")
    assert record.key == b"tenant-1"
    envelope = decode_envelope(record.value)
    assert envelope.event_id == event_id
    assert envelope.payload == {"agent": "a1"}
    assert envelope.correlation_id == "c-1"
    assert envelope.service == "router"
    assert envelope.event_type == "AGENT_ROUTING_DECIDED"
    headers = header_dict(record.headers)
    assert headers["message_id"] == event_id
    assert headers["correlation_id"] == "c-1"


async def test_publish_with_explicit_event_type(
    broker: MemoryBroker, make_client: Callable[..., RpcClient]
) -> None:
    broker.create_topic("events")
    async with make_client() as client:
        await client.publish("events", {}, event_type="ORDER_PLACED")
        await client.publish("events", {}, event_type="order.placed")
        with pytest.raises(ConfigurationError):
            await client.publish("events", {}, event_type="Order.Placed")
        with pytest.raises(ConfigurationError):
            await client.publish("events", {}, event_type="ORDER_PLACED\n")
    records = broker.records("events")
    types = [decode_envelope(r.value).event_type for r in records]
    assert sorted(types) == ["ORDER_PLACED", "order.placed"]  # across partitions


async def test_publish_validates_topic_and_payload(
    broker: MemoryBroker, make_client: Callable[..., RpcClient]
) -> None:
    broker.create_topic("events")
    async with make_client() as client:
        with pytest.raises(InvalidTopicName):
            await client.publish("bad topic", {})
        with pytest.raises(PayloadNotSerializable):
            await client.publish("events", [1])  # type: ignore[arg-type]
    assert broker.records("events") == []


# ------------------------------------------------------------------ reply routing


async def test_unknown_replies_are_counted_not_raised(
    wait_until: WaitUntil,
    broker: MemoryBroker,
    make_client: Callable[..., RpcClient],
    make_trio: Callable[..., TopicTrio],
) -> None:
    trio = make_trio(OP)
    async with make_client() as client, anyio.create_task_group() as tg:
        tg.start_soon(hand_responder, broker, trio, lambda r: reply_record(trio, r, {"ok": 1}))
        assert await client.request(OP, {}) == {"ok": 1}
        (request,) = broker.records(trio.requested)
        broker.append(reply_record(trio, request, {"dup": 1}))  # a duplicate answer
        broker.append(reply_record(trio, request, {}, correlation_id="someone-else"))
        await wait_until(lambda: client.stats.late_replies >= 2)
        assert await client.request(OP, {}) == {"ok": 1}
        tg.cancel_scope.cancel()
    assert client.stats.late_replies == 2
    assert client.pending_count == 0


async def test_late_reply_after_timeout_is_counted(
    wait_until: WaitUntil,
    broker: MemoryBroker,
    make_client: Callable[..., RpcClient],
    make_trio: Callable[..., TopicTrio],
) -> None:
    trio = make_trio(OP)
    async with make_client() as client:
        with pytest.raises(RequestTimeout):
            await client.request(OP, {}, timeout=0.1)
        (request,) = broker.records(trio.requested)
        broker.append(reply_record(trio, request, {"late": True}))
        await wait_until(lambda: client.stats.late_replies >= 1)
    assert client.pending_count == 0


async def test_undecodable_reply_is_counted_not_raised(
    wait_until: WaitUntil,
    broker: MemoryBroker,
    make_client: Callable[..., RpcClient],
    make_trio: Callable[..., TopicTrio],
) -> None:
    trio = make_trio(OP)
    async with make_client() as client, anyio.create_task_group() as tg:
        tg.start_soon(hand_responder, broker, trio, lambda r: reply_record(trio, r, {"ok": 1}))
        assert await client.request(OP, {}) == {"ok": 1}
        broker.append(OutboundRecord(topic=trio.completed, value=b"\x00garbage"))
        await wait_until(lambda: client.stats.undecodable_replies >= 1)
        assert await client.request(OP, {}) == {"ok": 1}
        tg.cancel_scope.cancel()


async def test_reply_without_headers_is_matched(
    broker: MemoryBroker, make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    trio = make_trio(OP)
    async with make_client() as client, anyio.create_task_group() as tg:
        tg.start_soon(
            hand_responder,
            broker,
            trio,
            lambda r: reply_record(trio, r, {"plain": True}, with_headers=False),
        )
        assert await client.request(OP, {}) == {"plain": True}
        tg.cancel_scope.cancel()
    (reply,) = broker.records(trio.completed)
    assert reply.headers == []


async def test_failure_reply_without_headers_is_matched(
    broker: MemoryBroker, make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    trio = make_trio(OP)
    failure = {"error_code": "HANDLER_ERROR", "error_message": "boom", "retryable": False}
    async with make_client() as client, anyio.create_task_group() as tg:
        tg.start_soon(
            hand_responder,
            broker,
            trio,
            lambda r: reply_record(trio, r, failure, failed=True, with_headers=False),
        )
        with pytest.raises(RemoteError, match="boom"):
            await client.request(OP, {})
        tg.cancel_scope.cancel()


async def test_reply_partition_pins_replies(
    broker: MemoryBroker,
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    trio = make_trio(OP, partitions=3)
    async with make_client(topics=Topics(reply_partition=1)) as client, echo_server(make_server):
        for i in range(6):
            assert await client.request(OP, {"i": i}) == {"echo": {"i": i}}
    replies = broker.records(trio.completed)
    assert len(replies) == 6
    assert {r.partition for r in replies} == {1}
    for request in broker.records(trio.requested):
        assert header_dict(request.headers)["reply_partition"] == "1"


async def test_reply_partition_client_reads_only_its_partition(
    broker: MemoryBroker, make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    trio = make_trio(OP, partitions=3)
    async with (
        make_client(topics=Topics(reply_partition=1)) as client,
        anyio.create_task_group() as tg,
    ):
        # A responder that ignores reply_partition: the reply lands elsewhere and is not read.
        tg.start_soon(
            hand_responder, broker, trio, lambda r: reply_record(trio, r, {"x": 1}, partition=0)
        )
        with pytest.raises(RequestTimeout):
            await client.request(OP, {}, timeout=0.2)
        tg.cancel_scope.cancel()
    assert len(broker.records(trio.completed)) == 1


async def test_reply_partition_beyond_topic_is_an_error(
    make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    make_trio(OP, partitions=2)
    async with make_client(topics=Topics(reply_partition=5)) as client:
        with pytest.raises(Exception, match="5") as info:
            await client.request(OP, {}, timeout=1)
    assert not isinstance(info.value, RequestTimeout)
    assert client.pending_count == 0


async def test_idempotency_key_is_sent(
    broker: MemoryBroker, make_client: Callable[..., RpcClient], make_trio: Callable[..., TopicTrio]
) -> None:
    trio = make_trio(OP)
    async with make_client() as client:
        with pytest.raises(RequestTimeout):
            await client.request(OP, {}, idempotency_key="order-77", timeout=0.1)
    (record,) = broker.records(trio.requested)
    assert header_dict(record.headers)["idempotency_key"] == "order-77"


# ------------------------------------------------------------------ publish failures


class FlakyTransport(MemoryTransport):
    """Refuses the first ``failures`` request records the way a broker would (async)."""

    def __init__(self, broker: MemoryBroker, failures: int) -> None:
        super().__init__(broker)
        self.failures = failures
        self.refused: list[OutboundRecord] = []

    def produce(self, record: OutboundRecord, on_delivery: Any) -> None:
        if record.topic.endswith(".requested.v1") and self.failures > 0:
            self.failures -= 1
            self.refused.append(record)
            on_delivery(TransportError("broker refused the record"), record)
            return
        super().produce(record, on_delivery)


async def test_publish_failure_is_retried(
    broker: MemoryBroker, make_server: Callable[..., RpcServer], make_trio: Callable[..., TopicTrio]
) -> None:
    make_trio(OP)
    transport = FlakyTransport(broker, failures=2)
    policy = CallRetry(max_attempts=3, initial_delay=0, jitter=0)
    async with (
        RpcClient(service="c", transport=transport, retry=policy) as client,
        echo_server(make_server),
    ):
        assert await client.request(OP, {"a": 1}) == {"echo": {"a": 1}}
    assert len(transport.refused) == 2
    ids = {decode_envelope(r.value).correlation_id for r in transport.refused}
    assert len(ids) == 1
    assert client.stats.retries == 2
    assert client.pending_count == 0


async def test_publish_failure_after_last_attempt_goes_to_the_dlq(
    broker: MemoryBroker, make_trio: Callable[..., TopicTrio]
) -> None:
    trio = make_trio(OP)
    transport = FlakyTransport(broker, failures=100)
    policy = CallRetry(max_attempts=3, initial_delay=0, jitter=0)
    async with RpcClient(service="c", transport=transport, retry=policy) as client:
        with pytest.raises(PublishError) as info:
            await client.request(OP, {"a": 1})
        assert client.pending_count == 0
    assert len(transport.refused) == 3
    assert info.value.topic == trio.requested
    assert info.value.correlation_id == decode_envelope(transport.refused[0].value).correlation_id
    assert broker.records(trio.requested) == []
    (dead,) = broker.records(f"{trio.requested}.dlq")
    envelope = decode_envelope(dead.value)
    assert envelope.correlation_id == info.value.correlation_id
    assert envelope.payload == {"a": 1}
    headers = header_dict(dead.headers)
    assert headers[DlqHeader.ORIGINAL_TOPIC] == trio.requested
    assert headers[DlqHeader.REASON] == DlqReason.PUBLISH_FAILED
    assert client.stats.dead_lettered == 1


async def test_publish_failure_without_retry_policy(
    broker: MemoryBroker, make_trio: Callable[..., TopicTrio]
) -> None:
    make_trio(OP)
    transport = FlakyTransport(broker, failures=100)
    async with RpcClient(service="c", transport=transport) as client:
        with pytest.raises(PublishError):
            await client.request(OP, {})
    assert len(transport.refused) == 1
