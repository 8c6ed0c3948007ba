"""Pick the transport a client or server runs on: the one given, or Kafka at ``bootstrap``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._config import Security
from .._exceptions import ConfigurationError
from .base import Transport

__all__ = ["choose_transport", "require_service"]


def choose_transport(
    bootstrap: str | None,
    transport: Transport | None,
    *,
    security: Security | None,
    config: Mapping[str, Any] | None,
) -> Transport:
    """Exactly one of ``bootstrap`` and ``transport``; Kafka settings only with ``bootstrap``."""
    if (bootstrap is None) == (transport is None):
        raise ConfigurationError("give exactly one of bootstrap (a 'host:port' list) or transport")
    if transport is not None:
        if security is not None or config is not None:
            raise ConfigurationError(
                "security and config configure the Kafka transport built from bootstrap; "
                "with transport=, pass them to that transport instead"
            )
        return transport
    # Loaded by the first Kafka-backed client or server, not by `import kafkarpc`:
    # a program on the in-memory transport never needs librdkafka's wrappers.
    from .kafka.transport import KafkaTransport

    return KafkaTransport(bootstrap or "", security=security, config=config)


def require_service(service: object, role: str) -> str:
    if not isinstance(service, str) or not service:
        raise ConfigurationError(f"service must be a non-empty str naming this {role}")
    return service
