"""Handling requests that share a partition key one at a time, in fetch order."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio

__all__ = ["KeyOrder"]


class KeyOrder:
    """One FIFO lock per partition key in use; a key's lock goes when its last user does.

    Workers take records in fetch order and reach ``hold`` without awaiting in
    between, and anyio's locks are fair, so a key's requests run in fetch order.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[anyio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (anyio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
