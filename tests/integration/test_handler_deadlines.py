"""A handler's deadline on the real broker: it is cancelled there and answered
DEADLINE_EXCEEDED, it can read the deadline (``RequestContext`` and
``anyio.current_effective_deadline()``), and deadlines arriving out of order each
cancel their own handler and no other (server/deadlines.py shares one timer).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from tests.integration.test_claims_server import _failure_reply

from kafkarpc import RequestContext, RequestTimeout, RpcClient, RpcServer, Topics, TopicTrio

pytestmark = pytest.mark.anyio


async def test_a_handler_still_running_at_its_deadline_is_cancelled_and_answered_deadline_exceeded(
    serve: Callable[..., RpcServer], client: RpcClient, kafkarpc_broker: str, trio: TopicTrio
) -> None:
    started = anyio.Event()
    endings: list[str] = []

    async def slow(payload: dict[str, Any]) -> dict[str, Any]:
        started.set()
        try:
            await anyio.sleep(60)
        except anyio.get_cancelled_exc_class():
            endings.append("cancelled")
            raise
        endings.append("finished")
        return payload

    async with serve(slow) as server:
        with pytest.raises(RequestTimeout) as late:
            await client.request(trio, {"n": 1}, timeout=2)
        assert started.is_set()
        with anyio.fail_after(30):
            while server.stats.deadline_expired < 1:
                await anyio.sleep(0.05)
    assert endings == ["cancelled"]
    correlation_id = late.value.correlation_id
    assert correlation_id is not None
    reply = await anyio.to_thread.run_sync(
        _failure_reply, kafkarpc_broker, trio.failed, correlation_id
    )
    assert reply["error_code"] == "DEADLINE_EXCEEDED"
    assert "cancelled" in reply["error_message"]


async def test_a_handler_sees_its_deadline_in_its_context_and_in_anyio(
    serve: Callable[..., RpcServer], client: RpcClient, trio: TopicTrio
) -> None:
    async def tell(payload: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        remaining = context.remaining()
        return {
            "deadline_ms": context.deadline_ms,
            "remaining": remaining,
            "anyio_remaining": anyio.current_effective_deadline() - anyio.current_time(),
        }

    async with serve(tell):
        answer = await client.request(trio, {}, timeout=20)
    assert answer["deadline_ms"] is not None
    assert 0 < answer["remaining"] <= 20
    # anyio's view is the same deadline, on the loop's clock (read a moment later).
    assert math.isfinite(answer["anyio_remaining"])
    assert 0 < answer["anyio_remaining"] <= answer["remaining"] + 0.5
    assert answer["anyio_remaining"] >= answer["remaining"] - 5


async def test_deadlines_out_of_order_each_cancel_their_own_handler_only(
    serve: Callable[..., RpcServer], client: RpcClient, trio: TopicTrio
) -> None:
    # A long call first, then short ones: the short deadlines are earlier than one
    # already running, and must still cancel their handlers at their own time,
    # while the long call's handler, still running then, is answered.
    long_running = anyio.Event()
    release = anyio.Event()
    endings: dict[int, str] = {}

    async def work(payload: dict[str, int]) -> dict[str, int]:
        n = payload["n"]
        try:
            if n == 0:
                long_running.set()
                await release.wait()
            else:
                await anyio.sleep(60)
        except anyio.get_cancelled_exc_class():
            endings[n] = "cancelled"
            raise
        endings[n] = "finished"
        return payload

    answers: dict[int, Any] = {}

    async def call(n: int, timeout: float) -> None:
        try:
            answers[n] = await client.request(trio, {"n": n}, timeout=timeout)
        except RequestTimeout:
            answers[n] = "timeout"

    async with serve(work) as server, anyio.create_task_group() as tg:
        tg.start_soon(call, 0, 60)
        with anyio.fail_after(30):
            await long_running.wait()
        async with anyio.create_task_group() as short:
            for n in (1, 2, 3):
                short.start_soon(call, n, 2)
        with anyio.fail_after(30):
            while server.stats.deadline_expired < 3:
                await anyio.sleep(0.05)
        release.set()
    assert answers == {0: {"n": 0}, 1: "timeout", 2: "timeout", 3: "timeout"}
    assert endings == {0: "finished", 1: "cancelled", 2: "cancelled", 3: "cancelled"}
    assert server.stats.deadline_expired == 3
    assert server.stats.succeeded == 1


async def test_a_request_cancelled_at_its_deadline_is_committed_after_its_reply_and_not_run_again(
    serve: Callable[..., RpcServer], client: RpcClient, trio: TopicTrio
) -> None:
    # At least once, and no more than needed: the cancelled request is acknowledged
    # once its DEADLINE_EXCEEDED reply is on the broker, so the next server of the
    # group starts after it. One partition: the next request is fetched after it.
    one_partition = Topics(create=True, partitions=1)
    ran: list[int] = []

    async def work(payload: dict[str, int]) -> dict[str, int]:
        ran.append(payload["n"])
        if payload["n"] == 1:
            await anyio.sleep(60)
        return payload

    async with serve(work, topics=one_partition) as first:
        with pytest.raises(RequestTimeout):
            await client.request(trio, {"n": 1}, timeout=2)
        with anyio.fail_after(30):
            while first.stats.deadline_expired < 1:
                await anyio.sleep(0.05)
    async with serve(work, topics=one_partition) as second:
        assert await client.request(trio, {"n": 2}, timeout=30) == {"n": 2}
    assert ran == [1, 2]
    assert second.stats.received == 1
