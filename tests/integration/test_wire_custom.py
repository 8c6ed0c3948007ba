"""A profile written by a user (not one of kafkarpc's): both directions and bad input on the
real broker, against a peer written without kafkarpc."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from tests.integration.wire_peers import Seen, Send, read, responder, send

from kafkarpc import (
    EnvelopeError,
    IncomingRequest,
    OutgoingRequest,
    RemoteError,
    ReplyContent,
    RpcClient,
    RpcServer,
    WireRoute,
    ensure_topics,
    inspect_dlq,
)
from kafkarpc.transport import InboundRecord, OutboundRecord

pytestmark = pytest.mark.anyio


def _header(record: InboundRecord, name: str) -> bytes | None:
    return next((value for key, value in record.headers if key == name), None)


@dataclass(frozen=True)
class HeaderWire:
    """A house convention: ``x-request-id`` and ``x-reply-to`` headers, ``x-failed`` on errors."""

    name: str = "house"

    def route(self, operation: str) -> WireRoute:
        return WireRoute(operation, f"{operation}.in", f"{operation}.out")

    def encode_request(self, request: OutgoingRequest) -> OutboundRecord:
        headers = [
            ("x-request-id", request.correlation_id.encode()),
            ("x-reply-to", request.route.reply_topic.encode()),
            *request.headers,
        ]
        value = json.dumps(request.payload).encode()
        return OutboundRecord(request.route.request_topic, value, request.key, headers)

    def reply_correlation_id(self, record: InboundRecord) -> str | None:
        raw = _header(record, "x-request-id")
        return None if raw is None else raw.decode()

    def decode_reply(self, record: InboundRecord) -> ReplyContent:
        body = json.loads(record.value or b"null")
        if _header(record, "x-failed") is not None:
            return ReplyContent(False, {"error_code": "HOUSE", "error_message": body["why"]})
        return ReplyContent(True, body)

    def decode_request(self, record: InboundRecord) -> IncomingRequest:
        request_id, reply_to = _header(record, "x-request-id"), _header(record, "x-reply-to")
        if request_id is None or reply_to is None:
            raise EnvelopeError("no x-request-id or x-reply-to: no reply route")
        try:
            payload = json.loads(record.value or b"")
        except ValueError as exc:
            raise EnvelopeError(f"not JSON: {exc}") from exc
        return IncomingRequest(request_id.decode(), payload, reply_to.decode(), None, record)

    def encode_reply(self, request: IncomingRequest, reply: ReplyContent) -> OutboundRecord:
        headers = [("x-request-id", request.correlation_id.encode())]
        body: Any = reply.payload
        if not reply.ok:
            headers.append(("x-failed", b"1"))
            body = {"why": reply.payload["error_message"]}
        return OutboundRecord(request.reply_topic, json.dumps(body).encode(), None, headers)


async def test_a_custom_profile_calls_a_house_service_and_counts_strangers(
    kafkarpc_broker: str, make_client: Callable[..., RpcClient], unique_topic_base: str
) -> None:
    route = HeaderWire().route(unique_topic_base)
    await ensure_topics(kafkarpc_broker, [route.request_topic, route.reply_topic])

    def answer(request: Seen) -> list[Send]:
        request_id = request.header("x-request-id")
        assert request_id is not None
        body = json.loads(request.value or b"")
        stranger = Send(route.reply_topic, b"{}", [("x-request-id", b"stranger")])
        if body["n"] < 0:
            reply = Send(route.reply_topic, b'{"why":"negative"}', [
                ("x-request-id", request_id), ("x-failed", b"1"),
            ])  # fmt: skip
        else:
            reply = Send(route.reply_topic, json.dumps({"twice": body["n"] * 2}).encode(), [
                ("x-request-id", request_id),
            ])  # fmt: skip
        return [stranger, reply]

    with responder(kafkarpc_broker, route.request_topic, answer):
        async with make_client(wire=HeaderWire()) as client:
            assert await client.request(unique_topic_base, {"n": 4}, timeout=20) == {"twice": 8}
            with pytest.raises(RemoteError) as caught:
                await client.request(unique_topic_base, {"n": -1}, timeout=20)
            late = client.stats.late_replies
    assert (caught.value.error_code, caught.value.error_message) == ("HOUSE", "negative")
    assert late == 2


async def test_a_custom_profile_serves_house_callers_and_parks_what_it_cannot_answer(
    kafkarpc_broker: str, make_server: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    route = HeaderWire().route(unique_topic_base)
    server = make_server(wire=HeaderWire())

    @server.responder(unique_topic_base)
    async def twice(request: dict[str, int]) -> dict[str, int]:
        if request["n"] < 0:
            raise RemoteError(error_code="NEG", error_message="negative")
        return {"twice": request["n"] * 2}

    def house(n: int, request_id: str) -> Send:
        headers = [
            ("x-request-id", request_id.encode()),
            ("x-reply-to", route.reply_topic.encode()),
        ]
        return Send(route.request_topic, json.dumps({"n": n}).encode(), headers)

    async with server:
        unroutable = Send(route.request_topic, b'{"n":1}', [("x-request-id", b"lost")])
        records = [unroutable, house(3, "r-1"), house(-1, "r-2")]
        await anyio.to_thread.run_sync(send, kafkarpc_broker, records)
        replies = await anyio.to_thread.run_sync(read, kafkarpc_broker, route.reply_topic, 2)
        with anyio.fail_after(30):
            while not (parked := await inspect_dlq(kafkarpc_broker, f"{route.request_topic}.dlq")):
                await anyio.sleep(0.2)
    by_id = {reply.header("x-request-id"): reply for reply in replies}
    assert json.loads(by_id[b"r-1"].value or b"") == {"twice": 6}
    assert by_id[b"r-2"].header("x-failed") == b"1"
    assert json.loads(by_id[b"r-2"].value or b"") == {"why": "negative"}
    (letter,) = parked
    assert "no reply route" in letter.error_message
