"""A call made while handling a request continues its chain, three hops deep, on the broker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kafkarpc import (
    RequestContext,
    RpcClient,
    RpcServer,
    Telemetry,
    decode_envelope,
    ensure_topics,
)
from kafkarpc.transport import InboundRecord
from kafkarpc.wire.headers import header_dict

pytestmark = pytest.mark.anyio


async def test_three_hops_link_causes_share_a_chain_shrink_deadlines_and_one_trace(
    kafkarpc_broker: str,
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    unique_topic_base: str,
    topic_records: Callable[[str], Awaitable[list[InboundRecord]]],
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = Telemetry(tracer_provider=provider)
    op_a, op_b = f"{unique_topic_base}.a", f"{unique_topic_base}.b"
    events = f"{unique_topic_base}.b.done.v1"
    await ensure_topics(kafkarpc_broker, [events], partitions=1)
    seen: dict[str, RequestContext] = {}
    server = make_server(telemetry=telemetry)
    inner = make_client(service="responder-side", telemetry=telemetry)

    @server.responder(op_a)
    async def hop_a(payload: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        seen["a"] = context
        # No cause= and a longer timeout: the call finds its cause, and ends by its deadline.
        return await inner.request(op_b, payload, timeout=60)

    @server.responder(op_b)
    async def hop_b(payload: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        seen["b"] = context
        await inner.publish(events, {"done": payload["n"]})
        return {"n": payload["n"] + 1}

    async with server, inner, make_client(telemetry=telemetry) as client:
        assert await client.request(op_a, {"n": 1}, timeout=20) == {"n": 2}

    a, b = seen["a"], seen["b"]
    # Causation: each hop names the message that caused it.
    assert a.causation_id is None
    assert b.causation_id == a.event_id
    # One chain: every hop has its own correlation id, and the chain leads back to the root.
    assert a.correlation_chain == (a.correlation_id,)
    assert b.correlation_chain == (a.correlation_id, b.correlation_id)
    assert a.cause.root_correlation_id == b.cause.root_correlation_id == a.correlation_id
    # Deadlines: B's caller asked for 60 s, but A's caller waits only 20 s.
    assert a.deadline_ms is not None and b.deadline_ms is not None
    assert b.deadline_ms <= a.deadline_ms
    # The event B published carries the same links.
    (event,) = await topic_records(events)
    envelope, headers = decode_envelope(event.value), header_dict(event.headers)
    assert envelope.causation_id == b.event_id
    assert headers["correlation_chain"] == f"{a.correlation_id},{b.correlation_id}"
    assert int(headers["deadline_ms"]) == b.deadline_ms
    # One trace, from the first send to the last handling.
    spans = exporter.get_finished_spans()
    assert len(spans) >= 4  # two sends, two handlings
    assert len({span.context.trace_id for span in spans}) == 1
    assert headers["traceparent"].split("-")[1] == format(spans[0].context.trace_id, "032x")


async def test_cause_none_starts_a_new_chain_inside_a_handler(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    unique_topic_base: str,
) -> None:
    op_a, op_b = f"{unique_topic_base}.a", f"{unique_topic_base}.b"
    seen: dict[str, RequestContext] = {}
    server = make_server()
    inner = make_client(service="responder-side")

    @server.responder(op_a)
    async def hop_a(payload: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        seen["a"] = context
        return await inner.request(op_b, payload, cause=None)

    @server.responder(op_b)
    async def hop_b(payload: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        seen["b"] = context
        return payload

    async with server, inner, make_client() as client:
        await client.request(op_a, {"n": 1}, timeout=20)

    b = seen["b"]
    assert b.causation_id is None
    assert b.correlation_chain == (b.correlation_id,)
    assert "traceparent" not in b.headers
