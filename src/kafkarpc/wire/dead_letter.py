"""Dead-letter records: the original bytes plus headers saying where and why.

Header names (``DlqHeader``, rows of the table in ``headers``) follow Spring Kafka's
``DeadLetterPublishingRecoverer`` so existing tooling recognises them; values are
UTF-8 strings like every kafkarpc header (docs/wire.md §3, §5).
"""

from __future__ import annotations

import traceback
from enum import StrEnum

from ..transport import InboundRecord, OutboundRecord
from .header_table import DEAD_LETTER_HEADERS, DlqHeader
from .topics import dlq_topic

__all__ = ["DlqHeader", "DlqReason", "dead_letter_record"]


class DlqReason(StrEnum):
    POISON = "poison"
    HANDLER_EXHAUSTED = "handler_exhausted"
    PUBLISH_FAILED = "publish_failed"
    REPLY_FAILED = "reply_failed"


_ORIGIN_HEADERS = frozenset(DEAD_LETTER_HEADERS)


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
