"""The JSON envelope (docs/wire.md §2): codec round trips, decode errors, payload conversion."""

from __future__ import annotations

import contextlib
import functools
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from kafkarpc import (
    Envelope,
    EnvelopeError,
    ErrorCode,
    ErrorPayload,
    PayloadError,
    PayloadNotSerializable,
    decode_envelope,
    encode_envelope,
)
from kafkarpc.wire.envelope import encode_payload, make_envelope, new_message, now_iso

KNOWN_FIELDS = {
    "event_id",
    "event_type",
    "correlation_id",
    "causation_id",
    "timestamp",
    "service",
    "payload",
    "version",
    "metadata",
}

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=6)
correlation_ids = st.text(min_size=1, max_size=60)
upper_snake = st.from_regex(r"\A[A-Z][A-Z0-9]{0,8}(_[A-Z0-9]{1,8}){0,3}\Z")


def valid_wire(**overrides: Any) -> dict[str, Any]:
    """A minimal valid envelope as a peer that only knows the JSON would send it."""
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": "AGENT_ROUTING_REQUESTED",
        "correlation_id": str(uuid.uuid4()),
        "timestamp": "2024-05-01T12:00:00.000Z",
        "service": "peer",
        "payload": {"q": 1},
        "version": "v1",
    }
    body.update(overrides)
    return body


def wire(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


# ------------------------------------------------------------------ round trips


@settings(max_examples=50)
@given(payload=json_objects, correlation_id=correlation_ids, event_type=upper_snake)
def test_encode_decode_round_trip(
    payload: dict[str, Any], correlation_id: str, event_type: str
) -> None:
    envelope = Envelope(
        event_type=event_type, correlation_id=correlation_id, service="svc", payload=payload
    )
    decoded = decode_envelope(encode_envelope(envelope))
    assert decoded.payload == payload
    assert decoded.correlation_id == correlation_id
    assert decoded.event_type == event_type
    assert decoded.event_id == envelope.event_id
    assert decoded.timestamp == envelope.timestamp
    assert decoded.service == "svc"
    assert decoded.version == "v1"


@settings(max_examples=50)
@given(payload=json_objects, correlation_id=correlation_ids)
def test_make_envelope_output_decodes(payload: dict[str, Any], correlation_id: str) -> None:
    envelope = make_envelope(
        event_type="BILLING_CHARGE_REQUESTED",
        correlation_id=correlation_id,
        service="checkout",
        payload=payload,
        causation_id="cause-1",
    )
    decoded = decode_envelope(encode_envelope(envelope))
    assert decoded.payload == payload
    assert decoded.correlation_id == correlation_id
    assert decoded.causation_id == "cause-1"


@settings(max_examples=50)
@given(
    extra=st.dictionaries(
        st.text(min_size=1, max_size=12).filter(lambda k: k not in KNOWN_FIELDS),
        json_values.filter(lambda v: v is not None),  # null: see the dedicated test below
        min_size=1,
        max_size=4,
    )
)
def test_unknown_top_level_fields_survive_decode_encode(extra: dict[str, Any]) -> None:
    body = valid_wire(**extra)
    reencoded = json.loads(encode_envelope(decode_envelope(wire(body))))
    for name, value in extra.items():
        assert reencoded[name] == value


def test_unknown_top_level_null_field_survives_decode_encode() -> None:
    # "unknown top-level fields are preserved": a relay must not drop a peer's explicit null.
    body = valid_wire(x_peer_flag=None, x_peer_note="n")
    reencoded = json.loads(encode_envelope(decode_envelope(wire(body))))
    assert reencoded["x_peer_note"] == "n"
    assert "x_peer_flag" in reencoded
    assert reencoded["x_peer_flag"] is None


def test_non_uuid_correlation_id_is_accepted() -> None:
    decoded = decode_envelope(wire(valid_wire(correlation_id="order-42/attempt#1")))
    assert decoded.correlation_id == "order-42/attempt#1"


def test_generated_fields_are_filled() -> None:
    envelope = Envelope(event_type="A_B", correlation_id="c", service="s", payload={})
    uuid.UUID(envelope.event_id)
    assert envelope.version == "v1"
    parsed = datetime.fromisoformat(envelope.timestamp)
    assert parsed.utcoffset() is not None
    assert parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_event_ids_are_unique_per_message() -> None:
    ids = {
        make_envelope(event_type="A_B", correlation_id="c", service="s", payload={}).event_id
        for _ in range(50)
    }
    assert len(ids) == 50


def test_encoded_envelope_is_utf8_json_without_null_optionals() -> None:
    envelope = Envelope(event_type="A_B", correlation_id="c", service="s", payload={"t": "é"})
    raw = encode_envelope(envelope)
    body = json.loads(raw.decode("utf-8"))
    assert body["payload"] == {"t": "é"}
    assert "causation_id" not in body
    assert "metadata" not in body
    assert set(body) >= {"event_id", "event_type", "correlation_id", "timestamp", "service"}


def test_decode_accepts_str_and_null_causation() -> None:
    decoded = decode_envelope(json.dumps(valid_wire(causation_id=None, metadata={"k": "v"})))
    assert decoded.causation_id is None
    assert decoded.metadata == {"k": "v"}


# ------------------------------------------------------------------ decode errors


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in valid_wire().items() if k != "service"}, "service"),
        (valid_wire(service=""), "service"),
        ({k: v for k, v in valid_wire().items() if k != "correlation_id"}, "correlation_id"),
        (valid_wire(correlation_id=""), "correlation_id"),
        ({k: v for k, v in valid_wire().items() if k != "payload"}, "payload"),
        (valid_wire(payload=[1, 2]), "payload"),
        (valid_wire(payload="text"), "payload"),
        (valid_wire(event_type="agent_routing_requested"), "event_type"),
        (valid_wire(event_type="AgentRoutingRequested"), "event_type"),
        (valid_wire(event_type="AGENT-ROUTING"), "event_type"),
        (valid_wire(event_type="AGENT_ROUTING_REQUESTED\n"), "event_type"),
        (valid_wire(event_type=""), "event_type"),
        (valid_wire(timestamp="yesterday"), "timestamp"),
        (valid_wire(metadata="not-an-object"), "metadata"),
    ],
    ids=[
        "service-missing",
        "service-empty",
        "correlation-missing",
        "correlation-empty",
        "payload-missing",
        "payload-list",
        "payload-str",
        "event-type-lower",
        "event-type-camel",
        "event-type-hyphen",
        "event-type-trailing-newline",
        "event-type-empty",
        "timestamp-not-iso",
        "metadata-not-object",
    ],
)
def test_decode_error_names_the_bad_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(EnvelopeError, match=field):
        decode_envelope(wire(body))


@pytest.mark.parametrize("data", [b"not json", b"{", b"[1, 2]", b'"text"', b"42", b""])
def test_non_object_json_is_an_envelope_error(data: bytes) -> None:
    with pytest.raises(EnvelopeError):
        decode_envelope(data)


def test_none_value_is_an_envelope_error() -> None:
    with pytest.raises(EnvelopeError, match="tombstone"):
        decode_envelope(None)


@given(data=st.binary(max_size=200))
def test_random_bytes_only_ever_raise_envelope_error(data: bytes) -> None:
    with contextlib.suppress(EnvelopeError):
        decode_envelope(data)


@given(data=st.text(max_size=200))
def test_random_text_only_ever_raises_envelope_error(data: str) -> None:
    with contextlib.suppress(EnvelopeError):
        decode_envelope(data)


def test_envelope_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="envelope"):
        decode_envelope(b"{}")


# ------------------------------------------------------------------ payload_to_dict


class Order(BaseModel):
    order_id: int
    items: list[str]


def test_encode_payload_accepts_dict() -> None:
    assert encode_payload({"a": [1, {"b": None}]}).to_dict() == {"a": [1, {"b": None}]}


def test_encode_payload_accepts_pydantic_models() -> None:
    assert encode_payload(Order(order_id=3, items=["x"])).to_dict() == {
        "order_id": 3,
        "items": ["x"],
    }


def test_encode_payload_uses_aliases_of_models() -> None:
    class Aliased(BaseModel):
        order_id: int = Field(alias="orderId")

    assert encode_payload(Aliased(orderId=1)).to_dict() == {"orderId": 1}


def test_encode_payload_accepts_other_mappings() -> None:
    assert encode_payload(MappingProxyType({"a": 1})).to_dict() == {"a": 1}


def test_encode_payload_uses_json_mode_for_models() -> None:
    class Stamp(BaseModel):
        at: datetime
        id: uuid.UUID

    stamp = Stamp(at=datetime(2024, 1, 2, 3, 4, 5), id=uuid.UUID(int=1))
    out = json.loads(encode_payload(stamp).json)
    assert out == {"at": "2024-01-02T03:04:05", "id": str(uuid.UUID(int=1))}


@pytest.mark.parametrize("causation_id", [None, "cause-1"])
def test_a_message_with_an_encoded_payload_is_the_same_envelope(causation_id: str | None) -> None:
    payload = {"text": 'quote " and \\ backslash', "n": [1, 2.5, None], "nested": {}}
    message = functools.partial(
        new_message,
        event_type="ORDER_PLACED",
        correlation_id="c-1",
        service="svc",
        causation_id=causation_id,
    )
    spliced = decode_envelope(message(payload=encode_payload(payload)).value)
    plain = decode_envelope(message(payload=payload).value)
    assert spliced.payload == plain.payload == payload
    assert spliced.causation_id == plain.causation_id == causation_id
    assert (spliced.event_type, spliced.correlation_id) == ("ORDER_PLACED", "c-1")


@pytest.mark.parametrize(
    "payload",
    [{1, 2, 3}, object(), [1, 2], "text", 42, None, (("a", 1),)],
    ids=["set", "object", "list", "str", "int", "none", "tuple"],
)
def test_encode_payload_rejects_non_objects(payload: object) -> None:
    with pytest.raises(PayloadNotSerializable):
        encode_payload(payload)


def test_encode_payload_rejects_unserializable_values() -> None:
    with pytest.raises(PayloadNotSerializable, match="JSON"):
        encode_payload({"when": object()})


def test_payload_not_serializable_is_type_error_and_payload_error() -> None:
    with pytest.raises(TypeError):
        encode_payload({1, 2})
    with pytest.raises(PayloadError):
        encode_payload({1, 2})


# ------------------------------------------------------------------ failure payload


def test_error_payload_has_the_spec_shape() -> None:
    failure = ErrorPayload(
        error_code=ErrorCode.VALIDATION_ERROR,
        error_message="bad input",
        error_type="ValidationError",
        retryable=False,
        details={"errors": [{"loc": ["x"]}]},
    )
    dumped = json.loads(failure.model_dump_json())
    assert dumped == {
        "error_code": "VALIDATION_ERROR",
        "error_message": "bad input",
        "error_type": "ValidationError",
        "retryable": False,
        "details": {"errors": [{"loc": ["x"]}]},
    }


def test_error_payload_defaults_and_peer_codes() -> None:
    failure = ErrorPayload.model_validate({"error_code": "QUOTA_EXCEEDED"})
    assert failure.error_code == "QUOTA_EXCEEDED"
    assert failure.error_message == ""
    assert failure.retryable is False
    assert failure.details == {}


def test_error_payload_requires_a_code() -> None:
    with pytest.raises(ValueError, match="error_code"):
        ErrorPayload.model_validate({"error_message": "x"})


def test_well_known_error_codes() -> None:
    assert {c.value for c in ErrorCode} >= {
        "VALIDATION_ERROR",
        "HANDLER_ERROR",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
    }


def test_timestamps_are_utc_iso_8601_with_milliseconds_and_follow_the_clock() -> None:
    for _ in range(3):  # spans at least one change of second, where the cached text is redone
        before = datetime.now(UTC)
        stamp = now_iso()
        after = datetime.now(UTC)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
        parsed = datetime.fromisoformat(stamp)
        assert parsed.utcoffset() == UTC.utcoffset(None)
        # Truncated to the millisecond, so up to 1 ms before the call started.
        assert before - timedelta(milliseconds=1) < parsed <= after
        time.sleep(0.6)
