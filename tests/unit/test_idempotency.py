"""InMemoryIdempotencyStore: bounded LRU with a time-to-live."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

import kafkarpc
from kafkarpc import (
    ConfigurationError,
    IdempotencyStore,
    InMemoryIdempotencyStore,
    RpcServer,
    SqliteIdempotencyStore,
    StoredReply,
)

if TYPE_CHECKING:
    from tests.unit.conftest import MemoryRpc

pytestmark = pytest.mark.anyio

OK = StoredReply(ok=True, payload={"receipt": 1})
FAILED = StoredReply(ok=False, payload={"error_code": "NOT_FOUND"})


async def test_put_then_get() -> None:
    store = InMemoryIdempotencyStore()
    assert await store.get("k") is None
    await store.put("k", OK)
    assert await store.get("k") == OK
    await store.put("f", FAILED)
    assert await store.get("f") == FAILED
    assert len(store) == 2


async def test_put_overwrites() -> None:
    store = InMemoryIdempotencyStore()
    await store.put("k", OK)
    await store.put("k", FAILED)
    assert await store.get("k") == FAILED
    assert len(store) == 1


async def test_lru_evicts_the_least_recently_used() -> None:
    store = InMemoryIdempotencyStore(max_entries=2)
    await store.put("a", OK)
    await store.put("b", OK)
    assert await store.get("a") == OK  # touch a: b is now least recently used
    await store.put("c", OK)
    assert len(store) == 2
    assert await store.get("b") is None
    assert await store.get("a") == OK
    assert await store.get("c") == OK


async def test_lru_keeps_the_newest_entries() -> None:
    store = InMemoryIdempotencyStore(max_entries=3)
    for i in range(10):
        await store.put(f"k{i}", StoredReply(ok=True, payload={"i": i}))
    assert len(store) == 3
    assert [await store.get(f"k{i}") is not None for i in range(10)] == [False] * 7 + [True] * 3


async def test_entries_expire_after_ttl() -> None:
    store = InMemoryIdempotencyStore(ttl=0.2)
    await store.put("k", OK)
    assert await store.get("k") == OK
    await anyio.sleep(0.25)
    assert await store.get("k") is None
    assert len(store) == 0


async def test_rewrite_renews_ttl() -> None:
    store = InMemoryIdempotencyStore(ttl=0.5)
    await store.put("k", OK)
    await anyio.sleep(0.3)
    await store.put("k", OK)
    await anyio.sleep(0.3)  # 0.6 s after the first put, 0.3 s after the second
    assert await store.get("k") == OK


@pytest.mark.parametrize("options", [{"max_entries": 0}, {"ttl": 0}, {"ttl": -1}])
def test_bad_options(options: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        InMemoryIdempotencyStore(**options)  # type: ignore[arg-type]


def test_in_memory_store_satisfies_the_protocol() -> None:
    assert isinstance(InMemoryIdempotencyStore(), IdempotencyStore)


async def test_custom_store_is_used_by_the_server(rpc: MemoryRpc) -> None:
    class RecordingStore:
        def __init__(self) -> None:
            self.data: dict[str, StoredReply] = {}

        async def get(self, key: str) -> StoredReply | None:
            return self.data.get(key)

        async def put(self, key: str, reply: StoredReply) -> None:
            self.data[key] = reply

    rpc.trio("orders.place")
    store = RecordingStore()
    assert isinstance(store, IdempotencyStore)
    server = rpc.server(idempotency_store=store)
    calls = 0

    @server.responder("orders.place")
    async def place(payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {"n": calls}

    async with rpc.client() as client, server:
        assert await client.request("orders.place", {}, idempotency_key="o-1") == {"n": 1}
        assert await client.request("orders.place", {}, idempotency_key="o-1") == {"n": 1}
    assert calls == 1
    assert any("o-1" in key for key in store.data)


async def test_a_subclass_of_the_in_memory_store_is_called_through_get_and_put(
    rpc: MemoryRpc,
) -> None:
    # The server calls the built-in store directly, but not a subclass overriding it.
    class CountingStore(InMemoryIdempotencyStore):
        def __init__(self) -> None:
            super().__init__()
            self.gets = self.puts = 0

        async def get(self, key: str) -> StoredReply | None:
            self.gets += 1
            return await super().get(key)

        async def put(self, key: str, reply: StoredReply) -> None:
            self.puts += 1
            await super().put(key, reply)

    rpc.trio("orders.place")
    store = CountingStore()
    server = rpc.server(idempotency_store=store)

    @server.responder("orders.place")
    async def place(payload: dict[str, Any]) -> dict[str, Any]:
        return {"placed": True}

    async with rpc.client() as client, server:
        for _ in range(2):
            assert await client.request("orders.place", {}, idempotency_key="o-1") == {
                "placed": True
            }
    assert (store.gets, store.puts) == (2, 1)


# ------------------------------------------------------------------ SQLite store


async def test_sqlite_store_put_then_get(tmp_path: Path) -> None:
    store = SqliteIdempotencyStore(tmp_path / "replies.db")
    try:
        assert await store.get("k") is None
        await store.put("k", OK)
        await store.put("f", FAILED)
        assert await store.get("k") == OK
        assert await store.get("f") == FAILED
        await store.put("k", FAILED)
        assert await store.get("k") == FAILED
    finally:
        store.close()


async def test_sqlite_store_is_shared_through_the_file(tmp_path: Path) -> None:
    # A responder taking over a dead one's partitions sees what the dead one answered.
    path = tmp_path / "replies.db"
    first = SqliteIdempotencyStore(path)
    await first.put("k", StoredReply(ok=True, payload={"nested": {"a": [1, None, "é"]}}))
    first.close()
    second = SqliteIdempotencyStore(str(path))
    try:
        assert await second.get("k") == StoredReply(
            ok=True, payload={"nested": {"a": [1, None, "é"]}}
        )
    finally:
        second.close()


async def test_sqlite_store_entries_expire(tmp_path: Path) -> None:
    store = SqliteIdempotencyStore(tmp_path / "replies.db", ttl=0.2)
    try:
        await store.put("k", OK)
        await anyio.sleep(0.25)
        assert await store.get("k") is None
    finally:
        store.close()


@pytest.mark.parametrize("ttl", [0, -1])
def test_sqlite_store_bad_ttl(tmp_path: Path, ttl: float) -> None:
    with pytest.raises(ConfigurationError):
        SqliteIdempotencyStore(tmp_path / "replies.db", ttl=ttl)


def test_sqlite_store_satisfies_the_protocol(tmp_path: Path) -> None:
    store = SqliteIdempotencyStore(tmp_path / "replies.db")
    try:
        assert isinstance(store, IdempotencyStore)
    finally:
        store.close()


async def test_sqlite_store_deduplicates_across_servers(tmp_path: Path, rpc: MemoryRpc) -> None:
    rpc.trio("orders.place", partitions=1)
    path = tmp_path / "replies.db"
    calls = 0
    stores: list[SqliteIdempotencyStore] = []

    def build() -> kafkarpc.RpcServer:
        stores.append(SqliteIdempotencyStore(path))
        server = rpc.server(service="orders", idempotency_store=stores[-1])

        @server.responder("orders.place")
        async def place(payload: dict[str, Any]) -> dict[str, Any]:
            nonlocal calls
            calls += 1
            return {"n": calls}

        return server

    try:
        async with rpc.client() as client:
            async with build():
                first = await client.request("orders.place", {}, idempotency_key="o-1")
            async with build():  # a fresh process on the same host
                second = await client.request("orders.place", {}, idempotency_key="o-1")
    finally:
        for store in stores:
            store.close()
    assert calls == 1
    assert first == second == {"n": 1}


def test_an_empty_store_given_to_the_server_is_the_one_it_uses() -> None:
    from kafkarpc import MemoryBroker, MemoryTransport

    store = InMemoryIdempotencyStore(max_entries=5)
    assert len(store) == 0  # falsy: a server must not mistake it for "no store"
    server = RpcServer(
        service="s", transport=MemoryTransport(MemoryBroker()), idempotency_store=store
    )
    assert server._idempotency is store
