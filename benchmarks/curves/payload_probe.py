"""The payload curve's probe: kafkarpc calls whose payload is over the message limit.

The limit that applies is the producer's ``message.max.bytes`` (kafkarpc's
default 1,000,000 bytes, counted as librdkafka counts it: key, value, headers and
record overhead) unless the broker's is lower; the probe also sends one record
four times that size with a producer allowed it, to record whether the broker
takes it (the embedded Tansu does). Each call must fail at once with
``PayloadTooLarge``: a call that went out would wait for its timeout here, since
no responder serves the probe's topics.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from benchmarks.kafka import TopicAdmin, TopicSet
from kafkarpc import KafkaRpcError, KafkaTransport, RpcClient, TopicTrio
from kafkarpc.transport import OutboundRecord

__all__ = ["probe_over_limit"]

# The envelope adds about 240 bytes and the key 36 to the payload's blob: this one's
# value and key fit under the limit, its headers take the record over it.
_HEADERS_OVER_MARGIN = 300


async def _call(client: RpcClient, trio: TopicTrio, case: str, blob_bytes: int) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await client.request(trio, {"blob": "x" * blob_bytes})
    except Exception as exc:  # what the caller gets is the measurement
        raised, message = type(exc).__name__, str(exc)
    else:
        raised, message = "nothing (the call succeeded)", ""
    return {
        "case": case,
        "payload_bytes": blob_bytes,
        "raised": raised,
        "message": message[:300],
        "elapsed_ms": round((time.perf_counter() - started) * 1000.0, 2),
    }


async def _broker_takes(bootstrap: str, topic: str, size: int) -> dict[str, Any]:
    """Whether the broker stores a record of ``size`` bytes when the producer allows it."""
    transport = KafkaTransport(bootstrap, config={"message.max.bytes": 2 * size})
    error: str | None = None
    await transport.start()
    try:
        await transport.send(OutboundRecord(topic, b"x" * size))
    except KafkaRpcError as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        await transport.aclose()
    return {"record_bytes": size, "accepted": error is None, "error": error}


async def _probe(bootstrap: str, topics: TopicSet, timeout_s: float) -> dict[str, Any]:
    transport = KafkaTransport(bootstrap)
    limit = transport.max_message_bytes
    trio = TopicTrio.from_base(topics.base, event_prefix="BENCH_ECHO")
    client = RpcClient(service="bench-payload-probe", transport=transport, timeout=timeout_s)
    async with client as c:
        # The first is the client's first call: its time includes positioning on the
        # reply topics, as a user's first call would.
        cases = [
            await _call(c, trio, "twice the limit", 2 * limit),
            await _call(c, trio, "over by its headers", limit - _HEADERS_OVER_MARGIN),
        ]
    broker = await _broker_takes(bootstrap, topics.requested, 4 * limit)
    return {
        "limit_bytes": limit,
        "limit_source": (
            "the producer's message.max.bytes (kafkarpc's default), on key, value, headers "
            "and record overhead"
        ),
        "broker_takes_larger": broker,
        "cases": cases,
    }


def probe_over_limit(bootstrap: str, admin: TopicAdmin, *, timeout_s: float) -> dict[str, Any]:
    """Calls over the limit, each with what it raised and how long it took."""
    topics = TopicSet(f"bench.payload.limit.{uuid.uuid4().hex[:10]}", 1)
    admin.create(topics)
    try:
        return asyncio.run(_probe(bootstrap, topics, timeout_s))
    finally:
        admin.delete(topics)
