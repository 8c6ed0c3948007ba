"""Deadline layer: how long each attempt of a retried call waits, inside the call's deadline.

Each attempt waits at most ``CallRetry.attempt_budget`` (decided once, from the
time left when the call's first attempt starts), never past the call's
deadline. A re-send that would start after the deadline (a backoff sleep ran
past it) is refused with ``RequestTimeout``; one that may start is counted as a
retry and waits on a fresh signal.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from ..._exceptions import RequestTimeout
from ..._telemetry import ClientTelemetry
from ..call import Call, Send

__all__ = ["DeadlineLayer"]


class DeadlineLayer:
    __slots__ = ("_next", "_telemetry")

    def __init__(self, next_: Send, telemetry: ClientTelemetry) -> None:
        self._next = next_
        self._telemetry = telemetry

    def send(self, call: Call) -> Awaitable[dict[str, Any]]:
        if call.attempt == 0:
            call.attempt_budget = call.policy.attempt_budget(call.remaining())
        else:
            if call.remaining() <= 0:
                raise RequestTimeout(
                    f"no reply from {call.trio.requested} before the deadline "
                    f"({call.attempt} attempts)",
                    correlation_id=call.correlation_id,
                    topic=call.trio.requested,
                    elapsed=call.elapsed(),
                )
            self._telemetry.retried(call.trio.requested, call.span, call.attempt)
            assert call.pending is not None
            call.pending.rearm()
        call.until = min(call.deadline, call.clock() + call.attempt_budget)
        return self._next(call)
