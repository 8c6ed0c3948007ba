"""The value that travels down the send pipeline, and the shape of a layer.

A request becomes one ``Call``; each layer of the pipeline (see ``pipeline.py``)
takes the call, does its one job and hands the call to the next layer below it,
the way httpx's ``send`` hands a request from auth to redirects to the transport.
Layers only ever call downwards; what comes back up is the reply payload or an
exception.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry.trace import Span

from .._causation import Cause
from .._config import CallRetry
from ..transport import OutboundRecord
from ..wire.envelope import EncodedPayload
from ..wire.topics import TopicTrio
from .pending import OnReply, PendingCall

__all__ = ["Call", "Layer", "Send"]


@dataclass(slots=True, kw_only=True)
class Call:
    """One logical call, across all of its attempts.

    The fields above ``span`` are set when the call is made; the rest are
    filled in on the way down by the layer that owns them.
    """

    trio: TopicTrio
    body: EncodedPayload
    correlation_id: str
    idempotency_key: str
    partition_key: str | None
    priority: str | None
    headers: Mapping[str, str | bytes] | None
    policy: CallRetry
    started: float
    clock: Callable[[], float]
    deadline: float
    """When the whole call gives up, on ``clock``."""
    deadline_ms: int
    """The same deadline as epoch milliseconds: what a responder is told (docs/wire.md §3)."""
    until: float
    """When the current attempt stops waiting: the call's deadline, unless the
    deadline layer gives each attempt of a retried call less."""
    cause: Cause | None = field(default=None)
    """The request being handled when the call was made (None outside a handler)."""
    span: Span | None = field(default=None)
    """Set by the observe layer (None without tracing)."""
    pending: PendingCall | None = field(default=None)
    """Set by the in-flight layer: where the reply (or a delivery error) lands."""
    attempt: int = 0
    """Counted by the retry layer: 0 for the first send, 1 for the first re-send..."""
    attempt_budget: float = 0.0
    """Set by the deadline layer: how long each attempt of a retried call may wait."""
    record: OutboundRecord | None = field(default=None)
    """Set by the transport layer: the last record sent (dead-lettered if publishing failed)."""
    on_reply: OnReply | None = field(default=None)
    """Set for a call answered by many replies (a gather, a stream): what takes each
    one. None for a plain request: its first reply settles it."""

    @property
    def key(self) -> bytes:
        # The caller's partition key keeps e.g. one tenant's requests in order.
        return (self.partition_key or self.correlation_id).encode()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return max(self.deadline - self.clock(), 0.0)


#: A layer's entry point: the call in, the reply payload (a dict) out.
#: It returns an awaitable rather than being ``async`` itself, so a layer with
#: nothing to do for a call can return the next layer's awaitable untouched and
#: add no coroutine frame to the chain.
Send = Callable[[Call], Awaitable[dict[str, Any]]]


class Layer(Protocol):
    """One job on the way down: built with the ``Send`` of the layer below it."""

    def send(self, call: Call) -> Awaitable[dict[str, Any]]: ...
