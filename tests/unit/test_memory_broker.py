"""The in-memory broker places records the way the Kafka transport does."""

from __future__ import annotations

import zlib

import pytest

from kafkarpc import MemoryBroker, TopicNotFound
from kafkarpc.transport import ANY_PARTITION, OutboundRecord


def test_a_key_decides_the_partition_and_any_partition_spreads() -> None:
    broker = MemoryBroker()
    broker.create_topic("t", partitions=3)
    keyed = [broker.append(OutboundRecord("t", b"v", key=b"tenant-1")) for _ in range(5)]
    assert {r.partition for r in keyed} == {zlib.crc32(b"tenant-1") % 3}
    spread = [
        broker.append(OutboundRecord("t", b"v", key=b"tenant-1", partition=ANY_PARTITION))
        for _ in range(6)
    ]
    assert {r.partition for r in spread} == {0, 1, 2}


def test_an_explicit_partition_must_exist() -> None:
    broker = MemoryBroker()
    broker.create_topic("t", partitions=2)
    assert broker.append(OutboundRecord("t", b"v", partition=1)).partition == 1
    with pytest.raises(TopicNotFound):
        broker.append(OutboundRecord("t", b"v", partition=2))
