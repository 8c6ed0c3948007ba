"""The Spring Kafka wire on the real broker, against records laid out byte for byte as
``ReplyingKafkaTemplate`` and ``@KafkaListener @SendTo`` write them (SPEC §8)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from tests.integration.wire_peers import Seen, Send, read, responder, send

from kafkarpc import RemoteError, RpcClient, RpcServer, SpringProfile, Topics, ensure_topics

pytestmark = pytest.mark.anyio

TYPE = "com.example.pricing.Quote"


def spring_reply(request: Seen, value: bytes, *extra: tuple[str, bytes]) -> Send:
    """What a ``@SendTo`` listener sends: the correlation bytes echoed, the key kept."""
    reply_topic = request.header("kafka_replyTopic")
    correlation = request.header("kafka_correlationId")
    assert reply_topic is not None and correlation is not None
    partition = request.header("kafka_replyPartition")
    return Send(
        reply_topic.decode(),
        value,
        [("kafka_correlationId", correlation), *extra],
        key=request.key,
        partition=None if partition is None else int.from_bytes(partition, "big"),
    )


async def test_a_kafkarpc_call_reaches_a_spring_listener_with_springs_bytes(
    kafkarpc_broker: str, make_client: Callable[..., RpcClient], unique_topic_base: str
) -> None:
    topic = f"{unique_topic_base}.price"
    await ensure_topics(kafkarpc_broker, [topic, f"{topic}.reply"])

    def answer(request: Seen) -> list[Send]:
        units = json.loads(request.value or b"")["units"]
        return [spring_reply(request, json.dumps({"cents": units * 7}).encode())]

    wire = SpringProfile(type_id=TYPE)
    with responder(kafkarpc_broker, topic, answer) as seen:
        topics = Topics(create=True, reply_partition=2)
        async with make_client(wire=wire, topics=topics) as client:
            reply = await client.request(topic, {"units": 6}, partition_key="acct-9", timeout=20)
    assert reply == {"cents": 42}
    (request,) = seen
    correlation = request.header("kafka_correlationId")
    assert correlation is not None and len(correlation) == 16  # a UUID's raw bytes
    assert uuid.UUID(bytes=correlation).version == 4
    assert request.header("kafka_replyTopic") == f"{topic}.reply".encode()
    assert request.header("kafka_replyPartition") == b"\x00\x00\x00\x02"  # int32 big-endian
    assert request.header("__TypeId__") == TYPE.encode()
    assert request.key == b"acct-9"
    assert json.loads(request.value or b"") == {"units": 6}


async def test_without_a_fixed_reply_partition_none_is_sent(
    kafkarpc_broker: str, make_client: Callable[..., RpcClient], unique_topic_base: str
) -> None:
    topic = f"{unique_topic_base}.ping"
    await ensure_topics(kafkarpc_broker, [topic, f"{topic}.reply"])
    with responder(kafkarpc_broker, topic, lambda r: [spring_reply(r, b'{"pong":true}')]) as seen:
        async with make_client(wire="spring") as client:
            assert await client.request(topic, {}, timeout=20) == {"pong": True}
    assert seen[0].header("kafka_replyPartition") is None
    assert seen[0].header("__TypeId__") is None  # only with a configured type name


async def test_a_reply_with_the_error_header_is_a_remote_error(
    kafkarpc_broker: str, make_client: Callable[..., RpcClient], unique_topic_base: str
) -> None:
    topic = f"{unique_topic_base}.fail"
    await ensure_topics(kafkarpc_broker, [topic, f"{topic}.reply"])
    # A KafkaListenerErrorHandler returning a reply that marks the failure in a header.
    error = ("x-error", b"quote service is closed")
    with responder(kafkarpc_broker, topic, lambda r: [spring_reply(r, b"null", error)]):
        async with make_client(wire=SpringProfile(error_header="x-error")) as client:
            with pytest.raises(RemoteError) as caught:
                await client.request(topic, {}, timeout=20)
    assert caught.value.error_message == "quote service is closed"
    assert caught.value.error_code == "UNKNOWN_ERROR"


async def test_replies_are_read_leniently_text_ids_and_decimal_partitions(
    kafkarpc_broker: str, make_client: Callable[..., RpcClient], unique_topic_base: str
) -> None:
    topic = f"{unique_topic_base}.lenient"
    await ensure_topics(kafkarpc_broker, [topic, f"{topic}.reply"])

    def answer(request: Seen) -> list[Send]:
        correlation = request.header("kafka_correlationId")
        assert correlation is not None  # echoed as text, as binaryCorrelation=false peers do
        text = str(uuid.UUID(bytes=correlation)).encode()
        return [Send(f"{topic}.reply", b'{"ok":1}', [("kafka_correlationId", text)])]

    with responder(kafkarpc_broker, topic, answer):
        async with make_client(wire="spring") as client:
            assert await client.request(topic, {}, timeout=20) == {"ok": 1}


def template_request(topic: str, correlation: bytes, partition: bytes | None) -> Send:
    """What ``ReplyingKafkaTemplate.sendAndReceive`` sends."""
    headers = [
        ("kafka_correlationId", correlation),
        ("kafka_replyTopic", f"{topic}.reply".encode()),
        ("__TypeId__", b"com.example.pricing.QuoteRequest"),
    ]
    if partition is not None:
        headers.append(("kafka_replyPartition", partition))
    return Send(topic, b'{"units":4}', headers, key=b"acct-1")


@pytest.mark.parametrize(
    ("partition", "expected"),
    [(b"\x00\x00\x00\x01", 1), (b"1", 1), (None, None)],
    ids=["int32", "decimal-string", "absent"],
)
async def test_a_spring_template_request_gets_a_reply_with_its_correlation_bytes(
    kafkarpc_broker: str,
    make_server: Callable[..., RpcServer],
    unique_topic_base: str,
    partition: bytes | None,
    expected: int | None,
) -> None:
    topic = f"{unique_topic_base}.quote"
    server = make_server(wire=SpringProfile(type_id=TYPE))

    @server.responder(topic)
    async def quote(payload: dict[str, int]) -> dict[str, int]:
        return {"cents": payload["units"] * 5}

    correlation = uuid.uuid4().bytes
    async with server:
        request = template_request(topic, correlation, partition)
        await anyio.to_thread.run_sync(send, kafkarpc_broker, [request])
        (reply,) = await anyio.to_thread.run_sync(read, kafkarpc_broker, f"{topic}.reply")
    assert reply.header("kafka_correlationId") == correlation  # the same 16 bytes
    assert reply.header("__TypeId__") == TYPE.encode()
    assert reply.key == b"acct-1"  # as Spring since 3.3: the reply keeps the request's key
    assert json.loads(reply.value or b"") == {"cents": 20}
    if expected is not None:
        assert reply.partition == expected


async def test_a_failure_is_sent_to_a_spring_caller_with_the_error_header(
    kafkarpc_broker: str, make_server: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    topic = f"{unique_topic_base}.refuse"
    server = make_server(wire=SpringProfile(error_header="x-error", type_id=TYPE))

    @server.responder(topic)
    async def refuse(payload: dict[str, Any]) -> dict[str, Any]:
        raise RemoteError(error_code="CLOSED", error_message="quote service is closed")

    correlation = uuid.uuid4().bytes
    async with server:
        request = template_request(topic, correlation, None)
        await anyio.to_thread.run_sync(send, kafkarpc_broker, [request])
        (reply,) = await anyio.to_thread.run_sync(read, kafkarpc_broker, f"{topic}.reply")
    assert reply.header("kafka_correlationId") == correlation
    assert reply.header("x-error") == b"quote service is closed"  # for a replyErrorChecker
    assert reply.header("__TypeId__") is None  # the value is a failure, not a Quote
    assert json.loads(reply.value or b"")["error_code"] == "CLOSED"


async def test_kafkarpc_speaks_spring_to_itself_errors_included(
    make_server: Callable[..., RpcServer],
    make_client: Callable[..., RpcClient],
    unique_topic_base: str,
) -> None:
    topic = f"{unique_topic_base}.self"
    server = make_server(wire="spring")

    @server.responder(topic)
    async def handle(payload: dict[str, int]) -> dict[str, int]:
        if payload["n"] < 0:
            raise RemoteError(error_code="NEGATIVE", error_message="n must be >= 0")
        return {"double": payload["n"] * 2}

    async with server, make_client(wire="spring") as client:
        assert await client.request(topic, {"n": 4}, timeout=20) == {"double": 8}
        with pytest.raises(RemoteError) as caught:
            await client.request(topic, {"n": -1}, timeout=20)
    assert (caught.value.error_code, caught.value.error_message) == ("NEGATIVE", "n must be >= 0")
