"""The blocking client's gather and stream: for scripts, notebooks and web views.

``SyncClient.gather`` blocks until the gather ends and returns every reply;
``SyncClient.stream`` is a plain iterator over the items.

    python examples/blocking_patterns.py
"""

from collections.abc import AsyncIterator

from anyio.from_thread import start_blocking_portal

from kafkarpc import RpcServer, SyncClient, Topics
from kafkarpc.testing import embedded_broker

# The dev broker holds a consumer-group join for half the session timeout.
FAST_GROUPS = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}


def inventory_server(bootstrap: str, warehouse: str, stock: int) -> RpcServer:
    server = RpcServer(
        bootstrap,
        service=warehouse,
        group_id=warehouse,
        topics=Topics(create=True),
        config=FAST_GROUPS,
    )

    @server.responder("stock.count")
    async def count(request: dict) -> dict:
        return {"warehouse": warehouse, "sku": request["sku"], "stock": stock}

    @server.responder(f"stock.{warehouse}.pick")
    async def pick(request: dict) -> AsyncIterator[dict]:
        for line, sku in enumerate(request["skus"], start=1):
            yield {"line": line, "sku": sku, "picked": True}

    return server


def main(bootstrap: str) -> None:
    # The responders usually run in other processes; here they run in a thread.
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(inventory_server(bootstrap, "north", 4)),
        portal.wrap_async_context_manager(inventory_server(bootstrap, "south", 9)),
        SyncClient(bootstrap, service="stock-report", topics=Topics(create=True)) as client,
    ):
        result = client.gather("stock.count", {"sku": "widget"}, expect=2, timeout=20)
        total = sum(reply["stock"] for reply in result.results)
        print(f"widget stock: {total} in {sorted(result.services)}")
        for item in client.stream("stock.north.pick", {"skus": ["widget", "gadget"]}, timeout=20):
            print(f"picked line {item['line']}: {item['sku']}")


if __name__ == "__main__":
    with embedded_broker() as bootstrap:
        main(bootstrap)
