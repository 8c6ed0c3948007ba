"""The JSON envelope and headers of docs/wire.md §2-3, written out by hand.

The raw and handrolled systems deliberately do not use kafkarpc's codec: they
stand for a peer that knows only the wire contract, which is also what lets
one responder process serve both of them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "REQUEST_EVENT_TYPE",
    "Reply",
    "build_reply",
    "encode_request",
    "now_iso",
]

REQUEST_EVENT_TYPE = "BENCH_ECHO_REQUESTED"
_COMPLETED_EVENT_TYPE = "BENCH_ECHO_COMPLETED"
_CONTENT_TYPE = b"application/json"
_SCHEMA_VERSION = b"v1"

Headers = list[tuple[str, str | bytes | None]]
# What confluent-kafka may hand back from Message.headers().
ReceivedHeaders = Mapping[str, str | bytes | None] | Sequence[tuple[str, str | bytes | None]] | None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _common_headers(
    correlation_id: str, event_id: str, timestamp: str, service: str, event_type: str
) -> Headers:
    return [
        ("content_type", _CONTENT_TYPE),
        ("correlation_id", correlation_id.encode()),
        ("message_id", event_id.encode()),
        ("timestamp", timestamp.encode()),
        ("source", service.encode()),
        ("event_type", event_type.encode()),
        ("schema_version", _SCHEMA_VERSION),
    ]


def encode_request(
    correlation_id: str, service: str, payload: dict[str, Any], reply_to: str
) -> tuple[bytes, Headers]:
    """Value and headers of one request; the key is the correlation id."""
    event_id = str(uuid.uuid4())
    timestamp = now_iso()
    value = json.dumps(
        {
            "event_id": event_id,
            "event_type": REQUEST_EVENT_TYPE,
            "correlation_id": correlation_id,
            "timestamp": timestamp,
            "service": service,
            "payload": payload,
            "version": "v1",
        },
        separators=(",", ":"),
    ).encode()
    headers = _common_headers(correlation_id, event_id, timestamp, service, REQUEST_EVENT_TYPE)
    headers.append(("reply_to", reply_to.encode()))
    return value, headers


@dataclass(frozen=True, slots=True)
class Reply:
    """Where and what a responder sends back for one request."""

    topic: str
    partition: int | None
    key: bytes
    value: bytes
    headers: Headers


def _completed_event_type(request_event_type: str) -> str:
    if request_event_type.endswith("_REQUESTED"):
        return request_event_type[: -len("_REQUESTED")] + "_COMPLETED"
    return _COMPLETED_EVENT_TYPE


def _header(headers: ReceivedHeaders, name: str) -> str | None:
    items = headers.items() if isinstance(headers, Mapping) else headers or ()
    for key, raw in items:
        if key == name and raw is not None:
            return raw if isinstance(raw, str) else raw.decode(errors="replace")
    return None


def build_reply(
    value: bytes,
    headers: ReceivedHeaders,
    service: str,
    default_topic: str,
) -> Reply:
    """The echo reply to a request envelope: same payload and correlation id,
    ``causation_id`` = the request's ``event_id``, routed by ``reply_to`` /
    ``reply_partition`` when the request carries them."""
    request = json.loads(value)
    correlation_id = str(request["correlation_id"])
    event_id = str(uuid.uuid4())
    timestamp = now_iso()
    event_type = _completed_event_type(str(request.get("event_type", "")))
    reply_value = json.dumps(
        {
            "event_id": event_id,
            "event_type": event_type,
            "correlation_id": correlation_id,
            "causation_id": request.get("event_id"),
            "timestamp": timestamp,
            "service": service,
            "payload": request.get("payload", {}),
            "version": request.get("version", "v1"),
        },
        separators=(",", ":"),
    ).encode()
    partition_header = _header(headers, "reply_partition")
    partition = int(partition_header) if partition_header and partition_header.isdigit() else None
    return Reply(
        topic=_header(headers, "reply_to") or default_topic,
        partition=partition,
        key=correlation_id.encode(),
        value=reply_value,
        headers=_common_headers(correlation_id, event_id, timestamp, service, event_type),
    )
