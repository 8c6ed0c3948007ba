"""The first calls of an operation wait for its reply route, even across a failed setup."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

from kafkarpc import MemoryBroker, MemoryTransport, RpcClient, TopicNotFound

if TYPE_CHECKING:
    from tests.unit.conftest import MemoryRpc

pytestmark = pytest.mark.anyio


class SlowFirstLookup(MemoryTransport):
    """The first topic lookup takes a while and then fails; later ones are slow but fine."""

    def __init__(self, broker: MemoryBroker) -> None:
        super().__init__(broker)
        self.lookups = 0

    async def partition_count(self, topic: str) -> int:
        self.lookups += 1
        first = self.lookups == 1
        await anyio.sleep(0.05)
        if first:
            raise TopicNotFound(topic)
        return await super().partition_count(topic)


async def test_callers_waiting_on_a_failed_setup_wait_for_the_next_one(rpc: MemoryRpc) -> None:
    trio = rpc.trio("route.setup")
    server = rpc.server()

    @server.responder(trio)
    async def echo(payload: dict[str, int]) -> dict[str, int]:
        return payload

    outcomes: dict[int, object] = {}
    transport = SlowFirstLookup(rpc.broker)

    async def call(n: int) -> None:
        try:
            outcomes[n] = await client.request(trio, {"n": n}, timeout=5)
        except TopicNotFound as exc:
            outcomes[n] = exc

    async with (
        server,
        RpcClient(service="c", transport=transport) as client,
        anyio.create_task_group() as tg,
    ):
        for n in range(4):
            tg.start_soon(call, n)
    failed = [n for n, o in outcomes.items() if isinstance(o, TopicNotFound)]
    assert len(failed) == 1, "only the caller whose setup failed sees the failure"
    assert all(outcomes[n] == {"n": n} for n in outcomes if n not in failed)
    assert transport.lookups == 2, "one failed setup, then exactly one more"
