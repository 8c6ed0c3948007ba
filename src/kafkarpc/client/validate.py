"""The first step of a call: check the caller's per-call arguments before anything is sent.

Pure checks that raise ``ConfigurationError``; a call that fails them is never
counted, traced or sent.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._exceptions import ConfigurationError
from ..wire.headers import PRIORITIES

__all__ = ["RESERVED_HEADERS", "check_call_options", "check_timeout"]

RESERVED_HEADERS = frozenset(
    {
        "content_type",
        "correlation_id",
        "message_id",
        "timestamp",
        "source",
        "event_type",
        "schema_version",
        "reply_to",
        "reply_partition",
        "deadline_ms",
        "idempotency_key",
        "retry_count",
        "max_retries",
        "partition_key",
        "priority",
        "ttl_seconds",
    }
)


def check_timeout(timeout: float) -> float:
    """``timeout`` as a float, or ConfigurationError unless it is a finite number > 0."""
    if not isinstance(timeout, int | float) or isinstance(timeout, bool):
        raise ConfigurationError(f"timeout must be a number of seconds, got {timeout!r}")
    if not timeout > 0 or timeout == float("inf"):
        raise ConfigurationError(f"timeout must be a finite number > 0, got {timeout!r}")
    return float(timeout)


def check_call_options(
    priority: str | None,
    headers: Mapping[str, str | bytes] | None,
    partition_key: str | None,
) -> None:
    """ConfigurationError for a priority, header set or partition key a request cannot carry."""
    if priority is not None and priority not in PRIORITIES:
        raise ConfigurationError(f"priority must be one of {sorted(PRIORITIES)}, got {priority!r}")
    if headers:
        clash = RESERVED_HEADERS.intersection(headers)
        if clash:
            raise ConfigurationError(
                f"headers {sorted(clash)} are set by kafkarpc; use the keyword arguments instead"
            )
    if partition_key is not None and not partition_key:
        raise ConfigurationError("partition_key must be a non-empty str or None")
