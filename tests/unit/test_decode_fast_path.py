"""``decode_fields`` (the client's reply decoder) accepts exactly what ``decode_envelope`` does.

The client reads a reply's payload without building the ``Envelope`` model; a
reply that is not a valid envelope (docs/wire.md §2) must still be refused, and a valid
one never refused, so the two decoders are held to the same verdict here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkarpc import (
    EnvelopeError,
    RemoteError,
    decode_envelope,
)
from kafkarpc.transport import OutboundRecord
from kafkarpc.wire.envelope import Envelope, EnvelopeFields, decode_fields, new_message
from kafkarpc.wire.headers import build_headers

if TYPE_CHECKING:
    from tests.unit.conftest import MemoryRpc

OP = "agent.decode"
# Every field of an envelope (docs/wire.md §2): the ids, then what the message says.
# In the model's order.
KNOWN_FIELDS = (
    *("event_id", "event_type", "correlation_id", "causation_id"),
    *("timestamp", "service", "payload", "version", "metadata"),
)


# A minimal valid reply; the ids are fresh in every body (valid_body below).
REPLY_FIELDS: dict[str, Any] = {
    "payload": {"q": 1},
    "event_type": "AGENT_DECODE_COMPLETED",
    "timestamp": "2024-05-01T12:00:00.000Z",
    "service": "peer",
    "version": "v1",
}


def valid_body(**overrides: Any) -> dict[str, Any]:
    ids = {"event_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4())}
    return {**ids, **REPLY_FIELDS, **overrides}


def without(*names: str) -> dict[str, Any]:
    body = valid_body()
    for name in names:
        del body[name]
    return body


def verdict(decode: Callable[[Any], object], data: Any) -> bool:
    try:
        decode(data)
    except EnvelopeError:
        return True
    return False


def assert_same_verdict(data: bytes | str | None) -> None:
    refused = verdict(decode_envelope, data)
    assert verdict(decode_fields, data) is refused, data
    if refused:
        return
    envelope = decode_envelope(data)
    fields = decode_fields(data)
    assert set(fields) <= set(KNOWN_FIELDS)
    for name, value in fields.items():
        assert getattr(envelope, name) == value, name
    assert fields["payload"] == envelope.payload
    assert fields["correlation_id"] == envelope.correlation_id


ACCEPTED = [
    valid_body(),
    without("event_id", "timestamp", "version"),  # the optional fields may be left out
    valid_body(causation_id=None, metadata=None),
    valid_body(causation_id="c", metadata={"m": [1, {"n": None}]}),
    valid_body(timestamp="2024-05-01T12:00:00+02:00"),
    valid_body(timestamp="2024-05-01"),
    valid_body(correlation_id="not-a-uuid"),  # any non-empty id (docs/wire.md §2)
    valid_body(event_type="A"),
    valid_body(event_type="A1_B2_C3"),
    valid_body(payload={}),
    valid_body(x_peer_field={"kept": "by the model, dropped by the fast path"}, x_null=None),
    valid_body(service="ünïcödé \u2603"),
]

REFUSED: list[Any] = [
    *(without(name) for name in ("event_type", "correlation_id", "service", "payload")),
    valid_body(event_id=""),
    valid_body(event_id=None),
    valid_body(event_id=7),
    valid_body(event_type="lower_case"),
    valid_body(event_type="TRAILING_"),
    valid_body(event_type="DOUBLE__UNDERSCORE"),
    valid_body(event_type="1LEADING_DIGIT"),
    valid_body(event_type=""),
    valid_body(correlation_id=""),
    valid_body(correlation_id=None),
    valid_body(correlation_id=123),
    valid_body(causation_id=5),
    valid_body(timestamp="yesterday"),
    valid_body(timestamp=""),
    valid_body(timestamp=None),
    valid_body(timestamp=1714564800),
    valid_body(service=""),
    valid_body(payload=None),
    valid_body(payload=[1, 2]),
    valid_body(payload="text"),
    valid_body(version=""),
    valid_body(version=None),
    valid_body(metadata=[1]),
    valid_body(metadata="m"),
    [valid_body()],
    "a string",
    None,
]


@pytest.mark.parametrize("body", ACCEPTED)
def test_both_decoders_accept(body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    decode_envelope(data)
    assert_same_verdict(data)
    assert_same_verdict(data.decode())


@pytest.mark.parametrize("body", REFUSED)
def test_both_decoders_refuse(body: Any) -> None:
    data = json.dumps(body).encode()
    with pytest.raises(EnvelopeError):
        decode_envelope(data)
    assert_same_verdict(data)


@pytest.mark.parametrize(
    "data", [None, b"", b"\x00garbage", b"{", b'{"payload": {}', b"\xff\xfe", "{}", b"null"]
)
def test_both_decoders_refuse_what_is_not_json(data: bytes | str | None) -> None:
    with pytest.raises(EnvelopeError):
        decode_fields(data)
    assert_same_verdict(data)


def test_refusals_name_the_field_like_decode_envelope() -> None:
    data = json.dumps(valid_body(timestamp="yesterday")).encode()
    with pytest.raises(EnvelopeError) as envelope_error:
        decode_envelope(data)
    with pytest.raises(EnvelopeError) as fields_error:
        decode_fields(data)
    assert str(fields_error.value) == str(envelope_error.value)
    assert "timestamp" in str(fields_error.value)


def test_duplicate_keys_resolve_alike() -> None:
    data = b'{"event_type": "A", "correlation_id": "", "correlation_id": "c", "service": "s",'
    data += b' "payload": {"x": 1}, "payload": {"y": 2}}'
    assert_same_verdict(data)
    assert decode_fields(data)["payload"] == {"y": 2}


# One strategy per field: left out, a valid value, or a value of the wrong kind.
json_leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
MISSING = object()
field_values: dict[str, st.SearchStrategy[Any]] = {
    "event_id": st.text(max_size=4) | json_values,
    "event_type": st.from_regex(r"\A[A-Z][A-Z0-9_]{0,6}\Z") | st.text(max_size=6) | json_values,
    "correlation_id": st.text(max_size=4) | json_values,
    "causation_id": st.text(max_size=4) | json_values,
    "timestamp": st.sampled_from(
        ["2024-05-01T12:00:00Z", "2024-05-01 12:00", "2024-13-01", "20240501T120000", "", "x"]
    )
    | st.datetimes().map(lambda moment: moment.isoformat())
    | json_values,
    "service": st.text(max_size=4) | json_values,
    "payload": st.dictionaries(st.text(max_size=4), json_values, max_size=3) | json_values,
    "version": st.text(max_size=3) | json_values,
    "metadata": st.dictionaries(st.text(max_size=4), json_values, max_size=3) | json_values,
    "x_unknown": json_values,
}


@st.composite
def envelope_like(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name, values in field_values.items():
        value = draw(st.just(MISSING) | values)
        if value is not MISSING:
            body[name] = value
    return body


@settings(max_examples=400)
@given(body=envelope_like())
def test_generated_envelopes_get_the_same_verdict(body: dict[str, Any]) -> None:
    assert_same_verdict(json.dumps(body).encode())


@settings(max_examples=100)
@given(data=st.binary(max_size=40) | st.text(max_size=40))
def test_arbitrary_input_gets_the_same_verdict(data: bytes | str) -> None:
    assert_same_verdict(data)


@pytest.mark.anyio
async def test_client_refuses_an_invalid_reply_naming_what_is_wrong(rpc: MemoryRpc) -> None:
    trio = rpc.trio(OP)

    def answer_with_a_bad_timestamp(correlation_id: str) -> OutboundRecord:
        message = new_message(
            event_type=trio.event_type("completed"),
            correlation_id=correlation_id,
            service="peer",
            payload={"ok": True},
        )
        body = json.loads(message.value)
        body["timestamp"] = "yesterday"
        return OutboundRecord(
            topic=trio.completed, value=json.dumps(body).encode(), headers=build_headers(message)
        )

    async def answer() -> None:
        while not rpc.broker.records(trio.requested):
            await anyio.sleep(0.002)
        (request,) = rpc.broker.records(trio.requested)
        rpc.broker.append(
            answer_with_a_bad_timestamp(decode_envelope(request.value).correlation_id)
        )

    async with rpc.client() as client, anyio.create_task_group() as tg:
        tg.start_soon(answer)
        with pytest.raises(RemoteError) as info:
            await client.request(OP, {}, timeout=5)
    assert info.value.error_code == "INVALID_REPLY"
    assert "not a valid envelope" in info.value.error_message
    assert "timestamp" in info.value.error_message


def test_known_fields_are_the_models_fields() -> None:
    # decode_fields' schema is derived from Envelope's; the TypedDict that types
    # its result must name the same fields, optional exactly where the model
    # has a default.
    assert tuple(Envelope.model_fields) == KNOWN_FIELDS
    assert set(EnvelopeFields.__annotations__) == set(KNOWN_FIELDS)
    required = {name for name, info in Envelope.model_fields.items() if info.is_required()}
    # Read from the annotations: under postponed evaluation __required_keys__ is not set.
    declared_required = {
        name
        for name, annotation in EnvelopeFields.__annotations__.items()
        if "NotRequired" not in str(annotation)
    }
    assert declared_required == required


@pytest.mark.parametrize("name", [n for n in KNOWN_FIELDS if n not in ("payload", "metadata")])
def test_a_field_of_the_wrong_type_is_refused_by_both(name: str) -> None:
    assert_same_verdict(json.dumps(valid_body(**{name: 12})))
    assert verdict(decode_fields, json.dumps(valid_body(**{name: 12})))


def test_absent_optional_fields_stay_absent_in_the_fast_result() -> None:
    # The model fills defaults (a new event id, a timestamp); the fast decoder
    # must not invent them.
    fields = decode_fields(json.dumps(without("event_id", "timestamp", "version")))
    assert "event_id" not in fields
    assert "timestamp" not in fields
    assert "version" not in fields
