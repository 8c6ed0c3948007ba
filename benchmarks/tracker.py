"""Closed-loop bookkeeping shared by every client: hands out request indices,
records outcomes, and turns them into the samples sent back to the harness."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.workload import Workload

__all__ = ["LoadTracker", "Samples"]

_PROGRESS_EVERY_S = 0.2


@dataclass(frozen=True, slots=True)
class Samples:
    latencies_ms: list[float]
    """One per measured request that succeeded, in completion order."""
    errors: int
    """Measured requests that failed or timed out."""
    first_error: str | None
    window_s: float
    """From the first measured send to the last measured completion."""
    completed_in_window: int
    """Successful completions (measured or not) inside the window: the throughput numerator."""
    deadline_hit: bool


class LoadTracker:
    def __init__(self, workload: Workload, on_progress: Callable[[int], None]) -> None:
        self.workload = workload
        self._on_progress = on_progress
        self._next = 0
        self._measured_done = 0
        self._latencies: list[float] = []
        self._done_at: list[float] = []
        self._errors = 0
        self._first_error: str | None = None
        self._window_start: float | None = None
        self._window_end = 0.0
        self._started = time.perf_counter()
        self._last_progress = 0.0
        self.deadline_hit = False

    def _is_measured(self, index: int) -> bool:
        return self.workload.warmup <= index < self.workload.warmup + self.workload.measured

    @property
    def finished(self) -> bool:
        return self._measured_done >= self.workload.measured or self._past_deadline()

    def _past_deadline(self) -> bool:
        if time.perf_counter() - self._started > self.workload.deadline_s:
            self.deadline_hit = True
        return self.deadline_hit

    def next_index(self, sent_at: float) -> int | None:
        """The next request to issue, or None when the level needs no more."""
        if self._next >= self.workload.issue_limit or self.finished:
            return None
        index = self._next
        self._next += 1
        if index == self.workload.warmup:
            self._window_start = sent_at
        return index

    def complete(self, index: int, sent_at: float, done_at: float, error: str | None) -> None:
        if error is None:
            self._done_at.append(done_at)
        if not self._is_measured(index):
            return
        self._measured_done += 1
        self._window_end = max(self._window_end, done_at)
        if error is None:
            self._latencies.append((done_at - sent_at) * 1000.0)
        else:
            self._errors += 1
            self._first_error = self._first_error or error
        if done_at - self._last_progress >= _PROGRESS_EVERY_S:
            self._last_progress = done_at
            self._on_progress(self._measured_done)

    def samples(self) -> Samples:
        self._on_progress(self._measured_done)
        start = self._window_start
        if start is None or self._window_end <= start:
            return Samples(
                self._latencies, self._errors, self._first_error, 0.0, 0, self.deadline_hit
            )
        end = self._window_end
        in_window = sum(1 for t in self._done_at if start <= t <= end)
        return Samples(
            self._latencies,
            self._errors,
            self._first_error,
            end - start,
            in_window,
            self.deadline_hit,
        )
