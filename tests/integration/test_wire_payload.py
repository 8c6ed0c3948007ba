"""Payload-correlated services on the real broker: a worker that knows only the SomaAgent01
JSON shapes (``ToolInvocation`` in, ``ToolResult`` out on one shared topic), both ways."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from tests.integration.wire_peers import Seen, Send, read, responder, send

from kafkarpc import PayloadCorrelated, RemoteError, RpcClient, RpcServer, ensure_topics

pytestmark = pytest.mark.anyio


def tool_wire(base: str) -> PayloadCorrelated:
    return PayloadCorrelated(
        request_topic=f"{base}.tool.requests",
        reply_topic=f"{base}.tool.results",
        correlation_field="task_id",
        status_field="status",
        ok_values=("success",),
        key_field="tenant_id",
        operation_field="tool_name",
    )


def tool_executor(results_topic: str) -> Callable[[Seen], list[Send]]:
    """The SomaAgent01 tool executor's contract, written without kafkarpc."""

    def answer(request: Seen) -> list[Send]:
        invocation = json.loads(request.value or b"")
        if invocation["tool_name"] == "echo":
            status, output = "success", {"stdout": invocation["payload"]["text"], "stderr": ""}
        else:
            status, output = "error", {"error": f"unknown tool {invocation['tool_name']}"}
        result = {
            "task_id": invocation["task_id"],
            "status": status,
            "output": output,
            "metrics": {"duration_ms": 3},
            "metadata": {"tenant_id": invocation["tenant_id"]},
        }
        return [Send(results_topic, json.dumps(result).encode(), [], key=request.key)]

    return answer


async def test_two_callers_share_the_results_topic_and_get_only_their_own_results(
    kafkarpc_broker: str, make_client: Callable[..., RpcClient], unique_topic_base: str
) -> None:
    wire = tool_wire(unique_topic_base)
    await ensure_topics(kafkarpc_broker, [wire.request_topic, wire.reply_topic])
    with responder(kafkarpc_broker, wire.request_topic, tool_executor(wire.reply_topic)) as seen:
        async with make_client(wire=wire) as first, make_client(wire=wire) as second:

            async def call(client: RpcClient, tenant: str, text: str) -> dict[str, Any]:
                invocation = {"tenant_id": tenant, "persona": "agent0", "payload": {"text": text}}
                return await client.request("echo", invocation, timeout=20)

            # Both read the results topic from here on: each sees all of the other's.
            await call(first, "acme", "warm-up")
            await call(second, "globex", "warm-up")
            results: dict[str, dict[str, Any]] = {}

            async def run(client: RpcClient, tenant: str, index: int) -> None:
                results[f"{tenant}-{index}"] = await call(client, tenant, f"{tenant}-{index}")

            async with anyio.create_task_group() as tasks:
                for index in range(10):
                    tasks.start_soon(run, first, "acme", index)
                    tasks.start_soon(run, second, "globex", index)
            with pytest.raises(RemoteError) as caught:
                await first.request("rm", {"tenant_id": "acme", "payload": {}}, timeout=20)
    assert results == {name: {"stdout": name, "stderr": ""} for name in results}
    assert len(results) == 20
    assert caught.value.error_message == "unknown tool rm"
    # Each caller read the other's results and dropped them, counted.
    assert first.stats.late_replies >= 10 and second.stats.late_replies >= 10
    invocation = json.loads(seen[0].value or b"")
    assert set(invocation) == {"task_id", "tenant_id", "persona", "tool_name", "payload"}
    assert uuid.UUID(invocation["task_id"])
    assert seen[0].key == invocation["tenant_id"].encode()  # keyed by tenant, for ordering


async def test_a_tool_invocation_reaches_a_kafkarpc_responder(
    kafkarpc_broker: str, make_server: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    wire = tool_wire(unique_topic_base)
    wire = PayloadCorrelated(
        request_topic=wire.request_topic,
        reply_topic=wire.reply_topic,
        echo_fields=("tenant_id",),
    )
    server = make_server(wire=wire)

    @server.responder(wire.request_topic)
    async def execute(invocation: dict[str, Any]) -> dict[str, Any]:
        if invocation["tool_name"] != "shell":
            raise RemoteError(error_code="UNKNOWN_TOOL", error_message="no such tool")
        return {"stdout": f"ran {invocation['payload']['command']}", "stderr": ""}

    def invocation(task_id: str, tool: str) -> Send:
        body = {
            "task_id": task_id,
            "tenant_id": "default",
            "persona": "agent0",
            "tool_name": tool,
            "payload": {"command": "ls"},
            "metadata": {"requested_by": "gateway"},
        }
        return Send(wire.request_topic, json.dumps(body).encode(), [], key=b"default")

    async with server:
        requests = [invocation("t-1", "shell"), invocation("t-2", "browser")]
        await anyio.to_thread.run_sync(send, kafkarpc_broker, requests)
        replies = await anyio.to_thread.run_sync(read, kafkarpc_broker, wire.reply_topic, 2)
    results = {r["task_id"]: r for r in (json.loads(seen.value or b"") for seen in replies)}
    assert results["t-1"] == {
        "task_id": "t-1",
        "status": "success",
        "output": {"stdout": "ran ls", "stderr": ""},
        "metadata": {"tenant_id": "default"},
    }
    assert results["t-2"]["status"] == "error"
    assert results["t-2"]["output"]["error"] == "no such tool"
    assert all(seen.key == b"default" for seen in replies)
