"""Dead-letter records: the original bytes plus headers saying where and why.

Header names (``DlqHeader``, rows of the table in ``headers``) follow Spring Kafka's
``DeadLetterPublishingRecoverer`` so existing tooling recognises them; values are
UTF-8 strings like every kafkarpc header (docs/wire.md §3, §5).
"""

from __future__ import annotations

import traceback
from datetime import datetime
from enum import StrEnum

from ..transport import InboundRecord, OutboundRecord
from .header_table import DEAD_LETTER_HEADERS, HEADERS, DlqHeader
from .topics import dlq_topic

__all__ = ["DlqHeader", "DlqReason", "dead_letter_record", "unsent_record"]


class DlqReason(StrEnum):
    POISON = "poison"
    HANDLER_EXHAUSTED = "handler_exhausted"
    PUBLISH_FAILED = "publish_failed"
    REPLY_FAILED = "reply_failed"
    INVALID_PAYLOAD = "invalid_payload"  # an event (no caller to answer) failed validation


_ORIGIN_HEADERS = frozenset(DEAD_LETTER_HEADERS)
# The header repeating the envelope's ``timestamp``: when the sender sent it.
_SENT_AT = next(row.name for row in HEADERS if row.mirrors == "timestamp")


def _fqcn(error: BaseException) -> str:
    cls = type(error)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def dead_letter_record(
    record: InboundRecord, error: BaseException, *, reason: DlqReason, retry_count: int = 0
) -> OutboundRecord:
    """The DLQ copy of ``record``: same key and value, original headers kept."""
    stack = "".join(traceback.format_exception(error))[-8000:]
    headers = [(k, v) for k, v in record.headers if k not in _ORIGIN_HEADERS]
    headers += [
        (DlqHeader.ORIGINAL_TOPIC, record.topic.encode()),
        (DlqHeader.ORIGINAL_PARTITION, str(record.partition).encode()),
        (DlqHeader.ORIGINAL_OFFSET, str(record.offset).encode()),
        (DlqHeader.ORIGINAL_TIMESTAMP, str(record.timestamp_ms).encode()),
        (DlqHeader.EXCEPTION_FQCN, _fqcn(error).encode()),
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


def unsent_record(record: OutboundRecord, *, now_ms: int) -> InboundRecord:
    """``record``, which never reached the broker, as ``dead_letter_record`` takes it.

    Partition and offset are -1 (docs/wire.md §5). With no broker timestamp, its
    timestamp is when it was sent (its ``timestamp`` header, which a producer's
    CreateTime would have matched), or ``now_ms`` when that header is missing or
    unreadable: never 0, which reads as 1970 (issue 18).
    """
    return InboundRecord(
        topic=record.topic,
        partition=-1,
        offset=-1,
        key=record.key,
        value=record.value,
        headers=record.headers,
        timestamp_ms=_sent_at_ms(record.headers) or now_ms,
    )


def _sent_at_ms(headers: list[tuple[str, bytes]]) -> int | None:
    for name, value in headers:
        if name == _SENT_AT:
            try:
                return round(datetime.fromisoformat(value.decode()).timestamp() * 1000)
            except (UnicodeDecodeError, ValueError):
                return None
    return None
