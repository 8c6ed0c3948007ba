"""The NestJS conventions of SPEC §8, read off a real NestJS 11 microservice and client.

These tests speak raw records through kafkarpc's public transport, so they pin what
NestJS itself writes and accepts; the NestJS wire profile is tested against the
same peer elsewhere.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream
from tests.integration.nestjs_peer import NestPeer

from kafkarpc import KafkaTransport
from kafkarpc.transport import InboundRecord, OutboundRecord

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

PATTERNS = ("sum", "refuse", "whoami", "count", "echo")


@pytest.fixture
def prefix() -> str:
    return f"nest{uuid.uuid4().hex[:8]}"


@asynccontextmanager
async def raw_transport(
    bootstrap: str, prefix: str, read: list[str]
) -> AsyncIterator[tuple[KafkaTransport, MemoryObjectReceiveStream[InboundRecord]]]:
    """A started transport with the peer's topics created, reading ``read`` from their end."""
    transport = KafkaTransport(bootstrap)
    await transport.start()
    send, receive = anyio.create_memory_object_stream[InboundRecord](1000)

    def on_batch(records: list[InboundRecord]) -> None:
        for record in records:
            send.send_nowait(record)

    try:
        topics = [f"{prefix}.{name}{suffix}" for name in PATTERNS for suffix in ("", ".reply")]
        await transport.ensure_topics(topics, partitions=3)
        consumer = await transport.reply_consumer(on_batch)
        await consumer.assign(read)
        try:
            yield transport, receive
        finally:
            await consumer.aclose()
    finally:
        await transport.aclose()


def request(prefix: str, name: str, value: bytes, correlation_id: str) -> OutboundRecord:
    return OutboundRecord(
        topic=f"{prefix}.{name}",
        value=value,
        headers=[
            ("kafka_correlationId", correlation_id.encode()),
            ("kafka_replyTopic", f"{prefix}.{name}.reply".encode()),
            ("kafka_replyPartition", b"1"),
        ],
    )


async def test_a_nestjs_microservice_replies_on_the_partition_and_with_the_headers_of_spec_8(
    kafkarpc_broker: str, nestjs: NestPeer, prefix: str
) -> None:
    reply_topics = [f"{prefix}.{name}.reply" for name in ("sum", "refuse", "count")]
    async with (
        raw_transport(kafkarpc_broker, prefix, reply_topics) as (transport, replies),
        nestjs.serve(f"nest-{prefix}", prefix),
    ):
        await transport.send(request(prefix, "sum", b'{"a":2,"b":3}', "id-sum"))
        await transport.send(request(prefix, "refuse", b'{"x":1}', "id-refuse"))
        await transport.send(request(prefix, "count", b'{"n":3}', "id-count"))
        got: dict[str, list[InboundRecord]] = {}
        with anyio.fail_after(60):
            while sum(len(records) for records in got.values()) < 5:
                record = await replies.receive()
                got.setdefault(record.topic.split(".")[1], []).append(record)

    (total,) = got["sum"]
    assert (total.partition, total.value) == (1, b"5")
    assert total.headers == [
        ("kafka_correlationId", b"id-sum"),
        ("kafka_nest-is-disposed", b"\x00"),
    ]

    (refusal,) = got["refuse"]
    assert refusal.value is None
    headers = dict(refusal.headers)
    assert headers["kafka_correlationId"] == b"id-refuse"
    assert json.loads(headers["kafka_nest-err"]) == {
        "status": "error",
        "message": 'refused: {"x":1}',
    }
    assert headers["kafka_nest-is-disposed"] == b"\x00"

    # A handler returning a stream sends one reply per item; only the last is marked.
    assert [record.value for record in got["count"]] == [b"1", b"2", b"3"]
    assert [dict(record.headers).get("kafka_nest-is-disposed") for record in got["count"]] == [
        None,
        None,
        b"\x00",
    ]


async def test_a_nestjs_client_sends_the_request_of_spec_8_and_accepts_a_raw_reply(
    kafkarpc_broker: str, nestjs: NestPeer, prefix: str
) -> None:
    async with raw_transport(kafkarpc_broker, prefix, [f"{prefix}.echo"]) as (transport, seen):

        async def answer() -> InboundRecord:
            incoming = await seen.receive()
            headers = dict(incoming.headers)
            await transport.send(
                OutboundRecord(
                    topic=headers["kafka_replyTopic"].decode(),
                    partition=int(headers["kafka_replyPartition"].decode()),
                    value=b'{"echoed":true}',
                    headers=[
                        ("kafka_correlationId", headers["kafka_correlationId"]),
                        ("kafka_nest-is-disposed", b"\x00"),
                    ],
                )
            )
            return incoming

        async with anyio.create_task_group() as group:
            incoming: list[InboundRecord] = []

            async def respond() -> None:
                incoming.append(await answer())

            group.start_soon(respond)
            results = await nestjs.call(f"client-{prefix}", f"{prefix}.echo", [{"q": 1}])

    assert results == [{"ok": [{"echoed": True}]}]
    (received,) = incoming
    assert received.value == b'{"q":1}'
    headers = dict(received.headers)
    assert headers["kafka_replyTopic"] == f"{prefix}.echo.reply".encode()
    # A decimal string, and NestJS's correlation id is text (not always a UUID).
    assert headers["kafka_replyPartition"].decode().isdigit()
    assert headers["kafka_correlationId"].decode().isprintable()
