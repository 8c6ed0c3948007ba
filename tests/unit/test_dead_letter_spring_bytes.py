"""Dead letters in Spring Kafka's ``DeadLetterPublishingRecoverer`` encodings (issue 12).

A Spring ``@DltHandler`` reads ``kafka_dlt-original-partition`` as a 4-byte and
the offset and timestamp as 8-byte big-endian integers; these tests hold the
bytes kafkarpc writes to that layout, and the readers (``dead_letter_fields``,
``inspect_dlq``, ``replay_dlq``) to reading it and the decimal text earlier
kafkarpc versions wrote.
"""

from __future__ import annotations

import pytest

from kafkarpc import DlqHeader, DlqReason, MemoryBroker, MemoryTransport, inspect_dlq, replay_dlq
from kafkarpc.transport import InboundRecord, OutboundRecord
from kafkarpc.transport.records import CREATE_TIME, LOG_APPEND_TIME, NO_TIMESTAMP_TYPE
from kafkarpc.wire.dead_letter import dead_letter_fields, dead_letter_record, root_cause
from kafkarpc.wire.envelope import new_message
from kafkarpc.wire.header_table import HEADERS

REQUESTED = "billing.charge.requested.v1"
DLQ = f"{REQUESTED}.dlq"
# 2026-11-22T06:30:00.123Z, and an offset beyond 32 bits.
TIMESTAMP_MS = 1_795_329_000_123
OFFSET = 2**40 + 5


class LedgerClosed(Exception):
    """A user's error, raised from a lower-level one."""


def _raised_with_causes() -> LedgerClosed:
    try:
        try:
            try:
                raise ConnectionResetError("peer reset")
            except ConnectionResetError:
                raise OSError("ledger unreachable")  # noqa: B904 - an implicit context
        except OSError as exc:
            raise LedgerClosed("ledger closed for the day") from exc
    except LedgerClosed as error:
        return error


def _raised_from_none() -> ValueError:
    try:
        try:
            raise KeyError("hidden")
        except KeyError:
            raise ValueError("shown") from None
    except ValueError as error:
        return error


def test_every_dead_letter_header_is_written_in_springs_layout() -> None:
    original = InboundRecord(
        REQUESTED,
        3,
        OFFSET,
        b"k",
        b"{}",
        [("x-tenant", b"t-1")],
        TIMESTAMP_MS,
        LOG_APPEND_TIME,
        "billing-responders",
    )
    error = _raised_with_causes()
    parked = dead_letter_record(original, error, reason=DlqReason.HANDLER_EXHAUSTED, retry_count=2)
    assert parked.topic == DLQ
    assert parked.headers[0] == ("x-tenant", b"t-1"), "the request's own headers come first"
    added = parked.headers[1:]
    stack = dict(added).pop(DlqHeader.EXCEPTION_STACKTRACE).decode()
    assert stack.endswith("test_dead_letter_spring_bytes.LedgerClosed: ledger closed for the day\n")
    assert "ConnectionResetError: peer reset" in stack
    module = LedgerClosed.__module__
    assert [(name, value) for name, value in added if name != DlqHeader.EXCEPTION_STACKTRACE] == [
        ("kafka_dlt-original-topic", b"billing.charge.requested.v1"),
        ("kafka_dlt-original-partition", b"\x00\x00\x00\x03"),
        ("kafka_dlt-original-offset", b"\x00\x00\x01\x00\x00\x00\x00\x05"),
        ("kafka_dlt-original-timestamp", b"\x00\x00\x01\xa2\x01\xf2\x82\xbb"),
        ("kafka_dlt-original-timestamp-type", b"LogAppendTime"),
        ("kafka_dlt-original-consumer-group", b"billing-responders"),
        ("kafka_dlt-exception-fqcn", f"{module}.LedgerClosed".encode()),
        # The root cause, not the direct one (OSError).
        ("kafka_dlt-exception-cause-fqcn", b"ConnectionResetError"),
        ("kafka_dlt-exception-message", b"ledger closed for the day"),
        ("dlq_reason", b"handler_exhausted"),
        ("dlq_retry_count", b"2"),
    ]
    assert int.from_bytes(b"\x00\x00\x01\xa2\x01\xf2\x82\xbb", "big") == TIMESTAMP_MS


def test_a_record_that_never_reached_the_broker_is_minus_one_in_both_widths() -> None:
    unsent = InboundRecord(REQUESTED, -1, -1, None, b"{}", [], TIMESTAMP_MS)
    headers = dict(dead_letter_record(unsent, ValueError("x"), reason=DlqReason.POISON).headers)
    assert headers[DlqHeader.ORIGINAL_PARTITION] == b"\xff\xff\xff\xff"
    assert headers[DlqHeader.ORIGINAL_OFFSET] == b"\xff" * 8
    assert headers[DlqHeader.ORIGINAL_TIMESTAMP_TYPE] == b"CreateTime"


def test_group_and_cause_are_left_out_when_unknown_as_spring_does() -> None:
    read_without_group = InboundRecord(REQUESTED, 0, 1, None, b"{}", [], TIMESTAMP_MS)
    headers = dict(
        dead_letter_record(
            read_without_group, ValueError("no cause"), reason=DlqReason.POISON
        ).headers
    )
    assert DlqHeader.ORIGINAL_CONSUMER_GROUP not in headers
    assert DlqHeader.EXCEPTION_CAUSE_FQCN not in headers
    assert headers[DlqHeader.EXCEPTION_FQCN] == b"ValueError"


def test_root_cause_follows_the_chain_a_traceback_prints() -> None:
    assert root_cause(ValueError("alone")) is None
    error = _raised_with_causes()
    cause = root_cause(error)
    assert isinstance(cause, ConnectionResetError)
    assert root_cause(_raised_from_none()) is None, "`from None` hides the context"
    looped = ValueError("a")
    other = ValueError("b")
    looped.__cause__, other.__cause__ = other, looped
    assert root_cause(looped) is other, "a cycle ends instead of looping"


def test_the_timestamp_types_are_the_tables_choices() -> None:
    (row,) = [row for row in HEADERS if row.name == DlqHeader.ORIGINAL_TIMESTAMP_TYPE]
    assert row.choices == (CREATE_TIME, LOG_APPEND_TIME, NO_TIMESTAMP_TYPE)


# The same origin in both encodings: (partition, offset, timestamp) as Spring's
# binary and as the decimal text kafkarpc wrote before.
NEW_FORM: list[tuple[str, bytes]] = [
    (DlqHeader.ORIGINAL_PARTITION, (1234).to_bytes(4, "big")),
    (DlqHeader.ORIGINAL_OFFSET, (12_345_678).to_bytes(8, "big")),
    (DlqHeader.ORIGINAL_TIMESTAMP, TIMESTAMP_MS.to_bytes(8, "big")),
]
OLD_FORM: list[tuple[str, bytes]] = [
    (DlqHeader.ORIGINAL_PARTITION, b"1234"),  # four digits: the width of an int32
    (DlqHeader.ORIGINAL_OFFSET, b"12345678"),  # eight digits: the width of an int64
    (DlqHeader.ORIGINAL_TIMESTAMP, str(TIMESTAMP_MS).encode()),
]


@pytest.mark.parametrize("form", [NEW_FORM, OLD_FORM], ids=["spring-binary", "decimal-text"])
def test_both_encodings_read_as_the_same_numbers(form: list[tuple[str, bytes]]) -> None:
    fields = dead_letter_fields([(DlqHeader.ORIGINAL_TOPIC, REQUESTED.encode()), *form])
    assert fields == {
        DlqHeader.ORIGINAL_TOPIC: REQUESTED,
        DlqHeader.ORIGINAL_PARTITION: 1234,
        DlqHeader.ORIGINAL_OFFSET: 12_345_678,
        DlqHeader.ORIGINAL_TIMESTAMP: TIMESTAMP_MS,
    }


@pytest.mark.parametrize(
    "value", [b"\xff\xff\xff\xff", b"-1"], ids=["spring-binary", "decimal-text"]
)
def test_minus_one_reads_in_both_encodings(value: bytes) -> None:
    assert dead_letter_fields([(DlqHeader.ORIGINAL_PARTITION, value)]) == {
        DlqHeader.ORIGINAL_PARTITION: -1
    }


@pytest.mark.parametrize("value", [b"", b"abc", b"\x00\x01", b"\x00" * 8, b"1.5"])
def test_a_partition_in_neither_encoding_is_left_out(value: bytes) -> None:
    assert dead_letter_fields([(DlqHeader.ORIGINAL_PARTITION, value), ("x", b"\xff")]) == {}


def _parked(form: list[tuple[str, bytes]], correlation_id: str) -> OutboundRecord:
    request = new_message(
        event_type="BILLING_CHARGE_REQUESTED",
        correlation_id=correlation_id,
        service="caller",
        payload={"cents": 1200},
    )
    return OutboundRecord(
        topic=DLQ,
        value=request.value,
        key=correlation_id.encode(),
        headers=[
            # A caller's binary header (Spring's 16-byte correlation id is not text).
            ("kafka_correlationId", bytes(range(240, 256))),
            (DlqHeader.ORIGINAL_TOPIC, REQUESTED.encode()),
            *form,
            (DlqHeader.EXCEPTION_FQCN, b"builtins.RuntimeError"),
            (DlqHeader.EXCEPTION_MESSAGE, b"ledger closed"),
            (DlqHeader.REASON, b"handler_exhausted"),
            (DlqHeader.RETRY_COUNT, b"0"),
        ],
    )


@pytest.mark.anyio
async def test_inspect_and_replay_read_old_and_new_dead_letters_alike() -> None:
    broker = MemoryBroker()
    for topic in (REQUESTED, DLQ):
        broker.create_topic(topic, partitions=1)
    broker.append(_parked(NEW_FORM, "c-new"))
    broker.append(_parked(OLD_FORM, "c-old"))
    transport = MemoryTransport(broker)
    await transport.start()
    try:
        new, old = await inspect_dlq("unused", DLQ, transport=transport)
        result = await replay_dlq("unused", DLQ, transport=transport)
    finally:
        await transport.aclose()
    for letter in (new, old):
        assert letter.headers[DlqHeader.ORIGINAL_PARTITION] == "1234"
        assert letter.headers[DlqHeader.ORIGINAL_OFFSET] == "12345678"
        assert letter.headers[DlqHeader.ORIGINAL_TIMESTAMP] == str(TIMESTAMP_MS)
        assert letter.original_topic == REQUESTED
    ignore = ("partition", "offset", "correlation_id")
    summaries = [{k: v for k, v in x.summary().items() if k not in ignore} for x in (new, old)]
    assert summaries[0] == summaries[1]
    assert new.summary()["original_partition"] == "1234"

    assert (result.processed, result.republished, result.not_republished) == (2, 2, 0)
    replayed = broker.records(REQUESTED)
    assert [record.key for record in replayed] == [b"c-new", b"c-old"]
    for record in replayed:
        # The caller's headers as they were, the binary one included; no DLQ headers.
        assert record.headers == [("kafka_correlationId", bytes(range(240, 256)))]
