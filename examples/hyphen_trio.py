"""An operation whose topics spell the role with a hyphen, built from three explicit names.

Some systems name topics ``...code-analysis-requested.v1`` rather than
``...code-analysis.requested.v1``; a ``TopicTrio`` of explicit names covers them,
and both sides use the same trio.

    python examples/hyphen_trio.py
"""

import anyio

from kafkarpc import RequestContext, RpcClient, RpcServer, Topics, TopicTrio
from kafkarpc.testing import embedded_broker

CODE_ANALYSIS = TopicTrio(
    requested="dev.archon-intelligence.intelligence.code-analysis-requested.v1",
    completed="dev.archon-intelligence.intelligence.code-analysis-completed.v1",
    failed="dev.archon-intelligence.intelligence.code-analysis-failed.v1",
)


async def main(bootstrap: str) -> None:
    server = RpcServer(
        bootstrap,
        service="archon-intelligence",
        topics=Topics(create=True),
        # The dev broker holds a consumer-group join for half the session timeout.
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
    )

    @server.responder(CODE_ANALYSIS)
    async def analyze(request: dict, context: RequestContext) -> dict:
        print(f"responder got {context.event_type} on {context.topic}")
        return {"language": request["language"], "lines": request["source"].count("\n") + 1}

    async with (
        server,
        RpcClient(bootstrap, service="archon-cli", topics=Topics(create=True)) as client,
    ):
        source = "def add(a, b):\n    return a + b"
        reply = await client.request(CODE_ANALYSIS, {"language": "python", "source": source})
        print(f"reply on {CODE_ANALYSIS.completed}: {reply}")


if __name__ == "__main__":
    with embedded_broker() as bootstrap:
        anyio.run(main, bootstrap)
