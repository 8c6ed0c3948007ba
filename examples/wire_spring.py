"""Speak Spring Kafka: a kafkarpc responder a ``ReplyingKafkaTemplate`` can call, and a
kafkarpc caller of a ``@KafkaListener @SendTo`` listener, both on the Spring wire.

    pip install -e ".[broker]" && python examples/wire_spring.py

The Spring side: the template sends to ``orders.price`` with its reply container on
``orders.price.reply``; set a ``replyErrorChecker`` that fails a reply carrying the
``x-error`` header, and a ``KafkaListenerErrorHandler`` on the listener that replies
with that header (else a failing listener sends no reply and the caller times out).
"""

import anyio

from kafkarpc import RemoteError, RpcClient, RpcServer, SpringProfile, Topics
from kafkarpc.testing import embedded_broker

SPRING = SpringProfile(error_header="x-error", type_id="com.example.orders.Price")


async def main(bootstrap: str) -> None:
    server = RpcServer(
        bootstrap,
        service="orders",
        wire=SPRING,
        topics=Topics(create=True),
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
    )

    @server.responder("orders.price")
    async def price(request: dict[str, str]) -> dict[str, int]:
        if request["sku"] != "widget":
            raise RemoteError(
                error_code="NOT_FOUND", error_message=f"no price for {request['sku']}"
            )
        return {"cents": 250}

    async with (
        server,
        RpcClient(bootstrap, service="shop", wire=SPRING, topics=Topics(create=True)) as client,
    ):
        print(f"reply: {await client.request('orders.price', {'sku': 'widget'})}")
        try:
            await client.request("orders.price", {"sku": "sprocket"})
        except RemoteError as exc:
            print(f"error: {exc.error_message}")


if __name__ == "__main__":
    with embedded_broker() as bootstrap:
        anyio.run(main, bootstrap)
