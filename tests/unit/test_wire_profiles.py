"""The built-in wire profiles as pure functions: what each writes, and how leniently it reads."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import pytest

from kafkarpc import (
    ConfigurationError,
    EnvelopeError,
    IncomingRequest,
    InvalidTopicName,
    NestJsProfile,
    OutgoingRequest,
    PayloadCorrelated,
    ReplyContent,
    SpringProfile,
    StreamingWireProfile,
    WireProfile,
    WireRoute,
)
from kafkarpc.transport import InboundRecord
from kafkarpc.wire.failure import failure_payload
from kafkarpc.wire.profiles import resolve

CORRELATION = "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"


def _outgoing(profile: WireProfile, op: str, payload: dict[str, Any], **kw: Any) -> OutgoingRequest:
    options: dict[str, Any] = {"key": None, "reply_partition": None, **kw}
    return OutgoingRequest(profile.route(op), CORRELATION, payload, **options)


def _inbound(
    topic: str, value: bytes | None, headers: list[tuple[str, bytes]], key: bytes | None = None
) -> InboundRecord:
    return InboundRecord(topic, 0, 0, key, value, headers)


def _as_inbound(record: Any) -> InboundRecord:
    return _inbound(record.topic, record.value, record.headers, record.key)


# ------------------------------------------------------------------ resolve
def test_names_resolve_to_the_built_in_profiles_and_kafkarpc_to_none() -> None:
    assert resolve("kafkarpc") is None
    assert isinstance(resolve("nestjs"), NestJsProfile)
    assert isinstance(resolve("spring"), SpringProfile)
    profile = PayloadCorrelated(request_topic="a.req", reply_topic="a.res")
    assert resolve(profile) is profile


@pytest.mark.parametrize("wire", ["grpc", object()], ids=["unknown-name", "not-a-profile"])
def test_anything_else_is_a_configuration_error(wire: Any) -> None:
    with pytest.raises(ConfigurationError):
        resolve(wire)


def test_a_route_needs_two_different_legal_topics() -> None:
    with pytest.raises(InvalidTopicName):
        WireRoute("op", "same", "same")
    with pytest.raises(InvalidTopicName):
        WireRoute("op", "bad topic", "reply")


def test_programs_on_kafkarpcs_own_wire_never_load_the_profiles() -> None:
    code = """
import sys, kafkarpc
memory = kafkarpc.MemoryTransport(kafkarpc.MemoryBroker())
kafkarpc.RpcClient(service="a", transport=memory)
kafkarpc.RpcServer(service="b", transport=memory)
print(sorted(m for m in sys.modules if "profiles" in m or "foreign" in m))
"""
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# ------------------------------------------------------------------ NestJS
def test_nestjs_round_trip_through_both_sides() -> None:
    nest = NestJsProfile()
    request = nest.encode_request(_outgoing(nest, "math.sum", {"a": 1}, reply_partition=2))
    assert (request.topic, request.value) == ("math.sum", b'{"a":1}')
    incoming = nest.decode_request(_as_inbound(request))
    assert (incoming.correlation_id, incoming.reply_topic, incoming.reply_partition) == (
        CORRELATION,
        "math.sum.reply",
        2,
    )
    reply = nest.encode_reply(incoming, ReplyContent(True, 3))
    assert (reply.topic, reply.partition, reply.value) == ("math.sum.reply", 2, b"3")
    assert nest.reply_correlation_id(_as_inbound(reply)) == CORRELATION
    assert nest.decode_reply(_as_inbound(reply)) == ReplyContent(True, 3)


def test_nestjs_streams_items_unmarked_and_ends_with_the_marked_reply() -> None:
    nest = NestJsProfile()
    assert isinstance(nest, StreamingWireProfile)
    assert not isinstance(SpringProfile(error_header="x-error"), StreamingWireProfile)
    request = nest.encode_request(_outgoing(nest, "math.count", {"n": 2}))
    incoming = nest.decode_request(_as_inbound(request))
    item = _as_inbound(nest.encode_reply_item(incoming, {"tick": 0}))
    last = _as_inbound(nest.encode_reply(incoming, ReplyContent(True, {"tick": 1})))
    failed = _as_inbound(
        nest.encode_reply(incoming, ReplyContent(False, failure_payload("X", "no")))
    )
    assert item.headers == [("kafka_correlationId", CORRELATION.encode())]
    assert (nest.ends_call(item), nest.ends_call(last), nest.ends_call(failed)) == (
        False,
        True,
        True,
    )
    assert nest.decode_reply(item) == ReplyContent(True, {"tick": 0})


def test_nestjs_errors_read_as_a_message_or_an_error_object() -> None:
    nest = NestJsProfile()
    plain = _inbound("t.reply", None, [("kafka_nest-err", b"it broke")])
    content = nest.decode_reply(plain)
    assert not content.ok and content.payload["error_message"] == "it broke"
    error = json.dumps({"status": "error", "message": "no", "code": 7}).encode()
    content = nest.decode_reply(_inbound("t.reply", None, [("kafka_nest-err", error)]))
    assert content.payload["error_message"] == "no"
    assert content.payload["details"] == {"status": "error", "code": 7}


def test_a_nestjs_request_may_carry_any_json_value_but_not_bad_bytes() -> None:
    headers = [("kafka_correlationId", b"id"), ("kafka_replyTopic", b"t.reply")]
    assert NestJsProfile().decode_request(_inbound("t", b"[1, 2]", headers)).payload == [1, 2]
    spring_headers = [("kafka_correlationId", uuid.uuid4().bytes), headers[1]]
    assert SpringProfile().decode_request(_inbound("t", b'"x"', spring_headers)).payload == "x"
    with pytest.raises(EnvelopeError, match="not JSON"):
        NestJsProfile().decode_request(_inbound("t", b"{oops", headers))


# ------------------------------------------------------------------ Spring
def test_spring_writes_text_ids_when_binary_correlation_is_off() -> None:
    spring = SpringProfile(binary_correlation=False)
    request = spring.encode_request(_outgoing(spring, "orders", {}))
    assert dict(request.headers)["kafka_correlationId"] == CORRELATION.encode()


@pytest.mark.parametrize(
    ("raw_id", "raw_partition", "partition"),
    [
        (uuid.UUID(CORRELATION).bytes, b"\x00\x00\x00\x05", 5),
        (CORRELATION.encode(), b"5", 5),
        (uuid.UUID(CORRELATION).bytes, None, None),
    ],
    ids=["bytes-int32", "text-decimal", "no-partition"],
)
def test_spring_reads_ids_as_bytes_or_text_and_partitions_as_int_or_decimal(
    raw_id: bytes, raw_partition: bytes | None, partition: int | None
) -> None:
    headers = [("kafka_correlationId", raw_id), ("kafka_replyTopic", b"orders.reply")]
    if raw_partition is not None:
        headers.append(("kafka_replyPartition", raw_partition))
    incoming = SpringProfile().decode_request(_inbound("orders", b"{}", headers))
    assert (incoming.correlation_id, incoming.reply_partition) == (CORRELATION, partition)
    reply = SpringProfile().encode_reply(incoming, ReplyContent(True, {}))
    assert dict(reply.headers)["kafka_correlationId"] == raw_id  # echoed unchanged


def test_a_spring_error_header_from_a_kafkarpc_responder_keeps_its_code() -> None:
    spring = SpringProfile(error_header="x-error")
    incoming = IncomingRequest("id", {}, "t.reply", None, _inbound("t", b"{}", []))
    failure = failure_payload("NOT_FOUND", "gone", retryable=True)
    reply = spring.encode_reply(incoming, ReplyContent(False, failure))
    content = spring.decode_reply(_as_inbound(reply))
    assert content.payload["error_code"] == "NOT_FOUND"
    assert content.payload["error_message"] == "gone"
    assert content.payload["retryable"] is True


def test_spring_needs_an_error_header_name() -> None:
    with pytest.raises(ConfigurationError):
        SpringProfile(error_header="")


# ------------------------------------------------------------------ payload-correlated
def test_payload_correlated_sets_the_id_and_operation_and_keys_by_the_field() -> None:
    tools = PayloadCorrelated(
        request_topic="tool.requests",
        reply_topic="tool.results",
        key_field="tenant_id",
        operation_field="tool_name",
    )
    body = {"task_id": "mine", "tenant_id": "acme", "payload": {}}
    record = tools.encode_request(_outgoing(tools, "shell", body, key=b"pk"))
    sent = json.loads(record.value)
    assert sent["task_id"] == CORRELATION  # the call's id replaces the caller's
    assert (sent["tool_name"], record.key) == ("shell", b"acme")
    no_tenant = tools.encode_request(_outgoing(tools, "shell", {}, key=b"pk"))
    assert no_tenant.key == b"pk"  # the partition_key, without the key field


def test_payload_correlated_without_an_operation_field_has_one_operation() -> None:
    tools = PayloadCorrelated(request_topic="tool.requests", reply_topic="tool.results")
    assert tools.route("tool.requests").request_topic == "tool.requests"
    with pytest.raises(ConfigurationError, match="one operation"):
        tools.route("shell")


def test_payload_correlated_reads_status_and_whole_results() -> None:
    tools = PayloadCorrelated(
        request_topic="r", reply_topic="s", ok_values=("success", "done"), result_field=None
    )
    done = _inbound("s", b'{"task_id":"1","status":"done","n":2}', [])
    assert tools.reply_correlation_id(done) == "1"
    assert tools.decode_reply(done) == ReplyContent(
        True, {"task_id": "1", "status": "done", "n": 2}
    )
    failed = tools.decode_reply(_inbound("s", b'{"task_id":"1","status":"error","error":"x"}', []))
    assert not failed.ok and failed.payload["error_message"] == "x"
    assert tools.reply_correlation_id(_inbound("s", b"not json", [])) is None


@pytest.mark.parametrize(
    "options",
    [{"ok_values": ()}, {"error_value": "success"}],
    ids=["no-ok-values", "error-is-ok"],
)
def test_payload_correlated_checks_its_statuses(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        PayloadCorrelated(request_topic="r", reply_topic="s", **options)
