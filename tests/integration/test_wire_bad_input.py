"""Bad input under every wire profile, on the real broker: nothing is answered into the void,
nothing kills a consumer, and what cannot be matched is counted and dropped."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from tests.integration.wire_peers import Seen, Send, read, responder, send

from kafkarpc import (
    NestJsProfile,
    PayloadCorrelated,
    RpcClient,
    RpcServer,
    SpringProfile,
    WireProfile,
    ensure_topics,
    inspect_dlq,
)

pytestmark = pytest.mark.anyio

PROFILES = ["nestjs", "spring", "payload"]


def _wire(kind: str, base: str) -> WireProfile:
    if kind == "nestjs":
        return NestJsProfile()
    if kind == "spring":
        return SpringProfile()
    return PayloadCorrelated(request_topic=f"{base}.op", reply_topic=f"{base}.results")


def _request(kind: str, topic: str, body: dict[str, Any]) -> Send:
    """A well-formed request as a peer of ``kind`` writes it, replying on ``{topic}.reply``."""
    if kind == "payload":
        return Send(topic, json.dumps({**body, "task_id": str(uuid.uuid4())}).encode(), [])
    correlation = uuid.uuid4().bytes if kind == "spring" else b"nest-id-1"
    headers = [
        ("kafka_correlationId", correlation),
        ("kafka_replyTopic", f"{topic}.reply".encode()),
    ]
    return Send(topic, json.dumps(body).encode(), headers)


def _without_route(kind: str, topic: str) -> Send:
    """A request no one can answer: no correlation id (payload), no reply topic (headers)."""
    if kind == "payload":
        return Send(topic, b'{"tool_name":"echo"}', [])
    return Send(topic, b'{"n":1}', [("kafka_correlationId", b"id-without-route")])


@pytest.mark.parametrize("kind", PROFILES)
async def test_a_request_without_a_reply_route_or_with_bad_bytes_is_parked_and_serving_goes_on(
    kafkarpc_broker: str, make_server: Callable[..., RpcServer], unique_topic_base: str, kind: str
) -> None:
    wire = _wire(kind, unique_topic_base)
    topic = wire.route(f"{unique_topic_base}.op").request_topic
    reply_topic = wire.route(topic).reply_topic
    server = make_server(wire=wire)

    @server.responder(topic)
    async def handle(payload: dict[str, Any]) -> dict[str, Any]:
        return {"n": payload["n"] + 1}

    async with server:
        bad = [
            _without_route(kind, topic),
            Send(topic, b"\xff\xfe not json", _request(kind, topic, {}).headers),
        ]
        good = _request(kind, topic, {"n": 41})
        await anyio.to_thread.run_sync(send, kafkarpc_broker, [*bad, good])
        (reply,) = await anyio.to_thread.run_sync(read, kafkarpc_broker, reply_topic)
        parked = await _dead_letters(kafkarpc_broker, f"{topic}.dlq", 2)
    body = json.loads(reply.value or b"")
    assert (body["output"] if kind == "payload" else body) == {"n": 42}  # still serving
    reasons = sorted(letter.error_message for letter in parked)
    assert any("reply" in reason or "task_id" in reason for reason in reasons), reasons
    assert any("JSON" in reason for reason in reasons), reasons
    assert {letter.reason for letter in parked} == {"poison"}


async def _dead_letters(bootstrap: str, topic: str, count: int) -> list[Any]:
    with anyio.fail_after(30):
        while True:
            letters = await inspect_dlq(bootstrap, topic)
            if len(letters) >= count:
                return letters
            await anyio.sleep(0.2)


@pytest.mark.parametrize("kind", PROFILES)
async def test_replies_with_unknown_ids_or_bad_bytes_are_counted_and_dropped(
    kafkarpc_broker: str, make_client: Callable[..., RpcClient], unique_topic_base: str, kind: str
) -> None:
    wire = _wire(kind, unique_topic_base)
    route = wire.route(f"{unique_topic_base}.op")
    await ensure_topics(kafkarpc_broker, [route.request_topic, route.reply_topic])

    def answer(request: Seen) -> list[Send]:
        # First a stranger's reply and garbage, then the real answer, all on one
        # partition: spread over several, the answer could be read before the others
        # and the counts below checked before those arrived.
        if kind == "payload":
            task = json.loads(request.value or b"")["task_id"]
            good = {"task_id": task, "status": "success", "output": {"ok": True}}
            stranger = {**good, "task_id": "someone-else"}
            return [
                Send(route.reply_topic, json.dumps(stranger).encode(), [], partition=0),
                Send(route.reply_topic, b"\x00garbage", [], partition=0),
                Send(route.reply_topic, json.dumps(good).encode(), [], partition=0),
            ]
        correlation = request.header("kafka_correlationId")
        assert correlation is not None
        stranger_id = uuid.uuid4().bytes if kind == "spring" else b"stranger"
        return [
            Send(
                route.reply_topic,
                b'{"ok":false}',
                [("kafka_correlationId", stranger_id)],
                partition=0,
            ),
            Send(route.reply_topic, b"\x00garbage", [], partition=0),
            Send(
                route.reply_topic,
                b'{"ok":true}',
                [("kafka_correlationId", correlation)],
                partition=0,
            ),
        ]

    with responder(kafkarpc_broker, route.request_topic, answer):
        async with make_client(wire=wire) as client:
            reply = await client.request(route.operation, {"n": 1}, timeout=20)
            stats = client.stats
    assert reply == {"ok": True}
    assert stats.late_replies == 1  # the stranger's reply: counted, dropped
    assert stats.undecodable_replies == 1  # the garbage: counted, dropped
