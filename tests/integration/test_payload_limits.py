"""Payload size on the real broker: large payloads round-trip, one over the limit fails fast.

Tansu itself stores records of 12 MB without complaint; the limit that applies is the
producer's ``message.max.bytes`` (1,000,000 unless configured), which librdkafka
enforces on key, value and headers together and kafkarpc checks the same way before
producing, so the caller gets ``PayloadTooLarge`` from its own call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from kafkarpc import KafkaTransport, PayloadTooLarge, RpcClient, RpcServer
from kafkarpc.transport import OutboundRecord
from kafkarpc.transport.limits import record_wire_size

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

_DEFAULT_LIMIT = 1_000_000


async def _echo(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


async def test_a_512_kb_payload_round_trips(
    client: RpcClient, serve: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    blob = "k" * (512 * 1024)
    async with serve(_echo):
        reply = await client.request(unique_topic_base, {"blob": blob}, timeout=30)
    assert reply == {"blob": blob}


async def test_a_request_over_the_message_limit_raises_payload_too_large(
    client: RpcClient, serve: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    async with serve(_echo):
        with pytest.raises(PayloadTooLarge) as info:
            await client.request(unique_topic_base, {"blob": "x" * 2_000_000}, timeout=30)
        # The client is unharmed: the next call goes through.
        assert await client.request(unique_topic_base, {"n": 1}, timeout=30) == {"n": 1}
    assert info.value.limit == _DEFAULT_LIMIT
    assert info.value.size > 2_000_000
    assert client.pending_count == 0
    # It names the call it ended, like every error about one call.
    assert info.value.topic == f"{unique_topic_base}.requested.v1"
    assert info.value.correlation_id and info.value.elapsed is not None


async def test_a_request_pushed_over_the_limit_by_its_headers_raises_payload_too_large(
    client: RpcClient, serve: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    # The envelope is about 240 bytes more than the blob and the key 36: the value and
    # key stay under the limit, the headers take the record over it. librdkafka refuses
    # such a record, which used to reach the caller as a PublishError.
    async with serve(_echo):
        with pytest.raises(PayloadTooLarge) as info:
            await client.request(unique_topic_base, {"blob": "x" * 999_700}, timeout=30)
    assert info.value.limit == _DEFAULT_LIMIT
    assert info.value.size > _DEFAULT_LIMIT


async def test_the_size_check_counts_what_librdkafka_counts(
    kafkarpc_broker: str, unique_topic_base: str
) -> None:
    # A record exactly at the limit (key, value, headers and overhead) is delivered;
    # one byte more is refused at the call site, before librdkafka sees it.
    limit = 10_000
    topic = f"{unique_topic_base}.sized"
    headers = [("kafkarpc-correlation-id", b"c" * 36), ("traceparent", b"t" * 100)]
    probe = OutboundRecord(topic, b"", key=b"k" * 36, headers=headers)
    at_limit = OutboundRecord(
        topic, b"v" * (limit - record_wire_size(probe)), key=b"k" * 36, headers=headers
    )
    assert record_wire_size(at_limit) == limit
    over = OutboundRecord(topic, at_limit.value + b"v", key=b"k" * 36, headers=headers)
    transport = KafkaTransport(kafkarpc_broker, config={"message.max.bytes": limit})
    await transport.start()
    try:
        await transport.ensure_topics([topic], partitions=1)
        with anyio.fail_after(30):
            await transport.send(at_limit)
        with pytest.raises(PayloadTooLarge) as info:
            transport.produce(over, lambda error, record: None)
    finally:
        await transport.aclose()
    assert (info.value.size, info.value.limit) == (limit + 1, limit)
