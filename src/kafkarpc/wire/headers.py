"""Kafka record headers (SPEC §3): building them on send, reading them on receive.

Headers are optional on receive: everything here degrades to ``None`` when a
header is missing or malformed, because the envelope alone is a valid message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Literal, Protocol

__all__ = ["HeaderList", "RequestRouting", "build_headers", "header_dict", "parse_trace_ids"]

HeaderList = list[tuple[str, bytes]]
Priority = Literal["low", "normal", "high", "critical"]
PRIORITIES: frozenset[str] = frozenset({"low", "normal", "high", "critical"})

CONTENT_TYPE = "application/json"


def header_dict(
    raw: Sequence[tuple[str, bytes | None]] | None, *, only: frozenset[str] | None = None
) -> dict[str, str]:
    """Kafka's header list -> ``{name: str}``; undecodable values are skipped, last wins.

    With ``only``, just those names: the others are not even decoded.
    """
    out: dict[str, str] = {}
    if not raw:
        return out
    for name, value in raw:
        if value is None or (only is not None and name not in only):
            continue
        try:
            out[name] = value.decode()
        except UnicodeDecodeError:
            continue
    return out


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def parse_trace_ids(traceparent: str | None) -> tuple[str, str] | None:
    """W3C ``traceparent`` -> (trace_id, span_id), or None when absent or malformed."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    return parts[1], parts[2]


@dataclass(slots=True)  # not frozen: a frozen init pays object.__setattr__ per field
class RequestRouting:
    """The routing headers of a request, as a responder reads them."""

    reply_to: str | None = None
    reply_partition: int | None = None
    deadline_ms: int | None = None
    idempotency_key: str | None = None
    retry_count: int | None = None
    max_retries: int | None = None
    partition_key: str | None = None
    priority: str | None = None
    ttl_seconds: int | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    parent_span_id: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RequestRouting:
        get = headers.get
        priority = get("priority")
        # Positional, in field order: on every request, matching twelve keyword
        # arguments costs a quarter of this method.
        return cls(
            get("reply_to") or None,
            _int_or_none(get("reply_partition")),
            _int_or_none(get("deadline_ms")),
            get("idempotency_key") or None,
            _int_or_none(get("retry_count")),
            _int_or_none(get("max_retries")),
            get("partition_key") or None,
            priority if priority in PRIORITIES else None,
            _int_or_none(get("ttl_seconds")),
            get("traceparent") or None,
            get("tracestate") or None,
            get("parent_span_id") or None,
        )

    @classmethod
    def from_record_headers(cls, raw: Sequence[tuple[str, bytes | None]] | None) -> RequestRouting:
        """``from_headers(header_dict(raw))`` without decoding the headers it ignores."""
        return cls.from_headers(header_dict(raw, only=_ROUTING_NAMES))

    def as_headers(self) -> HeaderList:
        # Spelled out field by field: every request and reply builds this list.
        out: HeaderList = []
        if self.reply_to is not None:
            out.append(("reply_to", self.reply_to.encode()))
        if self.reply_partition is not None:
            out.append(("reply_partition", str(self.reply_partition).encode()))
        if self.deadline_ms is not None:
            out.append(("deadline_ms", str(self.deadline_ms).encode()))
        if self.idempotency_key is not None:
            out.append(("idempotency_key", self.idempotency_key.encode()))
        if self.retry_count is not None:
            out.append(("retry_count", str(self.retry_count).encode()))
        if self.max_retries is not None:
            out.append(("max_retries", str(self.max_retries).encode()))
        if self.partition_key is not None:
            out.append(("partition_key", self.partition_key.encode()))
        if self.priority is not None:
            out.append(("priority", self.priority.encode()))
        if self.ttl_seconds is not None:
            out.append(("ttl_seconds", str(self.ttl_seconds).encode()))
        if self.traceparent is not None:
            out.append(("traceparent", self.traceparent.encode()))
            ids = parse_trace_ids(self.traceparent)
            if ids is not None:
                out.append(("trace_id", ids[0].encode()))
                out.append(("span_id", ids[1].encode()))
        if self.tracestate is not None:
            out.append(("tracestate", self.tracestate.encode()))
        if self.parent_span_id is not None:
            out.append(("parent_span_id", self.parent_span_id.encode()))
        return out


# Each routing field is named after the header it is read from.
_ROUTING_NAMES = frozenset(field.name for field in fields(RequestRouting))


class _Described(Protocol):
    """What the required headers describe: an ``Envelope`` or an ``OutgoingMessage``."""

    @property
    def event_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def correlation_id(self) -> str: ...
    @property
    def timestamp(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def version(self) -> str: ...


def build_headers(
    envelope: _Described,
    *,
    routing: RequestRouting | None = None,
    extra: Mapping[str, str | bytes] | None = None,
) -> HeaderList:
    """The required header set (SPEC §3) for ``envelope``, plus routing and user headers.

    User headers cannot override the required ones: they describe the envelope
    and a mismatch would mislead every reader that trusts headers over the body.
    """
    headers: HeaderList = [
        ("content_type", b"application/json"),
        ("correlation_id", envelope.correlation_id.encode()),
        ("message_id", envelope.event_id.encode()),
        ("timestamp", envelope.timestamp.encode()),
        ("source", envelope.service.encode()),
        ("event_type", envelope.event_type.encode()),
        ("schema_version", envelope.version.encode()),
    ]
    if routing is not None:
        headers.extend(routing.as_headers())
    if extra:
        reserved = {name for name, _ in headers}
        for name, value in extra.items():
            if name in reserved:
                continue
            headers.append((name, value if isinstance(value, bytes) else str(value).encode()))
    return headers
