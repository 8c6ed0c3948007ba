"""The broker goes away mid-load and comes back: calls fail in time, the circuit
opens and fails fast, and a half-open probe closes it once the broker is back."""

from __future__ import annotations

import time

import anyio
import pytest

from kafkarpc import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    PublishError,
    RequestTimeout,
    RpcClient,
    RpcServer,
    Topics,
    TopicTrio,
    ensure_topics,
)
from kafkarpc.testing import start_broker

pytestmark = pytest.mark.anyio


async def test_circuit_opens_during_an_outage_and_closes_after_it(unique_topic_base: str) -> None:
    broker = start_broker()  # our own broker: this test stops it
    trio = TopicTrio.from_base(unique_topic_base)
    server = RpcServer(
        broker.bootstrap,
        service="outage-responder",
        group_id="outage",
        topics=Topics(create=True),
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
    )

    @server.responder(trio)
    async def echo(payload: dict[str, int]) -> dict[str, int]:
        return payload

    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=1.0)
    try:
        async with (
            server,
            RpcClient(
                broker.bootstrap,
                service="outage-client",
                topics=Topics(create=True),
                circuit_breaker=breaker,
            ) as client,
        ):
            assert await client.request(trio, {"n": 0}) == {"n": 0}

            broker.stop()
            failures: list[type[BaseException]] = []
            for n in range(3):
                started = time.monotonic()
                with pytest.raises((RequestTimeout, PublishError)) as caught:
                    await client.request(trio, {"n": n}, timeout=0.5)
                failures.append(type(caught.value))
                assert time.monotonic() - started < 2.0, "failed within its deadline"
            assert client.circuit_state(trio) is CircuitState.OPEN

            # Open: fail fast without touching Kafka (no 0.5 s wait).
            for _ in range(3):
                started = time.monotonic()
                with pytest.raises(CircuitOpenError) as rejected:
                    await client.request(trio, {"n": 99}, timeout=0.5)
                assert time.monotonic() - started < 0.05
                assert rejected.value.retry_after > 0
            assert client.stats.circuit_rejections == 3

            # The broker returns empty (it keeps everything in memory).
            broker = start_broker(broker.port)
            await ensure_topics(broker.bootstrap, [trio])
            with anyio.fail_after(60):
                while True:
                    try:
                        reply = await client.request(trio, {"n": 100}, timeout=3)
                        break
                    except (CircuitOpenError, RequestTimeout, PublishError):
                        await anyio.sleep(0.2)
            assert reply == {"n": 100}
            assert client.circuit_state(trio) is CircuitState.CLOSED
            assert client.pending_count == 0
    finally:
        broker.stop()
