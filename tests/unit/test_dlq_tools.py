"""The DLQ tools (inspect, replay) on the Transport interface, against the memory broker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kafkarpc import DlqReason, MemoryBroker, MemoryTransport, TopicNotFound
from kafkarpc.dlq import inspect_dlq, replay_dlq
from kafkarpc.transport import InboundRecord, OutboundRecord
from kafkarpc.wire.dead_letter import dead_letter_record
from kafkarpc.wire.envelope import new_message
from kafkarpc.wire.header_table import DEAD_LETTER_HEADERS
from kafkarpc.wire.headers import build_headers

pytestmark = pytest.mark.anyio

TOPIC = "agent.park.requested.v1"
DLQ = f"{TOPIC}.dlq"


@pytest.fixture
async def transport(broker: MemoryBroker) -> AsyncIterator[MemoryTransport]:
    for topic in (TOPIC, DLQ):
        broker.create_topic(topic, partitions=2)
    running = MemoryTransport(broker)
    await running.start()
    yield running
    await running.aclose()


def park(broker: MemoryBroker, value: bytes, *, reason: DlqReason, offset: int = 7) -> None:
    message = new_message(
        event_type="AGENT_PARK_REQUESTED", correlation_id="c-1", service="s", payload={"n": 1}
    )
    headers = [
        *build_headers(message),
        ("deadline_ms", b"1"),
        ("ttl_seconds", b"5"),
        ("tenant", b"t1"),
    ]
    original = InboundRecord(TOPIC, 1, offset, b"c-1", value, headers, 1234)
    broker.append(dead_letter_record(original, RuntimeError("boom"), reason=reason))


def envelope_bytes() -> bytes:
    return new_message(
        event_type="AGENT_PARK_REQUESTED", correlation_id="c-1", service="s", payload={"n": 1}
    ).value


async def test_inspect_reads_what_was_parked(
    broker: MemoryBroker, transport: MemoryTransport
) -> None:
    park(broker, envelope_bytes(), reason=DlqReason.HANDLER_EXHAUSTED)
    park(broker, b"not json", reason=DlqReason.POISON, offset=8)
    letters = await inspect_dlq("unused", DLQ, transport=transport)
    assert sorted(letter.reason for letter in letters) == ["handler_exhausted", "poison"]
    by_reason = {letter.reason: letter for letter in letters}
    good = by_reason["handler_exhausted"]
    assert good.original_topic == TOPIC
    assert good.error_type == "RuntimeError"
    assert good.error_message == "boom"
    assert good.envelope is not None
    assert good.envelope.correlation_id == "c-1"
    assert good.summary()["original_offset"] == "7"
    assert by_reason["poison"].envelope is None
    assert by_reason["poison"].summary()["decodable"] is False


async def test_inspect_stops_at_the_limit(broker: MemoryBroker, transport: MemoryTransport) -> None:
    for offset in range(5):
        park(broker, envelope_bytes(), reason=DlqReason.POISON, offset=offset)
    assert len(await inspect_dlq("unused", DLQ, limit=3, transport=transport)) == 3


async def test_a_missing_dlq_is_not_read_as_empty(transport: MemoryTransport) -> None:
    # Issue 16: a misspelt name used to look exactly like an empty topic.
    with pytest.raises(TopicNotFound):
        await inspect_dlq("unused", "never.created.dlq", transport=transport)
    with pytest.raises(TopicNotFound):
        await replay_dlq("unused", "never.created.dlq", transport=transport)


async def test_an_existing_empty_dlq_reads_as_empty(transport: MemoryTransport) -> None:
    assert await inspect_dlq("unused", DLQ, transport=transport) == []
    result = await replay_dlq("unused", DLQ, transport=transport)
    assert (result.processed, result.succeeded, result.failed) == (0, 0, 0)


async def test_replay_sends_the_original_bytes_back_without_dlq_headers(
    broker: MemoryBroker, transport: MemoryTransport
) -> None:
    value = envelope_bytes()
    park(broker, value, reason=DlqReason.HANDLER_EXHAUSTED)
    park(broker, b"not json", reason=DlqReason.POISON, offset=8)
    result = await replay_dlq("unused", DLQ, transport=transport)
    assert (result.processed, result.succeeded, result.failed) == (2, 1, 1)
    assert (result.republished, result.not_republished) == (1, 1)
    (replayed,) = broker.records(TOPIC)
    assert replayed.value == value
    assert replayed.key == b"c-1"
    names = {name for name, _ in replayed.headers}
    assert names.isdisjoint(DEAD_LETTER_HEADERS)
    assert "deadline_ms" not in names
    assert "ttl_seconds" not in names
    assert ("tenant", b"t1") in replayed.headers


async def test_replay_includes_poison_when_asked(
    broker: MemoryBroker, transport: MemoryTransport
) -> None:
    park(broker, b"not json", reason=DlqReason.POISON)
    result = await replay_dlq("unused", DLQ, include_poison=True, transport=transport)
    assert (result.processed, result.succeeded, result.failed) == (1, 1, 0)
    assert [r.value for r in broker.records(TOPIC)] == [b"not json"]


async def test_read_topic_gives_every_partition_up_to_its_current_end(
    broker: MemoryBroker, transport: MemoryTransport
) -> None:
    for n in range(6):
        broker.append(OutboundRecord(TOPIC, str(n).encode(), partition=n % 2))
    batches = [batch async for batch in transport.read_topic(TOPIC)]
    assert [len(batch) for batch in batches] == [3, 3]
    assert sorted(r.value or b"" for batch in batches for r in batch) == [
        str(n).encode() for n in range(6)
    ]


async def test_read_topic_of_a_missing_topic_raises(transport: MemoryTransport) -> None:
    with pytest.raises(TopicNotFound):
        async for _ in transport.read_topic("missing"):
            pass


async def test_a_replay_the_broker_refuses_is_not_republished(
    broker: MemoryBroker, transport: MemoryTransport
) -> None:
    gone = "agent.gone.requested.v1"  # its dead-letter topic exists, the topic itself not
    broker.create_topic(f"{gone}.dlq")
    original = InboundRecord(gone, 0, 3, b"c-1", envelope_bytes(), [], 1234)
    broker.append(dead_letter_record(original, RuntimeError("boom"), reason=DlqReason.REPLY_FAILED))
    result = await replay_dlq("unused", f"{gone}.dlq", transport=transport)
    assert (result.processed, result.republished, result.not_republished) == (1, 0, 1)
    assert (result.succeeded, result.failed) == (0, 1)
