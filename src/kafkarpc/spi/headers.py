"""Record headers in the reference protocols' shape (``ProtocolEventBusHeaders``).

kafkarpc's header names are the reference's own (``correlation_id``, ``message_id``,
``source``, ...; docs/wire.md §3), so the translation is one of types only: text on
the wire, ``UUID`` and ``datetime`` where the reference protocol says so.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, cast

from ..wire.headers import PRIORITIES, header_dict

__all__ = ["EventHeaders", "header_list"]

Priority = Literal["low", "normal", "high", "critical"]
_EPOCH = datetime.fromtimestamp(0, UTC)

#: What ``header_list`` reads off a headers object, in the reference's order.
_ATTRIBUTES = (
    "content_type",
    "correlation_id",
    "message_id",
    "timestamp",
    "source",
    "event_type",
    "schema_version",
    "trace_id",
    "span_id",
    "parent_span_id",
    "priority",
    "routing_key",
    "partition_key",
    "retry_count",
    "max_retries",
    "ttl_seconds",
)


def _text(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, datetime):
        return value.isoformat().encode()
    return str(value).encode()


def header_list(headers: object | None) -> list[tuple[str, bytes]]:
    """Record headers from a ``ProtocolEventBusHeaders``-shaped object, a mapping of
    names to values, or None; ``None`` values are left out."""
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        items = list(headers.items())
    else:
        items = [(name, getattr(headers, name, None)) for name in _ATTRIBUTES]
    return [(str(name), _text(value)) for name, value in items if value is not None]


def _uuid(text: str | None) -> uuid.UUID:
    """A UUID header as a UUID; any other id as a stable UUID derived from it."""
    if not text:
        return uuid.UUID(int=0)
    try:
        return uuid.UUID(text)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, text)


def _int(text: str | None) -> int | None:
    try:
        return None if text is None else int(text)
    except ValueError:
        return None


class EventHeaders:
    """A record's headers as ``ProtocolEventBusHeaders`` reads them; ``raw`` has the text."""

    __slots__ = ("raw",)

    def __init__(self, raw: Sequence[tuple[str, bytes | None]] | None) -> None:
        self.raw: dict[str, str] = header_dict(raw)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.raw.get(name, default)

    @property
    def content_type(self) -> str:
        return self.raw.get("content_type", "application/json")

    @property
    def correlation_id(self) -> uuid.UUID:
        """The correlation id as a UUID (``raw["correlation_id"]`` for any other id)."""
        return _uuid(self.raw.get("correlation_id"))

    @property
    def message_id(self) -> uuid.UUID:
        return _uuid(self.raw.get("message_id"))

    @property
    def timestamp(self) -> datetime:
        """When it was sent; the epoch when the header is missing or unreadable."""
        try:
            return datetime.fromisoformat(self.raw.get("timestamp", ""))
        except ValueError:
            return _EPOCH

    @property
    def source(self) -> str:
        return self.raw.get("source", "")

    @property
    def event_type(self) -> str:
        return self.raw.get("event_type", "")

    @property
    def schema_version(self) -> str:
        return self.raw.get("schema_version", "")

    @property
    def trace_id(self) -> str | None:
        return self.raw.get("trace_id")

    @property
    def span_id(self) -> str | None:
        return self.raw.get("span_id")

    @property
    def parent_span_id(self) -> str | None:
        return self.raw.get("parent_span_id")

    @property
    def priority(self) -> Priority | None:
        value = self.raw.get("priority")
        return cast(Priority, value) if value in PRIORITIES else None

    @property
    def routing_key(self) -> str | None:
        return self.raw.get("routing_key")

    @property
    def partition_key(self) -> str | None:
        return self.raw.get("partition_key")

    @property
    def retry_count(self) -> int | None:
        return _int(self.raw.get("retry_count"))

    @property
    def max_retries(self) -> int | None:
        return _int(self.raw.get("max_retries"))

    @property
    def ttl_seconds(self) -> int | None:
        return _int(self.raw.get("ttl_seconds"))
