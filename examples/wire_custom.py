"""A wire profile of your own: JSON-RPC 2.0 messages on one request and one reply topic.

    pip install -e ".[broker]" && python examples/wire_custom.py

A profile is any object with the ``WireProfile`` methods. Each is a pure function:
kafkarpc does the sending, waiting, retrying, tracing and dead-lettering around it.
"""

import json
from typing import Any

import anyio

from kafkarpc import (
    EnvelopeError,
    IncomingRequest,
    OutgoingRequest,
    ReplyContent,
    RpcClient,
    RpcServer,
    Topics,
    WireRoute,
)
from kafkarpc.testing import embedded_broker
from kafkarpc.transport import InboundRecord, OutboundRecord


class JsonRpcWire:
    """``{"jsonrpc": "2.0", "id", "method", "params"}`` in, ``{"id", "result"|"error"}`` out."""

    name = "json-rpc"

    def route(self, operation: str) -> WireRoute:
        return WireRoute(operation, "rpc.requests", "rpc.replies")

    def encode_request(self, request: OutgoingRequest) -> OutboundRecord:
        message = {
            "jsonrpc": "2.0",
            "id": request.correlation_id,
            "method": request.route.operation,
            "params": request.payload,
        }
        value = json.dumps(message).encode()
        return OutboundRecord(request.route.request_topic, value, request.key, [*request.headers])

    def reply_correlation_id(self, record: InboundRecord) -> str | None:
        try:
            found = json.loads(record.value or b"").get("id")
        except (ValueError, AttributeError):
            return None
        return None if found is None else str(found)

    def decode_reply(self, record: InboundRecord) -> ReplyContent:
        reply = _json(record)
        if "error" in reply:
            error = reply["error"]
            failure = {"error_code": str(error["code"]), "error_message": error["message"]}
            return ReplyContent(False, failure)
        return ReplyContent(True, reply.get("result"))

    def decode_request(self, record: InboundRecord) -> IncomingRequest:
        message = _json(record)
        if "id" not in message:  # a JSON-RPC notification: no one waits for a reply
            raise EnvelopeError("a notification has no id: nothing can answer it")
        return IncomingRequest(str(message["id"]), message, "rpc.replies", None, record)

    def encode_reply(self, request: IncomingRequest, reply: ReplyContent) -> OutboundRecord:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request.payload["id"]}
        if reply.ok:
            message["result"] = reply.payload
        else:
            message["error"] = {"code": -32000, "message": reply.payload["error_message"]}
        return OutboundRecord("rpc.replies", json.dumps(message).encode(), request.record.key)


def _json(record: InboundRecord) -> dict[str, Any]:
    try:
        value = json.loads(record.value or b"")
    except ValueError as exc:
        raise EnvelopeError(f"not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise EnvelopeError("a JSON-RPC message is a JSON object")
    return value


async def main(bootstrap: str) -> None:
    wire = JsonRpcWire()
    server = RpcServer(
        bootstrap,
        service="calculator",
        wire=wire,
        topics=Topics(create=True),
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
    )

    @server.responder("rpc.requests")
    async def handle(message: dict[str, Any]) -> dict[str, Any]:
        # The handler gets the whole JSON-RPC message and dispatches on its method.
        if message["method"] == "add":
            return {"sum": sum(message["params"]["terms"])}
        raise ValueError(f"no method {message['method']}")

    async with (
        server,
        RpcClient(bootstrap, service="app", wire=wire, topics=Topics(create=True)) as client,
    ):
        print(f"add: {await client.request('add', {'terms': [1, 2, 3]})}")


if __name__ == "__main__":
    with embedded_broker() as bootstrap:
        anyio.run(main, bootstrap)
