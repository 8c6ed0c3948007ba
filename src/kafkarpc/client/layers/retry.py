"""Retry layer: send a call again, per its ``CallRetry``, until one attempt settles it.

A call with a single attempt (the default) goes straight to the transport
layer: it has nothing to retry, and its wait is the call's own deadline, so the
deadline layer has nothing to add either. Which errors are retried, how long
to back off and when to stop are all the ``CallRetry``'s decisions.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from ..call import Call, Send

__all__ = ["RetryLayer"]


@dataclass(slots=True)
class RetryLayer:
    below: Send
    """Each attempt of a retried call: the deadline layer."""
    single: Send
    """A call of one attempt: the transport layer (its wait is the call's deadline)."""

    def send(self, call: Call) -> Awaitable[dict[str, Any]]:
        if call.policy.max_attempts == 1:
            return self.single(call)  # nothing to retry: no frame of our own
        return self._attempts(call)

    async def _attempts(self, call: Call) -> dict[str, Any]:
        policy = call.policy
        retrying = policy.retrying(policy.should_retry_call, stop_after=call.remaining())
        return await retrying(self._attempt, call)

    async def _attempt(self, call: Call) -> dict[str, Any]:
        try:
            return await self.below(call)
        finally:
            call.attempt += 1
