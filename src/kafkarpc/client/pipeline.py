"""Stack the send pipeline: observe, circuit, route, in-flight, retry, deadline, transport.

Each layer gets the ``Send`` of the one below it, so a call only ever travels
down and its result (or error) back up. A layer whose feature is off is left
out here, once, instead of being asked on every call: without a circuit
breaker there is no circuit layer.
"""

from __future__ import annotations

from .._config import Limits, Topics
from .._telemetry import ClientTelemetry
from ..transport import ReplyConsumer, Transport
from .call import Send
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
from .signal import Signals

__all__ = ["build_pipeline"]


def build_pipeline(
    *,
    transport: Transport,
    replies: ReplyConsumer,
    writer: RecordWriter,
    pending: PendingCalls,
    signals: Signals,
    circuits: Circuits,
    telemetry: ClientTelemetry,
    limits: Limits,
    topics: Topics,
) -> Send:
    """The pipeline's entry point: ``await send(call)`` is the reply payload."""
    send: Send = TransportLayer(transport.produce, writer).send
    send = RetryLayer(DeadlineLayer(send, telemetry).send).send
    send = InFlightLayer(
        send, limits.max_in_flight, pending, signals, transport=transport, telemetry=telemetry
    ).send
    send = RouteLayer(send, transport, replies, topics).send
    if circuits.enabled:
        send = CircuitLayer(send, circuits).send
    return ObserveLayer(send, telemetry).send
