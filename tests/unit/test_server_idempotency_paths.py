"""The responder's two ways into its idempotency store give the same answers.

The built-in store is called through its synchronous ``lookup``/``remember``
(the HOT PATH in server/execution.py); any other store, a subclass of the
built-in one included, through ``await get``/``put``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from kafkarpc import (
    InMemoryIdempotencyStore,
    RemoteError,
    RpcClient,
    RpcServer,
    StoredReply,
    TopicTrio,
)

pytestmark = pytest.mark.anyio


class _PlainPathStore(InMemoryIdempotencyStore):
    """The built-in store's behaviour, reached only through get/put (counted)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.calls = 0

    async def get(self, key: str) -> StoredReply | None:
        self.calls += 1
        return await super().get(key)

    async def put(self, key: str, reply: StoredReply) -> None:
        self.calls += 1
        await super().put(key, reply)


class _Order(BaseModel):
    do: str


# (payload, idempotency key): repeats of each kind of answer, cached or not.
_CALLS: list[tuple[dict[str, Any], str]] = [
    ({"do": "ok"}, "a"),
    ({"do": "ok"}, "a"),
    ({"do": "not-found"}, "b"),
    ({"do": "not-found"}, "b"),
    ({"do": "busy"}, "c"),
    ({"do": "busy"}, "c"),
    ({"do": "crash"}, "d"),
    ({"do": "crash"}, "d"),
    ({"wrong": 1}, "e"),
    ({"wrong": 1}, "e"),
    ({"do": "ok"}, "f"),
    ({"do": "ok"}, "a"),  # "a" was evicted by then (max_entries=3)
]


async def _answers(
    store: InMemoryIdempotencyStore,
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
) -> tuple[list[Any], list[str]]:
    server = make_server(idempotency_store=store)
    executed: list[str] = []

    @server.responder("orders.place")
    async def place(order: _Order) -> dict[str, Any]:
        action = order.do
        executed.append(action)
        if action == "not-found":
            raise RemoteError(error_code="NOT_FOUND", error_message="no such order")
        if action == "busy":
            raise RemoteError(error_code="BUSY", error_message="later", retryable=True)
        if action == "crash":
            raise RuntimeError("boom")
        return {"n": len(executed)}

    answers: list[Any] = []
    async with make_client() as client, server:
        for payload, key in _CALLS:
            try:
                answers.append(await client.request("orders.place", payload, idempotency_key=key))
            except RemoteError as exc:
                answers.append((exc.error_code, exc.error_message, exc.retryable))
    return answers, executed


async def test_the_sync_and_the_awaited_store_paths_answer_alike(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    make_trio: Callable[..., TopicTrio],
) -> None:
    make_trio("orders.place")
    fast = InMemoryIdempotencyStore(max_entries=3)
    plain = _PlainPathStore(max_entries=3)
    fast_answers, fast_executed = await _answers(fast, make_client, make_server)
    plain_answers, plain_executed = await _answers(plain, make_client, make_server)
    assert plain.calls > 0  # the subclass really went through get/put
    assert fast_answers == plain_answers
    assert fast_executed == plain_executed
    # What was cached: a success and a handler's own final answer; not a retryable
    # answer, a crash or (here) the re-executions of an evicted key.
    assert fast_executed == ["ok", "not-found", "busy", "busy", "crash", "crash", "ok", "ok"]
    assert fast_answers[0] == fast_answers[1] == {"n": 1}
    assert fast_answers[-1] == {"n": 8}


async def test_lookup_and_remember_agree_with_get_and_put() -> None:
    via_sync = InMemoryIdempotencyStore(max_entries=2)
    via_async = InMemoryIdempotencyStore(max_entries=2)
    steps = [("put", "a", True), ("put", "b", False), ("get", "a", None), ("put", "c", True)]
    steps += [("get", key, None) for key in "abcd"] + [("put", "a", False), ("get", "a", None)]
    for op, key, ok in steps:
        if op == "put":
            assert ok is not None
            via_sync.remember(key, ok, {"key": key})
            await via_async.put(key, StoredReply(ok, {"key": key}))
        else:
            assert via_sync.lookup(key) == await via_async.get(key)
        assert len(via_sync) == len(via_async)
    assert via_sync.lookup("a") == StoredReply(False, {"key": "a"})
    assert via_sync.lookup("b") is None
