"""The responder's two ways into its idempotency store give the same answers.

The built-in store is called through its synchronous ``lookup``/``remember``
(the HOT PATH in server/execution.py); any other store, a subclass of the
built-in one included, through ``await get``/``put``.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from kafkarpc import (
    InMemoryIdempotencyStore,
    MemoryBroker,
    MemoryTransport,
    RemoteError,
    RpcClient,
    RpcServer,
    StoredReply,
    TopicTrio,
)

pytestmark = pytest.mark.anyio


class _PlainPathStore(InMemoryIdempotencyStore):
    """The built-in store's behaviour; a subclass, so the server awaits get/put."""

    gets = 0

    async def get(self, key: str) -> StoredReply | None:
        self.gets += 1
        return await super().get(key)


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
    store: InMemoryIdempotencyStore, broker: MemoryBroker
) -> tuple[list[Any], list[str]]:
    server = RpcServer(service="orders", transport=MemoryTransport(broker), idempotency_store=store)
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
    async with RpcClient(service="shop", transport=MemoryTransport(broker)) as client, server:
        for payload, key in _CALLS:
            try:
                answers.append(await client.request("orders.place", payload, idempotency_key=key))
            except RemoteError as exc:
                answers.append((exc.error_code, exc.error_message, exc.retryable))
    return answers, executed


async def test_the_sync_and_the_awaited_store_paths_answer_alike(broker: MemoryBroker) -> None:
    trio = TopicTrio.from_base("orders.place")
    for topic in (trio.requested, *trio.reply_topics, f"{trio.requested}.dlq"):
        broker.create_topic(topic, 1)
    fast = InMemoryIdempotencyStore(max_entries=3)
    plain = _PlainPathStore(max_entries=3)
    fast_answers, fast_executed = await _answers(fast, broker)
    plain_answers, plain_executed = await _answers(plain, broker)
    assert plain.gets == len(_CALLS)  # the subclass really was awaited
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
