"""Transport layer (innermost): send one attempt's record and wait for what settles it.

The record goes to ``Transport.produce``; the reply reader (``replies.py``) or
the producer's delivery report settles the call's pending entry, or the
attempt's wait runs out. A reply becomes the call's result here
(``decode_reply``); anything else becomes the attempt's error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..._exceptions import (
    ClientClosed,
    LifecycleError,
    PayloadTooLarge,
    PublishError,
    RequestTimeout,
    TransportError,
)
from ...transport import DeliveryCallback, InboundRecord, OutboundRecord
from ..call import Call
from ..pending import PendingCall
from ..records import RecordWriter
from ..replies import decode_reply

__all__ = ["TransportLayer"]


def _in_context(error: PayloadTooLarge | ClientClosed, call: Call) -> Exception:
    """``error`` naming the call it ended: its correlation id, topic and time taken."""
    error.correlation_id = call.correlation_id
    error.topic = call.trio.requested
    error.elapsed = call.elapsed()
    return error


def _attempt_error(pending: PendingCall, call: Call) -> Exception:
    """Why an attempt that got no reply failed: its wait ran out, or the record was refused."""
    trio = call.trio
    error = pending.error
    if error is None:
        return RequestTimeout(
            f"no reply on {trio.completed} or {trio.failed} in time (waited {call.elapsed():.3f}s)",
            correlation_id=call.correlation_id,
            topic=trio.requested,
            elapsed=call.elapsed(),
        )
    if isinstance(error, PayloadTooLarge | ClientClosed):
        # PayloadTooLarge: the broker refused the record for its size (its limit is
        # below the producer's): like the size check before producing, this is the
        # caller's error, not a failed publish that a retry or a dead letter could deliver.
        return _in_context(error, call)
    failure = PublishError(
        f"the broker did not accept the request for {trio.requested}: {error}",
        correlation_id=call.correlation_id,
        topic=trio.requested,
        elapsed=call.elapsed(),
    )
    failure.__cause__ = error
    return failure


@dataclass(slots=True)
class TransportLayer:
    produce: Callable[[OutboundRecord, DeliveryCallback], None]
    """``Transport.produce``."""
    writer: RecordWriter
    decode: Callable[[InboundRecord, Call], Any] = decode_reply
    """A reply to the call's result (``decode_reply``, or a wire profile's decoder)."""

    async def send(self, call: Call) -> dict[str, Any]:
        pending = call.pending
        assert pending is not None
        record = call.record = self.writer.request(call)
        try:
            self.produce(record, pending.on_delivery)
        except PayloadTooLarge as exc:
            _in_context(exc, call)
            raise
        except LifecycleError:
            pending.fail(ClientClosed("the client was closed while the call was pending"))
        except TransportError as exc:
            pending.fail(exc)
        await pending.signal.wait_until(call.until)
        reply = pending.reply
        if reply is not None:
            return self.decode(reply, call)  # type: ignore[no-any-return]
        raise _attempt_error(pending, call)
