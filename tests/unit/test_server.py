"""RpcServer over MemoryTransport (docs/wire.md §5)."""

from __future__ import annotations

import functools
import json
import time
import types
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

import kafkarpc
from kafkarpc import (
    ConfigurationError,
    DlqHeader,
    DlqReason,
    HandlerRetry,
    LifecycleError,
    Limits,
    MemoryBroker,
    RemoteError,
    RequestContext,
    RpcClient,
    RpcServer,
    TopicTrio,
    decode_envelope,
)
from kafkarpc.transport import InboundRecord, OutboundRecord
from kafkarpc.wire.envelope import encode_envelope, make_envelope
from kafkarpc.wire.headers import RequestRouting, build_headers, header_dict

pytestmark = pytest.mark.anyio

OP = "billing.charge"

# The types of the unit conftest's polling fixtures.
WaitUntil = Callable[..., Awaitable[None]]
WaitForRecords = Callable[..., Awaitable[list[InboundRecord]]]


class Charge(BaseModel):
    cents: int
    currency: str = "EUR"


def raw_request(
    trio: TopicTrio,
    payload: dict[str, Any],
    *,
    correlation_id: str | None = None,
    routing: RequestRouting | None = None,
    extra: dict[str, str] | None = None,
) -> OutboundRecord:
    """A request as a peer that only knows the wire contract (docs/wire.md) would write it."""
    envelope = make_envelope(
        event_type=trio.event_type("requested"),
        correlation_id=correlation_id or str(uuid.uuid4()),
        service="peer",
        payload=payload,
    )
    return OutboundRecord(
        topic=trio.requested,
        value=encode_envelope(envelope),
        key=envelope.correlation_id.encode(),
        headers=build_headers(envelope, routing=routing, extra=extra),
    )


def failure_of(record: InboundRecord) -> dict[str, Any]:
    return decode_envelope(record.value).payload


# ------------------------------------------------------------------ replies


async def test_reply_envelope_follows_the_spec(
    broker: MemoryBroker,
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
    wait_for_records: WaitForRecords,
) -> None:
    trio = make_trio(OP)
    server = make_server(service="billing")

    @server.responder(OP)
    async def charge(req: Charge) -> dict[str, Any]:
        return {"charged": req.cents}

    request = raw_request(trio, {"cents": 5}, correlation_id="order-1")
    async with server:
        broker.append(request)
        (reply,) = await wait_for_records(trio.completed)
    envelope = decode_envelope(reply.value)
    assert envelope.payload == {"charged": 5}
    assert envelope.correlation_id == "order-1"
    assert envelope.causation_id == decode_envelope(request.value).event_id
    assert envelope.event_type == "BILLING_CHARGE_COMPLETED"
    assert envelope.service == "billing"
    assert reply.key == b"order-1"
    headers = header_dict(reply.headers)
    assert headers["correlation_id"] == "order-1"
    assert headers["message_id"] == envelope.event_id
    assert headers["event_type"] == "BILLING_CHARGE_COMPLETED"
    assert headers["source"] == "billing"
    assert headers["content_type"] == "application/json"
    assert broker.records(trio.failed) == []


async def test_request_without_headers_is_served(
    broker: MemoryBroker,
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
    wait_for_records: WaitForRecords,
) -> None:
    trio = make_trio(OP)
    server = make_server()

    @server.responder(OP)
    async def charge(req: Charge) -> dict[str, Any]:
        return {"ok": True}

    request = raw_request(trio, {"cents": 1}, correlation_id="bare-1")
    async with server:
        broker.append(OutboundRecord(topic=trio.requested, value=request.value, key=request.key))
        (reply,) = await wait_for_records(trio.completed)
    assert decode_envelope(reply.value).correlation_id == "bare-1"


async def test_validation_error(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    server = make_server()
    calls = 0

    @server.responder(OP)
    async def charge(req: Charge) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {}

    async with make_client() as client, server:
        with pytest.raises(RemoteError) as info:
            await client.request(OP, {"cents": "a lot"})
    err = info.value
    assert err.error_code == "VALIDATION_ERROR"
    assert err.retryable is False
    assert err.details["errors"]
    assert any("cents" in json.dumps(e) for e in err.details["errors"])
    assert calls == 0
    assert server.stats.validation_errors == 1


async def test_handler_exception_is_handler_error(
    broker: MemoryBroker,
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    trio = make_trio(OP)
    server = make_server()

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("card declined")

    async with make_client() as client, server:
        with pytest.raises(RemoteError) as info:
            await client.request(OP, {})
    assert info.value.error_code == "HANDLER_ERROR"
    assert info.value.error_type == "ValueError"
    assert "card declined" in info.value.error_message
    assert server.stats.handler_errors == 1
    # Without a retry policy a handler error is answered, not dead-lettered.
    assert broker.records(f"{trio.requested}.dlq") == []


async def test_handler_returning_a_non_object_is_handler_error(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    server = make_server()

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> Any:
        return [1, 2, 3]

    async with make_client() as client, server:
        with pytest.raises(RemoteError) as info:
            await client.request(OP, {})
    assert info.value.error_code == "HANDLER_ERROR"


async def test_handler_returning_none_replies_empty_object(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    server = make_server()

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> None:
        return None

    async with make_client() as client, server:
        assert await client.request(OP, {}) == {}


async def test_handler_remote_error_code_reaches_the_caller(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    server = make_server()

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        raise RemoteError(
            error_code="NOT_FOUND",
            error_message="no such account",
            retryable=False,
            details={"account": payload["account"]},
        )

    async with make_client() as client, server:
        with pytest.raises(RemoteError) as info:
            await client.request(OP, {"account": "acc-1"})
    assert info.value.error_code == "NOT_FOUND"
    assert info.value.error_message == "no such account"
    assert info.value.details == {"account": "acc-1"}
    assert info.value.retryable is False


async def test_reply_too_large_for_the_broker_is_answered_as_a_failure() -> None:
    # Re-sending a record the broker refused for its size cannot succeed: the caller
    # should get a failure reply, not a timeout (and the request should not stay unacked).
    broker = kafkarpc.MemoryBroker(max_message_bytes=2_000)
    trio = TopicTrio.from_base(OP)
    for topic in (trio.requested, trio.completed, trio.failed, f"{trio.requested}.dlq"):
        broker.create_topic(topic)
    server = kafkarpc.RpcServer(
        service="billing",
        transport=kafkarpc.MemoryTransport(broker),
        limits=Limits(shutdown_timeout=0.2),
    )

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        return {"blob": "x" * 5_000}

    client = kafkarpc.RpcClient(service="c", transport=kafkarpc.MemoryTransport(broker))
    async with client, server:
        with pytest.raises(RemoteError) as info:
            await client.request(OP, {}, timeout=1)
    assert info.value.retryable is False
    assert broker.records(trio.completed) == []
    assert len(broker.records(trio.failed)) == 1


async def test_failure_reply_is_on_the_failed_topic(
    broker: MemoryBroker,
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    trio = make_trio(OP)
    server = make_server()

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("x")

    async with make_client() as client, server:
        with pytest.raises(RemoteError):
            await client.request(OP, {})
    (reply,) = broker.records(trio.failed)
    envelope = decode_envelope(reply.value)
    assert envelope.event_type == "BILLING_CHARGE_FAILED"
    assert set(envelope.payload) >= {
        "error_code",
        "error_message",
        "error_type",
        "retryable",
        "details",
    }
    assert broker.records(trio.completed) == []


# ------------------------------------------------------------------ poison pills


@pytest.mark.parametrize(
    "value",
    [b"not json at all", b"\xff\xfe\x00", b"[]", b'{"payload": {}}'],
    ids=["text", "binary", "array", "missing-fields"],
)
async def test_poison_pill_goes_to_the_dlq(
    broker: MemoryBroker,
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
    wait_for_records: WaitForRecords,
    value: bytes,
) -> None:
    trio = make_trio(OP)
    server = make_server()

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    async with make_client() as client, server:
        stored = broker.append(
            OutboundRecord(
                topic=trio.requested, value=value, key=b"k1", headers=[("tenant", b"t-1")]
            )
        )
        (dead,) = await wait_for_records(f"{trio.requested}.dlq")
        # The consumer keeps going: the next valid request is still served.
        assert await client.request(OP, {}) == {"ok": True}
    assert dead.value == value
    assert dead.key == b"k1"
    headers = header_dict(dead.headers)
    raw = dict(dead.headers)
    assert headers[DlqHeader.ORIGINAL_TOPIC] == trio.requested
    assert raw[DlqHeader.ORIGINAL_PARTITION] == stored.partition.to_bytes(4, "big")
    assert raw[DlqHeader.ORIGINAL_OFFSET] == stored.offset.to_bytes(8, "big")
    assert raw[DlqHeader.ORIGINAL_TIMESTAMP] == stored.timestamp_ms.to_bytes(8, "big")
    assert headers[DlqHeader.ORIGINAL_TIMESTAMP_TYPE] == "CreateTime"
    assert headers[DlqHeader.ORIGINAL_CONSUMER_GROUP] == server.group_id
    assert headers[DlqHeader.EXCEPTION_FQCN].endswith("EnvelopeError")
    assert headers[DlqHeader.EXCEPTION_MESSAGE]
    assert headers[DlqHeader.REASON] == DlqReason.POISON
    assert headers["tenant"] == "t-1"
    assert server.stats.dead_lettered == 1
    assert broker.records(trio.failed) == []


def test_dlq_header_names() -> None:
    # Compared through a dict because mypy wrongly calls a StrEnum member and a str
    # literal non-overlapping (python/mypy#19576); the members equal the wire names.
    wire_names: dict[DlqHeader, str] = {
        DlqHeader.ORIGINAL_TOPIC: "kafka_dlt-original-topic",
        DlqHeader.ORIGINAL_PARTITION: "kafka_dlt-original-partition",
        DlqHeader.ORIGINAL_OFFSET: "kafka_dlt-original-offset",
        DlqHeader.ORIGINAL_TIMESTAMP: "kafka_dlt-original-timestamp",
        DlqHeader.ORIGINAL_TIMESTAMP_TYPE: "kafka_dlt-original-timestamp-type",
        DlqHeader.ORIGINAL_CONSUMER_GROUP: "kafka_dlt-original-consumer-group",
        DlqHeader.EXCEPTION_FQCN: "kafka_dlt-exception-fqcn",
        DlqHeader.EXCEPTION_CAUSE_FQCN: "kafka_dlt-exception-cause-fqcn",
        DlqHeader.EXCEPTION_MESSAGE: "kafka_dlt-exception-message",
        DlqHeader.EXCEPTION_STACKTRACE: "kafka_dlt-exception-stacktrace",
    }
    for member, wire_name in wire_names.items():
        assert member == wire_name


# ------------------------------------------------------------------ deadlines


async def test_expired_deadline_is_not_executed(
    broker: MemoryBroker,
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
    wait_for_records: WaitForRecords,
) -> None:
    trio = make_trio(OP)
    server = make_server()
    calls = 0

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {}

    past = int(time.time() * 1000) - 10_000
    routing = RequestRouting(reply_to=trio.completed, deadline_ms=past)
    async with server:
        broker.append(raw_request(trio, {}, correlation_id="late-1", routing=routing))
        (reply,) = await wait_for_records(trio.failed)
    assert calls == 0
    envelope = decode_envelope(reply.value)
    assert envelope.correlation_id == "late-1"
    assert envelope.payload["error_code"] == "DEADLINE_EXCEEDED"
    assert server.stats.deadline_expired == 1
    assert broker.records(trio.completed) == []


async def test_malformed_deadline_header_is_ignored(
    broker: MemoryBroker,
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
    wait_for_records: WaitForRecords,
) -> None:
    trio = make_trio(OP)
    server = make_server()

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        return {"ran": True}

    async with server:
        broker.append(raw_request(trio, {}, extra={"deadline_ms": "abc"}))
        (reply,) = await wait_for_records(trio.completed)
    assert decode_envelope(reply.value).payload == {"ran": True}


async def test_handler_outliving_the_deadline_is_answered_deadline_exceeded(
    broker: MemoryBroker,
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
    wait_for_records: WaitForRecords,
) -> None:
    trio = make_trio(OP)
    server = make_server()

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        await anyio.sleep(30)
        return {}

    soon = int(time.time() * 1000) + 200
    async with server:
        broker.append(raw_request(trio, {}, routing=RequestRouting(deadline_ms=soon)))
        (reply,) = await wait_for_records(trio.failed)
    assert decode_envelope(reply.value).payload["error_code"] == "DEADLINE_EXCEEDED"


# ------------------------------------------------------------------ idempotency


async def test_same_idempotency_key_runs_once(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    server = make_server()
    calls = 0

    @server.responder(OP)
    async def charge(req: Charge) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {"receipt": str(uuid.uuid4())}

    async with make_client() as client, server:
        first = await client.request(OP, {"cents": 1}, idempotency_key="pay-1")
        second = await client.request(OP, {"cents": 1}, idempotency_key="pay-1")
        other = await client.request(OP, {"cents": 1}, idempotency_key="pay-2")
    assert calls == 2
    assert first == second
    assert other != first
    assert server.stats.deduplicated == 1


async def test_concurrent_duplicates_run_once(
    wait_until: WaitUntil,
    broker: MemoryBroker,
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
    wait_for_records: WaitForRecords,
) -> None:
    trio = make_trio(OP, partitions=1)
    server = make_server()
    calls = 0
    release = anyio.Event()

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        await release.wait()
        return {"n": calls}

    routing = RequestRouting(idempotency_key="dup")
    async with server:
        broker.append(raw_request(trio, {}, correlation_id="a", routing=routing))
        broker.append(raw_request(trio, {}, correlation_id="b", routing=routing))
        await wait_until(lambda: calls >= 1)
        await anyio.sleep(0.05)
        release.set()
        replies = await wait_for_records(trio.completed, 2)
    assert calls == 1
    bodies = {decode_envelope(r.value).correlation_id: decode_envelope(r.value) for r in replies}
    assert set(bodies) == {"a", "b"}
    assert bodies["a"].payload == bodies["b"].payload == {"n": 1}


async def test_idempotency_is_scoped_per_operation(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio("op.one")
    make_trio("op.two")
    server = make_server()

    @server.responder("op.one")
    async def one(payload: dict[str, Any]) -> dict[str, Any]:
        return {"op": 1}

    @server.responder("op.two")
    async def two(payload: dict[str, Any]) -> dict[str, Any]:
        return {"op": 2}

    async with make_client() as client, server:
        assert await client.request("op.one", {}, idempotency_key="k") == {"op": 1}
        assert await client.request("op.two", {}, idempotency_key="k") == {"op": 2}


# ------------------------------------------------------------------ retries


async def test_retry_policy_retries_the_handler(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    server = make_server(retry=HandlerRetry(max_attempts=3, initial_delay=0, jitter=0))
    attempts: list[int] = []

    @server.responder(OP)
    async def charge(payload: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        attempts.append(ctx.attempt)
        if len(attempts) < 3:
            raise ConnectionError("database blip")
        return {"ok": True}

    async with make_client() as client, server:
        assert await client.request(OP, {}) == {"ok": True}
    assert attempts == [1, 2, 3]
    assert server.stats.retries == 2
    assert server.stats.handler_errors == 0


async def test_exhausted_retries_answer_and_dead_letter(
    broker: MemoryBroker,
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
    wait_for_records: WaitForRecords,
) -> None:
    trio = make_trio(OP)
    server = make_server(retry=HandlerRetry(max_attempts=3, initial_delay=0, jitter=0))
    calls = 0

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        raise ConnectionError("database down")

    async with make_client() as client, server:
        with pytest.raises(RemoteError) as info:
            await client.request(OP, {"cents": 3})
        (dead,) = await wait_for_records(f"{trio.requested}.dlq")
    assert calls == 3
    assert info.value.error_code == "HANDLER_ERROR"
    assert info.value.details.get("attempts") == 3
    headers = header_dict(dead.headers)
    assert headers[DlqHeader.REASON] == DlqReason.HANDLER_EXHAUSTED
    assert headers[DlqHeader.REASON] == "handler_exhausted"
    assert headers[DlqHeader.ORIGINAL_TOPIC] == trio.requested
    assert headers[DlqHeader.EXCEPTION_FQCN] == "ConnectionError"
    assert "database down" in headers[DlqHeader.EXCEPTION_MESSAGE]
    assert decode_envelope(dead.value).payload == {"cents": 3}


async def test_retry_only_listed_exceptions(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    policy = HandlerRetry(max_attempts=3, initial_delay=0, handler_exceptions=(ConnectionError,))
    server = make_server(retry=policy)
    calls = 0

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        raise KeyError("not retryable")

    async with make_client() as client, server:
        with pytest.raises(RemoteError):
            await client.request(OP, {})
    assert calls == 1


async def test_per_responder_retry_override(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    server = make_server(retry=HandlerRetry(max_attempts=5, initial_delay=0))
    calls = 0

    @server.responder(OP, retry=None)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        raise ConnectionError("x")

    async with make_client() as client, server:
        with pytest.raises(RemoteError):
            await client.request(OP, {})
    assert calls == 1


# ------------------------------------------------------------------ handlers


async def test_sync_handler(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    server = make_server()

    @server.responder(OP)
    def charge(req: Charge) -> Charge:
        return Charge(cents=req.cents * 2, currency=req.currency)

    async with make_client() as client, server:
        assert await client.request(OP, {"cents": 21}) == {"cents": 42, "currency": "EUR"}


async def test_sync_handler_exception(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    server = make_server()

    @server.responder(OP)
    def charge(payload: dict[str, Any]) -> dict[str, Any]:
        raise LookupError("gone")

    async with make_client() as client, server:
        with pytest.raises(RemoteError, match="gone") as info:
            await client.request(OP, {})
    assert info.value.error_code == "HANDLER_ERROR"


async def test_max_concurrency_bounds_running_handlers(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    server = make_server(limits=Limits(max_concurrency=2))
    running = 0
    most = 0

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await anyio.sleep(0.02)
        running -= 1
        return {"i": payload["i"]}

    results: dict[int, dict[str, Any]] = {}
    async with make_client() as client, server:

        async def call(i: int) -> None:
            results[i] = await client.request(OP, {"i": i}, timeout=10)

        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(call, i)
    assert results == {i: {"i": i} for i in range(8)}
    assert most == 2


async def test_bound_method_handler(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)

    class Billing:
        def __init__(self) -> None:
            self.fee = 7

        async def charge(self, req: Charge) -> dict[str, Any]:
            return {"total": req.cents + self.fee}

    server = make_server()
    server.add_responder(OP, Billing().charge)
    async with make_client() as client, server:
        assert await client.request(OP, {"cents": 3}) == {"total": 10}


async def test_partial_handler(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    # Handler.build unwraps functools.partial to decide sync/async: partials are meant to work.
    make_trio(OP)

    async def charge(req: Charge, *, fee: int) -> dict[str, Any]:
        return {"total": req.cents + fee}

    server = make_server()
    server.add_responder(OP, functools.partial(charge, fee=5))
    async with make_client() as client, server:
        assert await client.request(OP, {"cents": 3}) == {"total": 8}


async def test_request_context_injection(
    broker: MemoryBroker,
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    trio = make_trio(OP)
    server = make_server()
    seen: list[RequestContext] = []

    @server.responder(OP)
    async def charge(req: Charge, ctx: RequestContext) -> dict[str, Any]:
        seen.append(ctx)
        return {"cents": req.cents}

    async with make_client(service="checkout") as client, server:
        await client.request(OP, {"cents": 9}, idempotency_key="idem-9")
    (ctx,) = seen
    (request,) = broker.records(trio.requested)
    envelope = decode_envelope(request.value)
    assert ctx.correlation_id == envelope.correlation_id
    assert ctx.event_id == envelope.event_id
    assert ctx.caller == "checkout"
    assert ctx.topic == trio.requested
    assert ctx.event_type == "BILLING_CHARGE_REQUESTED"
    assert (ctx.partition, ctx.offset) == (request.partition, request.offset)
    assert ctx.idempotency_key == "idem-9"
    assert ctx.deadline_ms is not None
    assert ctx.remaining() is not None
    assert ctx.headers["correlation_id"] == envelope.correlation_id


async def test_context_only_handler(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    server = make_server()

    @server.responder(OP)
    async def charge(ctx: RequestContext) -> dict[str, Any]:
        return {"caller": ctx.caller}

    async with make_client(service="shop") as client, server:
        assert await client.request(OP, {"ignored": 1}) == {"caller": "shop"}


async def test_traceparent_is_passed_to_the_reply(
    broker: MemoryBroker,
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    trio = make_trio(OP)
    server = make_server()

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        return {}

    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with make_client() as client, server:
        await client.request(OP, {}, headers={"traceparent": traceparent})
    (reply,) = broker.records(trio.completed)
    headers = header_dict(reply.headers)
    # The reply continues the caller's trace (its span id may be the responder's own).
    assert headers["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert headers["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def make_handlers_module() -> types.ModuleType:
    module = types.ModuleType("fake_billing_handlers")

    @kafkarpc.responder("billing.refund")
    async def refund(payload: dict[str, Any]) -> dict[str, Any]:
        return {"refunded": payload["cents"]}

    @kafkarpc.responder(OP)
    def charge(req: Charge) -> dict[str, Any]:
        return {"charged": req.cents}

    def helper() -> None:  # not marked: ignored in a module
        pass

    module.refund = refund  # type: ignore[attr-defined]
    module.charge = charge  # type: ignore[attr-defined]
    module.helper = helper  # type: ignore[attr-defined]
    module.CONSTANT = 3  # type: ignore[attr-defined]
    return module


async def test_include_module(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    make_trio("billing.refund")
    server = make_server()
    server.include(make_handlers_module())
    assert {t.requested for t in server.operations} == {
        "billing.charge.requested.v1",
        "billing.refund.requested.v1",
    }
    async with make_client() as client, server:
        assert await client.request(OP, {"cents": 4}) == {"charged": 4}
        assert await client.request("billing.refund", {"cents": 2}) == {"refunded": 2}


async def test_include_list(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio("billing.refund")
    module = make_handlers_module()
    server = make_server()
    server.include([module.refund])
    assert [t.requested for t in server.operations] == ["billing.refund.requested.v1"]
    async with make_client() as client, server:
        assert await client.request("billing.refund", {"cents": 1}) == {"refunded": 1}


def test_include_list_rejects_unmarked_functions(make_server: Callable[..., RpcServer]) -> None:
    server = make_server()

    def plain(payload: dict[str, Any]) -> dict[str, Any]:
        return payload

    with pytest.raises(ConfigurationError):
        server.include([plain])


def test_module_responder_rejects_bad_op_at_decoration() -> None:
    with pytest.raises(kafkarpc.InvalidTopicName):
        kafkarpc.responder("bad op")


def test_two_handlers_for_one_op(make_server: Callable[..., RpcServer]) -> None:
    server = make_server()

    @server.responder(OP)
    async def first(payload: dict[str, Any]) -> dict[str, Any]:
        return {}

    with pytest.raises(ConfigurationError, match="already"):

        @server.responder(OP)
        async def second(payload: dict[str, Any]) -> dict[str, Any]:
            return {}


async def _varargs(*args: Any) -> dict[str, Any]:
    return {}


async def _kwargs(payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return {}


async def _two_payloads(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {}


async def _unresolvable(payload: NoSuchType) -> dict[str, Any]:  # type: ignore[name-defined]  # noqa: F821
    return {}


@pytest.mark.parametrize(
    "func",
    [_varargs, _kwargs, _two_payloads, _unresolvable, "not callable", 42],
    ids=["varargs", "kwargs", "two-payloads", "unresolvable-hint", "str", "int"],
)
def test_bad_handler_signatures(make_server: Callable[..., RpcServer], func: Any) -> None:
    server = make_server()
    with pytest.raises(ConfigurationError):
        server.add_responder(OP, func)


def test_bad_server_options(make_server: Callable[..., RpcServer]) -> None:
    # A bad option object raises as soon as it is made, so each is built inside raises().
    options: list[Callable[[], dict[str, Any]]] = [
        lambda: {"limits": Limits(max_concurrency=0)},
        lambda: {"limits": Limits(shutdown_timeout=-1)},
        lambda: {"service": ""},
    ]
    for build in options:
        with pytest.raises(ConfigurationError):
            make_server(**build())


async def test_server_without_responders_refuses_to_start(
    make_server: Callable[..., RpcServer],
) -> None:
    with pytest.raises(ConfigurationError):
        async with make_server():
            pass


async def test_register_after_start_is_a_lifecycle_error(
    make_server: Callable[..., RpcServer], make_trio: Callable[..., TopicTrio]
) -> None:
    make_trio(OP)
    server = make_server()

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        return {}

    async with server:
        with pytest.raises(LifecycleError):
            server.add_responder("billing.other", charge)


async def test_server_starts_once(
    make_server: Callable[..., RpcServer], make_trio: Callable[..., TopicTrio]
) -> None:
    make_trio(OP)
    server = make_server()

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        return {}

    async with server:
        pass
    with pytest.raises(LifecycleError):
        async with server:
            pass


async def test_missing_request_topic_fails_start(make_server: Callable[..., RpcServer]) -> None:
    server = make_server()

    @server.responder("no.such.topic")
    async def handler(payload: dict[str, Any]) -> dict[str, Any]:
        return {}

    with pytest.raises(kafkarpc.TopicNotFound):
        async with server:
            pass


# ------------------------------------------------------------------ shutdown and groups


async def test_graceful_close_finishes_in_flight_handler(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio(OP)
    server = make_server(limits=Limits(shutdown_timeout=10))
    started = anyio.Event()
    release = anyio.Event()
    finished = False

    @server.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal finished
        started.set()
        await release.wait()
        finished = True
        return {"done": True}

    results: list[dict[str, Any]] = []

    async def call(client: kafkarpc.RpcClient) -> None:
        results.append(await client.request(OP, {}, timeout=10))

    async def release_later() -> None:
        await anyio.sleep(0.1)
        release.set()

    async with make_client() as client, anyio.create_task_group() as tg:
        await server.__aenter__()
        tg.start_soon(call, client)
        with anyio.fail_after(5):
            await started.wait()
        tg.start_soon(release_later)
        await server.aclose()
        assert finished, "aclose() returned before the in-flight handler finished"
    assert results == [{"done": True}]


async def test_unfinished_request_is_redelivered_to_the_group(
    broker: MemoryBroker,
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
    wait_for_records: WaitForRecords,
) -> None:
    # At-least-once: a request whose handler did not finish is not committed.
    trio = make_trio(OP, partitions=1)
    first = make_server(service="billing", limits=Limits(shutdown_timeout=0))
    started = anyio.Event()

    @first.responder(OP)
    async def stuck(payload: dict[str, Any]) -> dict[str, Any]:
        started.set()
        await anyio.sleep_forever()
        return {}

    async with first:
        broker.append(raw_request(trio, {"n": 1}, correlation_id="redo-1"))
        with anyio.fail_after(5):
            await started.wait()
    assert broker.records(trio.completed) == []

    second = make_server(service="billing")

    @second.responder(OP)
    async def works(payload: dict[str, Any]) -> dict[str, Any]:
        return {"by": "second", **payload}

    async with second:
        (reply,) = await wait_for_records(trio.completed)
    envelope = decode_envelope(reply.value)
    assert envelope.correlation_id == "redo-1"
    assert envelope.payload == {"by": "second", "n": 1}


async def test_answered_request_is_not_redelivered(
    broker: MemoryBroker,
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
    wait_for_records: WaitForRecords,
) -> None:
    trio = make_trio(OP, partitions=1)
    first = make_server(service="billing")

    @first.responder(OP)
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        return {"by": "first"}

    async with first:
        broker.append(raw_request(trio, {}, correlation_id="once"))
        await wait_for_records(trio.completed)

    second = make_server(service="billing")
    calls = 0

    @second.responder(OP)
    async def charge2(payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {"by": "second"}

    async with second:
        broker.append(raw_request(trio, {}, correlation_id="next"))
        replies = await wait_for_records(trio.completed, 2)
    assert calls == 1
    assert [decode_envelope(r.value).correlation_id for r in replies] == ["once", "next"]


async def test_two_servers_in_one_group_share_the_work(
    broker: MemoryBroker,
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    trio = make_trio(OP, partitions=3)
    handled: dict[str, list[int]] = {"a": [], "b": []}

    def build(name: str) -> kafkarpc.RpcServer:
        server = make_server(service="billing")

        @server.responder(OP)
        async def charge(payload: dict[str, Any]) -> dict[str, Any]:
            handled[name].append(payload["i"])
            return {"i": payload["i"], "by": name}

        return server

    results: dict[int, dict[str, Any]] = {}
    async with make_client() as client, build("a"), build("b"):

        async def call(i: int) -> None:
            results[i] = await client.request(OP, {"i": i}, partition_key=f"k{i}")

        async with anyio.create_task_group() as tg:
            for i in range(30):
                tg.start_soon(call, i)
    assert sorted(handled["a"] + handled["b"]) == list(range(30))
    assert handled["a"]
    assert handled["b"]
    assert {i: r["i"] for i, r in results.items()} == {i: i for i in range(30)}
    assert len(broker.records(trio.completed)) == 30


async def test_different_groups_each_get_every_request(
    broker: MemoryBroker,
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
    wait_for_records: WaitForRecords,
) -> None:
    trio = make_trio(OP, partitions=2)
    handled: dict[str, int] = {"audit": 0, "billing": 0}

    def build(group: str) -> kafkarpc.RpcServer:
        server = make_server(service=group)

        @server.responder(OP)
        async def charge(payload: dict[str, Any]) -> dict[str, Any]:
            handled[group] += 1
            return {}

        return server

    async with build("audit"), build("billing"):
        for i in range(4):
            broker.append(raw_request(trio, {"i": i}))
        await wait_for_records(trio.completed, 8)
    assert handled == {"audit": 4, "billing": 4}
