"""``RetryPolicy``: exponential backoff with jitter, on top of tenacity."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import tenacity

from ._exceptions import ConfigurationError, PublishError, RemoteError, RequestTimeout

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """How often and how patiently to try again.

    Client side, ``PublishError`` (the broker did not take the request) is
    retried; ``retry_timeouts=True`` also re-sends calls that got no reply, with
    the same correlation id and idempotency key, so a slow responder answers
    once (``attempt_timeout`` bounds each attempt's wait; by default the call's
    timeout is split evenly across ``max_attempts``); ``retry_remote=True``
    retries remote errors marked ``retryable``. Every retry stays inside the
    call's deadline, and a late reply to an earlier attempt still completes the call.

    Responder side the same object retries a handler that raised one of
    ``handler_exceptions``.
    """

    max_attempts: int = 3
    initial_delay: float = 0.05
    max_delay: float = 2.0
    multiplier: float = 2.0
    jitter: float = 0.05
    retry_timeouts: bool = False
    attempt_timeout: float | None = None
    retry_remote: bool = False
    handler_exceptions: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.initial_delay < 0 or self.max_delay < 0 or self.jitter < 0:
            raise ConfigurationError("retry delays and jitter must be >= 0")
        if self.attempt_timeout is not None and not self.attempt_timeout > 0:
            raise ConfigurationError(f"attempt_timeout must be > 0, got {self.attempt_timeout}")
        if self.multiplier < 1:
            raise ConfigurationError(f"multiplier must be >= 1, got {self.multiplier}")

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        delay = min(self.initial_delay * self.multiplier ** (attempt - 1), self.max_delay)
        return delay + random.uniform(0, self.jitter)

    def wait_strategy(self) -> tenacity.wait.wait_base:
        return tenacity.wait_exponential(
            multiplier=self.initial_delay, exp_base=self.multiplier, max=self.max_delay
        ) + tenacity.wait_random(0, self.jitter)

    def attempt_budget(self, total: float) -> float:
        """How long one attempt waits for its reply, within a call of ``total`` seconds."""
        if not self.retry_timeouts:
            return total
        if self.attempt_timeout is not None:
            return min(self.attempt_timeout, total)
        return total / self.max_attempts

    def should_retry_call(self, exc: BaseException) -> bool:
        if isinstance(exc, PublishError):
            return True
        if isinstance(exc, RequestTimeout):
            return self.retry_timeouts
        if isinstance(exc, RemoteError):
            return self.retry_remote and exc.retryable
        return False

    def retrying(
        self, should_retry: Callable[[BaseException], bool], *, stop_after: float | None = None
    ) -> tenacity.AsyncRetrying:
        """An AsyncRetrying that sleeps with anyio (asyncio and trio alike)."""
        stop: tenacity.stop.stop_base = tenacity.stop_after_attempt(self.max_attempts)
        if stop_after is not None:
            stop = stop | tenacity.stop_after_delay(stop_after)
        return tenacity.AsyncRetrying(
            stop=stop,
            wait=self.wait_strategy(),
            retry=tenacity.retry_if_exception(should_retry),
            sleep=anyio.sleep,
            reraise=True,
        )


NO_RETRY = RetryPolicy(max_attempts=1)
