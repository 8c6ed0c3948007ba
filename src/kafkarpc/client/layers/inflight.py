"""In-flight layer: a slot and a pending entry for the call's whole life, and the DLQ at its end.

Backpressure: beyond ``max_in_flight`` calls, a caller waits for a slot within
its deadline. The call's pending entry (where its reply lands) spans all of its
attempts, so a late reply to an earlier attempt still completes it. A call
whose last attempt could not be published is parked in ``{requested}.dlq``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import anyio

from ..._exceptions import ClientClosed, PublishError, RequestTimeout
from ..._telemetry import ClientTelemetry
from ...transport import OutboundRecord, Transport
from ..call import Call, Send
from ..pending import PendingCalls
from ..records import park_unsent
from ..signal import Signals

__all__ = ["InFlightLayer"]

logger = logging.getLogger("kafkarpc.client")


@dataclass(slots=True)
class InFlightLayer:
    below: Send
    max_in_flight: int
    pending: PendingCalls
    signals: Signals
    transport: Transport
    """Where a dead letter is sent."""
    telemetry: ClientTelemetry
    _slots: anyio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._slots = anyio.Semaphore(self.max_in_flight)

    async def send(self, call: Call) -> dict[str, Any]:
        slots = self._slots
        try:
            slots.acquire_nowait()
        except anyio.WouldBlock:
            await self._wait_for_slot(call)
            if self.pending.closed:  # the client closed while this call waited
                slots.release()
                raise ClientClosed(
                    "the client was closed while the call waited for a free slot",
                    correlation_id=call.correlation_id,
                    topic=call.trio.requested,
                    elapsed=call.elapsed(),
                ) from None
        pending = call.pending = self.pending.add(call.correlation_id, self.signals, call.on_reply)
        try:
            return await self.below(call)
        except PublishError as exc:
            if call.record is not None:
                await self._dead_letter(call.record, exc)
            raise
        finally:
            self.pending.discard(pending)
            slots.release()

    async def _wait_for_slot(self, call: Call) -> None:
        try:
            with anyio.fail_after(call.remaining()):
                await self._slots.acquire()
        except TimeoutError:
            raise RequestTimeout(
                f"no free slot for {call.trio.requested}: {self.max_in_flight} calls stayed "
                "in flight for the whole deadline",
                correlation_id=call.correlation_id,
                topic=call.trio.requested,
                elapsed=call.elapsed(),
            ) from None

    async def _dead_letter(self, record: OutboundRecord, error: BaseException) -> None:
        """After the last publish attempt, park the request in ``{requested}.dlq``."""
        parked = await park_unsent(self.transport, record, error)
        if parked is not None:
            self.telemetry.dead_lettered(parked)
