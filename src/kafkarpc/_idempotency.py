"""Remembering answers so a repeated request is answered, not re-executed."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ._exceptions import ConfigurationError

__all__ = ["IdempotencyStore", "InMemoryIdempotencyStore", "StoredReply"]


@dataclass(frozen=True, slots=True)
class StoredReply:
    ok: bool
    payload: dict[str, Any]


@runtime_checkable
class IdempotencyStore(Protocol):
    """Where answered requests are remembered. Implement it over Redis or a
    database to deduplicate across responder instances."""

    async def get(self, key: str) -> StoredReply | None: ...

    async def put(self, key: str, reply: StoredReply) -> None: ...


class InMemoryIdempotencyStore:
    """A bounded LRU with a time-to-live, local to one responder process."""

    def __init__(self, *, max_entries: int = 10_000, ttl: float = 600.0) -> None:
        if max_entries < 1 or ttl <= 0:
            raise ConfigurationError("max_entries must be >= 1 and ttl > 0")
        self._max_entries = max_entries
        self._ttl = ttl
        self._entries: OrderedDict[str, tuple[float, StoredReply]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> StoredReply | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored_at, reply = entry
        if time.monotonic() - stored_at > self._ttl:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return reply

    async def put(self, key: str, reply: StoredReply) -> None:
        self._entries[key] = (time.monotonic(), reply)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
