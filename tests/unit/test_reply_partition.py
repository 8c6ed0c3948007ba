"""Which reply partition a client reads: every one, a pinned one, or one chosen per instance."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from kafkarpc import ConfigurationError, PayloadCorrelated, RpcClient, Topics, TopicTrio
from kafkarpc._config import NO_CALL_RETRY
from kafkarpc.client.call import Call
from kafkarpc.client.layers.route import RouteLayer
from kafkarpc.client.records import RecordWriter
from kafkarpc.client.reply_partition import (
    ReplyPartitions,
    new_instance_slot,
    spread_reply_partition,
)
from kafkarpc.client.validate import new_call
from kafkarpc.transport.memory import MemoryBroker, MemoryTransport
from kafkarpc.wire.headers import header_dict

pytestmark = pytest.mark.anyio

TRIO = TopicTrio.from_base("spread.op")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_call() -> Call:
    return new_call(
        TRIO,
        {"x": 1},
        timeout=5.0,
        policy=NO_CALL_RETRY,
        clock=time.monotonic,
        partition_key=None,
        headers=None,
        idempotency_key=None,
        priority=None,
    )


# ---------------------------------------------------------------- the pure choice


def test_distinct_instance_indexes_below_the_partition_count_get_distinct_partitions() -> None:
    assert sorted(spread_reply_partition(slot, [16, 16]) for slot in range(16)) == list(range(16))


def test_the_choice_exists_in_every_reply_topic_of_the_operation() -> None:
    # One reply_partition travels with the request for both the completed and the
    # failed topic, so it must be below the smaller count.
    assert spread_reply_partition(37, [16, 8]) == 37 % 8
    assert all(spread_reply_partition(slot, [5, 3]) < 3 for slot in range(100))


def test_the_choice_is_the_same_each_time_for_one_instance() -> None:
    assert spread_reply_partition(123_456, [16, 16]) == spread_reply_partition(123_456, [16, 16])


@pytest.mark.parametrize("counts", [[], [4, 0]])
def test_reply_topics_without_partitions_are_a_configuration_error(counts: list[int]) -> None:
    with pytest.raises(ConfigurationError, match="at least one partition"):
        spread_reply_partition(3, counts)


def test_instance_slots_come_from_a_wide_random_range() -> None:
    slots = {new_instance_slot() for _ in range(200)}
    # 200 draws from 2**32 collide with probability below 1e-5.
    assert len(slots) == 200
    assert all(0 <= slot < 2**32 for slot in slots)
    # Spread over 16 partitions, 200 instances leave no partition unused.
    assert {slot % 16 for slot in slots} == set(range(16))


@pytest.mark.parametrize(
    ("partitions", "reads_per_own_reply", "alone"), [(16, 1.94, 0.38), (64, 1.23, 0.79)]
)
def test_auto_sharing_matches_the_collision_arithmetic(
    partitions: int, reads_per_own_reply: float, alone: float
) -> None:
    """docs/concepts.md: 16 instances read about 1 + 15/P times their own replies, and an
    instance is alone on its partition with probability (1 - 1/P) ** 15."""
    rng = random.Random(7)
    shares: list[int] = []
    for _ in range(4000):
        chosen = [spread_reply_partition(rng.randrange(2**32), [partitions]) for _ in range(16)]
        shares.append(chosen.count(chosen[0]))  # instance 0 and those sharing with it
    assert sum(shares) / len(shares) == pytest.approx(reads_per_own_reply, abs=0.05)
    assert shares.count(1) / len(shares) == pytest.approx(alone, abs=0.03)


# ---------------------------------------------------------------- the setting


def test_by_default_every_partition_is_read() -> None:
    partitions = ReplyPartitions()
    assert not partitions.automatic
    assert partitions.choose(TRIO, [16, 16]) is None
    assert partitions.of(TRIO) is None


def test_a_pinned_partition_ignores_the_partition_counts() -> None:
    partitions = ReplyPartitions(2)
    assert not partitions.automatic
    assert partitions.choose(TRIO, []) == 2
    assert partitions.of(TRIO) == 2


def test_auto_remembers_the_choice_for_the_operations_requests() -> None:
    partitions = ReplyPartitions("auto", slot=37)
    assert partitions.automatic
    assert partitions.of(TRIO) is None  # not chosen before the route is set up
    assert partitions.choose(TRIO, [16, 16]) == 37 % 16
    assert partitions.of(TRIO) == 37 % 16


@pytest.mark.parametrize("value", ["any", True, 1.5, -1])
def test_topics_rejects_a_reply_partition_that_is_not_a_partition_or_auto(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="reply_partition"):
        Topics(reply_partition=value)


def test_topics_accepts_auto() -> None:
    assert Topics(reply_partition="auto").reply_partition == "auto"


def test_a_payload_correlated_service_cannot_be_read_from_one_partition() -> None:
    service = PayloadCorrelated(request_topic="tool.requests", reply_topic="tool.results")
    for setting in ("auto", 0):
        with pytest.raises(ConfigurationError, match="payload-correlated"):
            RpcClient(
                "127.0.0.1:9", service="c", wire=service, topics=Topics(reply_partition=setting)
            )


# ---------------------------------------------------------------- where the choice is used


class _RecordingReplies:
    def __init__(self) -> None:
        self.assigned: list[tuple[tuple[str, ...], int | None]] = []

    async def assign(self, topics: Any, *, partition: int | None = None) -> None:
        self.assigned.append((tuple(topics), partition))

    async def aclose(self) -> None:
        return None


async def test_auto_reads_and_asks_for_the_same_partition_chosen_from_the_reply_topics() -> None:
    broker = MemoryBroker()
    broker.create_topic(TRIO.requested, 3)
    broker.create_topic(TRIO.completed, 16)
    broker.create_topic(TRIO.failed, 8)
    replies = _RecordingReplies()
    partitions = ReplyPartitions("auto", slot=21)
    writer = RecordWriter("caller", "v1", partitions, None)
    sent: list[dict[str, str]] = []

    async def below(call: Call) -> dict[str, Any]:
        sent.append(header_dict(writer.request(call).headers))
        return {}

    layer = RouteLayer(below, MemoryTransport(broker), replies, Topics(), partitions)  # type: ignore[arg-type]
    await layer.send(make_call())
    await layer.send(make_call())
    assert replies.assigned == [(TRIO.reply_topics, 21 % 8)]
    # The writer's inlined lookup agrees with ReplyPartitions.of.
    assert [headers["reply_partition"] for headers in sent] == [str(partitions.of(TRIO))] * 2
    assert partitions.of(TRIO) == 21 % 8
