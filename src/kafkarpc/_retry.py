"""``RetryPolicy``: the one retry object of earlier releases, kept as a deprecated alias.

It meant "re-send a call" on a client and "re-run a handler" on a server. Those
are now two objects, ``CallRetry`` and ``HandlerRetry`` (``_config.py``); a
``RetryPolicy`` still works in both places and is converted where it is taken.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from ._config import CallRetry, HandlerRetry

__all__ = ["RetryPolicy", "call_retry", "handler_retry"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy(CallRetry):
    """Deprecated: use ``CallRetry`` on a client and ``HandlerRetry`` on a server."""

    handler_exceptions: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        CallRetry.__post_init__(self)
        warnings.warn(
            "kafkarpc.RetryPolicy is deprecated: "
            "use CallRetry for a client and HandlerRetry for a server",
            DeprecationWarning,
            stacklevel=3,
        )


def call_retry(policy: CallRetry) -> CallRetry:
    """The client's view of a retry option (a ``RetryPolicy`` is already one)."""
    return policy


def handler_retry(policy: HandlerRetry | RetryPolicy) -> HandlerRetry:
    """The server's view of a retry option, converting a deprecated ``RetryPolicy``."""
    if isinstance(policy, RetryPolicy):
        return HandlerRetry(
            max_attempts=policy.max_attempts,
            initial_delay=policy.initial_delay,
            max_delay=policy.max_delay,
            multiplier=policy.multiplier,
            jitter=policy.jitter,
            handler_exceptions=policy.handler_exceptions,
        )
    return policy
