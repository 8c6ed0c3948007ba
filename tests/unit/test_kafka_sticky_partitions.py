"""Records for ``ANY_PARTITION`` stay on one partition of their topic for a short
window, then move to the next (transport/kafka/producer.py): under load several
hand-overs in a row leave as one batch, and over time every partition gets its share.
The clock is the test's; no broker is contacted (librdkafka connects lazily)."""

from __future__ import annotations

import pytest

from kafkarpc.transport.kafka import producer as producer_module
from kafkarpc.transport.kafka.producer import KafkaProducer


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr("kafkarpc.transport.kafka.producer.time.monotonic", fake)
    return fake


def _producer(counts: dict[str, int]) -> KafkaProducer:
    producer = KafkaProducer({"bootstrap.servers": "127.0.0.1:9"}, bridge=None)  # type: ignore[arg-type]
    producer.partition_counts.update(counts)
    return producer


def test_hand_overs_within_the_window_share_a_partition_then_the_next_one_follows(
    clock: _Clock,
) -> None:
    producer = _producer({"replies": 4, "other": 3})
    window = producer_module._STICKY_S
    picks = []
    for _ in range(8):
        picks.append(producer._next_partition("replies"))
        clock.now += 0.3 * window  # four hand-overs in a window, the fifth after it
    assert picks == [0, 0, 0, 0, 1, 1, 1, 1]
    # Each topic keeps its own turn.
    assert producer._next_partition("other") == 0
    clock.now += 1.5 * window
    assert producer._next_partition("other") == 1
    assert producer._next_partition("replies") == 2


def test_over_time_every_partition_gets_records(clock: _Clock) -> None:
    producer = _producer({"replies": 4})
    seen = []
    for _ in range(8):
        seen.append(producer._next_partition("replies"))
        clock.now += 1.5 * producer_module._STICKY_S
    assert seen == [0, 1, 2, 3, 0, 1, 2, 3]


def test_until_the_partition_count_is_known_the_key_decides(clock: _Clock) -> None:
    producer = _producer({"replies": None})  # type: ignore[dict-item]
    assert producer._next_partition("replies") is None
