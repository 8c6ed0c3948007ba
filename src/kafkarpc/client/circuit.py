"""Circuit state: stop calling a dependency that keeps failing (one tracker per operation)."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from typing import Literal

from .._config import CircuitBreaker
from .._exceptions import CircuitOpenError
from ..wire.topics import TopicTrio

__all__ = ["CircuitBreaker", "CircuitState", "CircuitTracker", "Circuits", "Verdict"]

logger = logging.getLogger("kafkarpc.circuit")

#: What one finished call says about its dependency.
Verdict = Literal["success", "failure", "abandoned"]


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitTracker:
    """The live state of one operation's circuit (event-loop confined)."""

    __slots__ = ("_config", "_failures", "_name", "_on_change", "_opened_at", "_probes", "state")

    def __init__(
        self,
        config: CircuitBreaker,
        name: str,
        *,
        on_change: Callable[[str, str], None] | None = None,
    ) -> None:
        self._config = config
        self._name = name
        self._on_change = on_change
        self.state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probes = 0

    def _move(self, state: CircuitState) -> None:
        if state is not self.state:
            logger.warning("circuit %s: %s -> %s", self._name, self.state.value, state.value)
            self.state = state
            if self._on_change is not None:
                self._on_change(self._name, state.value)

    def before_call(self) -> None:
        """Raise CircuitOpenError, or admit the call (as a probe when half-open)."""
        if self.state is CircuitState.OPEN:
            waited = time.monotonic() - self._opened_at
            if waited < self._config.reset_timeout:
                raise CircuitOpenError(
                    f"circuit for {self._name} is open after {self._failures} consecutive "
                    f"failures; retry in {self._config.reset_timeout - waited:.2f}s",
                    topic=self._name,
                    retry_after=self._config.reset_timeout - waited,
                )
            self._move(CircuitState.HALF_OPEN)
            self._probes = 0
        if self.state is CircuitState.HALF_OPEN:
            if self._probes >= self._config.half_open_max_calls:
                raise CircuitOpenError(
                    f"circuit for {self._name} is half-open and its probe is in flight",
                    topic=self._name,
                )
            self._probes += 1

    def on_success(self) -> None:
        self._failures = 0
        self._move(CircuitState.CLOSED)

    def on_failure(self) -> None:
        self._failures += 1
        if self.state is CircuitState.HALF_OPEN or self._failures >= self._config.failure_threshold:
            self._opened_at = time.monotonic()
            self._move(CircuitState.OPEN)

    def on_abandoned(self) -> None:
        """A call ended without telling us anything (cancelled): free its probe slot."""
        if self.state is CircuitState.HALF_OPEN and self._probes > 0:
            self._probes -= 1

    def record(self, verdict: Verdict) -> None:
        """Apply what a finished call said about the dependency (``layers.circuit.verdict``)."""
        if verdict == "success":
            self.on_success()
        elif verdict == "failure":
            self.on_failure()
        else:
            self.on_abandoned()


class Circuits:
    """The circuit of each operation, made on first use (all closed without a breaker)."""

    __slots__ = ("_config", "_on_change", "_trackers")

    def __init__(
        self, config: CircuitBreaker | None, on_change: Callable[[str, str], None]
    ) -> None:
        self._config = config
        self._on_change = on_change
        self._trackers: dict[TopicTrio, CircuitTracker] = {}

    @property
    def enabled(self) -> bool:
        return self._config is not None

    def tracker(self, trio: TopicTrio) -> CircuitTracker:
        """``trio``'s tracker (only with a breaker configured)."""
        assert self._config is not None
        tracker = self._trackers.get(trio)
        if tracker is None:
            tracker = self._trackers[trio] = CircuitTracker(
                self._config, trio.name, on_change=self._on_change
            )
        return tracker

    def state(self, trio: TopicTrio) -> CircuitState:
        tracker = self._trackers.get(trio)
        return CircuitState.CLOSED if tracker is None else tracker.state
