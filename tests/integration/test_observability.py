"""One trace from caller to responder and back; metrics by operation and outcome."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from kafkarpc import RemoteError, RequestTimeout, RpcClient, RpcServer, Telemetry

pytestmark = pytest.mark.anyio


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_request_and_handling_share_one_trace(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    unique_topic_base: str,
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    server = make_server(telemetry=Telemetry(tracer_provider=provider))
    seen_in_handler: list[str] = []

    @server.responder(unique_topic_base)
    async def traced(payload: dict[str, int]) -> dict[str, int]:
        from opentelemetry import trace

        seen_in_handler.append(format(trace.get_current_span().get_span_context().trace_id, "032x"))
        if payload["n"] < 0:
            raise ValueError("negative")
        return payload

    async with (
        server,
        make_client(
            service="traced-client", telemetry=Telemetry(tracer_provider=provider)
        ) as client,
    ):
        await client.request(unique_topic_base, {"n": 1})
        with pytest.raises(RemoteError):
            await client.request(unique_topic_base, {"n": -1})

    finished = exporter.get_finished_spans()
    requested = f"{unique_topic_base}.requested.v1"
    sends = [s for s in finished if s.kind is SpanKind.PRODUCER]
    processes = [s for s in finished if s.kind is SpanKind.CONSUMER]
    assert [s.name for s in sends] == [f"send {requested}"] * 2
    assert [s.name for s in processes] == [f"process {requested}"] * 2
    for send, process in zip(sends, processes, strict=True):
        assert process.context.trace_id == send.context.trace_id
        assert process.parent is not None
        assert process.parent.span_id == send.context.span_id
        assert send.attributes is not None
        assert process.attributes is not None
        assert send.attributes["messaging.system"] == "kafka"
        assert send.attributes["messaging.destination.name"] == requested
        conversation = send.attributes["messaging.message.conversation_id"]
        assert process.attributes["messaging.message.conversation_id"] == conversation
        assert send.attributes["messaging.kafka.message.key"] == conversation
        assert process.attributes["messaging.consumer.group.name"] == server.group_id
    assert seen_in_handler == [format(s.context.trace_id, "032x") for s in sends]
    ok, failed = sends
    assert ok.status.status_code is not StatusCode.ERROR
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "HANDLER_ERROR"
    assert processes[1].attributes is not None
    assert processes[1].attributes["error.type"] == "HANDLER_ERROR"


async def test_timeouts_mark_the_span_and_metrics_count_outcomes(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    spans: tuple[TracerProvider, InMemorySpanExporter],
    unique_topic_base: str,
) -> None:
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    provider, exporter = spans
    server = make_server(telemetry=Telemetry(meter_provider=meters))

    @server.responder(unique_topic_base)
    async def echo(payload: dict[str, int]) -> dict[str, int]:
        return payload

    telemetry = Telemetry(tracer_provider=provider, meter_provider=meters)
    async with server, make_client(service="metered", telemetry=telemetry) as client:
        for n in range(3):
            await client.request(unique_topic_base, {"n": n})
        with pytest.raises(RequestTimeout):
            await client.request(f"{unique_topic_base}.nobody", {}, timeout=0.3)

    timed_out = [s for s in exporter.get_finished_spans() if "nobody" in s.name]
    assert len(timed_out) == 1
    assert timed_out[0].attributes is not None
    assert timed_out[0].attributes["error.type"] == "RequestTimeout"

    points: dict[tuple[str, str, str], int] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    attrs = dict(point.attributes or {})
                    count = getattr(point, "count", 0) or getattr(point, "value", 0)
                    key = (
                        metric.name,
                        str(attrs.get("kafkarpc.operation")),
                        str(attrs.get("kafkarpc.outcome")),
                    )
                    points[key] = int(count)
    requested = f"{unique_topic_base}.requested.v1"
    assert points[("kafkarpc.client.request.duration", requested, "ok")] == 3
    nobody = f"{unique_topic_base}.nobody.requested.v1"
    assert points[("kafkarpc.client.request.duration", nobody, "timeout")] == 1
    assert points[("kafkarpc.server.handling.duration", requested, "ok")] == 3
    assert points[("kafkarpc.client.requests.in_flight", requested, "None")] == 0
