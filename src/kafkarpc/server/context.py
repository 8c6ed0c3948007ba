"""``RequestContext``: what a handler may want to know about the request it serves."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RequestContext"]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Ask for it by annotating a handler parameter with ``RequestContext``."""

    correlation_id: str
    event_id: str
    event_type: str
    caller: str
    topic: str
    partition: int
    offset: int
    headers: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    deadline_ms: int | None = None
    idempotency_key: str | None = None
    retry_count: int = 0
    attempt: int = 1

    def remaining(self) -> float | None:
        """Seconds until the caller stops waiting, or None without a deadline."""
        if self.deadline_ms is None:
            return None
        return self.deadline_ms / 1000 - time.time()
