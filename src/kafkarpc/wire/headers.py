"""Kafka record headers (docs/wire.md §3): the one table of their names, and building
and reading them from it.

``HEADERS`` is the only place a header name is spelled out. Every list of names
(what a request may carry, what a dead letter adds, what a document describes)
and the build/parse code below are derived from it.

Headers are optional on receive: everything here degrades to ``None`` when a
header is missing or malformed, because the envelope alone is a valid message.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from .envelope import Envelope, OutgoingMessage

__all__ = [
    "CONTENT_TYPE",
    "DEAD_LETTER_HEADERS",
    "HEADERS",
    "PRIORITIES",
    "REQUIRED_HEADERS",
    "RESERVED_HEADERS",
    "ROUTING_HEADERS",
    "DlqHeader",
    "Encoding",
    "HeaderList",
    "HeaderRole",
    "RequestRouting",
    "WireHeader",
    "build_headers",
    "header_dict",
    "parse_trace_ids",
]

HeaderList = list[tuple[str, bytes]]


class HeaderRole(StrEnum):
    """Which messages carry a header, and what fills it."""

    #: On everything kafkarpc sends; repeats a field of the envelope.
    REQUIRED = "required"
    #: On requests: how to answer; a ``RequestRouting`` field of the same name.
    ROUTING = "routing"
    #: W3C trace context; a ``RequestRouting`` field, or ``derived`` from ``traceparent``.
    TRACE = "trace"
    #: Added to a record parked on a dead-letter topic (Spring Kafka's names).
    DEAD_LETTER = "dead_letter"


class Encoding(StrEnum):
    """How a header's value is written; every kafkarpc header is UTF-8 text."""

    TEXT = "text"
    #: An integer as decimal digits (a leading ``-`` only where the meaning allows it).
    DECIMAL = "decimal"
    #: One of the row's ``choices``; anything else reads as absent.
    CHOICE = "choice"


class DlqHeader(StrEnum):
    """Names of the dead-letter headers; Spring Kafka's, so existing tooling reads them."""

    ORIGINAL_TOPIC = "kafka_dlt-original-topic"
    ORIGINAL_PARTITION = "kafka_dlt-original-partition"
    ORIGINAL_OFFSET = "kafka_dlt-original-offset"
    ORIGINAL_TIMESTAMP = "kafka_dlt-original-timestamp"
    EXCEPTION_FQCN = "kafka_dlt-exception-fqcn"
    EXCEPTION_MESSAGE = "kafka_dlt-exception-message"
    EXCEPTION_STACKTRACE = "kafka_dlt-exception-stacktrace"
    REASON = "dlq_reason"
    RETRY_COUNT = "dlq_retry_count"


@dataclass(frozen=True, slots=True)
class WireHeader:
    """One row of the header table."""

    name: str
    role: HeaderRole
    encoding: Encoding
    written_by: str
    meaning: str
    #: For ``REQUIRED`` headers: the envelope field the value repeats.
    mirrors: str | None = None
    #: For ``CHOICE`` headers: the accepted values.
    choices: tuple[str, ...] = ()
    #: The header this one's value is computed from when sending; never read back.
    derived_from: str | None = None


# One row a header: name, role, encoding, then for a required header the envelope
# field it repeats (=field), for a choice its values (a|b), for a derived header
# where it comes from (<header); the indented line under it is its meaning.
_TABLE = """
content_type                    required     choice   application/json
    The value's media type.
correlation_id                  required     text     =correlation_id
    Ties a reply to its request.
message_id                      required     text     =event_id
    This message's unique id.
timestamp                       required     text     =timestamp
    When it was sent, ISO 8601 UTC.
source                          required     text     =service
    The sending service.
event_type                      required     text     =event_type
    UPPER_SNAKE event type.
schema_version                  required     text     =version
    The payload's schema version.
reply_to                        routing      text
    Topic the success reply goes to; the trio's completed topic when absent.
reply_partition                 routing      decimal
    Partition of reply_to the reply goes to, so a client reads only its own.
deadline_ms                     routing      decimal
    Epoch ms after which the caller no longer waits; later, it is not executed.
idempotency_key                 routing      text
    Stable across retries of one logical call; a repeat is answered, not re-run.
retry_count                     routing      decimal
    How many times the caller has retried this call.
max_retries                     routing      decimal
    How many retries the caller allows.
partition_key                   routing      text
    The record key the caller chose instead of the correlation id.
priority                        routing      choice   low|normal|high|critical
    The caller's priority.
ttl_seconds                     routing      decimal
    Seconds the request stays relevant, counted from the envelope's timestamp.
traceparent                     trace        text
    W3C trace context.
tracestate                      trace        text
    W3C trace state.
parent_span_id                  trace        text
    The parent span's id.
trace_id                        trace        text     <traceparent
    The trace id from traceparent.
span_id                         trace        text     <traceparent
    The span id from traceparent.
kafka_dlt-original-topic        dead_letter  text
    The topic the record was read from or meant for.
kafka_dlt-original-partition    dead_letter  decimal
    Its partition; -1 when it never reached the broker.
kafka_dlt-original-offset       dead_letter  decimal
    Its offset; -1 when it never reached the broker.
kafka_dlt-original-timestamp    dead_letter  decimal
    Its timestamp, epoch ms.
kafka_dlt-exception-fqcn        dead_letter  text
    The error's fully qualified class name.
kafka_dlt-exception-message     dead_letter  text
    The error message (truncated).
kafka_dlt-exception-stacktrace  dead_letter  text
    The traceback (truncated).
dlq_reason                      dead_letter  text
    Why it was parked: a DlqReason value.
dlq_retry_count                 dead_letter  decimal
    Responder retries made before parking.
"""

_WRITERS = {
    HeaderRole.REQUIRED: "every sender",
    HeaderRole.ROUTING: "client",
    HeaderRole.TRACE: "every sender",
    HeaderRole.DEAD_LETTER: "responder or client parking a record",
}


def _parse_table(table: str) -> tuple[WireHeader, ...]:
    rows: list[WireHeader] = []
    lines = table.strip().splitlines()
    for head, meaning in zip(lines[::2], lines[1::2], strict=True):
        name, role_text, encoding_text, *detail = head.split()
        role, encoding, extra = HeaderRole(role_text), Encoding(encoding_text), "".join(detail)
        rows.append(
            WireHeader(
                name=name,
                role=role,
                encoding=encoding,
                written_by=_WRITERS[role],
                meaning=meaning.strip(),
                mirrors=extra[1:] if extra.startswith("=") else None,
                choices=tuple(extra.split("|")) if encoding is Encoding.CHOICE else (),
                derived_from=extra[1:] if extra.startswith("<") else None,
            )
        )
    return tuple(rows)


#: Every header kafkarpc writes or reads (docs/wire.md §3 and §5), in table order.
HEADERS: tuple[WireHeader, ...] = _parse_table(_TABLE)


def _names(*roles: HeaderRole) -> tuple[str, ...]:
    return tuple(h.name for h in HEADERS if h.role in roles)


REQUIRED_HEADERS = _names(HeaderRole.REQUIRED)
ROUTING_HEADERS = _names(HeaderRole.ROUTING)
DEAD_LETTER_HEADERS = _names(HeaderRole.DEAD_LETTER)
if tuple(DlqHeader) != DEAD_LETTER_HEADERS:
    raise AssertionError("DlqHeader must name HEADERS' dead-letter rows, in order")
#: What a caller's own headers may not set: the envelope's mirror and the routing.
RESERVED_HEADERS = frozenset(REQUIRED_HEADERS + ROUTING_HEADERS)
_BY_NAME = {row.name: row for row in HEADERS}
CONTENT_TYPE = _BY_NAME["content_type"].choices[0]
PRIORITIES: frozenset[str] = frozenset(_BY_NAME["priority"].choices)


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


def _int_or_none(value: str) -> int | None:
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
    """The routing headers of a request, as a responder reads them.

    One field per ``ROUTING``/``TRACE`` row of ``HEADERS``, named after its header
    and in the table's order (checked at import). Build it by keyword.
    """

    reply_to: str | None = None
    reply_partition: int | None = None
    deadline_ms: int | None = None
    idempotency_key: str | None = None
    retry_count: int | None = None
    max_retries: int | None = None
    partition_key: str | None = None
    priority: str | None = None
    ttl_seconds: int | None = None
    #: The roles of the table rows these fields come from: routing, then trace context.
    ROLES: ClassVar[tuple[HeaderRole, ...]] = (HeaderRole.ROUTING, HeaderRole.TRACE)
    traceparent: str | None = None
    tracestate: str | None = None
    parent_span_id: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RequestRouting:
        """The routing in ``headers``; a malformed value reads as absent."""
        values: list[Any] = [None] * _ROUTING_COUNT
        for index, (name, read) in enumerate(_READERS):
            text = headers.get(name)
            if text is not None:
                values[index] = read(text)
        return cls(*values)

    @classmethod
    def from_record_headers(cls, raw: Sequence[tuple[str, bytes | None]] | None) -> RequestRouting:
        """``from_headers(header_dict(raw))`` in one pass, decoding only routing headers.

        HOT PATH: every request a responder takes reads its routing here. One pass
        over the raw list (20.2k instructions for a client's request, callgrind)
        costs less than ``header_dict`` and a lookup per field (24.5k); a unit
        test holds the two to the same results.
        """
        values: list[Any] = [None] * _ROUTING_COUNT
        if raw:
            slots = _SLOTS
            for name, value in raw:
                slot = slots.get(name)
                if slot is None or value is None:
                    continue
                try:
                    text = value.decode()
                except UnicodeDecodeError:
                    continue  # as header_dict: an undecodable repeat leaves the earlier value
                index, read = slot
                values[index] = read(text)
        return cls(*values)

    def as_headers(self) -> HeaderList:
        """The routing as record headers; unset fields are not sent."""
        return _routing_headers(self)


def _reader(row: WireHeader) -> _Read:
    if row.encoding is Encoding.DECIMAL:
        return _int_or_none
    if row.encoding is Encoding.CHOICE:
        choices = frozenset(row.choices)
        return lambda text: text if text in choices else None
    return lambda text: text or None


class _Read(Protocol):
    def __call__(self, text: str, /) -> object: ...


#: The headers a ``RequestRouting`` carries, in its field order.
_ROUTING_ROWS = tuple(h for h in HEADERS if h.role in RequestRouting.ROLES and not h.derived_from)
_ROUTING_NAMES = tuple(row.name for row in _ROUTING_ROWS)
if tuple(field.name for field in fields(RequestRouting)) != _ROUTING_NAMES:
    raise AssertionError("RequestRouting's fields must follow HEADERS' routing rows")
_ROUTING_COUNT = len(_ROUTING_NAMES)
_READERS = tuple((row.name, _reader(row)) for row in _ROUTING_ROWS)
_SLOTS = {name: (index, read) for index, (name, read) in enumerate(_READERS)}


# HOT PATH: the client builds both lists for every request, the responder the
# required one for every reply. Written out row by row from the table (as
# ``dataclasses`` writes ``__init__``), they cost what hand-written code costs:
# a request's headers 14.3k instructions (callgrind), against 26.4k for a loop
# over the table and 14.0k for the old hand-written code. test_headers.py holds
# them to the table.
def _compile(name: str, body: list[str]) -> Callable[..., HeaderList]:
    source = "\n    ".join([f"def {name}(item):", *body])
    namespace: dict[str, Any] = {"parse_trace_ids": parse_trace_ids}
    exec(source, namespace)  # built from HEADERS alone, never from input
    function: Callable[..., HeaderList] = namespace[name]
    function.__doc__ = "Generated from HEADERS:\n\n" + textwrap.indent(source, "    ")
    return function


def _required_lines() -> list[str]:
    items = []
    for row in HEADERS:
        if row.role is HeaderRole.REQUIRED:
            value = f"item.{row.mirrors}.encode()" if row.mirrors else repr(row.choices[0].encode())
            items.append(f"({row.name!r}, {value}),")
    return ["return [", *items, "]"]


def _routing_lines() -> list[str]:
    lines = ["out = []"]
    for row in _ROUTING_ROWS:
        value = f"item.{row.name}"
        text = value if row.encoding is not Encoding.DECIMAL else f"str({value})"
        lines += [f"if {value} is not None:", f"    out.append(({row.name!r}, {text}.encode()))"]
        # trace_id and span_id are written right after the traceparent they come from.
        derived = [h.name for h in HEADERS if h.derived_from == row.name]
        if derived:
            if row.name != "traceparent":
                raise AssertionError(f"no rule derives headers from {row.name}")
            lines += [f"    ids = parse_trace_ids({value})", "    if ids is not None:"]
            lines += [
                f"        out.append(({d!r}, ids[{i}].encode()))" for i, d in enumerate(derived)
            ]
    return [*lines, "return out"]


#: ``envelope`` -> its ``REQUIRED`` headers.
_required_headers = _compile("required_headers", _required_lines())
#: ``RequestRouting`` -> the headers of its set fields (and the ids derived from traceparent).
_routing_headers = _compile("routing_headers", _routing_lines())


def build_headers(
    envelope: Envelope | OutgoingMessage,
    *,
    routing: RequestRouting | None = None,
    extra: Mapping[str, str | bytes] | None = None,
) -> HeaderList:
    """The required header set (docs/wire.md §3) for ``envelope``, plus routing and user
    headers.

    User headers cannot override the required ones: they describe the envelope
    and a mismatch would mislead every reader that trusts headers over the body.
    """
    headers = _required_headers(envelope)
    if routing is not None:
        headers.extend(_routing_headers(routing))
    if extra:
        reserved = {name for name, _ in headers}
        for name, value in extra.items():
            if name in reserved:
                continue
            headers.append((name, value if isinstance(value, bytes) else str(value).encode()))
    return headers
