"""Quick start: a responder for ``agent.routing`` and a client that calls it.

    pip install -e ".[broker]" && python examples/quickstart.py

It starts a throw-away Kafka-compatible broker, so nothing else needs to be running.
Against your own cluster, pass its bootstrap address instead and leave out ``topics=``.
"""

import anyio

from kafkarpc import RpcClient, RpcServer, Topics
from kafkarpc.testing import embedded_broker


async def main(bootstrap: str) -> None:
    server = RpcServer(
        bootstrap,
        service="agent-router",
        topics=Topics(create=True),  # fine on a dev broker; production topics are provisioned
        # The dev broker holds a consumer-group join for half the session timeout.
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
    )

    @server.responder("agent.routing")
    async def route(request: dict) -> dict:
        agent = "agent-performance" if "optimize" in request["query"] else "agent-general"
        return {"agent": agent, "confidence": 0.92}

    async with (
        server,
        RpcClient(bootstrap, service="quickstart", topics=Topics(create=True)) as client,
    ):
        reply = await client.request("agent.routing", {"query": "optimize my database queries"})
        print(f"reply: {reply}")


if __name__ == "__main__":
    with embedded_broker() as bootstrap:
        print(f"broker: {bootstrap}")
        anyio.run(main, bootstrap)
