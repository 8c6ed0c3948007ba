"""``kafkarpc demo``: the quick start, runnable from an installed package.

It does what ``examples/quickstart.py`` does (a test keeps their output identical):
start an embedded broker, serve ``agent.routing``, send one request, print the reply.
"""

from __future__ import annotations

from typing import Any

import anyio

from ._broker import embedded_broker
from ._client import RpcClient
from ._server import RpcServer

__all__ = ["DEMO_OP", "DEMO_REQUEST", "run_demo", "serve_and_ask"]

DEMO_OP = "agent.routing"
DEMO_REQUEST: dict[str, Any] = {"query": "optimize my database queries"}

# Tansu holds a consumer-group join for half the session timeout: keep it short in dev.
_FAST_GROUP = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}


def _routing_server(bootstrap: str) -> RpcServer:
    server = RpcServer(bootstrap, service="agent-router", create_topics=True, config=_FAST_GROUP)

    @server.responder(DEMO_OP)
    async def route(request: dict[str, Any]) -> dict[str, Any]:
        agent = "agent-performance" if "optimize" in request["query"] else "agent-general"
        return {"agent": agent, "confidence": 0.92}

    return server


async def serve_and_ask(bootstrap: str) -> dict[str, Any]:
    """Serve ``agent.routing`` on ``bootstrap`` and send it one request; returns the reply."""
    async with (
        _routing_server(bootstrap),
        RpcClient(bootstrap, service="demo-client", create_topics=True) as client,
    ):
        return await client.request(DEMO_OP, DEMO_REQUEST)


def run_demo() -> dict[str, Any]:
    """Start an embedded broker, run one request-response round trip, print each step."""
    print("starting an embedded broker ...", flush=True)
    with embedded_broker() as bootstrap:
        print(f"broker: {bootstrap}", flush=True)
        print(f"request {DEMO_OP}: {DEMO_REQUEST}", flush=True)
        reply = anyio.run(serve_and_ask, bootstrap)
    print(f"reply: {reply}", flush=True)
    return reply
