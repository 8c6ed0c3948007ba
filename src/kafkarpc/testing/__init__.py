"""Test helpers: an embedded broker and in-memory transports.

``embedded_broker()`` starts a real Kafka-compatible broker (Tansu, from the
``kafkarpc[broker]`` extra) on a free loopback port. The pytest plugin (loaded
automatically when kafkarpc is installed) offers it as the session fixture
``kafkarpc_broker``, which yields the bootstrap address.
"""

from .._broker import EmbeddedBroker, embedded_broker, free_loopback_port, start_broker
from ..transport.memory import MemoryBroker, MemoryTransport

__all__ = [
    "EmbeddedBroker",
    "MemoryBroker",
    "MemoryTransport",
    "embedded_broker",
    "free_loopback_port",
    "start_broker",
]
