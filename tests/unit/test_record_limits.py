"""The record size kafkarpc checks before producing: librdkafka's own accounting."""

from __future__ import annotations

import pytest

from kafkarpc import PayloadTooLarge
from kafkarpc.transport import OutboundRecord
from kafkarpc.transport.limits import (
    HEADER_ROOM,
    RECORD_OVERHEAD,
    check_record_size,
    record_wire_size,
)


def test_a_bare_record_is_its_value_plus_the_overhead() -> None:
    assert record_wire_size(OutboundRecord("t", b"v" * 10)) == RECORD_OVERHEAD + 10


def test_key_and_headers_count_with_their_lengths() -> None:
    record = OutboundRecord("t", b"v" * 10, key=b"k" * 5, headers=[("h", b"x" * 3)])
    # Each header: its name and value plus one varint byte for each length.
    assert record_wire_size(record) == RECORD_OVERHEAD + 10 + 5 + (1 + 3 + 2)


@pytest.mark.parametrize(("value_size", "length_bytes"), [(63, 1), (64, 2), (8191, 2), (8192, 3)])
def test_long_header_values_take_longer_varints(value_size: int, length_bytes: int) -> None:
    # Kafka writes lengths as zigzag varints: 63 is the last one-byte length.
    record = OutboundRecord("t", b"", headers=[("h", b"x" * value_size)])
    assert record_wire_size(record) == RECORD_OVERHEAD + 1 + 1 + value_size + length_bytes


def test_a_non_ascii_header_name_counts_its_utf8_bytes() -> None:
    record = OutboundRecord("t", b"", headers=[("é", b"")])
    assert record_wire_size(record) == RECORD_OVERHEAD + 2 + 0 + 2


def test_headers_can_take_a_record_over_the_limit() -> None:
    record = OutboundRecord("topic", b"v" * 900, headers=[("name", b"x" * 100)])
    check_record_size(record, record_wire_size(record))
    with pytest.raises(PayloadTooLarge) as info:
        check_record_size(record, 950)
    assert (info.value.size, info.value.limit) == (record_wire_size(record), 950)
    assert "'topic'" in str(info.value)


def test_headers_count_once_key_and_value_come_near_the_limit() -> None:
    # Far below the limit, the headers are not counted (librdkafka's own check still
    # refuses the rare record they take over it, and its sender gets PayloadTooLarge).
    limit = 1_000_000
    heavy = OutboundRecord("t", b"v", headers=[("h", b"x" * limit)])
    assert record_wire_size(heavy) > limit
    check_record_size(heavy, limit)
    with pytest.raises(PayloadTooLarge):
        check_record_size(heavy, limit, exact=True)
    near = OutboundRecord("t", b"v" * (limit - HEADER_ROOM), headers=[("h", b"x" * HEADER_ROOM)])
    with pytest.raises(PayloadTooLarge):
        check_record_size(near, limit)
