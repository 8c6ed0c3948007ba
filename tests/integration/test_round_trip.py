"""Request/reply over the real broker: the paths every user takes first."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest
from pydantic import BaseModel

from kafkarpc import (
    RemoteError,
    RequestContext,
    RequestTimeout,
    RpcClient,
    RpcServer,
    TopicTrio,
)

pytestmark = pytest.mark.anyio


class RouteRequest(BaseModel):
    user_request: str
    max_recommendations: int = 3


class RouteResponse(BaseModel):
    agent: str
    confidence: float


async def test_dict_round_trip(
    client: RpcClient, serve: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    async def echo(payload: dict[str, object]) -> dict[str, object]:
        return {"echo": payload}

    server = serve(echo)
    async with server:
        reply = await client.request(unique_topic_base, {"n": 1, "tags": ["a"]})
    assert reply == {"echo": {"n": 1, "tags": ["a"]}}
    assert client.pending_count == 0


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_typed_round_trip_on_both_backends(
    kafkarpc_broker: str, serve: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    async def route(req: RouteRequest) -> RouteResponse:
        return RouteResponse(agent=f"agent-for-{req.user_request}", confidence=0.9)

    server = serve(route)
    async with server, RpcClient(kafkarpc_broker, service="typed-client") as client:
        reply = await client.request(
            unique_topic_base, RouteRequest(user_request="db"), response_model=RouteResponse
        )
    assert reply == RouteResponse(agent="agent-for-db", confidence=0.9)


async def test_sync_handler_and_context(
    client: RpcClient, serve: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    def whoami(payload: dict[str, object], ctx: RequestContext) -> dict[str, object]:
        return {"caller": ctx.caller, "correlation_id": ctx.correlation_id, "topic": ctx.topic}

    server = serve(whoami)
    async with server:
        reply = await client.request(unique_topic_base, {})
    assert reply["caller"] == "test-client"
    assert reply["topic"] == f"{unique_topic_base}.requested.v1"


async def test_failure_reply_raises_remote_error(
    client: RpcClient, serve: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    async def explode(payload: dict[str, object]) -> dict[str, object]:
        raise LookupError("no such agent")

    server = serve(explode)
    async with server:
        with pytest.raises(RemoteError) as caught:
            await client.request(unique_topic_base, {"x": 1})
    error = caught.value
    assert error.error_code == "HANDLER_ERROR"
    assert error.error_message == "no such agent"
    assert error.error_type == "LookupError"
    assert error.retryable is False
    assert error.correlation_id
    assert error.topic == f"{unique_topic_base}.failed.v1"
    assert client.pending_count == 0


async def test_validation_error_reply(
    client: RpcClient, make_server: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    server = make_server()
    calls = []

    @server.responder(unique_topic_base)
    async def route(req: RouteRequest) -> RouteResponse:
        calls.append(req)
        return RouteResponse(agent="x", confidence=1)

    async with server:
        with pytest.raises(RemoteError) as caught:
            await client.request(unique_topic_base, {"max_recommendations": "many"})
    assert caught.value.error_code == "VALIDATION_ERROR"
    assert caught.value.retryable is False
    failed_fields = {tuple(e["loc"]) for e in caught.value.details["errors"]}
    assert failed_fields == {("user_request",), ("max_recommendations",)}
    assert calls == []


async def test_timeout_leaves_no_pending_entry(client: RpcClient, unique_topic_base: str) -> None:
    # Nobody serves this operation.
    with pytest.raises(RequestTimeout) as caught:
        await client.request(unique_topic_base, {"x": 1}, timeout=0.5)
    error = caught.value
    assert isinstance(error, TimeoutError)
    assert error.topic == f"{unique_topic_base}.requested.v1"
    assert error.correlation_id
    assert error.elapsed is not None and error.elapsed >= 0.5
    assert client.pending_count == 0


async def test_hyphen_style_trio(
    client: RpcClient, make_server: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    stem = f"dev.archon-intelligence.{unique_topic_base.replace('.', '-')}.code-analysis"
    trio = TopicTrio(
        requested=f"{stem}-requested.v1",
        completed=f"{stem}-completed.v1",
        failed=f"{stem}-failed.v1",
    )
    server = make_server()

    @server.responder(trio)
    async def analyse(payload: dict[str, object], ctx: RequestContext) -> dict[str, object]:
        return {"event_type": ctx.event_type}

    async with server:
        reply = await client.request(trio, {"source_path": "a.py"})
    assert reply == {"event_type": "CODE_ANALYSIS_REQUESTED"}


async def test_concurrent_requests_each_get_their_own_reply(
    client: RpcClient, serve: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    async def square(payload: dict[str, int]) -> dict[str, int]:
        await anyio.sleep(0.001 * (payload["n"] % 5))  # finish out of order
        return {"n": payload["n"], "square": payload["n"] ** 2}

    server = serve(square)
    results: dict[int, dict[str, int]] = {}

    async def one(n: int) -> None:
        results[n] = await client.request(unique_topic_base, {"n": n})

    async with server, anyio.create_task_group() as tg:
        for n in range(200):
            tg.start_soon(one, n)
    assert results == {n: {"n": n, "square": n * n} for n in range(200)}
    assert client.pending_count == 0
