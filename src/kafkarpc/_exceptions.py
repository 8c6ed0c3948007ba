"""Every error kafkarpc raises, in one tree.

::

    KafkaRpcError
    ├── ConfigurationError (ValueError)        bad options at construction or call site
    │   └── InvalidTopicName
    ├── PayloadError (ValueError)               a payload the library cannot send
    │   ├── PayloadNotSerializable (TypeError)
    │   └── PayloadTooLarge
    ├── EnvelopeError (ValueError)              bytes that are not a valid envelope
    ├── TransportError                          the broker or librdkafka failed
    │   ├── BrokerUnavailable
    │   └── TopicNotFound
    ├── LifecycleError (RuntimeError)           wrong state: used before start or after close
    │   └── ClientClosed                        the client closed (also fails pending calls)
    └── RequestError                            one call failed; carries its context
        ├── RemoteError                         the responder answered on the failed topic
        ├── RequestTimeout (TimeoutError)       no reply before the deadline
        ├── PublishError                        the request never reached the broker
        ├── CircuitOpenError                    the operation's circuit is open; nothing sent
        └── ResponseValidationError (ValueError) the reply does not fit response_model

Errors about one call carry ``correlation_id``, ``topic`` and ``elapsed`` (seconds).
librdkafka errors are translated to this tree in ``transport/kafka/errors.py`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "BrokerUnavailable",
    "CircuitOpenError",
    "ClientClosed",
    "ConfigurationError",
    "EnvelopeError",
    "InvalidTopicName",
    "KafkaRpcError",
    "LifecycleError",
    "PayloadError",
    "PayloadNotSerializable",
    "PayloadTooLarge",
    "PublishError",
    "RemoteError",
    "RequestError",
    "RequestTimeout",
    "ResponseValidationError",
    "TopicNotFound",
    "TransportError",
]


class KafkaRpcError(Exception):
    """Base of every exception raised by kafkarpc."""


class ConfigurationError(KafkaRpcError, ValueError):
    """An option or argument is invalid; raised where it was given."""


class InvalidTopicName(ConfigurationError):
    """A topic name Kafka would reject (empty, too long, illegal characters)."""


class PayloadError(KafkaRpcError, ValueError):
    """A payload cannot be sent as given."""


class PayloadNotSerializable(PayloadError, TypeError):
    """The payload is not a JSON object (or a model that dumps to one)."""


class PayloadTooLarge(PayloadError):
    """The encoded message exceeds the producer's ``message.max.bytes``.

    Raised by a call, it also carries that call's ``correlation_id``, ``topic`` and
    ``elapsed`` (seconds); raised by ``publish``, ``topic`` only.
    """

    def __init__(
        self,
        message: str,
        *,
        size: int,
        limit: int,
        correlation_id: str | None = None,
        topic: str | None = None,
        elapsed: float | None = None,
    ) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit
        self.correlation_id = correlation_id
        self.topic = topic
        self.elapsed = elapsed


class EnvelopeError(KafkaRpcError, ValueError):
    """Bytes received from Kafka are not a decodable envelope (a poison pill)."""


class TransportError(KafkaRpcError):
    """The broker or the Kafka client library reported a failure."""


class BrokerUnavailable(TransportError):
    """No broker could be reached, or the embedded broker could not start."""


class TopicNotFound(TransportError):
    """A topic the operation needs does not exist on the cluster."""

    def __init__(self, topic: str) -> None:
        super().__init__(
            f"topic {topic!r} does not exist; create it (kafkarpc.ensure_topics or your "
            "cluster tooling), or pass topics=Topics(create=True) in development"
        )
        self.topic = topic


class LifecycleError(KafkaRpcError, RuntimeError):
    """An object was used in a state that does not allow it."""


class RequestError(KafkaRpcError):
    """One request failed. Carries the context needed to find it in logs and traces."""

    def __init__(
        self,
        message: str,
        *,
        correlation_id: str | None = None,
        topic: str | None = None,
        elapsed: float | None = None,
    ) -> None:
        super().__init__(message)
        self.correlation_id = correlation_id
        self.topic = topic
        self.elapsed = elapsed


class ClientClosed(LifecycleError, RequestError):
    """The client is closed: new calls are refused and pending calls fail with this."""


class RemoteError(RequestError):
    """The responder answered with a failure payload (docs/wire.md §2, failure payload)."""

    def __init__(
        self,
        *,
        error_code: str,
        error_message: str,
        error_type: str = "",
        retryable: bool = False,
        details: Mapping[str, Any] | None = None,
        correlation_id: str | None = None,
        topic: str | None = None,
        elapsed: float | None = None,
    ) -> None:
        super().__init__(
            f"{error_code}: {error_message}",
            correlation_id=correlation_id,
            topic=topic,
            elapsed=elapsed,
        )
        self.error_code = error_code
        self.error_message = error_message
        self.error_type = error_type
        self.retryable = retryable
        self.details: dict[str, Any] = dict(details or {})


class RequestTimeout(RequestError, TimeoutError):
    """No reply arrived before the call's deadline."""


class PublishError(RequestError):
    """The request could not be delivered to the broker (after any retries)."""


class CircuitOpenError(RequestError, RuntimeError):
    """The operation's circuit breaker is open; the call failed without touching Kafka.

    Also a ``RuntimeError``: what the reference ``ProtocolEventPublisher`` raises then."""

    def __init__(self, message: str, *, topic: str | None = None, retry_after: float = 0.0) -> None:
        super().__init__(message, topic=topic)
        self.retry_after = retry_after


class ResponseValidationError(RequestError, ValueError):
    """A success reply arrived but its payload does not validate against ``response_model``."""
