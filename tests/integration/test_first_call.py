"""A fresh client's very first call is answered: no reply arrives before the reply reader.

Peers lose replies that come back before their reply consumer has a position (Spring
added ``waitForAssignment`` for it). kafkarpc positions an operation's reply reader
before the operation's first request leaves (docs/wire.md §4), inside the call, so a
client needs no readiness step of its own: here 200 clients each make exactly one
call as the first thing they do.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from kafkarpc import RpcClient, RpcServer, TopicTrio

pytestmark = pytest.mark.anyio

CLIENTS = 200
# Clients starting at once; each is a librdkafka producer and consumer with threads.
AT_ONCE = 20


@pytest.mark.timeout(420)
async def test_two_hundred_fresh_clients_each_get_the_reply_to_their_first_call(
    serve: Callable[..., RpcServer], make_client: Callable[..., RpcClient], trio: TopicTrio
) -> None:
    async def echo(payload: dict[str, int]) -> dict[str, int]:
        return payload

    answered: list[int] = []

    async def first_call(number: int, limiter: anyio.CapacityLimiter) -> None:
        async with limiter, make_client(service=f"fresh-{number}") as client:
            reply = await client.request(trio, {"n": number}, timeout=60)
            answered.append(reply["n"])

    async with serve(echo):
        limiter = anyio.CapacityLimiter(AT_ONCE)
        with anyio.fail_after(400):
            async with anyio.create_task_group() as tasks:
                for number in range(CLIENTS):
                    tasks.start_soon(first_call, number, limiter)

    assert sorted(answered) == list(range(CLIENTS))
