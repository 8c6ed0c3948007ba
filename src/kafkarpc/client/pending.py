"""Calls waiting for their reply, keyed by correlation id (event-loop confined)."""

from __future__ import annotations

from collections.abc import Callable

from ..transport import InboundRecord, OutboundRecord
from .signal import Signal, Signals

__all__ = ["OnReply", "PendingCall", "PendingCalls", "PendingReplies"]

#: What a call answered by many replies does with each: returns the record that
#: stands for the whole call so far (None: none yet) and whether the call is over.
OnReply = Callable[[InboundRecord], tuple[InboundRecord | None, bool]]


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


class PendingReplies(PendingCall):
    """A call that takes many replies (a gather, a stream) until ``on_reply`` says it is over.

    To the layers that wait on it, it looks like one call: ``reply`` is the record
    standing for the call so far (the transport layer decodes it when the wait
    ends, at the deadline or once the call is over), and ``signal`` is set only
    when ``on_reply`` says the call is over.
    """

    __slots__ = ("_on_reply",)

    def __init__(self, correlation_id: str, signals: Signals, on_reply: OnReply) -> None:
        super().__init__(correlation_id, signals)
        self._on_reply = on_reply

    def resolve(self, record: InboundRecord) -> None:
        if self.error is not None:
            return
        standing, over = self._on_reply(record)
        if standing is not None:
            self.reply = standing
        if over:
            self.signal.set()

    def fail(self, error: BaseException) -> None:
        if self.error is None:
            # The call failed as a whole (the client closed, the request was refused):
            # that is its outcome, whatever replies came before.
            self.reply = None
            self.error = error
            self.signal.set()


class PendingCalls:
    """The calls waiting for a reply, by correlation id; closed once, with the client."""

    def __init__(self) -> None:
        self._calls: dict[str, PendingCall] = {}
        self.closed = False

    def __len__(self) -> int:
        return len(self._calls)

    def add(
        self, correlation_id: str, signals: Signals, on_reply: OnReply | None = None
    ) -> PendingCall:
        call = (
            PendingCall(correlation_id, signals)
            if on_reply is None
            else PendingReplies(correlation_id, signals, on_reply)
        )
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
