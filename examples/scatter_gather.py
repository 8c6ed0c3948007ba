"""Scatter-gather: one request answered by every carrier's quoting service.

Each carrier runs its own responder group for ``shop.shipping.quote``; one gather
asks them all and returns each answer (or failure) as it arrives.

    python examples/scatter_gather.py
"""

import anyio

from kafkarpc import RpcClient, RpcServer, Topics
from kafkarpc.testing import embedded_broker

# The dev broker holds a consumer-group join for half the session timeout.
FAST_GROUPS = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}
RATES_CENTS = {"parcelco": 700, "fastship": 1200, "nowhere": None}


def carrier_server(bootstrap: str, carrier: str) -> RpcServer:
    # Its own service and consumer group: every carrier answers every request.
    server = RpcServer(
        bootstrap,
        service=carrier,
        group_id=carrier,
        topics=Topics(create=True),
        config=FAST_GROUPS,
    )

    @server.responder("shop.shipping.quote")
    async def quote(request: dict) -> dict:
        cents = RATES_CENTS[carrier]
        if cents is None:
            raise ValueError(f"{carrier} does not ship to {request['to']}")
        return {"carrier": carrier, "cents": cents}

    return server


async def main(bootstrap: str) -> None:
    async with (
        carrier_server(bootstrap, "parcelco"),
        carrier_server(bootstrap, "fastship"),
        carrier_server(bootstrap, "nowhere"),
        RpcClient(bootstrap, service="shop", topics=Topics(create=True)) as client,
    ):
        result = await client.gather("shop.shipping.quote", {"to": "Lisbon"}, expect=3, timeout=20)
    print(f"complete: {result.complete}")
    print(f"quotes: {sorted((q['carrier'], q['cents']) for q in result.results)}")
    for reply in result.replies:
        if reply.error is not None:
            print(f"failed: {reply.service}: {reply.error}")


if __name__ == "__main__":
    with embedded_broker() as bootstrap:
        anyio.run(main, bootstrap)
