"""librdkafka settings kafkarpc changes from librdkafka's defaults, and why.

Every value here is documented in docs/operations.md; users override any of
them with ``config={...}`` on the client or server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._config import Security

__all__ = [
    "COMMON",
    "CONSUMER_ONLY",
    "GROUP_CONSUMER",
    "PRODUCER",
    "REPLY_CONSUMER",
    "merge_config",
]

ConfigValue = str | int | float | bool

COMMON: dict[str, ConfigValue] = {
    # Request/reply is latency-bound: send small frames immediately.
    "socket.nagle.disable": True,
}

PRODUCER: dict[str, ConfigValue] = {
    # librdkafka waits 5 ms to fill a batch; under load batches still form while
    # a request is in flight, so 0 costs no throughput and saves 5 ms per call.
    "linger.ms": 0,
    # A request that cannot be delivered in 30 s is long past any RPC deadline.
    "message.timeout.ms": 30_000,
    # Unlimited in-flight requests send one tiny batch per message under load;
    # with one request in flight the next batch fills while it travels, and the
    # broker's work grows with the number of batches. Measured (docs/benchmarks.md):
    # 256 calls in flight, 3.3k req/s with 5, 3.8k with 1; no cost at 1 in flight.
    "max.in.flight.requests.per.connection": 1,
    "acks": "all",
}

_CONSUMER: dict[str, ConfigValue] = {
    # Brokers that do not answer a fetch early (Tansu) add up to this to every
    # reply; real Kafka answers as soon as data arrives, so it only costs idle polls.
    "fetch.wait.max.ms": 10,
    # The default (1000 ms) stalls a partition for a second whenever the local
    # queue is briefly full under load.
    "fetch.queue.backoff.ms": 10,
    "fetch.error.backoff.ms": 50,
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "enable.partition.eof": False,
    # librdkafka's default, pinned: a reply (or request) sent in a transaction is
    # read only once committed, so an exactly-once responder's aborted batch is
    # never delivered to a caller (docs/failure-semantics.md).
    "isolation.level": "read_committed",
}

REPLY_CONSUMER: dict[str, ConfigValue] = {
    **_CONSUMER,
    # Manual assignment never joins this group; librdkafka only insists on a name.
    "group.id": "kafkarpc-reply-reader",
}

GROUP_CONSUMER: dict[str, ConfigValue] = {
    **_CONSUMER,
    # Requests sent while the responder group forms must still be served; stale
    # ones are answered DEADLINE_EXCEEDED without running the handler.
    "auto.offset.reset": "earliest",
    # Detect a dead responder in 10 s (not 45 s) so its requests are redelivered
    # while callers are still waiting.
    "session.timeout.ms": 10_000,
    "heartbeat.interval.ms": 1_000,
}


def merge_config(
    bootstrap: str,
    role_defaults: Mapping[str, ConfigValue],
    security: Security | None,
    overrides: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Defaults < security < user overrides; the user always has the last word."""
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap, **COMMON, **role_defaults}
    if security is not None:
        conf.update(security.to_librdkafka())
    if overrides:
        conf.update(overrides)
    return conf


#: Consumer properties that make librdkafka warn when given to a producer or admin client.
CONSUMER_ONLY = frozenset(
    {
        "fetch.wait.max.ms",
        "fetch.queue.backoff.ms",
        "fetch.error.backoff.ms",
        "enable.auto.commit",
        "enable.auto.offset.store",
        "enable.partition.eof",
        "group.id",
        "auto.offset.reset",
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "partition.assignment.strategy",
        "max.poll.interval.ms",
        "isolation.level",
    }
)
