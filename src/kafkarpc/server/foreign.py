"""The responder's side of a foreign wire profile: reading requests and rendering replies.

Used only when ``RpcServer(wire=...)`` names a profile other than kafkarpc's own.
A request read by the profile becomes the same ``Envelope`` the rest of the
pipeline works on (so deadlines, idempotency, retries, tracing and the DLQ work
as they do for kafkarpc callers); its reply is written by the profile.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from opentelemetry.trace import Span

from .._exceptions import ConfigurationError, EnvelopeError, PayloadNotSerializable, PayloadTooLarge
from ..transport import InboundRecord, OutboundRecord
from ..wire.envelope import Envelope, ErrorCode, now_iso
from ..wire.profiles import IncomingRequest, ProfileTrio, ReplyContent, WireProfile
from ..wire.topics import TopicTrio
from .decide import Request
from .handler import Responder
from .outcome import Outcome, failure
from .replier import Replier, Reply, too_large_failure

__all__ = ["ProfileReplier", "ProfileRequests", "pipeline_steps", "profile_trio"]


class ProfileRequests:
    """Reads each request as ``profile`` says, into the envelope the pipeline works on."""

    __slots__ = ("_profile",)

    def __init__(self, profile: WireProfile) -> None:
        self._profile = profile

    def envelope(self, record: InboundRecord) -> Envelope:
        """The request as an envelope; EnvelopeError when unreadable or it has no reply route."""
        try:
            request = self._profile.decode_request(record)
        except EnvelopeError:
            raise
        except Exception as exc:  # a custom profile's bug parks the request, as a poison one
            raise EnvelopeError(f"the {self._profile.name} wire could not read it: {exc}") from exc
        return Envelope.model_construct(
            event_id=str(uuid.uuid4()),
            event_type="RPC_REQUESTED",
            correlation_id=request.correlation_id,
            causation_id=None,
            # When it was taken: a foreign wire carries no send time (a record's own
            # timestamp may be the broker's, or a test broker's logical clock).
            timestamp=now_iso(),
            service=self._profile.name,  # the caller's name is not on a foreign wire
            payload=request.payload,
            version="v1",
            metadata=None,
        )


class ProfileReplier(Replier):
    """Renders replies as ``profile`` writes them, to the route each request carried."""

    __slots__ = ("_profile",)

    def __init__(self, service: str, profile: WireProfile) -> None:
        super().__init__(service)
        self._profile = profile

    def reply(self, request: Request, outcome: Outcome, span: Span | None) -> Reply:
        handler = request.handler
        assert isinstance(handler, Responder)  # events are never answered (pipeline.py)
        return self._write(request.record, handler.trio, request.envelope, outcome, 0)

    def on_own_topics(self, reply: Reply) -> Reply:
        # A foreign caller named its reply topic, the only one to try; a partition it
        # named that does not exist is dropped, and the key decides instead.
        again = self._write(reply.source, reply.trio, reply.request, reply.outcome, reply.renders)
        record = again.record
        unpinned = OutboundRecord(record.topic, record.value, record.key, record.headers, None)
        return again._replace(record=unpinned)

    def too_large(self, reply: Reply, error: PayloadTooLarge) -> Reply:
        outcome = too_large_failure(reply, error)
        return self._write(reply.source, reply.trio, reply.request, outcome, reply.renders)

    def _write(
        self,
        source: InboundRecord,
        trio: TopicTrio,
        envelope: Envelope,
        outcome: Outcome,
        renders: int,
    ) -> Reply:
        # Read again rather than carried: the pipeline's Request has no room for it, and
        # only a foreign wire pays this (a header lookup and a JSON parse per reply).
        incoming: IncomingRequest = self._profile.decode_request(source)
        try:
            record = self._profile.encode_reply(incoming, ReplyContent(outcome.ok, outcome.payload))
        except PayloadNotSerializable as exc:
            outcome = failure(
                ErrorCode.HANDLER_ERROR,
                f"the reply is not JSON-serializable: {exc}",
                error_type="PayloadNotSerializable",
                instead_of=outcome,
            )
            record = self._profile.encode_reply(incoming, ReplyContent(False, outcome.payload))
        return Reply(source, trio, envelope, None, outcome, record, renders + 1)


def profile_trio(profile: WireProfile, op: str | TopicTrio) -> TopicTrio:
    """The topics a responder for ``op`` serves under ``profile``."""
    if isinstance(op, ProfileTrio):
        return op
    if not isinstance(op, str):
        raise ConfigurationError(
            f"under the {profile.name} wire an operation is named by a str, got {op!r}"
        )
    return ProfileTrio.of(profile.route(op))


def pipeline_steps(
    service: str, profile: WireProfile
) -> tuple[Replier, Callable[[InboundRecord], Envelope]]:
    """What the pipeline takes for ``profile``: its replier, and its reader of requests."""
    return ProfileReplier(service, profile), ProfileRequests(profile).envelope
