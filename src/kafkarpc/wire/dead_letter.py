"""Dead-letter records: the original bytes plus headers saying where and why.

Names and encodings are Spring Kafka's ``DeadLetterPublishingRecoverer``'s
(docs/wire.md, "Dead letters as Spring writes them"), so a Spring ``@DltHandler``
or Spring tooling reads kafkarpc's dead letters: the original partition is a
4-byte, the offset and timestamp 8-byte big-endian integers, the rest UTF-8
text. Earlier kafkarpc versions wrote those numbers as decimal text;
``dead_letter_fields`` reads both (docs/wire.md §5).
"""

from __future__ import annotations

import struct
import traceback
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from ..transport.records import CREATE_TIME, InboundRecord, OutboundRecord
from .header_table import DEAD_LETTER_HEADERS, HEADERS, DlqHeader, Encoding, HeaderRole
from .topics import dlq_topic

__all__ = [
    "DlqHeader",
    "DlqReason",
    "dead_letter_fields",
    "dead_letter_record",
    "root_cause",
    "unsent_record",
]


class DlqReason(StrEnum):
    POISON = "poison"
    HANDLER_EXHAUSTED = "handler_exhausted"
    PUBLISH_FAILED = "publish_failed"
    REPLY_FAILED = "reply_failed"
    INVALID_PAYLOAD = "invalid_payload"  # an event (no caller to answer) failed validation


_ORIGIN_HEADERS = frozenset(DEAD_LETTER_HEADERS)
# The header repeating the envelope's ``timestamp``: when the sender sent it.
_SENT_AT = next(row.name for row in HEADERS if row.mirrors == "timestamp")
# Spring's binary integers: Java's int and long, big-endian two's complement.
_INT32 = struct.Struct(">i")
_INT64 = struct.Struct(">q")
_DEAD_LETTER_ROWS = [row for row in HEADERS if row.role is HeaderRole.DEAD_LETTER]
# How each number of a dead letter is read, from the header table's encodings.
_BINARY = {
    row.name: _INT32 if row.encoding is Encoding.INT32 else _INT64
    for row in _DEAD_LETTER_ROWS
    if row.encoding in (Encoding.INT32, Encoding.INT64)
}


def _fqcn(error: BaseException) -> str:
    cls = type(error)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def root_cause(error: BaseException) -> BaseException | None:
    """The last exception of ``error``'s chain, or ``None`` when it has no cause.

    The chain is the one a traceback prints: ``raise ... from cause``, else the
    exception being handled when ``error`` was raised (unless ``from None``).
    """
    seen = {id(error)}
    current, cause = error, None
    while True:
        following = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
        if following is None or id(following) in seen:
            return cause
        seen.add(id(following))
        current = cause = following


def dead_letter_record(
    record: InboundRecord, error: BaseException, *, reason: DlqReason, retry_count: int = 0
) -> OutboundRecord:
    """The DLQ copy of ``record``: same key and value, original headers kept.

    The consumer group and the cause's class are added only when known, as Spring
    does: ``record.group`` (set by the group consumer that read it) and
    ``root_cause(error)``.
    """
    stack = "".join(traceback.format_exception(error))[-8000:]
    headers = [(k, v) for k, v in record.headers if k not in _ORIGIN_HEADERS]
    headers += [
        (DlqHeader.ORIGINAL_TOPIC, record.topic.encode()),
        (DlqHeader.ORIGINAL_PARTITION, _INT32.pack(record.partition)),
        (DlqHeader.ORIGINAL_OFFSET, _INT64.pack(record.offset)),
        (DlqHeader.ORIGINAL_TIMESTAMP, _INT64.pack(record.timestamp_ms)),
        (DlqHeader.ORIGINAL_TIMESTAMP_TYPE, record.timestamp_type.encode()),
    ]
    if record.group is not None:
        headers.append((DlqHeader.ORIGINAL_CONSUMER_GROUP, record.group.encode()))
    headers.append((DlqHeader.EXCEPTION_FQCN, _fqcn(error).encode()))
    cause = root_cause(error)
    if cause is not None:
        headers.append((DlqHeader.EXCEPTION_CAUSE_FQCN, _fqcn(cause).encode()))
    headers += [
        (DlqHeader.EXCEPTION_MESSAGE, str(error)[:4000].encode()),
        (DlqHeader.EXCEPTION_STACKTRACE, stack.encode()),
        (DlqHeader.REASON, reason.value.encode()),
        (DlqHeader.RETRY_COUNT, str(retry_count).encode()),
    ]
    return OutboundRecord(
        topic=dlq_topic(record.topic),
        value=record.value if record.value is not None else b"",
        key=record.key,
        headers=[(str(k), v) for k, v in headers],
    )


def dead_letter_fields(headers: Sequence[tuple[str, bytes | None]]) -> dict[str, str | int]:
    """A dead letter's headers by name: its origin's numbers as ``int``, the rest as text.

    The original partition, offset and timestamp are read in Spring's binary
    encoding or as the decimal text earlier kafkarpc versions wrote; one that is
    neither is left out, as is any other header that is not UTF-8. The last of
    repeated headers wins.
    """
    fields: dict[str, str | int] = {}
    for name, value in headers:
        if value is None:
            continue
        read: str | int | None
        if name in _BINARY:
            read = _number(value, _BINARY[name])
        else:
            try:
                read = value.decode()
            except UnicodeDecodeError:
                read = None
        if read is not None:
            fields[name] = read
    return fields


def _number(value: bytes, binary: struct.Struct) -> int | None:
    # Decimal text first: the old form is digits with an optional "-", while a
    # binary value whose bytes are all ASCII digits would be at least 0x30303030
    # (808,464,432) as a partition and 3.4e18 as an offset or epoch-ms timestamp,
    # which no record has. Any other value of the binary width is binary.
    text = _decimal(value)
    if text is not None:
        return text
    if len(value) == binary.size:
        number: int = binary.unpack(value)[0]
        return number
    return None


def _decimal(value: bytes) -> int | None:
    digits = value[1:] if value[:1] == b"-" else value
    if not digits.isdigit():  # bytes.isdigit: ASCII digits only, False when empty
        return None
    return int(value)


def unsent_record(record: OutboundRecord, *, now_ms: int) -> InboundRecord:
    """``record``, which never reached the broker, as ``dead_letter_record`` takes it.

    Partition and offset are -1 (docs/wire.md §5). With no broker timestamp, its
    timestamp is when it was sent (its ``timestamp`` header, which a producer's
    CreateTime would have matched), or ``now_ms`` when that header is missing or
    unreadable: never 0, which reads as 1970 (issue 18). Either is the client's
    own clock, so its type is CreateTime.
    """
    return InboundRecord(
        topic=record.topic,
        partition=-1,
        offset=-1,
        key=record.key,
        value=record.value,
        headers=record.headers,
        timestamp_ms=_sent_at_ms(record.headers) or now_ms,
        timestamp_type=CREATE_TIME,
    )


def _sent_at_ms(headers: list[tuple[str, bytes]]) -> int | None:
    for name, value in headers:
        if name == _SENT_AT:
            try:
                return round(datetime.fromisoformat(value.decode()).timestamp() * 1000)
            except (UnicodeDecodeError, ValueError):
                return None
    return None
