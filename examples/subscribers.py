"""Event subscribers: handle what is published, reply to nobody, park what cannot be handled.

A subscriber validates each event like a responder validates a request. An event
that does not fit, or whose handler keeps failing, is copied to ``{topic}.dlq``
instead of being answered. A topic starting with ``^`` is a regular expression:
here one subscriber takes every ``shop.audit.*`` topic.

    python examples/subscribers.py
"""

import anyio
from pydantic import BaseModel

from kafkarpc import (
    HandlerRetry,
    RequestContext,
    RpcClient,
    RpcServer,
    Topics,
    ensure_topics,
    inspect_dlq,
)
from kafkarpc.testing import embedded_broker


class OrderPlaced(BaseModel):
    order_id: str
    cents: int


async def main(bootstrap: str) -> None:
    # The pattern's topics exist before the server starts (it subscribes to what is there,
    # and to matching topics created later at its next metadata refresh).
    await ensure_topics(bootstrap, ["shop.audit.login", "shop.audit.logout"])
    server = RpcServer(
        bootstrap,
        service="warehouse",
        retry=HandlerRetry(max_attempts=3, initial_delay=0.05),
        topics=Topics(create=True),  # fine on a dev broker; production topics are provisioned
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},  # dev broker only
    )
    handled: list[str] = []
    done = anyio.Event()

    @server.subscriber("shop.orders.placed")
    async def reserve_stock(event: OrderPlaced, context: RequestContext) -> None:
        handled.append(f"reserved {event.order_id} ({event.cents} cents) for {context.caller}")
        if len(handled) == 2:
            done.set()

    @server.subscriber(r"^shop\.audit\..*")
    async def audit(event: dict, context: RequestContext) -> None:
        handled.append(f"audit {context.topic}: {event}")
        if len(handled) == 2:
            done.set()

    async with server, RpcClient(bootstrap, service="shop", topics=Topics(create=True)) as client:
        # One key, one partition, read in order: once o-1 is handled, o-2 has been
        # fetched, and closing the server finishes it (its copy reaches the DLQ).
        await client.publish("shop.orders.placed", {"order_id": "o-2"}, key="orders")  # no cents
        await client.publish("shop.orders.placed", {"order_id": "o-1", "cents": 1200}, key="orders")
        await client.publish("shop.audit.login", {"user": "ada"})
        await done.wait()
    for line in sorted(handled):
        print(line)
    for letter in await inspect_dlq(bootstrap, "shop.orders.placed.dlq"):
        assert letter.envelope is not None
        print(f"parked ({letter.reason}): {letter.envelope.payload}")


if __name__ == "__main__":
    with embedded_broker() as bootstrap:
        anyio.run(main, bootstrap)
