"""The caller's side of a foreign wire profile: routes, request records and reply decoding.

Used only when ``RpcClient(wire=...)`` names a profile other than kafkarpc's own;
the default path never comes here. Each function asks the profile how a record
looks and keeps the client's behaviour (pending calls, counters, errors) as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypedDict

from .._exceptions import ConfigurationError, RemoteError
from .._logging import about
from .._telemetry import ClientTelemetry
from ..transport import InboundRecord, OutboundRecord
from ..wire.failure import read_failure
from ..wire.profiles import OutgoingRequest, ProfileTrio, StreamingWireProfile, WireProfile
from ..wire.topics import TopicTrio
from .call import Call
from .pending import PendingCalls
from .records import call_routing

__all__ = [
    "ProfileReplyReader",
    "ProfileRoutes",
    "ProfileStreamCollector",
    "profile_decoder",
    "profile_request",
]

logger = logging.getLogger("kafkarpc.client")

_FAILURE_FIELDS = {"error_code", "error_message", "error_type", "retryable", "details"}


class ProfileRoutes:
    """The trio of each operation under ``profile``: asked of the profile once per name."""

    __slots__ = ("_profile", "_trios")

    def __init__(self, profile: WireProfile) -> None:
        self._profile = profile
        self._trios: dict[str, TopicTrio] = {}

    def of(self, op: str | TopicTrio) -> TopicTrio:
        if isinstance(op, ProfileTrio):
            return op
        if not isinstance(op, str):
            raise ConfigurationError(
                f"under the {self._profile.name} wire an operation is named by a str, got {op!r}"
            )
        trio = self._trios.get(op)
        if trio is None:
            trio = self._trios[op] = ProfileTrio.of(self._profile.route(op))
        return trio


def profile_request(
    profile: WireProfile, call: Call, reply_partition: int | None
) -> OutboundRecord:
    """The record of ``call``'s current attempt on ``profile``'s wire.

    kafkarpc's own routing headers (trace context, deadline, idempotency key) ride
    along: a kafkarpc responder on the same wire honours them, other peers ignore them.
    """
    trio = call.trio
    assert isinstance(trio, ProfileTrio)
    # kafkarpc's own routing (no reply_to: the profile carries the route its own way).
    routing = call_routing(call, None, None)
    headers = routing.as_headers()
    if call.headers:
        headers += [
            (name, value if isinstance(value, bytes) else str(value).encode())
            for name, value in call.headers.items()
        ]
    return profile.encode_request(
        OutgoingRequest(
            route=trio.route,
            correlation_id=call.correlation_id,
            payload=call.body.to_dict(),
            key=call.partition_key.encode() if call.partition_key else None,
            reply_partition=reply_partition,
            headers=headers,
        )
    )


class ProfileReplyReader:
    """Resolves pending calls from reply batches, finding each one's id as the profile says."""

    __slots__ = ("_pending", "_profile", "_telemetry")

    def __init__(
        self, pending: PendingCalls, telemetry: ClientTelemetry, profile: WireProfile
    ) -> None:
        self._pending = pending
        self._telemetry = telemetry
        self._profile = profile

    def on_batch(self, records: list[InboundRecord]) -> None:
        for record in records:
            try:
                correlation_id = self._profile.reply_correlation_id(record)
            except Exception:  # a custom profile's bug must not stop the reply consumer
                logger.exception("%s could not read a reply", self._profile.name)
                correlation_id = None
            if correlation_id is None:
                self._telemetry.undecodable_reply()
                logger.warning(
                    "dropped a reply without a correlation id on %s[%d]@%d",
                    record.topic, record.partition, record.offset,
                    extra=about(None, record.topic),
                )  # fmt: skip
                continue
            call = self._pending.get(correlation_id)
            if call is None:
                # Another caller's reply on a shared topic, or one that came too late.
                self._telemetry.unknown_reply()
                continue
            call.resolve(record)


class ProfileStreamCollector:
    """A stream's ``OnReply`` under a foreign wire: each reply is an item, in the order
    they arrive, until the one the profile says ends the call.

    A wire without positions (NestJS) cannot drop a repeat: after a redelivery its
    caller may see items again. Under a profile that does not stream, the one reply
    is the one item. A failure reply ends the stream; the transport layer's decoder
    turns it into the ``RemoteError`` the caller gets after the items before it.
    """

    __slots__ = ("_call", "_deliver", "_end", "_ends", "_profile")

    def __init__(
        self, profile: WireProfile, call: Call, deliver: Callable[[dict[str, Any]], None]
    ) -> None:
        self._profile = profile
        self._call = call
        self._deliver = deliver
        self._ends = profile.ends_call if isinstance(profile, StreamingWireProfile) else None
        self._end: InboundRecord | None = None

    def __call__(self, record: InboundRecord) -> tuple[InboundRecord | None, bool]:
        if self._end is not None:
            return self._end, True
        try:
            content = self._profile.decode_reply(record)
            last = True if self._ends is None else self._ends(record)
        except Exception:  # unreadable: the transport layer's decoder names it
            return self._finish(record)
        if not content.ok:
            return self._finish(record)
        if not (last and content.payload is None):  # a bare end marker carries no item
            self._deliver(content.payload)
        return self._finish(record) if last else (None, False)

    def _finish(self, record: InboundRecord) -> tuple[InboundRecord, bool]:
        self._end = record
        return record, True


class _ErrorContext(TypedDict):
    correlation_id: str
    topic: str
    elapsed: float


def profile_decoder(profile: WireProfile) -> Callable[[InboundRecord, Call], Any]:
    """The transport layer's ``decode``: a reply's value, or RemoteError for a failure."""

    def decode(record: InboundRecord, call: Call) -> Any:
        context = _ErrorContext(
            correlation_id=call.correlation_id, topic=record.topic, elapsed=call.elapsed()
        )
        try:
            content = profile.decode_reply(record)
        except Exception as exc:  # EnvelopeError, or a custom profile's own bug
            raise RemoteError(
                **context,
                error_code="INVALID_REPLY",
                error_message=f"the reply on {record.topic} is unreadable on the "
                f"{profile.name} wire: {exc}",
                error_type=type(exc).__name__,
            ) from exc
        if content.ok:
            return content.payload
        payload = content.payload if isinstance(content.payload, dict) else {}
        failure = read_failure(payload)
        raise RemoteError(**context, **failure.model_dump(include=_FAILURE_FIELDS))

    return decode
