"""Dead letters on the real broker, byte for byte as Spring Kafka writes them (issue 12).

A responder parks a poison request; the dead letter read back from the broker must
carry Spring's ``DeadLetterPublishingRecoverer`` layout (docs/wire.md, "Dead letters
as Spring writes them"), and the DLQ tools must read it next to a dead letter in the
decimal-text form earlier kafkarpc versions wrote.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable

import anyio
import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from kafkarpc import DlqHeader, RpcServer, TopicTrio, ensure_topics, inspect_dlq, replay_dlq
from kafkarpc._cli import main

pytestmark = pytest.mark.anyio

PILL = b"\x00 not an envelope"
# 2026-11-22T06:30:00.123Z: the producer's CreateTime, which the dead letter repeats.
CREATED_MS = 1_795_329_000_123


def _produce(
    bootstrap: str, topic: str, value: bytes, headers: list[tuple[str, bytes]]
) -> tuple[int, int]:
    """Produce one record; its (partition, offset) as the broker stored it."""
    stored: list[Message] = []
    sent: list[tuple[str, str | bytes | None]] = list(headers)
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(
        topic,
        value=value,
        key=b"pill",
        headers=sent,
        timestamp=CREATED_MS,
        on_delivery=lambda error, message: stored.append(message) if error is None else None,
    )
    assert producer.flush(10) == 0
    (message,) = stored
    partition, offset = message.partition(), message.offset()
    assert partition is not None and offset is not None
    return partition, offset


def _read_all(bootstrap: str, topic: str, want: int) -> list[list[tuple[str, bytes]]]:
    """The headers of the first ``want`` records of ``topic`` (one partition), as stored."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "dlt-bytes"})
    found: list[list[tuple[str, bytes]]] = []
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        for _ in range(300):
            message = consumer.poll(0.1)
            if message is not None and not message.error():
                pairs = message.headers() or []
                assert isinstance(pairs, list)
                as_bytes = [(k, v.encode() if isinstance(v, str) else v or b"") for k, v in pairs]
                found.append(as_bytes)
                if len(found) >= want:
                    break
    finally:
        consumer.close()
    return found


async def test_a_parked_request_carries_springs_bytes_and_both_forms_read_back(
    serve: Callable[..., RpcServer],
    kafkarpc_broker: str,
    trio: TopicTrio,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def echo(payload: dict[str, int]) -> dict[str, int]:
        return payload

    dlq = f"{trio.requested}.dlq"
    # One partition each, so "what the topic holds" is one ordered list.
    await ensure_topics(kafkarpc_broker, [trio, dlq], partitions=1)
    caller_headers = [("x-tenant", b"t-1")]
    async with serve(echo) as server:
        partition, offset = await anyio.to_thread.run_sync(
            _produce, kafkarpc_broker, trio.requested, PILL, caller_headers
        )
        with anyio.fail_after(30):
            while server.stats.dead_lettered < 1:
                await anyio.sleep(0.05)

    (parked,) = await anyio.to_thread.run_sync(_read_all, kafkarpc_broker, dlq, 1)
    assert parked[0] == ("x-tenant", b"t-1"), "the request's own headers first"
    written = dict(parked[1:])
    stack = written.pop(DlqHeader.EXCEPTION_STACKTRACE).decode()
    assert "kafkarpc.EnvelopeError: not a valid envelope" in stack
    message = written.pop(DlqHeader.EXCEPTION_MESSAGE).decode()
    assert message.startswith("not a valid envelope")
    assert written == {
        "kafka_dlt-original-topic": trio.requested.encode(),
        "kafka_dlt-original-partition": struct.pack(">i", partition),
        "kafka_dlt-original-offset": struct.pack(">q", offset),
        "kafka_dlt-original-timestamp": b"\x00\x00\x01\xa2\x01\xf2\x82\xbb",  # CREATED_MS
        "kafka_dlt-original-timestamp-type": b"CreateTime",
        "kafka_dlt-original-consumer-group": server.group_id.encode(),
        "kafka_dlt-exception-fqcn": b"kafkarpc.EnvelopeError",
        "kafka_dlt-exception-cause-fqcn": b"pydantic_core._pydantic_core.ValidationError",
        "dlq_reason": b"poison",
        "dlq_retry_count": b"0",
    }
    assert int.from_bytes(written["kafka_dlt-original-timestamp"], "big") == CREATED_MS

    # The same request parked by an earlier kafkarpc: the same headers as decimal text.
    old_form = [
        *caller_headers,
        ("kafka_dlt-original-topic", trio.requested.encode()),
        ("kafka_dlt-original-partition", str(partition).encode()),
        ("kafka_dlt-original-offset", str(offset).encode()),
        ("kafka_dlt-original-timestamp", str(CREATED_MS).encode()),
        ("kafka_dlt-exception-fqcn", b"kafkarpc.EnvelopeError"),
        ("kafka_dlt-exception-message", message.encode()),
        ("kafka_dlt-exception-stacktrace", stack.encode()),
        ("dlq_reason", b"poison"),
        ("dlq_retry_count", b"0"),
    ]
    await anyio.to_thread.run_sync(_produce, kafkarpc_broker, dlq, PILL, old_form)

    new, old = await inspect_dlq(kafkarpc_broker, dlq)
    for letter in (new, old):
        assert letter.original_topic == trio.requested
        assert letter.headers[DlqHeader.ORIGINAL_PARTITION] == str(partition)
        assert letter.headers[DlqHeader.ORIGINAL_OFFSET] == str(offset)
        assert letter.headers[DlqHeader.ORIGINAL_TIMESTAMP] == str(CREATED_MS)
        assert letter.error_type == "kafkarpc.EnvelopeError"
        assert letter.reason == "poison"

    # The CLI runs its own event loop, so it runs on a thread of its own here.
    inspect = ["dlq", "inspect", dlq, "--bootstrap", kafkarpc_broker]
    assert await anyio.to_thread.run_sync(main, inspect) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(row["offset"], row["original_partition"], row["original_offset"]) for row in rows] == [
        (0, str(partition), str(offset)),
        (1, str(partition), str(offset)),
    ]
    summaries = [{k: v for k, v in row.items() if k != "offset"} for row in rows]
    assert summaries[0] == summaries[1], "both forms read as the same dead letter"

    result = await replay_dlq(kafkarpc_broker, dlq, include_poison=True)
    assert (result.processed, result.republished, result.not_republished) == (2, 2, 0)
    requested = await anyio.to_thread.run_sync(_read_all, kafkarpc_broker, trio.requested, 3)
    # The pill as first sent, then its two replays: the caller's headers, no DLQ ones.
    assert requested == [caller_headers, caller_headers, caller_headers]
