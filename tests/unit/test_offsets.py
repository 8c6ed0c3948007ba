"""At-least-once offset bookkeeping: commit only past records that are all acknowledged."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kafkarpc.transport.offsets import OffsetTracker

TP = ("orders.requested.v1", 0)
TP2 = ("orders.requested.v1", 1)


def tracking(*records: tuple[tuple[str, int], int]) -> OffsetTracker:
    """A tracker that was handed ``records`` ((topic, partition), offset), in that order."""
    tracker = OffsetTracker()
    for partition, offset in records:
        tracker.add(partition, offset)
    return tracker


def committed(tracker: OffsetTracker) -> dict[tuple[str, int], int]:
    return {(t, p): o for t, p, o in tracker.take_commits()}


def test_nothing_to_commit_before_any_ack() -> None:
    tracker = tracking((TP, 0), (TP, 1), (TP, 2))
    assert tracker.take_commits() == []
    assert tracker.in_flight == 3


def test_in_order_acks_commit_next_offset() -> None:
    tracker = tracking((TP, 0), (TP, 1), (TP, 2))
    tracker.ack(TP, 0)
    assert committed(tracker) == {TP: 1}
    tracker.ack(TP, 1)
    tracker.ack(TP, 2)
    assert committed(tracker) == {TP: 3}
    assert tracker.in_flight == 0


def test_out_of_order_ack_waits_for_the_lowest() -> None:
    tracker = tracking((TP, 10), (TP, 11), (TP, 12), (TP, 13))
    tracker.ack(TP, 12)
    tracker.ack(TP, 11)
    assert tracker.take_commits() == []  # 10 still unacknowledged
    assert tracker.in_flight == 2
    tracker.ack(TP, 10)
    assert committed(tracker) == {TP: 13}
    tracker.ack(TP, 13)
    assert committed(tracker) == {TP: 14}


def test_commits_are_reported_once() -> None:
    tracker = tracking((TP, 0))
    tracker.ack(TP, 0)
    assert committed(tracker) == {TP: 1}
    assert tracker.take_commits() == []


def test_partitions_are_independent() -> None:
    tracker = tracking((TP, 0), (TP2, 5))
    tracker.ack(TP2, 5)
    assert committed(tracker) == {TP2: 6}
    assert tracker.in_flight == 1


def test_take_commits_for_selected_partitions() -> None:
    tracker = tracking((TP, 0), (TP2, 0))
    tracker.ack(TP, 0)
    tracker.ack(TP2, 0)
    assert committed_for(tracker, {TP2}) == {TP2: 1}
    assert committed(tracker) == {TP: 1}


def committed_for(tracker: OffsetTracker, keys: set[tuple[str, int]]) -> dict[tuple[str, int], int]:
    return {(t, p): o for t, p, o in tracker.take_commits(keys)}


def test_duplicate_and_unknown_acks_are_ignored() -> None:
    tracker = tracking((TP, 0), (TP, 1))
    tracker.ack(TP, 1)
    tracker.ack(TP, 1)
    tracker.ack(TP, 99)
    tracker.ack(("other", 0), 0)
    assert tracker.in_flight == 1
    assert tracker.take_commits() == []


def test_forget_drops_a_revoked_partition() -> None:
    tracker = tracking((TP, 0), (TP, 1), (TP, 2), (TP2, 0))
    tracker.ack(TP, 1)
    tracker.forget({TP})
    assert tracker.in_flight == 1  # only TP2's record
    tracker.ack(TP, 0)  # late ack of a revoked partition: ignored
    assert tracker.in_flight == 1
    assert tracker.take_commits() == []


def test_forget_then_reassign_starts_fresh() -> None:
    tracker = tracking((TP, 0))
    tracker.forget({TP})
    tracker.add(TP, 0)
    tracker.ack(TP, 0)
    assert committed(tracker) == {TP: 1}
    assert tracker.in_flight == 0


def test_wait_drained() -> None:
    tracker = tracking((TP, 0))
    assert tracker.wait_drained({TP}, timeout=0.01) is False
    tracker.ack(TP, 0)
    assert tracker.wait_drained({TP}, timeout=0.01) is True
    assert tracker.wait_drained({TP2}, timeout=0.01) is True


@given(
    start=st.integers(min_value=0, max_value=1_000),
    order=st.integers(min_value=1, max_value=30).flatmap(lambda n: st.permutations(list(range(n)))),
)
def test_commit_never_passes_an_unacked_record(start: int, order: list[int]) -> None:
    tracker = OffsetTracker()
    offsets = [start + i for i in range(len(order))]
    for offset in offsets:
        tracker.add(TP, offset)
    acked: set[int] = set()
    last_commit: int | None = None
    for index in order:
        offset = offsets[index]
        tracker.ack(TP, offset)
        acked.add(offset)
        for _, _, commit in tracker.take_commits():
            # Everything below the committed offset is acknowledged ...
            assert all(o in acked for o in offsets if o < commit)
            # ... and commits only move forward.
            assert last_commit is None or commit > last_commit
            last_commit = commit
        unacked = [o for o in offsets if o not in acked]
        if unacked and last_commit is not None:
            assert last_commit <= min(unacked)
        assert tracker.in_flight == len(unacked)
    assert last_commit == offsets[-1] + 1
    assert tracker.in_flight == 0


@given(order=st.permutations(list(range(12))), gap=st.integers(min_value=1, max_value=5))
def test_sparse_offsets(order: list[int], gap: int) -> None:
    # Compacted or transactional topics leave gaps between offsets.
    tracker = OffsetTracker()
    offsets = [i * gap for i in range(12)]
    for offset in offsets:
        tracker.add(TP, offset)
    for index in order:
        tracker.ack(TP, offsets[index])
    assert committed(tracker) == {TP: offsets[-1] + 1}
