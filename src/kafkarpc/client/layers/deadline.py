"""Deadline layer: how long each attempt of a call waits, inside the call's deadline.

Only retried calls pass here. Each attempt waits at most
``CallRetry.attempt_budget`` (decided once, from the time left when the call's
first attempt starts), never past the call's deadline. A re-send that would start after the
deadline (a backoff sleep ran past it) is refused with ``RequestTimeout``; one
that may start is counted as a retry and waits on a fresh signal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import Span

from ..._exceptions import RequestTimeout
from ..call import Call, Send

__all__ = ["DeadlineLayer"]


@dataclass(slots=True)
class DeadlineLayer:
    below: Send
    retried: Callable[[str, Span | None, int], None]
    """``ClientTelemetry.retried``: what counts a re-send."""

    def send(self, call: Call) -> Awaitable[dict[str, Any]]:
        if call.attempt:
            self._admit_resend(call)
        else:
            call.attempt_budget = call.policy.attempt_budget(call.remaining())
        call.until = min(call.deadline, call.clock() + call.attempt_budget)
        return self.below(call)

    def _admit_resend(self, call: Call) -> None:
        if call.remaining() <= 0:
            raise RequestTimeout(
                f"no reply from {call.trio.requested} before the deadline "
                f"({call.attempt} attempts)",
                correlation_id=call.correlation_id,
                topic=call.trio.requested,
                elapsed=call.elapsed(),
            )
        self.retried(call.trio.requested, call.span, call.attempt)
        assert call.pending is not None
        call.pending.rearm()
