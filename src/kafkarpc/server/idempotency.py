"""Remembering answers so a repeated request is answered, not re-executed."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import anyio

from .._exceptions import ConfigurationError
from ..transport import OutboundRecord

__all__ = [
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
    "SqliteIdempotencyStore",
    "StoredReply",
]


@dataclass(frozen=True, slots=True)
class StoredReply:
    ok: bool
    payload: dict[str, Any]
    #: The events the handler published with this reply (``RequestContext.publish``),
    #: and the request record (topic, partition, offset) it answered: a redelivery of
    #: that same record, whose reply was never committed, publishes them again.
    events: tuple[OutboundRecord, ...] = ()
    source: tuple[str, int, int] | None = None


#: ``StoredReply.events`` and ``StoredReply.source``, as the in-memory store keeps them.
_Published = tuple[tuple[OutboundRecord, ...], tuple[str, int, int] | None]


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
        self._entries: OrderedDict[str, tuple[float, bool, dict[str, Any], _Published]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> StoredReply | None:
        return self.lookup(key)

    async def put(self, key: str, reply: StoredReply) -> None:
        self.remember(key, reply.ok, reply.payload, (reply.events, reply.source))

    # This store never waits, so it also answers synchronously: the responder calls
    # these instead of get/put, skipping two coroutines and the StoredReply of every
    # put (see the HOT PATH note in server/execution.py).
    def lookup(self, key: str) -> StoredReply | None:
        """``get`` without the coroutine."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored_at, ok, payload, (events, source) = entry
        if time.monotonic() - stored_at > self._ttl:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return StoredReply(ok, payload, events, source)

    def remember(
        self, key: str, ok: bool, payload: dict[str, Any], published: _Published = ((), None)
    ) -> None:
        """``put`` without the coroutine and the ``StoredReply``."""
        entries = self._entries
        if key in entries:  # a new key goes to the end anyway
            entries.move_to_end(key)
        entries[key] = (time.monotonic(), ok, payload, published)
        while len(entries) > self._max_entries:
            entries.popitem(last=False)


class SqliteIdempotencyStore:
    """A store shared by the responder processes of one host, in a SQLite file.

    Lets a responder that takes over a dead one's partitions answer the requests
    the dead one already answered instead of executing them again. Entries older
    than ``ttl`` seconds are ignored and pruned. For several hosts, implement
    ``IdempotencyStore`` over a shared database or cache.
    """

    def __init__(self, path: str | os.PathLike[str], *, ttl: float = 600.0) -> None:
        if ttl <= 0:
            raise ConfigurationError("ttl must be > 0")
        self._path = os.fspath(path)
        self._ttl = ttl
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(self._path, check_same_thread=False, timeout=30)
        with self._lock, self._connection:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS replies ("
                " key TEXT PRIMARY KEY, stored_at REAL NOT NULL, ok INTEGER NOT NULL,"
                " payload TEXT NOT NULL)"
            )
            columns = {row[1] for row in self._connection.execute("PRAGMA table_info(replies)")}
            if "published" not in columns:  # a file written before events were remembered
                self._connection.execute("ALTER TABLE replies ADD COLUMN published TEXT")

    def _get(self, key: str) -> StoredReply | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT stored_at, ok, payload, published FROM replies WHERE key = ?", (key,)
            ).fetchone()
        if row is None or time.time() - row[0] > self._ttl:
            return None
        events, source = _published_from_json(row[3])
        return StoredReply(bool(row[1]), json.loads(row[2]), events, source)

    def _put(self, key: str, reply: StoredReply) -> None:
        now = time.time()
        with self._lock, self._connection:
            self._connection.execute(
                "INSERT OR REPLACE INTO replies (key, stored_at, ok, payload, published)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, now, int(reply.ok), json.dumps(reply.payload), _published_to_json(reply)),
            )
            self._connection.execute("DELETE FROM replies WHERE stored_at < ?", (now - self._ttl,))

    async def get(self, key: str) -> StoredReply | None:
        return await anyio.to_thread.run_sync(self._get, key)

    async def put(self, key: str, reply: StoredReply) -> None:
        await anyio.to_thread.run_sync(self._put, key, reply)

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _published_to_json(reply: StoredReply) -> str | None:
    if not reply.events:
        return None
    events = [
        {
            "topic": record.topic,
            "value": _b64(record.value),
            "key": None if record.key is None else _b64(record.key),
            "headers": [[name, _b64(value)] for name, value in record.headers],
            "partition": record.partition,
        }
        for record in reply.events
    ]
    return json.dumps({"events": events, "source": reply.source})


def _published_from_json(text: str | None) -> _Published:
    if text is None:
        return (), None
    data = json.loads(text)
    events = tuple(
        OutboundRecord(
            topic=event["topic"],
            value=base64.b64decode(event["value"]),
            key=None if event["key"] is None else base64.b64decode(event["key"]),
            headers=[(name, base64.b64decode(value)) for name, value in event["headers"]],
            partition=event["partition"],
        )
        for event in data["events"]
    )
    source = data["source"]
    return events, None if source is None else (source[0], source[1], source[2])
