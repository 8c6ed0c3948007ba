"""The well-known ``error_code`` values of a failure reply (docs/wire.md §2).

Apart from ``failure.py`` and its pydantic model, so the client's hot paths can
name a code without loading pydantic's model machinery (docs/benchmarks.md,
"Import time").
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ErrorCode"]


class ErrorCode(StrEnum):
    """Well-known ``error_code`` values of a failure payload; peers may send others."""

    VALIDATION_ERROR = "VALIDATION_ERROR"
    HANDLER_ERROR = "HANDLER_ERROR"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    NOT_FOUND = "NOT_FOUND"
    REPLY_TOO_LARGE = "REPLY_TOO_LARGE"
