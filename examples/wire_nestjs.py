"""Speak NestJS: a kafkarpc responder a NestJS ``ClientKafka`` can call, and a kafkarpc
caller of it, both on the NestJS wire (``wire="nestjs"``).

    pip install -e ".[broker]" && python examples/wire_nestjs.py

Point a NestJS app at the same broker and ``client.send("pricing.quote", {units: 3})``
reaches the responder below; ``client.request("math.sum", ...)`` with ``wire="nestjs"``
reaches a NestJS ``@MessagePattern("math.sum")`` the same way. Create the topics
``pricing.quote`` and ``pricing.quote.reply`` first: NestJS does not create them.
"""

from typing import Any

import anyio

from kafkarpc import RemoteError, RpcClient, RpcServer, Topics
from kafkarpc.testing import embedded_broker


async def main(bootstrap: str) -> None:
    server = RpcServer(
        bootstrap,
        service="pricing",
        wire="nestjs",
        topics=Topics(create=True),
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
    )

    @server.responder("pricing.quote")
    async def quote(request: dict[str, int]) -> dict[str, int]:
        if request["units"] <= 0:
            # A NestJS caller receives {"status": "error", "message": ...} as its error.
            raise RemoteError(error_code="BAD_UNITS", error_message="units must be > 0")
        return {"cents": request["units"] * 150}

    async with (
        server,
        RpcClient(bootstrap, service="shop", wire="nestjs", topics=Topics(create=True)) as client,
    ):
        reply: Any = await client.request("pricing.quote", {"units": 3})
        print(f"reply: {reply}")
        try:
            await client.request("pricing.quote", {"units": 0})
        except RemoteError as exc:
            print(f"error: {exc.error_message}")


if __name__ == "__main__":
    with embedded_broker() as bootstrap:
        anyio.run(main, bootstrap)
