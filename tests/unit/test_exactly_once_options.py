"""Exactly-once options, the memory transport's refusal, and RequestContext.publish."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kafkarpc import (
    ConfigurationError,
    ExactlyOnce,
    HandlerRetry,
    IdempotencyStore,
    InMemoryIdempotencyStore,
    LifecycleError,
    MemoryBroker,
    RemoteError,
    RequestContext,
    SqliteIdempotencyStore,
    StoredReply,
    decode_envelope,
)
from kafkarpc.server.outbox import Outbox, close_outbox, open_outbox, published, replay
from kafkarpc.server.transaction import Outlet
from kafkarpc.transport import (
    DeliveryCallback,
    InboundRecord,
    OutboundRecord,
    TransactionalGroupConsumer,
)
from kafkarpc.wire.envelope import new_message

if TYPE_CHECKING:
    from .conftest import MemoryRpc, WaitForRecords

pytestmark = pytest.mark.anyio

EVENTS = "billing.charged.events"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_requests": 0}, "max_requests must be >= 1"),
        ({"max_wait": -0.1}, "max_wait must be >= 0"),
        ({"transactional_id_prefix": ""}, "transactional_id_prefix must not be empty"),
    ],
)
def test_exactly_once_options_are_checked_when_built(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ExactlyOnce(**options)


async def test_the_memory_transport_refuses_exactly_once_instead_of_pretending(
    rpc: MemoryRpc,
) -> None:
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        return payload

    _, server = rpc.serve("billing.charge", charge, exactly_once=ExactlyOnce())
    with pytest.raises(ConfigurationError, match="MemoryTransport has no transactions"):
        await server.__aenter__()


async def test_a_handlers_published_event_is_sent_with_its_reply(
    rpc: MemoryRpc, broker: MemoryBroker, wait_for_records: WaitForRecords
) -> None:
    broker.create_topic(EVENTS, 1)

    async def charge(payload: dict[str, int], context: RequestContext) -> dict[str, int]:
        context.publish(EVENTS, {"charged": payload["amount"]}, key="customer-7")
        return {"ok": 1}

    trio, server = rpc.serve("billing.charge", charge)
    async with server, rpc.client() as client:
        assert await client.request(trio, {"amount": 5}) == {"ok": 1}
    (event,) = await wait_for_records(EVENTS)
    (request,) = broker.records(trio.requested)
    sent, asked = decode_envelope(event.value), decode_envelope(request.value)
    assert sent.payload == {"charged": 5}
    assert event.key == b"customer-7"
    # Caused by the request (docs/events.md): its chain, its event_id.
    assert sent.causation_id == asked.event_id
    assert sent.correlation_id != asked.correlation_id
    assert dict(event.headers)["correlation_chain"] == asked.correlation_id.encode()
    assert sent.service == "test-server"


async def test_only_the_answering_attempt_publishes(
    rpc: MemoryRpc, broker: MemoryBroker, wait_for_records: WaitForRecords
) -> None:
    broker.create_topic(EVENTS, 1)

    async def flaky(payload: dict[str, int], context: RequestContext) -> dict[str, int]:
        context.publish(EVENTS, {"attempt": context.attempt})
        if context.attempt == 1:
            raise RuntimeError("first attempt fails after publishing")
        return {"ok": 1}

    retry = HandlerRetry(max_attempts=2, initial_delay=0, jitter=0)
    trio, server = rpc.serve("billing.charge", flaky, retry=retry)
    async with server, rpc.client() as client:
        assert await client.request(trio, {"amount": 5}) == {"ok": 1}
    (event,) = await wait_for_records(EVENTS)
    assert decode_envelope(event.value).payload == {"attempt": 2}


async def test_a_request_answered_with_a_failure_publishes_nothing(
    rpc: MemoryRpc, broker: MemoryBroker, wait_for_records: WaitForRecords
) -> None:
    broker.create_topic(EVENTS, 1)

    async def refuse(payload: dict[str, int], context: RequestContext) -> dict[str, int]:
        context.publish(EVENTS, {"charged": payload["amount"]})
        raise RemoteError(error_code="NOT_FOUND", error_message="no such customer")

    trio, server = rpc.serve("billing.charge", refuse)
    async with server, rpc.client() as client:
        with pytest.raises(RemoteError):
            await client.request(trio, {"amount": 5})
        # Events leave before their reply: none can still be on the way now.
        await wait_for_records(trio.failed)
    assert broker.records(EVENTS) == []


def test_publishing_outside_a_running_handler_is_a_lifecycle_error() -> None:
    context = RequestContext("c", "e", "T", "caller", "t", 0, 0)
    with pytest.raises(LifecycleError, match="only while the server runs"):
        context.publish(EVENTS, {"x": 1})


async def test_a_sync_handler_publishes_from_its_worker_thread(
    rpc: MemoryRpc, broker: MemoryBroker, wait_for_records: WaitForRecords
) -> None:
    broker.create_topic(EVENTS, 1)

    def charge(payload: dict[str, int], context: RequestContext) -> dict[str, int]:
        context.publish(EVENTS, {"charged": payload["amount"]})
        return {"ok": 1}

    trio = rpc.trio("billing.charge")
    server = rpc.server()
    server.add_responder(trio, charge)
    async with server, rpc.client() as client:
        assert await client.request(trio, {"amount": 9}) == {"ok": 1}
    (event,) = await wait_for_records(EVENTS)
    assert decode_envelope(event.value).payload == {"charged": 9}


def test_the_outlet_holds_batches_fetched_before_it_knows_the_consumer() -> None:
    """A batch answered before the consumer is known could never commit: it waits."""
    accepted: list[list[InboundRecord]] = []
    early = [InboundRecord("t", 0, 0, None, b"{}", [], 0)]
    late = [InboundRecord("t", 0, 1, None, b"{}", [], 0)]
    outlet = Outlet()
    outlet.gate(early)
    with pytest.raises(LifecycleError):
        outlet.produce(early[0], OutboundRecord("r", b"{}"), lambda _error, _record: None)
    assert accepted == []
    outlet.attach(RecordingConsumer(), accepted.append)
    outlet.gate(late)
    assert accepted == [early, late]


class RecordingConsumer(TransactionalGroupConsumer):
    """The smallest transactional consumer: remembers what it was asked to produce."""

    def __init__(self) -> None:
        self.produced: list[OutboundRecord] = []

    def produce(
        self, source: InboundRecord, record: OutboundRecord, on_delivery: DeliveryCallback
    ) -> None:
        self.produced.append(record)

    def ack(self, record: InboundRecord) -> None:
        return None

    async def stop_fetching(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def test_a_streaming_responder_is_refused_with_exactly_once(rpc: MemoryRpc) -> None:
    """Its items leave one by one, outside any transaction: refused, not half-covered."""

    async def countdown(payload: dict[str, int]) -> AsyncIterator[dict[str, int]]:
        for n in range(payload["n"], 0, -1):
            yield {"n": n}

    _, server = rpc.serve("launch.countdown", countdown, exactly_once=ExactlyOnce())
    with pytest.raises(ConfigurationError, match=r"streaming responders \(countdown\)"):
        await server.__aenter__()


SOURCE = InboundRecord("billing.charge.requested.v1", 2, 40, None, b"{}", [], 0)
EVENT = OutboundRecord(EVENTS, b'{"x":1}', b"k", [("h", b"\xff\x00")], None)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_a_store_keeps_the_events_published_with_a_reply(kind: str, tmp_path: Path) -> None:
    store: IdempotencyStore = (
        InMemoryIdempotencyStore()
        if kind == "memory"
        else SqliteIdempotencyStore(tmp_path / "answered.sqlite")
    )
    reply = StoredReply(True, {"ok": 1}, (EVENT,), ("billing.charge.requested.v1", 2, 40))
    await store.put("k", reply)
    assert await store.get("k") == reply


async def test_a_sqlite_file_from_before_events_were_remembered_still_opens(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as old, old:
        old.execute(
            "CREATE TABLE replies (key TEXT PRIMARY KEY, stored_at REAL NOT NULL,"
            " ok INTEGER NOT NULL, payload TEXT NOT NULL)"
        )
        old.execute("INSERT INTO replies VALUES ('old', ?, 1, ?)", (time.time(), '{"a": 1}'))
    store = SqliteIdempotencyStore(path)
    try:
        assert await store.get("old") == StoredReply(True, {"a": 1})
        await store.put("new", StoredReply(True, {"b": 2}, (EVENT,), None))
        assert (await store.get("new")) == StoredReply(True, {"b": 2}, (EVENT,), None)
    finally:
        store.close()


def test_remembered_events_are_staged_again_only_for_the_record_that_published_them() -> None:
    """A redelivery of the same record (never committed) publishes them again; a retry
    with the same idempotency key is another record, whose first answer's events stand."""
    first = Outbox("billing", SOURCE, decode_envelope(_request_value()))
    token = open_outbox(first)
    try:
        first.stage(EVENTS, {"x": 1}, key=None, event_type=None, headers=None)
        events, source = published(SOURCE, ok=True)
        assert published(SOURCE, ok=False) == ((), None)
    finally:
        close_outbox(token)
    assert source == ("billing.charge.requested.v1", 2, 40)
    again = Outbox("billing", SOURCE, decode_envelope(_request_value()))
    retry_record = InboundRecord(SOURCE.topic, 2, 41, None, b"{}", [], 0)
    retried = Outbox("billing", retry_record, decode_envelope(_request_value()))
    for outbox, record in ((again, SOURCE), (retried, retry_record)):
        token = open_outbox(outbox)
        try:
            replay(events, source, record)
        finally:
            close_outbox(token)
    assert [event.record for event in again.staged] == list(events)
    assert retried.staged == []


def _request_value() -> bytes:
    message = new_message(
        event_type="BILLING_CHARGE_REQUESTED", correlation_id="c-1", service="shop", payload={}
    )
    return message.value


async def test_a_retry_answered_from_the_store_does_not_publish_again(
    rpc: MemoryRpc, broker: MemoryBroker, wait_for_records: WaitForRecords
) -> None:
    broker.create_topic(EVENTS, 1)
    runs: list[int] = []

    async def charge(payload: dict[str, int], context: RequestContext) -> dict[str, int]:
        runs.append(payload["amount"])
        context.publish(EVENTS, {"charged": payload["amount"]})
        return {"ok": 1}

    trio, server = rpc.serve("billing.charge", charge)
    async with server, rpc.client() as client:
        for _ in range(2):  # the same idempotency key: the second is answered from the store
            assert await client.request(trio, {"amount": 5}, idempotency_key="order-1") == {"ok": 1}
        await wait_for_records(trio.completed, 2)
    assert runs == [5]
    assert len(broker.records(EVENTS)) == 1
