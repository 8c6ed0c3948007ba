"""Causation: what a call made while handling a request carries of it (docs/events.md)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from kafkarpc import Cause, MemoryTransport, RequestContext, RequestTimeout, SyncClient
from kafkarpc._causation import caused_by, current_cause
from kafkarpc.client.validate import within_cause
from kafkarpc.wire.headers import header_dict

if TYPE_CHECKING:
    from tests.unit.conftest import MemoryRpc, WaitForRecords

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_the_chain_of_a_root_request_is_its_own_correlation_id() -> None:
    cause = Cause("event-1", "root")
    assert cause.correlation_chain == ("root",)
    assert cause.chain_header == "root"
    assert cause.root_correlation_id == "root"


def test_the_chain_grows_by_the_incoming_request_root_first() -> None:
    cause = Cause("event-2", "second", "root,first")
    assert cause.correlation_chain == ("root", "first", "second")
    assert cause.chain_header == "root,first,second"
    assert cause.root_correlation_id == "root"


def test_a_deadline_is_moved_no_later_than_the_causes() -> None:
    assert Cause("e", "c", deadline_ms=1_000).deadline_for(5_000) == 1_000
    assert Cause("e", "c", deadline_ms=9_000).deadline_for(5_000) == 5_000
    assert Cause("e", "c").deadline_for(5_000) == 5_000


def test_a_timeout_is_shortened_to_the_causes_remaining_time() -> None:
    soon = Cause("e", "c", deadline_ms=int((time.time() + 2) * 1000))
    assert within_cause(60.0, soon, "t") <= 2.0
    assert within_cause(0.5, soon, "t") == 0.5
    assert within_cause(60.0, None, "t") == 60.0


def test_a_call_for_a_request_past_its_deadline_is_not_sent() -> None:
    late = Cause("e", "c", deadline_ms=int((time.time() - 1) * 1000))
    with pytest.raises(RequestTimeout) as caught:
        within_cause(5.0, late, "a.requested.v1")
    assert caught.value.topic == "a.requested.v1"
    assert caught.value.correlation_id == "c"


def test_the_current_cause_is_set_only_inside() -> None:
    cause = Cause("e", "c")
    assert current_cause() is None
    with caused_by(cause):
        assert current_cause() is cause
    assert current_cause() is None


def test_a_request_context_names_itself_as_the_cause() -> None:
    context = RequestContext(
        "corr",
        "event",
        "A_REQUESTED",
        "caller",
        "a.requested.v1",
        0,
        7,
        headers={"correlation_chain": "root", "traceparent": TRACEPARENT, "tracestate": "v=1"},
        deadline_ms=123,
    )
    assert context.cause == Cause("event", "corr", "root", 123, TRACEPARENT, "v=1")
    assert context.correlation_chain == ("root", "corr")


@pytest.mark.anyio
async def test_an_explicit_cause_reaches_a_task_the_handler_did_not_run_in(
    rpc: MemoryRpc, wait_for_records: WaitForRecords
) -> None:
    """A cause passed as ``cause=context.cause`` works where the context variable
    does not reach, e.g. a task started before the request came in."""
    rpc.broker.create_topic("audit.v1", 1)
    client = rpc.client()
    causes: list[Cause] = []
    wake = anyio.Event()

    async def audit_later() -> None:
        await wake.wait()
        await client.publish("audit.v1", {"audited": True}, cause=causes[0])

    async def handler(payload: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        causes.append(context.cause)
        wake.set()
        return payload

    trio, server = rpc.serve("shop.audit", handler)
    async with server, client, anyio.create_task_group() as tasks:
        tasks.start_soon(audit_later)
        await client.request(trio, {"n": 1})
    (event,) = await wait_for_records("audit.v1")
    headers = header_dict(event.headers)
    assert headers["correlation_chain"] == causes[0].correlation_id
    assert f'"causation_id":"{causes[0].event_id}"'.encode() in (event.value or b"")


@pytest.mark.anyio
async def test_a_sync_handler_passes_its_cause_to_a_blocking_client(
    rpc: MemoryRpc, wait_for_records: WaitForRecords
) -> None:
    """The context variable reaches the worker thread a plain ``def`` handler runs in,
    and ``SyncClient`` reads it there before handing the call to its own loop."""
    rpc.broker.create_topic("audit.v1", 1)
    sync = await anyio.to_thread.run_sync(
        lambda: SyncClient(transport=MemoryTransport(rpc.broker), service="sync-side")
    )
    seen: list[RequestContext] = []

    def handler(payload: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        seen.append(context)
        sync.publish("audit.v1", {"audited": True})
        return payload

    trio = rpc.trio("shop.sync")
    server = rpc.server()
    server.add_responder(trio, handler)
    try:
        async with server, rpc.client() as client:
            await client.request(trio, {"n": 1})
    finally:
        await anyio.to_thread.run_sync(sync.close)
    (event,) = await wait_for_records("audit.v1")
    assert f'"causation_id":"{seen[0].event_id}"'.encode() in (event.value or b"")
    assert header_dict(event.headers)["correlation_chain"] == seen[0].correlation_id


@pytest.mark.anyio
async def test_a_subscribers_calls_are_caused_by_its_event(
    rpc: MemoryRpc, wait_for_records: WaitForRecords
) -> None:
    for topic in ("orders.placed.v1", "orders.placed.v1.dlq", "orders.audited.v1"):
        rpc.broker.create_topic(topic, 1)
    client = rpc.client()
    server = rpc.server()
    causes: list[Cause | None] = []

    @server.subscriber("orders.placed.v1")
    async def audit(payload: dict[str, Any]) -> None:
        causes.append(current_cause())
        await client.publish("orders.audited.v1", payload)

    async with server, client:
        event_id = await client.publish("orders.placed.v1", {"order": 1})
        (audited,) = await wait_for_records("orders.audited.v1")
    (cause,) = causes
    assert cause is not None and cause.event_id == event_id
    assert cause.deadline_ms is None  # nobody waits for an event
    assert f'"causation_id":"{event_id}"'.encode() in (audited.value or b"")


@pytest.mark.anyio
async def test_a_gather_inside_a_handler_continues_its_chain(rpc: MemoryRpc) -> None:
    inner = rpc.client()
    seen: dict[str, RequestContext] = {}

    async def answer(payload: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        seen["b"] = context
        return payload

    async def fan_out(payload: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        seen["a"] = context
        result = await inner.gather(trio_b, payload, expect=1, timeout=5)
        return {"answers": len(result.results)}

    trio_b, server_b = rpc.serve("shop.quotes", answer)
    trio_a, server_a = rpc.serve("shop.fan-out", fan_out)
    async with server_a, server_b, inner, rpc.client() as client:
        assert await client.request(trio_a, {"n": 1}) == {"answers": 1}
    assert seen["b"].causation_id == seen["a"].event_id
    assert seen["b"].correlation_chain[0] == seen["a"].correlation_id
