"""Speak to a payload-correlated service: the SomaAgent01 tool executor's contract.

    pip install -e ".[broker]" && python examples/wire_payload_correlated.py

Requests (``ToolInvocation``) go to ``tool.requests``, every caller's results
(``ToolResult``) come back on one shared ``tool.results`` topic, matched by
``task_id``. Here kafkarpc plays both the executor and the caller; either side
can be the existing service instead.
"""

from typing import Any

import anyio

from kafkarpc import PayloadCorrelated, RpcClient, RpcServer, Topics
from kafkarpc.testing import embedded_broker

TOOLS = PayloadCorrelated(
    request_topic="tool.requests",
    reply_topic="tool.results",
    correlation_field="task_id",
    status_field="status",
    ok_values=("success",),
    key_field="tenant_id",  # one tenant's tasks stay in order
    operation_field="tool_name",  # client.request("echo", ...) sets tool_name="echo"
    echo_fields=("tenant_id",),
)


async def main(bootstrap: str) -> None:
    executor = RpcServer(
        bootstrap,
        service="tool-executor",
        wire=TOOLS,
        topics=Topics(create=True),
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
    )

    @executor.responder("tool.requests")
    async def execute(invocation: dict[str, Any]) -> dict[str, Any]:
        # The whole ToolInvocation; what is returned becomes the ToolResult's output.
        return {"stdout": invocation["payload"]["text"], "stderr": ""}

    async with (
        executor,
        RpcClient(bootstrap, service="gateway", wire=TOOLS, topics=Topics(create=True)) as client,
    ):
        invocation = {"tenant_id": "default", "persona": "agent0", "payload": {"text": "hi"}}
        output = await client.request("echo", invocation)
        print(f"output: {output}")


if __name__ == "__main__":
    with embedded_broker() as bootstrap:
        anyio.run(main, bootstrap)
