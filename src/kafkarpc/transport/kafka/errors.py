"""The one place where librdkafka errors become kafkarpc exceptions."""

from __future__ import annotations

import re

from confluent_kafka import KafkaError, KafkaException

from ..._exceptions import (
    BrokerUnavailable,
    ConfigurationError,
    KafkaRpcError,
    PayloadTooLarge,
    TopicNotFound,
    TransportError,
)

__all__ = ["translate_error", "translate_exception", "unreachable"]

_TOPIC_MISSING = {
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_TOPIC,
    KafkaError._UNKNOWN_PARTITION,
}
_UNREACHABLE = {
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._TRANSPORT,
    KafkaError._MSG_TIMED_OUT,
    KafkaError._TIMED_OUT,
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
}
_TOO_LARGE = {KafkaError.MSG_SIZE_TOO_LARGE}
_PURGED = {KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT}


def translate_error(
    error: KafkaError, *, topic: str | None = None, size: int = 0, limit: int = 0
) -> KafkaRpcError:
    code = error.code()
    where = f" (topic {topic!r})" if topic else ""
    translated: KafkaRpcError
    if code in _TOPIC_MISSING and topic:
        translated = TopicNotFound(topic)
    elif code in _TOO_LARGE:
        translated = PayloadTooLarge(
            f"message of {size} bytes is larger than the broker accepts{where}: {error.str()}",
            size=size,
            limit=limit,
            topic=topic,
        )
    elif code in _UNREACHABLE:
        translated = BrokerUnavailable(f"broker unavailable{where}: {error.str()}")
    elif code in _PURGED:
        translated = TransportError(f"record{where} not delivered: the transport closed first")
    elif code == KafkaError._INVALID_ARG:
        translated = ConfigurationError(f"librdkafka rejected an argument{where}: {error.str()}")
    else:
        translated = TransportError(f"kafka error {error.name()}{where}: {error.str()}")
    # Keep librdkafka's own error reachable for debugging, as ``raise ... from`` would.
    translated.__cause__ = KafkaException(error)
    return translated


def translate_exception(
    exc: BaseException, *, topic: str | None = None, size: int = 0, limit: int = 0
) -> KafkaRpcError:
    """Translate an exception raised by a confluent-kafka call."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        translated = translate_error(exc.args[0], topic=topic, size=size, limit=limit)
    elif isinstance(exc, BufferError):
        translated = TransportError(
            f"producer queue is full{' for ' + repr(topic) if topic else ''}"
        )
    else:
        translated = TransportError(f"kafka client failed: {exc}")
    translated.__cause__ = exc
    return translated


# librdkafka's connect errors read "ssl://host:port/bootstrap: <what> (after 3ms in state X)".
_BROKER_PREFIX = re.compile(r"^\S+/(?:bootstrap|\d+): ")
_STATE_SUFFIX = re.compile(r" \(after \d+ms in state \w+\)$")


def connect_reason(error: KafkaError | None) -> str:
    """Why connecting failed, in a few words (librdkafka's text without the noise)."""
    if error is None:
        return "every broker is down"
    text = _STATE_SUFFIX.sub("", _BROKER_PREFIX.sub("", error.str()))
    code = error.code()
    if code == KafkaError._TRANSPORT and "Connection refused" in text:
        return "connection refused"
    if code == KafkaError._RESOLVE:
        return f"host name not resolved: {text}"
    # A failed handshake may also arrive as a bare OpenSSL error under _TRANSPORT
    # ("error:0A000086:SSL routines::certificate verify failed"), seen in CI.
    if code == KafkaError._SSL or "SSL routines" in text:
        # librdkafka says "check ssl.ca.location" for a wrong host name too.
        return (
            f"TLS handshake failed: {text.removeprefix('SSL handshake failed: ')}; "
            "if the CA is right, check that the broker's certificate names the host "
            "it is reached at"
        )
    if code == KafkaError._AUTHENTICATION:
        return f"authentication failed: {text}"
    return text


def unreachable(bootstrap: str, error: KafkaError | None) -> BrokerUnavailable:
    """No broker of ``bootstrap`` could be connected to; ``error`` is librdkafka's last reason."""
    plural = "s" if "," in bootstrap else ""
    translated = BrokerUnavailable(
        f"broker{plural} {bootstrap} unreachable ({connect_reason(error)})"
    )
    if error is not None:
        translated.__cause__ = KafkaException(error)
    return translated
