"""A peer that knows only the JSON envelope (no library, no headers) works both ways."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from kafkarpc import RpcClient, RpcServer, TopicTrio, ensure_topics

pytestmark = pytest.mark.anyio


def _bare_envelope(event_type: str, correlation_id: str, payload: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "correlation_id": correlation_id,
            "timestamp": datetime.now(UTC).isoformat(),
            "service": "legacy-peer",
            "payload": payload,
            "version": "v1",
            "legacy_field": {"kept": True},
        }
    ).encode()


def _read_one(
    bootstrap: str, topic: str, partitions: int, match: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "peer-reader"})
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        for _ in range(200):
            message = consumer.poll(0.1)
            if message is None or message.error():
                continue
            value = message.value()
            assert value is not None, "envelopes are never tombstones"
            body: dict[str, Any] = json.loads(value)
            if match(body):
                return body
    finally:
        consumer.close()
    raise AssertionError(f"no matching message on {topic}")


async def test_bare_envelope_peer_calls_our_responder(
    kafkarpc_broker: str, make_server: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    trio = TopicTrio.from_base(unique_topic_base)
    server = make_server()

    @server.responder(trio)
    async def route(payload: dict[str, str]) -> dict[str, str]:
        return {"agent": f"{payload['user_request']}-agent"}

    async with server:
        correlation_id = "routing-123"  # not a UUID: any non-empty string is valid
        request = _bare_envelope("AGENT_ROUTING_REQUESTED", correlation_id, {"user_request": "db"})
        producer = Producer({"bootstrap.servers": kafkarpc_broker})
        producer.produce(trio.requested, value=request, key=correlation_id.encode())
        producer.flush(10)
        reply = await anyio.to_thread.run_sync(
            _read_one, kafkarpc_broker, trio.completed, 3,
            lambda body: body.get("correlation_id") == correlation_id,
        )  # fmt: skip
    assert reply["payload"] == {"agent": "db-agent"}
    assert reply["causation_id"] == json.loads(request)["event_id"]
    assert reply["event_type"].endswith("_COMPLETED")
    assert reply["service"] == "test-responder"


@contextlib.contextmanager
def bare_responder(bootstrap: str, base: str) -> Iterator[TopicTrio]:
    """A responder written without kafkarpc: raw consumer group, replies with JSON only."""
    trio = TopicTrio.from_base(base)
    stop = threading.Event()
    ready = threading.Event()

    def serve() -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bare-{base}",
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 2000,
                "heartbeat.interval.ms": 500,
            }
        )
        producer = Producer({"bootstrap.servers": bootstrap})
        consumer.subscribe([trio.requested], on_assign=lambda *_: ready.set())
        try:
            while not stop.is_set():
                message = consumer.poll(0.1)
                if message is None or message.error():
                    continue
                value = message.value()
                assert value is not None, "envelopes are never tombstones"
                request = json.loads(value)
                reply = _bare_envelope(
                    "AGENT_ROUTING_COMPLETED",
                    request["correlation_id"],
                    {"doubled": request["payload"]["n"] * 2},
                )
                producer.produce(trio.completed, value=reply)  # no key, no headers
                producer.flush(10)
        finally:
            consumer.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        assert ready.wait(20), "bare responder never got its partitions"
        yield trio
    finally:
        stop.set()
        thread.join(10)


async def test_our_client_calls_a_bare_envelope_responder(
    kafkarpc_broker: str, unique_topic_base: str
) -> None:
    await ensure_topics(kafkarpc_broker, [TopicTrio.from_base(unique_topic_base)])
    # Topics first, then the responder: its group must see the request topic.
    with bare_responder(kafkarpc_broker, unique_topic_base) as trio:
        async with RpcClient(kafkarpc_broker, service="modern-client") as client:
            for n in range(5):
                assert await client.request(trio, {"n": n}, timeout=10) == {"doubled": 2 * n}
