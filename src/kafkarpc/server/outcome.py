"""``Outcome``: what a request resolved to (immutable), and the one way to build a failure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

# The failure payload is part of the wire contract; it is built in one place.
from ..wire.failure import failure_payload

__all__ = ["Outcome", "failure"]


class Outcome(NamedTuple):
    """What a request resolved to: the reply, whether a repeat may reuse it, and
    whether the request must also be dead-lettered.

    Successes and deliberate answers (validation, a handler's own RemoteError) are
    ``cacheable``; crashes and expired deadlines are not, so a retry or a DLQ
    replay of the same idempotency key executes again. Immutable: a reply that
    cannot be sent as it is becomes a new Outcome (``failure(..., instead_of=...)``).
    """

    ok: bool
    payload: dict[str, Any]
    cacheable: bool = False
    dead_letter: BaseException | None = None
    attempts: int = 1


def failure(
    code: str,
    message: str,
    *,
    error_type: str = "",
    retryable: bool = False,
    details: Mapping[str, Any] | None = None,
    cacheable: bool = False,
    dead_letter: BaseException | None = None,
    attempts: int = 1,
    instead_of: Outcome | None = None,
) -> Outcome:
    """A failure reply (its payload as docs/wire.md §2 lays it out).

    With ``instead_of``, the failure replaces that outcome's reply (one that could
    not be sent) and keeps its dead letter and attempt count; it is never cached.
    """
    if instead_of is not None:
        dead_letter, attempts, cacheable = instead_of.dead_letter, instead_of.attempts, False
    payload = failure_payload(
        code, message, error_type=error_type, retryable=retryable, details=details
    )
    return Outcome(False, payload, cacheable, dead_letter, attempts)
