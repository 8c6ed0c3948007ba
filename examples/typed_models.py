"""Typed requests and replies with pydantic models.

The responder's parameter type validates every request; a request that does not
fit is answered with a ``VALIDATION_ERROR`` failure, which the caller receives as
a ``RemoteError``. ``response_model=`` turns the reply into a model on the caller's side.

    python examples/typed_models.py
"""

import anyio
from pydantic import BaseModel, Field

from kafkarpc import RemoteError, RpcClient, RpcServer, Topics
from kafkarpc.testing import embedded_broker

PRICES_CENTS = {"widget": 250, "gadget": 1200}


class QuoteRequest(BaseModel):
    sku: str
    quantity: int = Field(gt=0)


class Quote(BaseModel):
    sku: str
    quantity: int
    total_cents: int


async def main(bootstrap: str) -> None:
    server = RpcServer(
        bootstrap,
        service="pricing",
        topics=Topics(create=True),
        # The dev broker holds a consumer-group join for half the session timeout.
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
    )

    @server.responder("shop.pricing.quote")
    async def quote(request: QuoteRequest) -> Quote:
        if request.sku not in PRICES_CENTS:
            # A handler picks its own failure reply by raising RemoteError.
            raise RemoteError(error_code="NOT_FOUND", error_message=f"no price for {request.sku}")
        total = PRICES_CENTS[request.sku] * request.quantity
        return Quote(sku=request.sku, quantity=request.quantity, total_cents=total)

    async with (
        server,
        RpcClient(bootstrap, service="checkout", topics=Topics(create=True)) as client,
    ):
        reply = await client.request(
            "shop.pricing.quote", QuoteRequest(sku="widget", quantity=4), response_model=Quote
        )
        print(f"quote: {reply!r}")

        for bad_request in ({"sku": "widget", "quantity": 0}, {"sku": "sprocket", "quantity": 1}):
            try:
                await client.request("shop.pricing.quote", bad_request, response_model=Quote)
            except RemoteError as exc:
                print(f"rejected {bad_request}: {exc.error_code}: {exc.error_message}")
                for error in exc.details.get("errors", []):
                    print(f"  {'.'.join(map(str, error['loc']))}: {error['msg']}")


if __name__ == "__main__":
    with embedded_broker() as bootstrap:
        anyio.run(main, bootstrap)
