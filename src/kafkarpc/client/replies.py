"""The reply side: batches of reply records settle pending calls; a reply becomes a result.

``ReplyReader.on_batch`` is the reply consumer's callback. It only settles the
pending entry a reply belongs to; the call that waits on that entry reads the
reply itself with ``decode_reply``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

import pydantic

from .._exceptions import EnvelopeError, RemoteError, ResponseValidationError
from .._logging import about
from .._telemetry import ClientTelemetry
from ..transport import InboundRecord
from ..wire.envelope import decode_fields
from .call import Call
from .pending import PendingCalls

if TYPE_CHECKING:
    # Only for annotations: importing it would load pydantic's model machinery.
    from pydantic import BaseModel

__all__ = ["ReplyReader", "as_model", "decode_reply"]

ModelT = TypeVar("ModelT", bound="BaseModel")

logger = logging.getLogger("kafkarpc.client")


def _header_correlation_id(record: InboundRecord) -> str | None:
    for name, value in record.headers:
        if name == "correlation_id" and value:
            try:
                return value.decode()
            except UnicodeDecodeError:
                return None
    return None


class ReplyReader:
    """Resolves pending calls from reply batches (runs on the loop, once per batch)."""

    __slots__ = ("_pending", "_telemetry")

    def __init__(self, pending: PendingCalls, telemetry: ClientTelemetry) -> None:
        self._pending = pending
        self._telemetry = telemetry

    def on_batch(self, records: list[InboundRecord]) -> None:
        for record in records:
            correlation_id = _header_correlation_id(record)
            if correlation_id is None:
                # A peer that sends only the JSON envelope: read the id from the body.
                try:
                    correlation_id = decode_fields(record.value)["correlation_id"]
                except EnvelopeError:
                    self._telemetry.undecodable_reply()
                    logger.warning(
                        "dropped an undecodable reply on %s[%d]@%d",
                        record.topic,
                        record.partition,
                        record.offset,
                        extra=about(None, record.topic),
                    )
                    continue
            call = self._pending.get(correlation_id)
            if call is None:
                self._telemetry.unknown_reply()
                continue
            call.resolve(record)


# The failure payload's fields a RemoteError carries (others a peer sent are not ours).
_FAILURE_FIELDS = {"error_code", "error_message", "error_type", "retryable", "details"}


class _ErrorContext(TypedDict):
    correlation_id: str
    topic: str
    elapsed: float


def _context(record: InboundRecord, call: Call) -> _ErrorContext:
    # Only made for a failure: a successful reply needs none of it.
    return {"correlation_id": call.correlation_id, "topic": record.topic, "elapsed": call.elapsed()}


def decode_reply(record: InboundRecord, call: Call) -> dict[str, Any]:
    """The payload of a reply on the completed topic; RemoteError for one on the failed topic.

    A reply that is not an envelope at all is a RemoteError ``INVALID_REPLY``.
    """
    try:
        payload = decode_fields(record.value)["payload"]
    except EnvelopeError as exc:
        raise RemoteError(
            **_context(record, call),
            error_code="INVALID_REPLY",
            error_message=f"the reply on {record.topic} is not a valid envelope: {exc}",
            error_type="EnvelopeError",
        ) from exc
    if record.topic != call.trio.failed:
        return payload
    from ..wire.failure import ErrorPayload  # the first failure reply loads the model

    try:
        failure = ErrorPayload.model_validate(payload)
    except pydantic.ValidationError:
        failure = ErrorPayload(error_code="UNKNOWN_ERROR", error_message=str(payload)[:500])
    raise RemoteError(**_context(record, call), **failure.model_dump(include=_FAILURE_FIELDS))


def as_model(result: dict[str, Any], model: type[ModelT], call: Call) -> ModelT:
    """A reply payload as the caller's ``response_model``, or ResponseValidationError."""
    try:
        return model.model_validate(result)
    except pydantic.ValidationError as exc:
        raise ResponseValidationError(
            f"reply from {call.trio.completed} does not fit {model.__name__}: {exc}",
            correlation_id=call.correlation_id,
            topic=call.trio.completed,
            elapsed=call.elapsed(),
        ) from exc
