"""``kafkarpc demo``: the quick start, runnable from an installed package.

The same code as ``examples/quickstart.py`` (the examples are not part of the wheel),
kept in step with it: a test checks that both print the same lines.
"""

from __future__ import annotations

from typing import Any

import anyio

from ._broker import embedded_broker
from ._config import Topics
from .client.facade import RpcClient
from .server.facade import RpcServer

__all__ = ["run_demo", "serve_and_ask"]


async def serve_and_ask(bootstrap: str) -> dict[str, Any]:
    """Serve ``agent.routing`` on ``bootstrap``, send it one request and print the reply."""
    server = RpcServer(
        bootstrap,
        service="agent-router",
        topics=Topics(create=True),  # fine on a dev broker; production topics are provisioned
        # The dev broker holds a consumer-group join for half the session timeout.
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
    )

    @server.responder("agent.routing")
    async def route(request: dict[str, Any]) -> dict[str, Any]:
        agent = "agent-performance" if "optimize" in request["query"] else "agent-general"
        return {"agent": agent, "confidence": 0.92}

    async with (
        server,
        RpcClient(bootstrap, service="quickstart", topics=Topics(create=True)) as client,
    ):
        reply = await client.request("agent.routing", {"query": "optimize my database queries"})
        print(f"reply: {reply}", flush=True)
    return reply


def run_demo() -> dict[str, Any]:
    """Start an embedded broker, run one round trip on it, stop it; returns the reply."""
    with embedded_broker() as bootstrap:
        print(f"broker: {bootstrap}", flush=True)
        return anyio.run(serve_and_ask, bootstrap)
