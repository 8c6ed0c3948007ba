"""Every instrument kafkarpc exports, read back with the OpenTelemetry SDK's in-memory reader."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from pydantic import BaseModel

from kafkarpc import (
    CallRetry,
    CircuitBreaker,
    CircuitOpenError,
    HandlerRetry,
    Limits,
    RemoteError,
    RequestTimeout,
    Telemetry,
)

if TYPE_CHECKING:
    from tests.unit.conftest import MemoryRpc

pytestmark = pytest.mark.anyio


class Work(BaseModel):
    n: int


def _points(reader: InMemoryMetricReader) -> dict[tuple[str, frozenset[tuple[str, Any]]], float]:
    """(metric name, attributes) -> count for histograms, value for sums."""
    points: dict[tuple[str, frozenset[tuple[str, Any]]], float] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "count", None)
                    if value is None:
                        value = point.value  # type: ignore[union-attr]
                    points[(metric.name, frozenset((point.attributes or {}).items()))] = value
    return points


def _value(
    points: dict[tuple[str, frozenset[tuple[str, Any]]], float], name: str, **attrs: Any
) -> float:
    wanted = set(attrs.items())
    return sum(v for (n, a), v in points.items() if n == name and wanted <= a)


async def test_client_and_server_instruments(rpc: MemoryRpc) -> None:
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    trio = rpc.trio("metrics.work")
    nobody = rpc.trio("metrics.nobody")
    server = rpc.server(telemetry=Telemetry(meter_provider=meters))
    attempts = 0

    @server.responder(trio)
    async def work(payload: Work) -> Work:
        nonlocal attempts
        if payload.n < 0:
            raise ValueError("negative")
        if payload.n == 99:
            attempts += 1
            if attempts == 1:
                raise RemoteError(error_code="BUSY", error_message="again", retryable=True)
        return payload

    retry = CallRetry(max_attempts=2, initial_delay=0, jitter=0, retry_remote=True)
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=60)
    async with (
        server,
        rpc.client(
            telemetry=Telemetry(meter_provider=meters), retry=retry, circuit_breaker=breaker
        ) as client,
    ):
        await client.request(trio, {"n": 1})
        await client.request(trio, {"n": 99})  # one retry
        with pytest.raises(RemoteError):  # validation error: payload is not an int
            await client.request(trio, {"n": "x"})
        with pytest.raises(RemoteError):
            await client.request(trio, {"n": -1})
        with pytest.raises(RequestTimeout):
            await client.request(nobody, {}, timeout=0.1, retry=None)
        with pytest.raises(CircuitOpenError):
            await client.request(nobody, {}, timeout=0.1)
        # A duplicate of an answered request is answered from the idempotency store.
        await client.request(trio, {"n": 2}, idempotency_key="same")
        await client.request(trio, {"n": 2}, idempotency_key="same")

    points = _points(reader)
    work_op, nobody_op = trio.requested, nobody.requested
    duration = "kafkarpc.client.request.duration"
    assert (
        _value(points, duration, **{"kafkarpc.operation": work_op, "kafkarpc.outcome": "ok"}) == 4
    )
    assert _value(points, duration, **{"kafkarpc.outcome": "remote_error"}) == 2
    assert _value(points, duration, **{"kafkarpc.outcome": "timeout"}) == 1
    assert _value(points, duration, **{"kafkarpc.outcome": "circuit_open"}) == 1
    assert _value(points, "kafkarpc.client.requests.in_flight") == 0
    assert _value(points, "kafkarpc.client.retries", **{"kafkarpc.operation": work_op}) == 1
    assert (
        _value(
            points,
            "kafkarpc.client.circuit.transitions",
            **{"kafkarpc.operation": nobody_op, "kafkarpc.circuit.state": "open"},
        )
        == 1
    )

    handled = "kafkarpc.server.handling.duration"
    assert _value(points, handled, **{"kafkarpc.outcome": "ok"}) >= 4
    assert _value(points, handled, **{"kafkarpc.outcome": "handler_error"}) == 1
    assert _value(points, "kafkarpc.server.requests.in_flight") == 0
    events = "kafkarpc.server.events"
    assert _value(points, events, **{"kafkarpc.event": "validation_error"}) == 1
    assert _value(points, events, **{"kafkarpc.event": "handler_error"}) == 1
    assert _value(points, events, **{"kafkarpc.event": "deduplicated"}) == 1


async def test_deadline_and_dead_letter_events(rpc: MemoryRpc) -> None:
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    trio = rpc.trio("metrics.slow")
    # One worker: while it is busy, the next request waits past its deadline.
    server = rpc.server(
        telemetry=Telemetry(meter_provider=meters),
        limits=Limits(max_concurrency=1),
        retry=HandlerRetry(max_attempts=1, initial_delay=0),
    )

    @server.responder(trio)
    async def slow(payload: dict[str, float]) -> dict[str, float]:
        if payload["n"] < 0:
            raise OSError("down")
        await anyio.sleep(payload.get("sleep", 0))
        return payload

    async with server, rpc.client(telemetry=Telemetry(meter_provider=meters)) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: client.request(trio, {"n": 1, "sleep": 0.3}, timeout=5))
            while client.pending_count < 1:
                await anyio.lowlevel.checkpoint()
            with pytest.raises(RequestTimeout):
                await client.request(trio, {"n": 2}, timeout=0.1)
        with pytest.raises(RemoteError):
            await client.request(trio, {"n": -1})
        with anyio.fail_after(5):
            # The expired request is answered DEADLINE_EXCEEDED after its caller gave
            # up: the client counts that reply as unknown, it does not raise.
            while (
                server.stats.deadline_expired < 1
                or server.stats.dead_lettered < 1
                or client.stats.late_replies < 1
            ):
                await anyio.sleep(0.01)
    points = _points(reader)
    events = "kafkarpc.server.events"
    assert _value(points, events, **{"kafkarpc.event": "deadline_expired"}) == 1
    assert _value(points, events, **{"kafkarpc.event": "dlq_record"}) == 1
    assert _value(points, "kafkarpc.client.replies.unknown") == 1
