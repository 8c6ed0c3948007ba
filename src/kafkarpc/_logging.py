"""Log records about one message carry its correlation id and topic as ``extra``.

Handlers and formatters can then use ``%(correlation_id)s`` and ``%(topic)s``.
Payloads are never logged, except at DEBUG through a user's ``PayloadPreview``
(payloads may hold secrets; the hook decides what is safe to show).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["PayloadPreview", "about", "preview"]

PayloadPreview = Callable[[Mapping[str, Any]], str]


def about(correlation_id: str | None, topic: str) -> dict[str, Any]:
    """The ``extra`` of a log record about one message."""
    return {"correlation_id": correlation_id or "-", "topic": topic}


def preview(hook: PayloadPreview | None, payload: Mapping[str, Any]) -> str:
    if hook is None:
        return "<payload not logged>"
    try:
        return hook(payload)
    except Exception as exc:  # a broken hook must not break request handling
        return f"<payload preview failed: {type(exc).__name__}>"
