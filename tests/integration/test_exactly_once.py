"""Exactly-once responders (ExactlyOnce) on the real broker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from confluent_kafka import Consumer, TopicPartition

from kafkarpc import (
    ExactlyOnce,
    RequestContext,
    RpcClient,
    RpcServer,
    TopicTrio,
    decode_envelope,
    ensure_topics,
)

pytestmark = pytest.mark.anyio


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int = 3) -> int:
    """How many requests of ``topic`` the group has committed, summed over partitions."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        offsets = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], 10)
    finally:
        consumer.close()
    return sum(max(tp.offset, 0) for tp in offsets)


def read_committed(bootstrap: str, topic: str, partitions: int = 3) -> list[dict[str, Any]]:
    """The payload of every record of ``topic`` a read_committed reader sees."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "eos-inspector",
            "isolation.level": "read_committed",
        }
    )
    found: list[dict[str, Any]] = []
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        quiet = 0
        while quiet < 15:
            message = consumer.poll(0.1)
            if message is None or message.error():
                quiet += 1
                continue
            quiet = 0
            found.append(dict(decode_envelope(message.value() or b"").payload))
    finally:
        consumer.close()
    return found


async def test_replies_and_published_events_commit_with_the_request(
    serve: Callable[..., RpcServer],
    client: RpcClient,
    kafkarpc_broker: str,
    unique_topic_base: str,
    trio: TopicTrio,
) -> None:
    events_topic = f"{unique_topic_base}.events"
    await ensure_topics(kafkarpc_broker, [events_topic])

    async def handler(payload: dict[str, int], context: RequestContext) -> dict[str, int]:
        context.publish(events_topic, {"n": payload["n"]})
        return {"n": payload["n"] * 2}

    async with serve(handler, exactly_once=ExactlyOnce()):
        replies = []

        async def call(n: int) -> None:
            replies.append(await client.request(trio, {"n": n}, timeout=20))

        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(call, n)
    assert sorted(r["n"] for r in replies) == [2 * n for n in range(20)]
    events = await anyio.to_thread.run_sync(read_committed, kafkarpc_broker, events_topic)
    assert sorted(event["n"] for event in events) == list(range(20))
    # The offsets went into the transactions: the group committed all 20 requests.
    group = f"group-{unique_topic_base}"
    committed = await anyio.to_thread.run_sync(
        committed_offsets, kafkarpc_broker, group, trio.requested
    )
    assert committed == 20
