"""A reply the broker keeps refusing parks its request in the DLQ, so nothing is lost
and the partition's commits are not held back by it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

from kafkarpc import (
    DlqHeader,
    MemoryBroker,
    MemoryTransport,
    RequestTimeout,
    RpcServer,
    TopicNotFound,
)
from kafkarpc.transport import DeliveryCallback, OutboundRecord

if TYPE_CHECKING:
    from tests.unit.conftest import MemoryRpc

pytestmark = pytest.mark.anyio


class RefusesReplies(MemoryTransport):
    """Every record for ``refused`` fails at delivery, as a broker error would."""

    def __init__(self, broker: MemoryBroker, refused: str) -> None:
        super().__init__(broker)
        self._refused = refused

    def produce(self, record: OutboundRecord, on_delivery: DeliveryCallback) -> None:
        if record.topic == self._refused:
            bridge = self._require_bridge()
            bridge.call_soon(on_delivery, TopicNotFound(record.topic), record)
            return
        super().produce(record, on_delivery)


async def test_an_undeliverable_reply_parks_the_request_and_releases_its_offset(
    rpc: MemoryRpc,
) -> None:
    trio = rpc.trio("orders.undeliverable", partitions=1)
    ran: list[int] = []

    def server_on(transport: MemoryTransport) -> RpcServer:
        server = RpcServer(service="s", group_id="orders", transport=transport)

        @server.responder(trio)
        async def place(payload: dict[str, int]) -> dict[str, int]:
            ran.append(payload["n"])
            return payload

        return server

    async with rpc.client() as client:
        async with server_on(RefusesReplies(rpc.broker, trio.completed)) as refusing:
            with pytest.raises(RequestTimeout):
                await client.request(trio, {"n": 1}, timeout=0.3)
            with anyio.fail_after(5):
                while refusing.stats.dead_lettered < 1:
                    await anyio.sleep(0.01)
        (parked,) = rpc.broker.records(f"{trio.requested}.dlq")
        headers = {name: value.decode() for name, value in parked.headers}
        assert headers[DlqHeader.REASON] == "reply_failed"
        assert headers[DlqHeader.ORIGINAL_TOPIC] == trio.requested

        # The offset was committed: the group's next member does not get it again.
        async with server_on(MemoryTransport(rpc.broker)):
            assert await client.request(trio, {"n": 2}) == {"n": 2}
    assert ran == [1, 2]
