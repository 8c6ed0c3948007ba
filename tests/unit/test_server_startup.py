"""A request handled while the server is still starting is acknowledged like any other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Unpack

import anyio
import pytest
from tests.unit.conftest import create_trio

from kafkarpc import MemoryBroker, MemoryTransport, RpcClient, RpcServer
from kafkarpc.transport import GroupConsumer, GroupOptions

pytestmark = pytest.mark.anyio


class _SlowToHandOver(MemoryTransport):
    """Hands its group consumer over only after the first request was answered: the
    consumer's first batch can arrive while ``group_consumer()`` is still returning."""

    def __init__(self, broker: MemoryBroker, answered: anyio.Event) -> None:
        super().__init__(broker)
        self._answered = answered

    async def group_consumer(
        self, topics: Sequence[str], **options: Unpack[GroupOptions]
    ) -> GroupConsumer:
        consumer = await super().group_consumer(topics, **options)
        await self._answered.wait()
        await anyio.wait_all_tasks_blocked()  # its reply is on the broker, and settled
        return consumer


async def test_a_request_answered_before_the_consumer_is_handed_over_is_not_run_again(
    broker: MemoryBroker,
) -> None:
    trio = create_trio(broker, "startup.race", partitions=1)
    seen: list[int] = []
    answered = anyio.Event()

    def server(transport: MemoryTransport) -> RpcServer:
        server = RpcServer(service="race", group_id="race", transport=transport)

        @server.responder(trio)
        async def echo(payload: dict[str, int]) -> dict[str, int]:
            seen.append(payload["n"])
            answered.set()
            return payload

        return server

    async with RpcClient(service="caller", transport=MemoryTransport(broker)) as client:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(client.request, trio, {"n": 1})
            await anyio.wait_all_tasks_blocked()  # the request waits on the broker
            async with server(_SlowToHandOver(broker, answered)):
                pass
        # The next member of the group starts after the committed offset: had the first
        # request not been acknowledged, it would run again before the second one.
        async with server(MemoryTransport(broker)):
            assert await client.request(trio, {"n": 2}) == {"n": 2}
    assert seen == [1, 2]


async def test_an_event_that_cannot_be_parked_is_logged_and_left_unacknowledged(
    broker: MemoryBroker, caplog: pytest.LogCaptureFixture
) -> None:
    broker.create_topic("orders.placed", 1)  # and no orders.placed.dlq
    attempts: list[str] = []

    def auditor(name: str, *, fails: bool) -> RpcServer:
        server = RpcServer(service="audit", group_id="audit", transport=MemoryTransport(broker))

        @server.subscriber("orders.placed")
        async def audit(payload: dict[str, int]) -> None:
            attempts.append(name)
            if fails:
                raise RuntimeError("the audit log is down")

        return server

    async with RpcClient(service="shop", transport=MemoryTransport(broker)) as client:
        async with auditor("first", fails=True):
            await client.publish("orders.placed", {"n": 1})
            with anyio.fail_after(5):
                while "could not park orders.placed[0]@0" not in caplog.text:
                    await anyio.sleep(0.01)
        # Not acknowledged: the group's next member handles the event again.
        async with auditor("next", fails=False):
            with anyio.fail_after(5):
                while attempts[-1:] != ["next"]:
                    await anyio.sleep(0.01)
    assert "it stays unacknowledged" in caplog.text
    assert attempts == ["first", "next"]
