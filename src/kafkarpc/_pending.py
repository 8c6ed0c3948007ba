"""Calls waiting for their reply, keyed by correlation id (event-loop confined)."""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio

from ._transport import InboundRecord, OutboundRecord

__all__ = ["PendingCall", "PendingCalls"]


@dataclass(eq=False, slots=True)
class PendingCall:
    """One attempt's rendezvous: the reply consumer or the producer settles it."""

    correlation_id: str
    done: anyio.Event = field(default_factory=anyio.Event)
    reply: InboundRecord | None = None
    error: BaseException | None = None

    def resolve(self, record: InboundRecord) -> None:
        if self.reply is None:
            self.reply = record
            self.done.set()

    def fail(self, error: BaseException) -> None:
        if self.reply is None and self.error is None:
            self.error = error
            self.done.set()

    def on_delivery(self, error: Exception | None, _record: OutboundRecord) -> None:
        if error is not None:
            self.fail(error)

    def rearm(self) -> None:
        """Reset for another attempt of the same call (a retry)."""
        self.error = None
        self.reply = None
        self.done = anyio.Event()


class PendingCalls:
    def __init__(self) -> None:
        self._calls: dict[str, PendingCall] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def add(self, correlation_id: str) -> PendingCall:
        call = PendingCall(correlation_id)
        self._calls[correlation_id] = call
        return call

    def get(self, correlation_id: str) -> PendingCall | None:
        return self._calls.get(correlation_id)

    def discard(self, call: PendingCall) -> None:
        if self._calls.get(call.correlation_id) is call:
            del self._calls[call.correlation_id]

    def fail_all(self, error_factory: type[BaseException], message: str) -> None:
        for call in list(self._calls.values()):
            call.fail(error_factory(message))
