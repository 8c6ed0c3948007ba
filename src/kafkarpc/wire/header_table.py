"""The header table (docs/wire.md §3, §5): every Kafka record header kafkarpc
writes or reads, with its role, encoding, writer and meaning.

``HEADERS`` (parsed from the text table ``_TABLE``) is the one statement of what
each header is. Every list of names (what a request may carry, what a dead
letter adds, what a document describes) and the build/parse code in
``headers`` derive from it; the two other spellings a type checker needs,
``DlqHeader``'s values and ``RequestRouting``'s fields, are checked against it
at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "CONTENT_TYPE",
    "DEAD_LETTER_HEADERS",
    "HEADERS",
    "PRIORITIES",
    "REQUIRED_HEADERS",
    "RESERVED_HEADERS",
    "ROUTING_HEADERS",
    "STREAM_ACCEPT",
    "STREAM_HEADERS",
    "STREAM_SEQ",
    "DlqHeader",
    "Encoding",
    "HeaderRole",
    "WireHeader",
]


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
    #: Streamed replies (docs/wire.md §9): a caller asking for one, a responder numbering items.
    STREAM = "stream"


class Encoding(StrEnum):
    """How a header's value is written: UTF-8 text, except the numbers of a dead
    letter's origin, which are binary as Spring Kafka writes them."""

    TEXT = "text"
    #: An integer as decimal digits (a leading ``-`` only where the meaning allows it).
    DECIMAL = "decimal"
    #: One of the row's ``choices``; anything else reads as absent.
    CHOICE = "choice"
    #: A 4-byte big-endian two's-complement integer (Java's ``int``).
    INT32 = "int32"
    #: An 8-byte big-endian two's-complement integer (Java's ``long``).
    INT64 = "int64"


class DlqHeader(StrEnum):
    """Names of the dead-letter headers; Spring Kafka's, so existing tooling reads them."""

    ORIGINAL_TOPIC = "kafka_dlt-original-topic"
    ORIGINAL_PARTITION = "kafka_dlt-original-partition"
    ORIGINAL_OFFSET = "kafka_dlt-original-offset"
    ORIGINAL_TIMESTAMP = "kafka_dlt-original-timestamp"
    ORIGINAL_TIMESTAMP_TYPE = "kafka_dlt-original-timestamp-type"
    ORIGINAL_CONSUMER_GROUP = "kafka_dlt-original-consumer-group"
    EXCEPTION_FQCN = "kafka_dlt-exception-fqcn"
    EXCEPTION_CAUSE_FQCN = "kafka_dlt-exception-cause-fqcn"
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
    UPPER_SNAKE or dotted lower-case event type.
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
correlation_chain               routing      text
    Ids of the requests this message was made while handling, root first, comma-separated.
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
kafka_dlt-original-partition    dead_letter  int32
    Its partition; -1 when it never reached the broker.
kafka_dlt-original-offset       dead_letter  int64
    Its offset; -1 when it never reached the broker.
kafka_dlt-original-timestamp    dead_letter  int64
    Its timestamp, epoch ms.
kafka_dlt-original-timestamp-type dead_letter choice CreateTime|LogAppendTime|NoTimestampType
    What its timestamp is: set by its producer, by the broker, or absent.
kafka_dlt-original-consumer-group dead_letter text
    The consumer group that read it; absent when none did (the client parked it).
kafka_dlt-exception-fqcn        dead_letter  text
    The error's fully qualified class name.
kafka_dlt-exception-cause-fqcn  dead_letter  text
    The class name of the error's root cause; absent when it has no cause.
kafka_dlt-exception-message     dead_letter  text
    The error message (truncated).
kafka_dlt-exception-stacktrace  dead_letter  text
    The traceback (truncated).
dlq_reason                      dead_letter  text
    Why it was parked: a DlqReason value.
dlq_retry_count                 dead_letter  decimal
    Responder retries made before parking.
stream_accept                   stream       choice   1
    On a request: the caller takes a streamed reply item by item (§9).
stream_seq                      stream       decimal
    On an item of a streamed reply: its position, from 0; a rerun starts at 0 again.
"""

_WRITERS = {
    HeaderRole.REQUIRED: "every sender",
    HeaderRole.ROUTING: "client",
    HeaderRole.TRACE: "every sender",
    HeaderRole.DEAD_LETTER: "responder or client parking a record",
    HeaderRole.STREAM: "client (stream_accept), responder (stream_seq)",
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
STREAM_HEADERS = _names(HeaderRole.STREAM)
STREAM_ACCEPT, STREAM_SEQ = STREAM_HEADERS
if tuple(DlqHeader) != DEAD_LETTER_HEADERS:
    raise AssertionError("DlqHeader must name HEADERS' dead-letter rows, in order")
#: What a caller's own headers may not set: the envelope's mirror and the routing.
RESERVED_HEADERS = frozenset(REQUIRED_HEADERS + ROUTING_HEADERS)
_BY_NAME = {row.name: row for row in HEADERS}
CONTENT_TYPE = _BY_NAME["content_type"].choices[0]
PRIORITIES: frozenset[str] = frozenset(_BY_NAME["priority"].choices)
