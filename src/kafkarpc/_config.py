"""Options as small frozen value objects, grouped by concern, shared by client and server.

A constructor takes a handful of keyword arguments; everything else is one of
these objects, checked once when it is built (a bad value raises
``ConfigurationError`` there, not at first use).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import anyio
import tenacity

from ._exceptions import ConfigurationError, PublishError, RemoteError, RequestTimeout

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from .wire.topics import TopicNaming

__all__ = [
    "CallRetry",
    "CircuitBreaker",
    "ExactlyOnce",
    "HandlerRetry",
    "Limits",
    "Security",
    "Telemetry",
    "Topics",
]

PayloadPreview = Callable[[Any], str]


def _at_least(name: str, value: float, minimum: float) -> None:
    """The one shape of "too small" error, so every option words it alike."""
    if value < minimum:
        raise ConfigurationError(f"{name} must be >= {minimum}, got {value}")


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """How much work runs at once, and how long stopping may take.

    ``max_in_flight`` bounds a client's calls awaiting a reply (further calls wait
    for a slot). ``max_concurrency`` bounds a server's handlers running at once,
    and ``shutdown_timeout`` is how long a stopping server lets them finish.
    """

    max_in_flight: int = 10_000
    max_concurrency: int = 64
    shutdown_timeout: float = 30.0

    def __post_init__(self) -> None:
        _at_least("max_in_flight", self.max_in_flight, 1)
        _at_least("max_concurrency", self.max_concurrency, 1)
        if self.shutdown_timeout < 0:
            raise ConfigurationError("shutdown_timeout must be >= 0")


@dataclass(frozen=True, kw_only=True, slots=True)
class Topics:
    """Which topics an operation uses, and the development convenience of creating them.

    ``version`` is the suffix of every trio (docs/wire.md §1). ``create=True``
    creates missing topics with ``partitions`` partitions (off by default: real
    clusters create topics in their own way). ``reply_partition`` pins a client's
    replies to one partition of each reply topic instead of every partition;
    ``"auto"`` picks that partition per client instance, at random, so that many
    clients of one operation stop reading each other's replies.
    ``naming`` turns every topic name kafkarpc builds from an operation name, and
    every topic given to ``publish``/``emit``, into the name used on the broker:
    ``TopicPrefix(environment, group)`` or any function ``str -> str``.
    """

    version: str = "v1"
    create: bool = False
    partitions: int = 3
    reply_partition: int | Literal["auto"] | None = None
    naming: TopicNaming | None = None

    def __post_init__(self) -> None:
        _at_least("partitions", self.partitions, 1)
        reply_partition = self.reply_partition
        if reply_partition is not None and reply_partition != "auto":
            if not isinstance(reply_partition, int) or isinstance(reply_partition, bool):
                raise ConfigurationError(
                    f'reply_partition must be a partition number, "auto" or None, '
                    f"got {reply_partition!r}"
                )
            _at_least("reply_partition", reply_partition, 0)
        if self.naming is not None and not callable(self.naming):
            raise ConfigurationError(f"naming must be a function str -> str, got {self.naming!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class Telemetry:
    """Where traces and metrics go, and how a payload is shown in log records.

    Providers default to OpenTelemetry's global ones. ``payload_preview`` turns
    a payload into the text logged beside a failure (nothing is logged without it).
    """

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    payload_preview: PayloadPreview | None = None


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: the schedule both kinds of retry share."""

    _: KW_ONLY
    max_attempts: int = 3
    """Attempts in all, the first one included (1 means no retry)."""
    initial_delay: float = 0.05
    """Seconds to wait after the first failed attempt."""
    max_delay: float = 2.0
    """The longest wait between two attempts, however many have failed."""
    multiplier: float = 2.0
    """How much longer each wait is than the one before."""
    jitter: float = 0.05
    """Up to this many seconds added at random, so retrying callers spread out."""

    def __post_init__(self) -> None:
        _at_least("max_attempts", self.max_attempts, 1)
        if self.initial_delay < 0 or self.max_delay < 0 or self.jitter < 0:
            raise ConfigurationError("retry delays and jitter must be >= 0")
        _at_least("multiplier", self.multiplier, 1)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        delay = min(self.initial_delay * self.multiplier ** (attempt - 1), self.max_delay)
        return delay + random.uniform(0, self.jitter)

    def wait_strategy(self) -> tenacity.wait.wait_base:
        return tenacity.wait_exponential(
            multiplier=self.initial_delay, exp_base=self.multiplier, max=self.max_delay
        ) + tenacity.wait_random(0, self.jitter)

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


@dataclass(frozen=True, kw_only=True, slots=True)
class CallRetry(Backoff):
    """When a client sends a call again (docs/failure-semantics.md).

    ``PublishError`` (the broker did not take the request) is always retried;
    ``retry_timeouts=True`` also re-sends calls that got no reply, with the same
    correlation id and idempotency key, so a slow responder answers once
    (``attempt_timeout`` bounds each attempt's wait; by default the call's timeout
    is split evenly across ``max_attempts``); ``retry_remote=True`` retries
    remote errors marked ``retryable``. Every retry stays inside the call's
    deadline, and a late reply to an earlier attempt still completes the call.
    """

    retry_timeouts: bool = False
    attempt_timeout: float | None = None
    retry_remote: bool = False

    def __post_init__(self) -> None:
        Backoff.__post_init__(self)
        if self.attempt_timeout is not None and not self.attempt_timeout > 0:
            raise ConfigurationError(f"attempt_timeout must be > 0, got {self.attempt_timeout}")

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


@dataclass(frozen=True, kw_only=True, slots=True)
class HandlerRetry(Backoff):
    """When a server runs a handler again: it raised one of ``handler_exceptions``."""

    handler_exceptions: tuple[type[BaseException], ...] = (Exception,)


NO_CALL_RETRY = CallRetry(max_attempts=1)


@dataclass(frozen=True, kw_only=True, slots=True)
class CircuitBreaker:
    """closed -> open after ``failure_threshold`` consecutive failures -> half-open
    after ``reset_timeout`` seconds, letting ``half_open_max_calls`` probes through ->
    closed on a probe's success (or open again on its failure)."""

    failure_threshold: int = 5
    reset_timeout: float = 10.0
    half_open_max_calls: int = 1

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ConfigurationError("failure_threshold must be >= 1")
        if self.reset_timeout <= 0:
            raise ConfigurationError("reset_timeout must be > 0")
        if self.half_open_max_calls < 1:
            raise ConfigurationError("half_open_max_calls must be >= 1")


Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ExactlyOnce:
    """A server's opt-in exactly-once delivery (docs/failure-semantics.md).

    Requests are answered in batches, each one Kafka transaction per request
    partition holding the replies, the events handlers published with
    ``RequestContext.publish`` and the requests' offsets; replies become
    visible to callers when the batch commits. Requests keep joining a batch
    while any of it is unanswered, up to ``max_requests``; once all of it is
    answered it commits, after waiting for more requests until ``max_wait``
    seconds from its first (0: commit as soon as nothing more is waiting).
    Each request partition has its own transactional producer,
    ``{transactional_id_prefix}.{topic}.{partition}`` (the group id when no
    prefix is given): a new owner of a partition fences the old one.
    """

    max_requests: int = 256
    max_wait: float = 0.002
    transactional_id_prefix: str | None = None

    def __post_init__(self) -> None:
        _at_least("max_requests", self.max_requests, 1)
        if self.max_wait < 0:
            raise ConfigurationError(f"max_wait must be >= 0, got {self.max_wait}")
        if self.transactional_id_prefix == "":
            raise ConfigurationError("transactional_id_prefix must not be empty")


@dataclass(frozen=True, kw_only=True, slots=True)
class Security:
    """How to authenticate to and encrypt traffic with the cluster.

    >>> Security(protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
    ...          username="svc", password="secret").to_librdkafka()["sasl.mechanism"]
    'SCRAM-SHA-512'
    """

    protocol: Protocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_location: str | None = None
    certificate_location: str | None = None
    key_location: str | None = None
    key_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            raise ConfigurationError(f"unknown security protocol {self.protocol!r}")
        sasl = self.protocol.startswith("SASL")
        if sasl and self.sasl_mechanism is None:
            raise ConfigurationError(f"protocol {self.protocol} needs sasl_mechanism")
        if not sasl and self.sasl_mechanism is not None:
            raise ConfigurationError(
                f"sasl_mechanism is set but protocol {self.protocol} is not SASL"
            )
        needs_password = self.sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
        if needs_password and not (self.username and self.password):
            raise ConfigurationError(f"SASL {self.sasl_mechanism} needs username and password")

    def to_librdkafka(self) -> dict[str, str]:
        conf = {"security.protocol": self.protocol.lower()}
        optional = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.username,
            "sasl.password": self.password,
            "ssl.ca.location": self.ca_location,
            "ssl.certificate.location": self.certificate_location,
            "ssl.key.location": self.key_location,
            "ssl.key.password": self.key_password,
        }
        conf.update({k: v for k, v in optional.items() if v is not None})
        return conf
