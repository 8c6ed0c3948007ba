"""Streamed replies: a long job reports its progress while it runs.

The responder is an async generator: each ``Progress`` it yields reaches the
caller at once, in order; the generator's end ends the call.

    python examples/streaming.py
"""

from collections.abc import AsyncIterator

import anyio

from kafkarpc import Progress, RpcClient, RpcServer, Topics
from kafkarpc.testing import embedded_broker


async def main(bootstrap: str) -> None:
    server = RpcServer(
        bootstrap,
        service="reports",
        topics=Topics(create=True),
        # The dev broker holds a consumer-group join for half the session timeout.
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
    )

    @server.responder("reports.build")
    async def build(request: dict) -> AsyncIterator[Progress]:
        sections = request["sections"]
        for done in range(1, sections + 1):
            await anyio.sleep(0.05)  # a slice of the real work
            yield Progress(
                work_item_id=request["report"],
                progress_percentage=100 * done / sections,
                status_message=f"section {done} of {sections}",
            )

    async with server, RpcClient(bootstrap, service="ui", topics=Topics(create=True)) as client:
        request = {"report": "q3-sales", "sections": 4}
        async for step in client.stream("reports.build", request, timeout=20, item_model=Progress):
            print(f"{step.work_item_id}: {step.progress_percentage:.0f}% {step.status_message}")


if __name__ == "__main__":
    with embedded_broker() as bootstrap:
        anyio.run(main, bootstrap)
