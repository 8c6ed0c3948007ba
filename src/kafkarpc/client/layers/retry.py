"""Retry layer: send a call again, per its ``CallRetry``, until one attempt settles it.

A call with a single attempt (the default) goes straight to the transport
layer: it has nothing to retry, and its wait is the call's own deadline, so
the deadline layer has nothing to add either. Which errors are retried, how
long to back off and when to stop are all the ``CallRetry``'s decisions.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from ..call import Call, Send

__all__ = ["RetryLayer"]


class RetryLayer:
    __slots__ = ("_each", "_single")

    def __init__(self, each_attempt: Send, *, single: Send) -> None:
        self._each = each_attempt
        self._single = single

    def send(self, call: Call) -> Awaitable[dict[str, Any]]:
        if call.policy.max_attempts == 1:
            return self._single(call)  # no frame of our own for the usual case
        return self._attempts(call)

    async def _attempts(self, call: Call) -> dict[str, Any]:
        policy = call.policy
        retrying = policy.retrying(policy.should_retry_call, stop_after=call.remaining())
        return await retrying(self._attempt, call)

    async def _attempt(self, call: Call) -> dict[str, Any]:
        try:
            return await self._each(call)
        finally:
            call.attempt += 1
