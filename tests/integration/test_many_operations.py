"""One client calling many operations of one server at once, on the real broker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from kafkarpc import RpcClient, RpcServer, TopicTrio

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

_OPERATIONS = 60


def _answer_as(operation: int) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
    async def answer(payload: dict[str, Any]) -> dict[str, Any]:
        return {"operation": operation, **payload}

    return answer


async def test_first_calls_to_many_operations_at_once_each_get_their_own_reply(
    make_server: Callable[..., RpcServer],
    make_client: Callable[..., RpcClient],
    unique_topic_base: str,
) -> None:
    # Every operation's reply topics are positioned by its first call, and those
    # positionings overlap here: none may skip the reply its own call is waiting for.
    trios = [TopicTrio.from_base(f"{unique_topic_base}.op{i}") for i in range(_OPERATIONS)]
    server = make_server()
    for index, trio in enumerate(trios):
        server.add_responder(trio, _answer_as(index))
    replies: dict[int, dict[str, Any]] = {}

    async def call(client: RpcClient, index: int) -> None:
        replies[index] = await client.request(trios[index], {"n": index}, timeout=60)

    async with server, make_client() as client, anyio.create_task_group() as group:
        for index in range(_OPERATIONS):
            group.start_soon(call, client, index)
    assert replies == {i: {"operation": i, "n": i} for i in range(_OPERATIONS)}
