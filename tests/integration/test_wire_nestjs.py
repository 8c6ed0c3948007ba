"""The NestJS wire on the real broker, against records written byte for byte as Nest writes them.

The peer here is plain confluent-kafka writing what ``@nestjs/microservices`` 11
writes (SPEC §8); tests/integration/test_nestjs_peer.py runs the real NestJS.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from pydantic import BaseModel
from tests.integration.wire_peers import Seen, Send, read, responder, send

from kafkarpc import RemoteError, RpcClient, RpcServer, Topics, ensure_topics

pytestmark = pytest.mark.anyio

NEST_ID = "pkWd1_c8ASp2DB1eWfYiS"  # kafkajs's client writes 21-character random ids


def nest_reply(request: Seen, value: bytes | None, *, error: bytes | None = None) -> Send:
    """What a NestJS microservice sends back for ``request`` (server-kafka.ts)."""
    reply_topic = request.header("kafka_replyTopic")
    correlation = request.header("kafka_correlationId")
    assert reply_topic is not None and correlation is not None
    headers = [("kafka_correlationId", correlation)]
    if error is not None:
        headers.append(("kafka_nest-err", error))
    headers.append(("kafka_nest-is-disposed", b"\x00"))
    partition = request.header("kafka_replyPartition")
    return Send(
        reply_topic.decode(),
        value,
        headers,
        partition=None if partition is None else int(partition.decode()),
    )


async def test_a_kafkarpc_call_reaches_a_nest_message_pattern(
    kafkarpc_broker: str, make_client: Callable[..., RpcClient], unique_topic_base: str
) -> None:
    pattern = f"{unique_topic_base}.sum"
    await ensure_topics(kafkarpc_broker, [pattern, f"{pattern}.reply"])

    def answer(request: Seen) -> list[Send]:
        data = json.loads(request.value or b"")
        return [nest_reply(request, json.dumps(data["a"] + data["b"]).encode())]

    with responder(kafkarpc_broker, pattern, answer) as seen:
        async with make_client(wire="nestjs") as client:
            # A reply that is not a JSON object is returned as it is.
            total: Any = await client.request(pattern, {"a": 2, "b": 3}, timeout=20)
    assert total == 5
    (request,) = seen
    correlation = request.header("kafka_correlationId")
    assert correlation is not None and str(uuid.UUID(correlation.decode())) == correlation.decode()
    assert request.header("kafka_replyTopic") == f"{pattern}.reply".encode()
    # The client reads every partition; it names 0 so a stream's replies stay in order.
    assert request.header("kafka_replyPartition") == b"0"
    assert json.loads(request.value or b"") == {"a": 2, "b": 3}  # the bare data, no envelope


async def test_a_fixed_reply_partition_is_sent_as_a_decimal_string(
    kafkarpc_broker: str, make_client: Callable[..., RpcClient], unique_topic_base: str
) -> None:
    pattern = f"{unique_topic_base}.whoami"
    await ensure_topics(kafkarpc_broker, [pattern, f"{pattern}.reply"])
    with responder(kafkarpc_broker, pattern, lambda r: [nest_reply(r, b'"nest"')]) as seen:
        topics = Topics(create=True, reply_partition=1)
        async with make_client(wire="nestjs", topics=topics) as client:
            name: Any = await client.request(pattern, {}, timeout=20)
    assert name == "nest"
    assert seen[0].header("kafka_replyPartition") == b"1"


async def test_a_nest_rpc_exception_reaches_the_caller_as_remote_error(
    kafkarpc_broker: str, make_client: Callable[..., RpcClient], unique_topic_base: str
) -> None:
    pattern = f"{unique_topic_base}.refuse"
    await ensure_topics(kafkarpc_broker, [pattern, f"{pattern}.reply"])
    # What Nest writes for `throw new RpcException("no credit left")`.
    error = json.dumps({"status": "error", "message": "no credit left"}).encode()
    with responder(kafkarpc_broker, pattern, lambda r: [nest_reply(r, None, error=error)]):
        async with make_client(wire="nestjs") as client:
            with pytest.raises(RemoteError) as caught:
                await client.request(pattern, {"cents": 5}, timeout=20)
    assert caught.value.error_message == "no credit left"
    assert (caught.value.error_type, caught.value.error_code) == ("RpcException", "UNKNOWN_ERROR")
    assert caught.value.topic == f"{pattern}.reply"


async def test_a_nest_error_message_string_reaches_the_caller(
    kafkarpc_broker: str, make_client: Callable[..., RpcClient], unique_topic_base: str
) -> None:
    pattern = f"{unique_topic_base}.nohandler"
    await ensure_topics(kafkarpc_broker, [pattern, f"{pattern}.reply"])
    error = b"There is no matching message handler defined in the remote service."
    with responder(kafkarpc_broker, pattern, lambda r: [nest_reply(r, None, error=error)]):
        async with make_client(wire="nestjs") as client:
            with pytest.raises(RemoteError) as caught:
                await client.request(pattern, {}, timeout=20)
    assert caught.value.error_message == error.decode()


def nest_request(pattern: str, data: Any, correlation: str = NEST_ID) -> Send:
    """What a NestJS ClientKafka sends for ``client.send(pattern, data)`` (client-kafka.ts)."""
    return Send(
        pattern,
        json.dumps(data).encode(),
        [
            ("kafka_correlationId", correlation.encode()),
            ("kafka_replyTopic", f"{pattern}.reply".encode()),
            ("kafka_replyPartition", b"0"),
        ],
    )


async def test_a_nest_client_send_reaches_a_kafkarpc_responder(
    kafkarpc_broker: str, make_server: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    pattern = f"{unique_topic_base}.quote"
    server = make_server(wire="nestjs")

    @server.responder(pattern)
    async def quote(payload: dict[str, int]) -> dict[str, int]:
        return {"cents": payload["units"] * 150}

    async with server:
        await anyio.to_thread.run_sync(send, kafkarpc_broker, [nest_request(pattern, {"units": 3})])
        (reply,) = await anyio.to_thread.run_sync(read, kafkarpc_broker, f"{pattern}.reply")
    assert reply.partition == 0  # the kafka_replyPartition the caller listens on
    assert reply.headers == [
        ("kafka_correlationId", NEST_ID.encode()),
        ("kafka_nest-is-disposed", b"\x00"),
    ]
    assert json.loads(reply.value or b"") == {"cents": 450}


async def test_a_kafkarpc_remote_error_reaches_the_nest_caller_as_its_error(
    kafkarpc_broker: str, make_server: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    pattern = f"{unique_topic_base}.charge"
    server = make_server(wire="nestjs")

    @server.responder(pattern)
    async def charge(payload: dict[str, int]) -> dict[str, int]:
        raise RemoteError(error_code="NO_CREDIT", error_message="no credit left")

    async with server:
        await anyio.to_thread.run_sync(send, kafkarpc_broker, [nest_request(pattern, {"c": 1})])
        (reply,) = await anyio.to_thread.run_sync(read, kafkarpc_broker, f"{pattern}.reply")
    assert reply.header("kafka_correlationId") == NEST_ID.encode()
    assert reply.header("kafka_nest-is-disposed") == b"\x00"
    error = reply.header("kafka_nest-err")
    assert error is not None
    # Nest parses a header starting with "{" as JSON: the caller's error is this object.
    assert json.loads(error) == {
        "status": "error",
        "message": "no credit left",
        "error_code": "NO_CREDIT",
        "error_message": "no credit left",
        "error_type": "RemoteError",
        "retryable": False,
        "details": {},
    }
    assert not reply.value  # the value of an error reply carries nothing


async def test_kafkarpc_speaks_nestjs_to_itself_with_deadlines_and_idempotency(
    make_server: Callable[..., RpcServer],
    make_client: Callable[..., RpcClient],
    unique_topic_base: str,
) -> None:
    pattern = f"{unique_topic_base}.count"
    server = make_server(wire="nestjs")
    runs: list[str] = []

    @server.responder(pattern)
    async def count(payload: dict[str, str]) -> dict[str, int]:
        runs.append(payload["id"])
        return {"runs": len(runs)}

    async with server, make_client(wire="nestjs") as client:
        first = await client.request(pattern, {"id": "a"}, idempotency_key="k-1", timeout=20)
        again = await client.request(pattern, {"id": "a"}, idempotency_key="k-1", timeout=20)
        replies = await _gather(client, pattern, 50)
    assert first == again == {"runs": 1}  # the repeat was answered from the idempotency store
    assert sorted(r["runs"] for r in replies) == list(range(2, 52))


async def _gather(client: RpcClient, pattern: str, count: int) -> list[dict[str, Any]]:
    replies: list[dict[str, Any]] = []

    async def one(index: int) -> None:
        replies.append(await client.request(pattern, {"id": str(index)}, timeout=30))

    async with anyio.create_task_group() as tasks:
        for index in range(count):
            tasks.start_soon(one, index)
    return replies


class Order(BaseModel):
    sku: str
    quantity: int


async def test_nest_data_of_any_json_shape_is_validated_by_the_handlers_type(
    kafkarpc_broker: str, make_server: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    server = make_server(wire="nestjs")

    @server.responder(f"{unique_topic_base}.total")
    async def total(numbers: list[int]) -> dict[str, int]:
        return {"total": sum(numbers)}

    @server.responder(f"{unique_topic_base}.order")
    async def order(request: Order) -> dict[str, int]:
        return {"quantity": request.quantity}

    async with server:
        requests = [
            nest_request(f"{unique_topic_base}.total", [1, 2, 3], "id-total"),
            nest_request(f"{unique_topic_base}.order", "not an order", "id-order"),
        ]
        await anyio.to_thread.run_sync(send, kafkarpc_broker, requests)
        (summed,) = await anyio.to_thread.run_sync(
            read, kafkarpc_broker, f"{unique_topic_base}.total.reply"
        )
        (refused,) = await anyio.to_thread.run_sync(
            read, kafkarpc_broker, f"{unique_topic_base}.order.reply"
        )
    assert json.loads(summed.value or b"") == {"total": 6}
    error = refused.header("kafka_nest-err")
    assert error is not None and json.loads(error)["error_code"] == "VALIDATION_ERROR"
