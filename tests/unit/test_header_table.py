"""Every place that names headers agrees with the one header table (docs/wire.md §3).

The AsyncAPI document, the dead-letter writer and the headers a client sends are
read back here and held to ``HEADERS``: a header added or renamed in one place
only fails this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import kafkarpc
from kafkarpc.asyncapi import generate_asyncapi
from kafkarpc.transport import InboundRecord
from kafkarpc.wire.dead_letter import DlqReason, dead_letter_record
from kafkarpc.wire.envelope import new_message
from kafkarpc.wire.header_table import DEAD_LETTER_HEADERS, HEADERS, Encoding, HeaderRole
from kafkarpc.wire.headers import PRIORITIES, RequestRouting, build_headers, parse_trace_ids

TABLE_NAMES = {row.name for row in HEADERS}
#: Headers only a dead letter or a streamed reply carries.
NOT_ON_PLAIN_CALLS = (HeaderRole.DEAD_LETTER, HeaderRole.STREAM)


def documented_header_names(node: Any) -> Iterator[str]:
    """Names of every property of every ``headers`` schema anywhere in a document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "headers" and isinstance(value, dict):
                yield from value.get("properties", {})
            yield from documented_header_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from documented_header_names(item)


def test_the_asyncapi_document_names_only_table_headers() -> None:
    server = kafkarpc.RpcServer(
        transport=kafkarpc.MemoryTransport(kafkarpc.MemoryBroker()), service="shop"
    )
    server.add_responder("shop.orders.place", lambda payload: payload)
    names = set(documented_header_names(generate_asyncapi(server)))
    assert names, "the document describes headers"
    assert names <= TABLE_NAMES, names - TABLE_NAMES
    # What a request may carry is documented in full (the streaming headers only for
    # a streaming responder: test_a_streaming_responder_documents_its_items_and_its_end).
    assert {row.name for row in HEADERS if row.role not in NOT_ON_PLAIN_CALLS} <= names


def test_a_dead_letter_adds_exactly_the_tables_dead_letter_headers() -> None:
    original = InboundRecord(
        "a.requested.v1", 0, 5, b"k", b"{}", [("x-user", b"1")], 9, group="billing"
    )
    try:
        try:
            raise KeyError("missing")
        except KeyError as cause:
            raise ValueError("bad") from cause
    except ValueError as error:
        parked = dead_letter_record(original, error, reason=DlqReason.POISON)
    added = [name for name, _ in parked.headers if name != "x-user"]
    assert added == list(DEAD_LETTER_HEADERS)


def test_a_request_with_every_routing_field_sends_only_table_headers() -> None:
    message = new_message(event_type="A_REQUESTED", correlation_id="c", service="s", payload={})
    # One value a routing row, of the row's encoding (a traceparent must parse).
    values: dict[str, Any] = {
        row.name: 1 if row.encoding is Encoding.DECIMAL else (row.choices or ("t",))[0]
        for row in HEADERS
        if row.role in RequestRouting.ROLES and row.derived_from is None
    }
    values["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    routing = RequestRouting(**values)
    sent = {name for name, _ in build_headers(message, routing=routing)}
    assert sent == {row.name for row in HEADERS if row.role not in NOT_ON_PLAIN_CALLS}


def plain_routing_headers(routing: RequestRouting) -> list[tuple[str, bytes]]:
    """The plain reading of the table that the written-out builder replaces."""
    out: list[tuple[str, bytes]] = []
    for row in HEADERS:
        if row.role not in RequestRouting.ROLES:
            continue
        if row.derived_from is None:
            value = getattr(routing, row.name)
            if value is not None:
                out.append((row.name, str(value).encode()))
            continue
        ids = parse_trace_ids(getattr(routing, row.derived_from))
        if ids is not None:
            out.append((row.name, ids[["trace_id", "span_id"].index(row.name)].encode()))
    return out


optional_text = st.none() | st.text(max_size=6)
optional_int = st.none() | st.integers(min_value=-5, max_value=10**13)
traceparents = st.none() | st.sampled_from(
    ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "junk", ""]
)


@given(
    st.builds(
        RequestRouting,
        reply_to=optional_text,
        reply_partition=optional_int,
        deadline_ms=optional_int,
        idempotency_key=optional_text,
        retry_count=optional_int,
        max_retries=optional_int,
        partition_key=optional_text,
        priority=st.none() | st.sampled_from(sorted(PRIORITIES)),
        ttl_seconds=optional_int,
        correlation_chain=optional_text,
        traceparent=traceparents,
        tracestate=optional_text,
        parent_span_id=optional_text,
    )
)
def test_written_out_routing_builder_matches_the_plain_table_reading(
    routing: RequestRouting,
) -> None:
    assert sorted(routing.as_headers()) == sorted(plain_routing_headers(routing))
