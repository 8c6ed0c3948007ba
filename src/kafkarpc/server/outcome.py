"""What a request resolved to, and the failure payloads the responder sends."""

from __future__ import annotations

from typing import Any

# The failure payload is part of the wire contract; it is built in one place.
from ..wire.failure import failure_payload

__all__ = ["Outcome", "failure_payload"]


class Outcome:
    """What a request resolved to: the reply, whether a repeat may reuse it, and
    whether the request must also be dead-lettered."""

    __slots__ = ("attempts", "cacheable", "dead_letter", "ok", "payload")

    def __init__(
        self,
        ok: bool,
        payload: dict[str, Any],
        *,
        cacheable: bool = False,
        dead_letter: BaseException | None = None,
        attempts: int = 1,
    ) -> None:
        self.attempts = attempts
        self.ok = ok
        self.payload = payload
        # Successes and deliberate answers (validation, a handler's own RemoteError)
        # are final; crashes and expired deadlines are not, so a retry or a DLQ
        # replay of the same idempotency key executes again.
        self.cacheable = cacheable
        self.dead_letter = dead_letter

    def become_failure(self, payload: dict[str, Any]) -> None:
        self.ok = False
        self.payload = payload
        self.cacheable = False
