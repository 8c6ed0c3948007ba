"""SyncClient passes ``wire=`` through to its RpcClient: a blocking caller speaks NestJS too."""

from __future__ import annotations

from typing import Any

import pytest

from kafkarpc import MemoryBroker, MemoryTransport, RemoteError, RpcServer, SyncClient, Topics


def test_a_sync_client_calls_over_the_nestjs_wire(broker: MemoryBroker) -> None:
    options: dict[str, Any] = {"wire": "nestjs", "topics": Topics(create=True)}
    server = RpcServer(transport=MemoryTransport(broker), service="pricing", **options)

    @server.responder("pricing.quote")
    async def quote(request: dict[str, Any]) -> dict[str, Any]:
        if request["units"] < 0:
            raise RemoteError(error_code="NEGATIVE", error_message="units must be >= 0")
        return {"cents": request["units"] * 150}

    client = SyncClient(transport=MemoryTransport(broker), service="shop", **options)
    # The memory broker is not thread-safe: the server runs on the client's loop thread.
    with client, client._portal.wrap_async_context_manager(server):
        assert client.request("pricing.quote", {"units": 3}, timeout=5) == {"cents": 450}
        with pytest.raises(RemoteError) as caught:
            client.request("pricing.quote", {"units": -1}, timeout=5)
    assert caught.value.error_message == "units must be >= 0"
    assert [r.topic for r in broker.records("pricing.quote.reply")] == ["pricing.quote.reply"] * 2
