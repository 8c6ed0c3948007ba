"""The first step of a call: check the caller's arguments and make them a ``Call``.

Checks raise ``ConfigurationError`` (or a ``PayloadError``); a call that fails
them is never counted, traced or sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from .._causation import Cause
from .._config import CallRetry
from .._exceptions import ConfigurationError, RequestTimeout
from .._ids import new_uuid
from .._sentinel import Unset
from ..wire.envelope import encode_payload
from ..wire.header_table import RESERVED_HEADERS
from ..wire.headers import PRIORITIES
from ..wire.topics import TopicNaming, TopicTrio
from .call import Call

if TYPE_CHECKING:
    # Only for annotations: importing it would load pydantic's model machinery.
    from pydantic import BaseModel

__all__ = [
    "CallOptions",
    "TrioNames",
    "check_call_options",
    "check_timeout",
    "new_call",
    "within_cause",
]


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


def within_cause(timeout: float, cause: Cause | None, topic: str) -> float:
    """``timeout``, shortened to end by the deadline of the request being handled.

    Raises RequestTimeout when that deadline has passed: its caller no longer waits,
    so nothing is sent on its behalf.
    """
    if cause is None or cause.deadline_ms is None:
        return timeout
    remaining = cause.deadline_ms / 1000 - time.time()
    if remaining <= 0:
        raise RequestTimeout(
            "the request being handled is past its deadline; nothing was sent",
            correlation_id=cause.correlation_id,
            topic=topic,
            elapsed=0.0,
        )
    return min(timeout, remaining)


class CallOptions(TypedDict, total=False):
    """``RpcClient.request``'s per-call keywords besides ``response_model``."""

    timeout: float | Unset
    partition_key: str | None
    headers: Mapping[str, str | bytes] | None
    idempotency_key: str | None
    priority: str | None
    retry: CallRetry | Unset | None
    cause: Cause | Unset | None


def new_call(
    trio: TopicTrio,
    payload: Mapping[str, Any] | BaseModel,
    *,
    timeout: float,
    policy: CallRetry,
    clock: Callable[[], float],
    partition_key: str | None,
    headers: Mapping[str, str | bytes] | None,
    idempotency_key: str | None,
    priority: str | None,
    cause: Cause | None = None,
) -> Call:
    """A new call of ``payload`` to ``trio``, due within ``timeout`` seconds (already checked)
    and no later than the deadline of ``cause``, the request being handled."""
    body = encode_payload(payload)
    check_call_options(priority, headers, partition_key)
    timeout = within_cause(timeout, cause, trio.requested)
    correlation_id = new_uuid()
    deadline = clock() + timeout
    deadline_ms = int((time.time() + timeout) * 1000)
    return Call(
        trio=trio,
        body=body,
        correlation_id=correlation_id,
        idempotency_key=idempotency_key or correlation_id,
        partition_key=partition_key,
        priority=priority,
        headers=headers,
        policy=policy,
        started=time.monotonic(),
        clock=clock,
        deadline=deadline,
        # Never later than the cause's, whatever the float arithmetic above rounded to.
        deadline_ms=deadline_ms if cause is None else cause.deadline_for(deadline_ms),
        until=deadline,
        cause=cause,
    )


class TrioNames:
    """The trio of each operation a caller names: made (and checked) once per name."""

    __slots__ = ("_naming", "_trios", "_version")

    def __init__(self, version: str, naming: TopicNaming | None = None) -> None:
        self._version = version
        self._naming = naming
        self._trios: dict[str, TopicTrio] = {}

    def of(self, op: str | TopicTrio) -> TopicTrio:
        if isinstance(op, TopicTrio):
            return op
        trio = self._trios.get(op)
        if trio is None:
            trio = self._trios[op] = TopicTrio.from_base(
                op, version=self._version, naming=self._naming
            )
        return trio
