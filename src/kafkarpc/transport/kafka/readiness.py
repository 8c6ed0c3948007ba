"""Whether the cluster can be reached at start: ready, unreachable, or only slow.

librdkafka knows within milliseconds that a connection was refused, a host name
does not resolve or a TLS handshake failed, but only says so through its error
callback; a metadata request just times out. So ``start()`` asks for metadata in
short slices while ``ConnectWatch`` (the producer's ``error_cb``) listens: an
answer means ready, "all brokers are down" means unreachable (raised at once,
with librdkafka's reason), and neither within the budget means slow, which is
not an error: calls then fail by their own deadlines, as after an outage.
"""

from __future__ import annotations

import threading
import time
from typing import Literal

from confluent_kafka import KafkaError, KafkaException, Producer

from .polling import librdkafka_logger

__all__ = ["READY_BUDGET_S", "ConnectWatch", "Verdict", "probe_blocking"]

#: How long ``start()`` waits for a first answer before carrying on regardless.
READY_BUDGET_S = 5.0
# Each metadata request waits this long, so "all brokers down" is seen this fast.
_SLICE_S = 0.2

# Errors that say why a connection to a broker failed; the latest is the reason given.
_CONNECT_FAILURES = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._RESOLVE,
        KafkaError._SSL,
        KafkaError._AUTHENTICATION,
        KafkaError._BAD_MSG,
    }
)

Verdict = Literal["ready", "unreachable", "slow"]


class ConnectWatch:
    """librdkafka's ``error_cb``: remembers why connecting failed, and whether every
    broker is down. Called on the producer's polling thread; read from another."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reason: KafkaError | None = None
        self.all_down = threading.Event()

    def __call__(self, error: KafkaError) -> None:
        code = error.code()
        if code in _CONNECT_FAILURES:
            with self._lock:
                self._reason = error
        elif code == KafkaError._ALL_BROKERS_DOWN:
            self.all_down.set()
        # librdkafka's own log already has a line for each failed connection.
        librdkafka_logger.debug("%s: %s", error.name(), error.str())

    @property
    def reason(self) -> KafkaError | None:
        with self._lock:
            return self._reason


def probe_blocking(producer: Producer, watch: ConnectWatch, budget: float) -> Verdict:
    """Ask for cluster metadata until it comes, every broker is down, or ``budget`` passes."""
    deadline = time.monotonic() + budget
    while not watch.all_down.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "slow"
        try:
            # Only the broker list is needed, but librdkafka's Python binding asks for
            # every topic's metadata without a topic name; asking for a named topic
            # could make a broker with auto-creation create it.
            producer.list_topics(timeout=min(_SLICE_S, remaining))
        except KafkaException:
            continue  # no answer within the slice: look at the watch again
        return "ready"
    return "unreachable"
