"""Calls waiting for their reply, keyed by correlation id (event-loop confined)."""

from __future__ import annotations

from ..transport import InboundRecord, OutboundRecord
from .signal import Signal, Signals

__all__ = ["PendingCall", "PendingCalls"]


class PendingCall:
    """One attempt's rendezvous: the reply consumer or the producer settles it.

    The caller waits with ``signal.wait_until(deadline)`` (deadline on ``Signals.clock``).
    """

    __slots__ = ("_signals", "correlation_id", "error", "reply", "signal")

    def __init__(self, correlation_id: str, signals: Signals) -> None:
        self.correlation_id = correlation_id
        self._signals = signals
        self.signal: Signal = signals.new()
        self.reply: InboundRecord | None = None
        self.error: BaseException | None = None

    def resolve(self, record: InboundRecord) -> None:
        if self.reply is None:
            self.reply = record
            self.signal.set()

    def fail(self, error: BaseException) -> None:
        if self.reply is None and self.error is None:
            self.error = error
            self.signal.set()

    def on_delivery(self, error: Exception | None, _record: OutboundRecord) -> None:
        if error is not None:
            self.fail(error)

    def rearm(self) -> None:
        """Reset for another attempt of the same call (a retry)."""
        self.error = None
        self.reply = None
        self.signal = self._signals.new()


class PendingCalls:
    """The calls waiting for a reply, by correlation id; closed once, with the client."""

    def __init__(self) -> None:
        self._calls: dict[str, PendingCall] = {}
        self.closed = False

    def __len__(self) -> int:
        return len(self._calls)

    def add(self, correlation_id: str, signals: Signals) -> PendingCall:
        call = PendingCall(correlation_id, signals)
        self._calls[correlation_id] = call
        return call

    def get(self, correlation_id: str) -> PendingCall | None:
        return self._calls.get(correlation_id)

    def discard(self, call: PendingCall) -> None:
        if self._calls.get(call.correlation_id) is call:
            del self._calls[call.correlation_id]

    def close(self, error_factory: type[BaseException], message: str) -> None:
        """Fail every waiting call; ``closed`` tells callers still queued for a slot."""
        self.closed = True
        for call in list(self._calls.values()):
            call.fail(error_factory(message))
