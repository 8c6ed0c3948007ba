"""A transport a reference-shaped object starts on first use and closes with itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from .._config import Security
from .._exceptions import ConfigurationError, LifecycleError
from ..transport import Transport
from ..transport.kafka.transport import KafkaTransport

__all__ = ["OwnedTransport"]


class OwnedTransport:
    """The caller's transport (started by them, never closed here), or a Kafka one
    made, started on first use and closed by ``aclose``. The reference protocols
    have no ``start()``; their objects connect when first used."""

    def __init__(
        self,
        bootstrap: str | None,
        transport: Transport | None,
        security: Security | None,
        config: Mapping[str, Any] | None,
    ) -> None:
        self._given = transport
        self._own: KafkaTransport | None = None
        if transport is None:
            if not bootstrap:
                raise ConfigurationError("give bootstrap servers or a transport")
            self._own = KafkaTransport(bootstrap, security=security, config=config)
        self._started = transport is not None
        self._closed = False
        self._lock: anyio.Lock | None = None

    async def get(self) -> Transport:
        if self._closed:
            raise LifecycleError("closed")
        if self._given is not None:
            return self._given
        assert self._own is not None
        if not self._started:
            if self._lock is None:
                self._lock = anyio.Lock()
            async with self._lock:
                if not self._started:
                    await self._own.start()
                    self._started = True
        return self._own

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._own is not None and self._started:
            await self._own.aclose()
