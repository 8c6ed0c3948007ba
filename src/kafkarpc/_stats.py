"""Plain counters a client or server keeps about itself (cheap; no dependency)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ClientStats", "ServerStats"]


@dataclass(slots=True)
class ClientStats:
    requests: int = 0
    succeeded: int = 0
    remote_errors: int = 0
    timeouts: int = 0
    publish_errors: int = 0
    circuit_rejections: int = 0
    retries: int = 0
    late_replies: int = 0
    """Replies whose correlation id had no pending call: late, duplicate or another client's."""
    undecodable_replies: int = 0
    dead_lettered: int = 0


@dataclass(slots=True)
class ServerStats:
    received: int = 0
    succeeded: int = 0
    handler_errors: int = 0
    validation_errors: int = 0
    deadline_expired: int = 0
    deduplicated: int = 0
    dead_lettered: int = 0
    retries: int = 0
