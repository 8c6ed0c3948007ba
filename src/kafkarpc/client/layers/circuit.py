"""Circuit layer: refuse calls to an operation that keeps failing, and learn from each outcome.

Only in the pipeline when a ``CircuitBreaker`` is configured. What an outcome
says about the dependency is decided by ``verdict`` (a pure function); the
operation's ``CircuitTracker`` is told once the call below has finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..._exceptions import PublishError, RemoteError, TopicNotFound, TransportError
from ..call import Call, Send
from ..circuit import Circuits, Verdict

__all__ = ["CircuitLayer", "verdict"]


def verdict(error: BaseException | None) -> Verdict:
    """What a call that ended with ``error`` (None: a reply) says about its dependency."""
    if error is None:
        return "success"
    if isinstance(error, RemoteError):
        # A non-retryable answer (bad input) proves the dependency is alive.
        return "failure" if error.retryable else "success"
    if isinstance(error, TopicNotFound):
        return "abandoned"  # a setup error says nothing of the dependency
    if isinstance(error, TimeoutError | PublishError | TransportError):
        return "failure"
    return "abandoned"  # cancelled or closed: says nothing of the dependency


@dataclass(slots=True)
class CircuitLayer:
    below: Send
    circuits: Circuits

    async def send(self, call: Call) -> dict[str, Any]:
        circuit = self.circuits.tracker(call.trio)
        circuit.before_call()
        try:
            result = await self.below(call)
        except BaseException as exc:
            circuit.record(verdict(exc))
            raise
        circuit.record("success")
        return result
