"""Dead-letter records: the original bytes plus headers saying where and why.

Header names follow Spring Kafka's ``DeadLetterPublishingRecoverer`` so existing
tooling recognises them; values are UTF-8 strings like every kafkarpc header.
"""

from __future__ import annotations

import traceback
from enum import StrEnum

from ..transport import InboundRecord, OutboundRecord
from .topics import dlq_topic

__all__ = ["DlqHeader", "DlqReason", "dead_letter_record"]


class DlqHeader(StrEnum):
    ORIGINAL_TOPIC = "kafka_dlt-original-topic"
    ORIGINAL_PARTITION = "kafka_dlt-original-partition"
    ORIGINAL_OFFSET = "kafka_dlt-original-offset"
    ORIGINAL_TIMESTAMP = "kafka_dlt-original-timestamp"
    EXCEPTION_FQCN = "kafka_dlt-exception-fqcn"
    EXCEPTION_MESSAGE = "kafka_dlt-exception-message"
    EXCEPTION_STACKTRACE = "kafka_dlt-exception-stacktrace"
    REASON = "dlq_reason"
    RETRY_COUNT = "dlq_retry_count"


class DlqReason(StrEnum):
    POISON = "poison"
    HANDLER_EXHAUSTED = "handler_exhausted"
    PUBLISH_FAILED = "publish_failed"
    REPLY_FAILED = "reply_failed"


_ORIGIN_HEADERS = frozenset(h.value for h in DlqHeader)


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
