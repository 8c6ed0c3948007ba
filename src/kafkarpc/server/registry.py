"""The responder registry: which ``Responder`` answers which request topic."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType, ModuleType
from typing import Any

from .._config import HandlerRetry
from .._exceptions import ConfigurationError
from .._retry import RetryPolicy
from .._sentinel import UNSET, Unset
from ..wire.topics import TopicNaming, TopicTrio, dlq_topic
from .handler import Responder, collect_responders

__all__ = ["ResponderRegistry", "RetryOption"]

# A responder's own retry: a policy, None for none, UNSET for the server's.
RetryOption = HandlerRetry | RetryPolicy | Unset | None


class ResponderRegistry:
    """Responders keyed by request topic; registration is closed once serving starts."""

    __slots__ = ("_by_topic", "_naming", "_version")

    def __init__(self, version: str, naming: TopicNaming | None = None) -> None:
        self._version = version
        self._naming = naming
        self._by_topic: dict[str, Responder] = {}

    def add(
        self, op: str | TopicTrio, func: Callable[..., Any], retry: RetryOption = UNSET
    ) -> None:
        trio = TopicTrio.coerce(op, version=self._version, naming=self._naming)
        if trio.requested in self._by_topic:
            raise ConfigurationError(f"{trio.requested} already has a responder")
        self._by_topic[trio.requested] = Responder.build(trio, func, retry)

    def include(self, source: ModuleType | Iterable[Callable[..., Any]]) -> None:
        """Add every function marked with ``@kafkarpc.responder`` in a module or list."""
        for func, spec in collect_responders(source):
            self.add(spec.op, func, spec.retry)

    def __len__(self) -> int:
        return len(self._by_topic)

    @property
    def view(self) -> Mapping[str, Responder]:
        """A read-only view, keyed by request topic (the public ``RpcServer.responders``)."""
        return MappingProxyType(self._by_topic)

    def snapshot(self) -> dict[str, Responder]:
        """A private copy for serving: lookups on a plain dict, and no change can reach it."""
        return dict(self._by_topic)

    @property
    def operations(self) -> list[TopicTrio]:
        return [responder.trio for responder in self._by_topic.values()]

    @property
    def request_topics(self) -> list[str]:
        return list(self._by_topic)

    def topics_to_create(self) -> list[str]:
        """Every topic the responders use: requests, replies and dead letters."""
        extra = [
            topic
            for responder in self._by_topic.values()
            for topic in (*responder.trio.reply_topics, dlq_topic(responder.trio.requested))
        ]
        return [*self._by_topic, *extra]
