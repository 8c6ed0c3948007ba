"""Stack the send pipeline: observe, circuit, route, in-flight, retry, deadline, transport.

Each layer gets the ``Send`` of the one below it, so a call only ever travels
down and its result (or error) back up. A layer whose feature is off is left
out here, once, instead of being asked on every call: without a circuit
breaker there is no circuit layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._config import Limits, Topics
from .._telemetry import ClientTelemetry
from ..transport import InboundRecord, Transport
from .call import Call, Send
from .circuit import Circuits
from .layers.circuit import CircuitLayer
from .layers.deadline import DeadlineLayer
from .layers.inflight import InFlightLayer
from .layers.observe import ObserveLayer
from .layers.retry import RetryLayer
from .layers.route import RouteLayer
from .layers.transport import TransportLayer
from .pending import PendingCalls
from .records import RecordWriter
from .replies import ReplyReader, decode_reply
from .signal import Signals

__all__ = ["open_pipeline"]


async def open_pipeline(
    transport: Transport,
    pending: PendingCalls,
    telemetry: ClientTelemetry,
    circuits: Circuits,
    writer: RecordWriter,
    limits: Limits,
    topics: Topics,
) -> Send:
    """Start reading replies into ``pending``, and stack the layers over ``transport``.

    Call from async code, on a started transport. The result is the pipeline's
    entry point: ``await send(call)`` is the reply payload.
    """
    wire = writer.wire
    decode: Callable[[InboundRecord, Call], Any]
    if wire is None:
        reader = ReplyReader(pending, telemetry).on_batch
        decode = decode_reply
    else:
        # Imported here: a program on kafkarpc's own wire never loads the profiles.
        from .foreign import ProfileReplyReader, profile_decoder

        reader = ProfileReplyReader(pending, telemetry, wire).on_batch
        decode = profile_decoder(wire)
    replies = await transport.reply_consumer(reader)
    signals = Signals()
    send: Send = TransportLayer(transport.produce, writer, decode).send
    send = RetryLayer(DeadlineLayer(send, telemetry.retried).send, single=send).send
    send = InFlightLayer(
        send, limits.max_in_flight, pending, signals, transport=transport, telemetry=telemetry
    ).send
    send = RouteLayer(send, transport, replies, topics, writer.reply_partitions).send
    if circuits.enabled:
        send = CircuitLayer(send, circuits).send
    return ObserveLayer(send, telemetry).send
