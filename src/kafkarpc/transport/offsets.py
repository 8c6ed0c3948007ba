"""At-least-once offset bookkeeping shared by the group consumers.

Records of one partition arrive in offset order but finish in any order. The
committable offset of a partition is one past the highest offset below which
every record is acknowledged, so a crash never skips an unanswered request.
"""

from __future__ import annotations

import threading
from collections import deque

__all__ = ["OffsetTracker"]

TopicPartitionKey = tuple[str, int]


class _PartitionState:
    __slots__ = ("acked", "committable", "dirty", "pending")

    def __init__(self) -> None:
        self.pending: deque[int] = deque()
        self.acked: set[int] = set()
        self.committable: int | None = None
        self.dirty = False


class OffsetTracker:
    """Thread-safe: the polling thread adds and commits, the event loop acks."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._partitions: dict[TopicPartitionKey, _PartitionState] = {}
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def add(self, key: TopicPartitionKey, offset: int) -> None:
        with self._lock:
            state = self._partitions.get(key)
            if state is None:
                state = self._partitions[key] = _PartitionState()
            state.pending.append(offset)
            self._in_flight += 1

    def ack(self, key: TopicPartitionKey, offset: int) -> None:
        with self._lock:
            state = self._partitions.get(key)
            if state is None or offset in state.acked:
                return  # partition revoked meanwhile: the new owner redelivers it
            if offset not in state.pending:
                return
            state.acked.add(offset)
            self._in_flight -= 1
            while state.pending and state.pending[0] in state.acked:
                done = state.pending.popleft()
                state.acked.discard(done)
                state.committable = done + 1
                state.dirty = True
            self._lock.notify_all()

    def take_commits(
        self, keys: set[TopicPartitionKey] | None = None
    ) -> list[tuple[str, int, int]]:
        """Offsets that advanced since the last call, as (topic, partition, next_offset)."""
        out: list[tuple[str, int, int]] = []
        with self._lock:
            for key, state in self._partitions.items():
                if state.dirty and state.committable is not None and (keys is None or key in keys):
                    out.append((key[0], key[1], state.committable))
                    state.dirty = False
        return out

    def wait_for_room(self, limit: int, timeout: float) -> bool:
        """Block until fewer than ``limit`` records are in flight (or ``timeout``)."""
        with self._lock:
            return self._lock.wait_for(lambda: self._in_flight < limit, timeout=timeout)

    def wait_drained(self, keys: set[TopicPartitionKey], timeout: float) -> bool:
        """Block until no record of ``keys`` is in flight (a rebalance gives them away)."""

        def drained() -> bool:
            return all(not self._partitions[k].pending for k in keys if k in self._partitions)

        with self._lock:
            return self._lock.wait_for(drained, timeout=timeout)

    def forget(self, keys: set[TopicPartitionKey]) -> None:
        with self._lock:
            for key in keys:
                state = self._partitions.pop(key, None)
                if state is not None:
                    self._in_flight -= len(state.pending) - len(state.acked)
            self._lock.notify_all()
