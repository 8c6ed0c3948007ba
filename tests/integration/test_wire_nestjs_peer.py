"""kafkarpc's NestJS wire against a real NestJS 11 microservice and ``ClientKafka``
(tests/peers/nestjs/peer.js), both directions, errors included."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest
from tests.integration.nestjs_peer import NestPeer

from kafkarpc import RemoteError, RpcClient, RpcServer, ensure_topics

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(150)]


@pytest.fixture
def prefix() -> str:
    return f"nest{uuid.uuid4().hex[:8]}"


async def _peer_topics(bootstrap: str, prefix: str) -> None:
    # A NestJS microservice subscribes only to topics that exist when it starts.
    names = ("sum", "refuse", "whoami", "count")
    await ensure_topics(
        bootstrap, [f"{prefix}.{n}{suffix}" for n in names for suffix in ("", ".reply")]
    )


async def test_kafkarpc_calls_a_real_nestjs_microservice(
    kafkarpc_broker: str, nestjs: NestPeer, make_client: Callable[..., RpcClient], prefix: str
) -> None:
    await _peer_topics(kafkarpc_broker, prefix)
    async with (
        nestjs.serve(f"nest-{prefix}", prefix),
        make_client(wire="nestjs") as client,
    ):
        total: Any = await client.request(f"{prefix}.sum", {"a": 2, "b": 3}, timeout=30)
        who = await client.request(f"{prefix}.whoami", {"me": "kafkarpc"}, timeout=30)
        with pytest.raises(RemoteError) as caught:
            await client.request(f"{prefix}.refuse", {"x": 1}, timeout=30)
        # A handler returning an Observable sends a reply per item: the first one answers.
        first: Any = await client.request(f"{prefix}.count", {"n": 3}, timeout=30)
        totals: list[Any] = []

        async def add(index: int) -> None:
            totals.append(await client.request(f"{prefix}.sum", {"a": index, "b": 1}, timeout=60))

        async with anyio.create_task_group() as tasks:
            for index in range(50):
                tasks.start_soon(add, index)
    assert total == 5
    assert who == {"service": "nestjs-peer", "received": {"me": "kafkarpc"}}
    assert caught.value.error_message == 'refused: {"x":1}'  # the RpcException's message
    assert sorted(totals) == list(range(1, 51))
    assert first == 1
    assert caught.value.error_type == "RpcException"


async def test_a_real_nestjs_client_calls_a_kafkarpc_responder(
    nestjs: NestPeer, make_server: Callable[..., RpcServer], prefix: str
) -> None:
    server = make_server(wire="nestjs")

    @server.responder(f"{prefix}.quote")
    async def quote(payload: dict[str, int]) -> dict[str, int]:
        if payload["units"] < 0:
            raise RemoteError(error_code="NEGATIVE", error_message="units must be >= 0")
        return {"cents": payload["units"] * 150}

    async with server:
        payloads = [{"units": n} for n in range(50)] + [{"units": -1}]
        results = await nestjs.call(f"client-{prefix}", f"{prefix}.quote", payloads)
    assert results[:50] == [{"ok": [{"cents": n * 150}]} for n in range(50)]
    error = results[50]["error"]
    # NestJS hands its caller the error object kafkarpc sent: an RpcException's shape.
    assert (error["status"], error["message"]) == ("error", "units must be >= 0")
    assert error["error_code"] == "NEGATIVE"


async def test_kafkarpc_streams_the_replies_of_a_nestjs_observable(
    kafkarpc_broker: str, nestjs: NestPeer, make_client: Callable[..., RpcClient], prefix: str
) -> None:
    await _peer_topics(kafkarpc_broker, prefix)
    async with (
        nestjs.serve(f"nest-{prefix}", prefix),
        make_client(wire="nestjs") as client,
    ):
        # The peer's handler returns an Observable of 1..n: one reply each, the last marked.
        items = [item async for item in client.stream(f"{prefix}.count", {"n": 5}, timeout=30)]
        with pytest.raises(RemoteError) as caught:
            async for _ in client.stream(f"{prefix}.refuse", {"x": 2}, timeout=30):
                pass
    assert items == [1, 2, 3, 4, 5]
    assert caught.value.error_message == 'refused: {"x":2}'


async def test_a_real_nestjs_client_takes_a_kafkarpc_stream_as_an_observable(
    nestjs: NestPeer, make_server: Callable[..., RpcServer], prefix: str
) -> None:
    server = make_server(wire="nestjs")

    @server.responder(f"{prefix}.ticks")
    async def ticks(payload: dict[str, int]) -> AsyncIterator[dict[str, int]]:
        for tick in range(payload["n"]):
            yield {"tick": tick}

    async with server:
        results = await nestjs.call(f"client-{prefix}", f"{prefix}.ticks", [{"n": 4}, {"n": 1}])
    # NestJS collects every reply of a call until the one marked disposed (the last item).
    assert results == [
        {"ok": [{"tick": 0}, {"tick": 1}, {"tick": 2}, {"tick": 3}]},
        {"ok": [{"tick": 0}]},
    ]
