"""The client's parts around its pipeline: validation, the record writer and the reply reader."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pydantic import BaseModel

from kafkarpc import (
    CallRetry,
    ConfigurationError,
    RemoteError,
    ResponseValidationError,
    TopicTrio,
)
from kafkarpc._telemetry import ClientTelemetry
from kafkarpc.client.call import Call
from kafkarpc.client.pending import PendingCalls
from kafkarpc.client.records import RecordWriter
from kafkarpc.client.replies import ReplyReader, as_model, decode_reply
from kafkarpc.client.reply_partition import ReplyPartitions
from kafkarpc.client.validate import TrioNames, check_call_options, check_timeout, new_call
from kafkarpc.transport import InboundRecord
from kafkarpc.wire.envelope import new_message
from kafkarpc.wire.headers import header_dict

TRIO = TopicTrio.from_base("parts.op")


def make_call(**overrides: Any) -> Call:
    options: dict[str, Any] = {
        "timeout": 5.0,
        "policy": CallRetry(max_attempts=3),
        "clock": time.monotonic,
        "partition_key": None,
        "headers": None,
        "idempotency_key": None,
        "priority": None,
    }
    options.update(overrides)
    return new_call(TRIO, {"x": 1}, **options)


def reply(topic: str, payload: Any, *, correlation_id: str | None = "c-1") -> InboundRecord:
    message = new_message(
        event_type="PARTS_OP_COMPLETED", correlation_id="c-1", service="peer", payload=payload
    )
    headers = [] if correlation_id is None else [("correlation_id", correlation_id.encode())]
    return InboundRecord(topic, 0, 0, None, message.value, headers)


# ---------------------------------------------------------------- validate


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), float("nan"), True, "5"])
def test_check_timeout_refuses_what_is_not_a_finite_positive_number(timeout: Any) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        check_timeout(timeout)


@pytest.mark.parametrize(
    ("priority", "headers", "partition_key", "match"),
    [
        ("urgent", None, None, "priority"),
        (None, {"reply_to": "x"}, None, "set by kafkarpc"),
        (None, None, "", "partition_key"),
    ],
)
def test_check_call_options_refuses_what_a_request_cannot_carry(
    priority: str | None, headers: dict[str, str] | None, partition_key: str | None, match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        check_call_options(priority, headers, partition_key)


def test_new_call_defaults_its_idempotency_key_and_waits_until_its_deadline() -> None:
    call = make_call(clock=lambda: 50.0)
    assert call.idempotency_key == call.correlation_id
    assert call.deadline == call.until == 55.0
    assert call.deadline_ms == pytest.approx((time.time() + 5) * 1000, abs=1000)
    assert call.key == call.correlation_id.encode()
    assert make_call(partition_key="tenant-1").key == b"tenant-1"


def test_trio_names_are_made_once_per_name() -> None:
    names = TrioNames("v2")
    first = names.of("billing.charge")
    assert first.requested == "billing.charge.requested.v2"
    assert names.of("billing.charge") is first
    assert names.of(TRIO) is TRIO


# ---------------------------------------------------------------- records


def test_the_request_record_names_its_attempt_and_where_to_reply() -> None:
    writer = RecordWriter("caller", "v1", ReplyPartitions(2), None)
    call = make_call(priority="high")
    call.attempt = 1
    record = writer.request(call)
    headers = header_dict(record.headers)
    assert record.topic == TRIO.requested
    assert record.key == call.key
    assert headers["reply_to"] == TRIO.completed
    assert headers["reply_partition"] == "2"
    assert headers["retry_count"] == "1"
    assert headers["max_retries"] == "2"
    assert headers["priority"] == "high"
    body = json.loads(record.value)
    assert (body["correlation_id"], body["service"], body["payload"]) == (
        call.correlation_id,
        "caller",
        {"x": 1},
    )


def test_an_event_record_derives_its_event_type_from_the_topic() -> None:
    writer = RecordWriter("caller", "v1", ReplyPartitions(), None)
    message, record = writer.event(
        "orders.created.v1",
        make_call().body,
        event_type=None,
        key="order-7",
        correlation_id=None,
        headers={"tenant": "a"},
    )
    assert record.key == b"order-7"
    assert header_dict(record.headers)["tenant"] == "a"
    assert json.loads(record.value)["event_type"] == message.event_type


# ---------------------------------------------------------------- replies


def test_decode_reply_returns_a_completed_payload() -> None:
    assert decode_reply(reply(TRIO.completed, {"ok": 1}), make_call()) == {"ok": 1}


def test_decode_reply_raises_the_failure_a_failed_reply_carries() -> None:
    failure = {"error_code": "NOPE", "error_message": "no", "retryable": True, "extra": 1}
    with pytest.raises(RemoteError) as caught:
        decode_reply(reply(TRIO.failed, failure), make_call())
    assert (caught.value.error_code, caught.value.retryable) == ("NOPE", True)
    assert caught.value.topic == TRIO.failed


def test_decode_reply_turns_a_non_envelope_into_invalid_reply() -> None:
    record = InboundRecord(TRIO.completed, 0, 0, None, b"not json", [])
    with pytest.raises(RemoteError) as caught:
        decode_reply(record, make_call())
    assert caught.value.error_code == "INVALID_REPLY"


def test_the_reply_reader_resolves_by_header_or_body_and_counts_the_rest() -> None:
    pending = PendingCalls()
    telemetry = ClientTelemetry()
    signals = _Signals()
    by_header = pending.add("c-1", signals)  # type: ignore[arg-type]
    reader = ReplyReader(pending, telemetry)
    reader.on_batch([reply(TRIO.completed, {}), reply(TRIO.completed, {}, correlation_id="c-9")])
    assert by_header.reply is not None
    assert telemetry.stats.late_replies == 1
    by_body = pending.add("c-1", signals)  # type: ignore[arg-type]
    garbage = InboundRecord(TRIO.completed, 0, 1, None, b"\xff", [])
    reader.on_batch([reply(TRIO.completed, {}, correlation_id=None), garbage])
    assert by_body.reply is not None
    assert telemetry.stats.undecodable_replies == 1


class _Signals:
    def new(self) -> _Signal:
        return _Signal()


class _Signal:
    def set(self) -> None:
        return None


class _Model(BaseModel):
    ok: int


def test_as_model_validates_or_says_which_reply_did_not_fit() -> None:
    assert as_model({"ok": 1}, _Model, make_call()) == _Model(ok=1)
    with pytest.raises(ResponseValidationError, match="_Model"):
        as_model({"ok": "x"}, _Model, make_call())
