"""Kafka record headers (docs/wire.md §3): what we send, and tolerant reading."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkarpc.wire.envelope import Envelope, make_envelope
from kafkarpc.wire.header_table import (
    DEAD_LETTER_HEADERS,
    HEADERS,
    REQUIRED_HEADERS,
    RESERVED_HEADERS,
    ROUTING_HEADERS,
    DlqHeader,
    Encoding,
    HeaderRole,
)
from kafkarpc.wire.headers import RequestRouting, build_headers, header_dict, parse_trace_ids

REQUIRED = {
    "content_type",
    "correlation_id",
    "message_id",
    "timestamp",
    "source",
    "event_type",
    "schema_version",
}
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def envelope(**overrides: Any) -> Envelope:
    fields: dict[str, Any] = {
        "event_type": "AGENT_ROUTING_REQUESTED",
        "correlation_id": "corr-ü-1",
        "service": "router",
        "payload": {"x": 1},
        "version": "v2",
    }
    fields.update(overrides)
    return make_envelope(**fields)


def test_required_headers_match_the_envelope() -> None:
    env = envelope()
    headers = build_headers(env)
    assert {name for name, _ in headers} == REQUIRED
    assert all(isinstance(value, bytes) for _, value in headers)
    values = {name: value.decode("utf-8") for name, value in headers}
    assert values == {
        "content_type": "application/json",
        "correlation_id": "corr-ü-1",
        "message_id": env.event_id,
        "timestamp": env.timestamp,
        "source": "router",
        "event_type": "AGENT_ROUTING_REQUESTED",
        "schema_version": "v2",
    }


def test_header_names_are_unique() -> None:
    routing = RequestRouting(reply_to="a.completed.v1", deadline_ms=1, traceparent=TRACEPARENT)
    headers = build_headers(envelope(), routing=routing, extra={"tenant": "t1"})
    names = [name for name, _ in headers]
    assert len(names) == len(set(names))


def test_routing_headers_are_utf8_strings() -> None:
    routing = RequestRouting(
        reply_to="agent.routing.completed.v1",
        reply_partition=2,
        deadline_ms=1_700_000_000_123,
        idempotency_key="idem-1",
        retry_count=1,
        max_retries=3,
        partition_key="tenant-7",
        priority="high",
        ttl_seconds=30,
    )
    values = header_dict(build_headers(envelope(), routing=routing))
    assert values["reply_to"] == "agent.routing.completed.v1"
    assert values["reply_partition"] == "2"
    assert values["deadline_ms"] == "1700000000123"
    assert values["idempotency_key"] == "idem-1"
    assert values["retry_count"] == "1"
    assert values["max_retries"] == "3"
    assert values["partition_key"] == "tenant-7"
    assert values["priority"] == "high"
    assert values["ttl_seconds"] == "30"
    assert set(values) >= REQUIRED


def test_unset_routing_fields_are_not_sent() -> None:
    values = header_dict(build_headers(envelope(), routing=RequestRouting(reply_to="a.b")))
    assert set(values) == REQUIRED | {"reply_to"}


# Every routing field a request header carries, none left at its default.
EVERY_ROUTING_FIELD: dict[str, Any] = {
    "reply_to": "a.completed.v1",
    "reply_partition": 0,
    "deadline_ms": 123,
    "idempotency_key": "k",
    "retry_count": 0,
    "max_retries": 2,
    "partition_key": "p",
    "priority": "critical",
    "ttl_seconds": 5,
    "correlation_chain": "root-id,parent-id",
    "traceparent": TRACEPARENT,
    "tracestate": "vendor=1",
}


def test_routing_round_trips_through_headers() -> None:
    routing = RequestRouting(**EVERY_ROUTING_FIELD)
    parsed = RequestRouting.from_headers(header_dict(build_headers(envelope(), routing=routing)))
    assert parsed == routing


def test_user_headers_cannot_override_required_ones() -> None:
    env = envelope()
    extra: dict[str, str | bytes] = {
        "correlation_id": "forged",
        "event_type": "FORGED",
        "source": "mallory",
        "content_type": "text/plain",
        "tenant": "t-1",
        "raw": b"\x00\x01",
    }
    headers = build_headers(env, extra=extra)
    values = dict(headers)
    assert values["correlation_id"] == b"corr-\xc3\xbc-1"
    assert values["event_type"] == b"AGENT_ROUTING_REQUESTED"
    assert values["source"] == b"router"
    assert values["content_type"] == b"application/json"
    assert values["tenant"] == b"t-1"
    assert values["raw"] == b"\x00\x01"
    assert [name for name, _ in headers].count("correlation_id") == 1


def test_user_headers_cannot_override_routing_headers() -> None:
    routing = RequestRouting(reply_to="real.completed.v1", deadline_ms=99)
    headers = build_headers(
        envelope(), routing=routing, extra={"reply_to": "evil", "deadline_ms": "0"}
    )
    values = header_dict(headers)
    assert values["reply_to"] == "real.completed.v1"
    assert values["deadline_ms"] == "99"


# ------------------------------------------------------------------ receiving


def test_from_headers_with_nothing_is_all_none() -> None:
    assert RequestRouting.from_headers({}) == RequestRouting()


@pytest.mark.parametrize(
    "field", ["reply_partition", "deadline_ms", "retry_count", "max_retries", "ttl_seconds"]
)
@pytest.mark.parametrize("bad", ["abc", "", "1.5", "0x10", "one"])
def test_malformed_int_headers_read_as_none(field: str, bad: str) -> None:
    routing = RequestRouting.from_headers({field: bad, "reply_to": "r"})
    assert getattr(routing, field) is None
    assert routing.reply_to == "r"


def test_deadline_abc_is_none() -> None:
    assert RequestRouting.from_headers({"deadline_ms": "abc"}).deadline_ms is None


def test_unknown_priority_reads_as_none() -> None:
    assert RequestRouting.from_headers({"priority": "urgent"}).priority is None
    assert RequestRouting.from_headers({"priority": "low"}).priority == "low"


def test_empty_string_headers_read_as_none() -> None:
    routing = RequestRouting.from_headers({"reply_to": "", "idempotency_key": ""})
    assert routing.reply_to is None
    assert routing.idempotency_key is None


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=30), max_size=12))
def test_from_headers_never_raises(headers: dict[str, str]) -> None:
    RequestRouting.from_headers(headers)


def test_header_dict_skips_undecodable_and_missing_values() -> None:
    raw = [("good", b"v"), ("bad", b"\xff\xfe"), ("none", None), ("dup", b"1"), ("dup", b"2")]
    assert header_dict(raw) == {"good": "v", "dup": "2"}
    assert header_dict(None) == {}
    assert header_dict([]) == {}


@given(st.lists(st.tuples(st.text(max_size=10), st.binary(max_size=10) | st.none()), max_size=10))
def test_header_dict_never_raises(raw: list[tuple[str, bytes | None]]) -> None:
    out = header_dict(raw)
    assert all(isinstance(v, str) for v in out.values())


# ------------------------------------------------------------------ tracing


def test_traceparent_gives_trace_and_span_ids() -> None:
    assert parse_trace_ids(TRACEPARENT) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


@pytest.mark.parametrize(
    "value", [None, "", "garbage", "00-short-00f067aa0ba902b7-01", "00-a-b", "1-2-3-4-5"]
)
def test_malformed_traceparent_gives_none(value: str | None) -> None:
    assert parse_trace_ids(value) is None


def test_traceparent_headers_derive_trace_and_span_ids() -> None:
    routing = RequestRouting(traceparent=TRACEPARENT, tracestate="congo=t61rcWkgMzE")
    values = header_dict(build_headers(envelope(), routing=routing))
    assert values["traceparent"] == TRACEPARENT
    assert values["tracestate"] == "congo=t61rcWkgMzE"
    assert values["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert values["span_id"] == "00f067aa0ba902b7"


def test_no_trace_ids_without_traceparent() -> None:
    values = header_dict(build_headers(envelope(), routing=RequestRouting(reply_to="x")))
    assert "trace_id" not in values
    assert "span_id" not in values


def test_every_routing_field_becomes_a_header_and_back() -> None:
    values: dict[str, object] = {
        "reply_to": "a.completed.v1",
        "reply_partition": 2,
        "deadline_ms": 1_700_000_000_000,
        "idempotency_key": "idem-1",
        "retry_count": 1,
        "max_retries": 3,
        "partition_key": "tenant-9",
        "priority": "high",
        "ttl_seconds": 30,
        "correlation_chain": "root-id,parent-id",
        "traceparent": TRACEPARENT,
        "tracestate": "vendor=1",
        "parent_span_id": "00f067aa0ba902b7",
    }
    assert set(values) == {f.name for f in dataclasses.fields(RequestRouting)}
    routing = RequestRouting(**values)  # type: ignore[arg-type]
    headers = routing.as_headers()
    assert {name for name, _ in headers} == {*values, "trace_id", "span_id"}
    assert RequestRouting.from_headers(header_dict(headers)) == routing


# The responder decodes only the routing headers; the verdict must be the same as
# decoding every header first (duplicates, missing and undecodable values included).
routing_header_names = st.sampled_from(
    [f.name for f in dataclasses.fields(RequestRouting)] + ["correlation_id", "x-user"]
)
routing_header_values = (
    st.none()
    | st.sampled_from([b"", b"7", b"-1", b" 8 ", b"1_0", b"x", b"low", b"critical", b"\xff"])
    | st.binary(max_size=8)
    | st.text(max_size=8).map(str.encode)
)


@given(st.lists(st.tuples(routing_header_names, routing_header_values), max_size=16))
def test_routing_from_raw_headers_matches_routing_from_header_dict(
    raw: list[tuple[str, bytes | None]],
) -> None:
    expected = RequestRouting.from_headers(header_dict(raw))
    assert RequestRouting.from_record_headers(raw) == expected


def test_routing_from_raw_headers_reads_every_field() -> None:
    other_values = {"reply_partition": 2, "retry_count": 1, "max_retries": 3, "priority": "low"}
    routing = RequestRouting(
        **{**EVERY_ROUTING_FIELD, **other_values, "ttl_seconds": 30},
        parent_span_id="00f067aa0ba902b7",  # the span id in TRACEPARENT
    )
    raw: list[tuple[str, bytes | None]] = [*build_headers(envelope(), routing=routing)]
    assert RequestRouting.from_record_headers(raw) == routing
    assert RequestRouting.from_record_headers(None) == RequestRouting()


# ------------------------------------------------------------------ the table


def test_header_names_in_the_table_are_unique() -> None:
    names = [row.name for row in HEADERS]
    assert len(names) == len(set(names))


def test_routing_fields_follow_the_table() -> None:
    rows = [
        row.name
        for row in HEADERS
        if row.role in (HeaderRole.ROUTING, HeaderRole.TRACE) and not row.derived_from
    ]
    assert [f.name for f in dataclasses.fields(RequestRouting)] == rows
    assert set(ROUTING_HEADERS) <= set(rows)


def test_required_headers_are_the_tables_required_rows() -> None:
    assert set(REQUIRED_HEADERS) == REQUIRED
    assert {name for name, _ in build_headers(envelope())} == set(REQUIRED_HEADERS)
    assert frozenset(REQUIRED_HEADERS) | frozenset(ROUTING_HEADERS) == RESERVED_HEADERS


def test_dead_letter_rows_are_the_dlq_header_names() -> None:
    assert tuple(member.value for member in DlqHeader) == DEAD_LETTER_HEADERS


def test_decimal_rows_read_ints_and_choice_rows_read_only_their_choices() -> None:
    for row in HEADERS:
        if row.role is not HeaderRole.ROUTING:
            continue
        if row.encoding is Encoding.DECIMAL:
            assert getattr(RequestRouting.from_headers({row.name: "12"}), row.name) == 12
        elif row.encoding is Encoding.CHOICE:
            assert row.choices
            for choice in row.choices:
                assert getattr(RequestRouting.from_headers({row.name: choice}), row.name) == choice
            assert getattr(RequestRouting.from_headers({row.name: "nope"}), row.name) is None
        else:
            assert getattr(RequestRouting.from_headers({row.name: "t"}), row.name) == "t"


def test_routing_headers_are_written_in_table_order() -> None:
    routing = RequestRouting(priority="low", retry_count=0, parent_span_id="ab")
    assert routing.as_headers() == [
        ("retry_count", b"0"),
        ("priority", b"low"),
        ("parent_span_id", b"ab"),
    ]
