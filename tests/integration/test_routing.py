"""Reply routing (docs/wire.md §4) and load sharing (docs/wire.md §5) on the real broker."""

from __future__ import annotations

import collections
import time
from collections.abc import Awaitable, Callable

import anyio
import pytest
from confluent_kafka import Consumer, TopicPartition

from kafkarpc import (
    KafkaTransport,
    RpcClient,
    RpcServer,
    TopicNotFound,
    Topics,
    TopicTrio,
    decode_envelope,
    ensure_topics,
)
from kafkarpc.client import reply_partition
from kafkarpc.transport import InboundRecord, OutboundRecord
from kafkarpc.wire.envelope import new_message
from kafkarpc.wire.headers import RequestRouting, build_headers

pytestmark = pytest.mark.anyio


async def test_two_clients_each_get_only_their_own_replies(
    kafkarpc_broker: str, serve: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    async def tag(payload: dict[str, str]) -> dict[str, str]:
        return {"for": payload["who"]}

    server = serve(tag)
    async with (
        server,
        RpcClient(kafkarpc_broker, service="alice") as alice,
        RpcClient(kafkarpc_broker, service="bob") as bob,
    ):
        # A client positions its reply route on its first call to an operation; a reply
        # produced before that is not its to read. Position both routes before the race.
        await alice.request(unique_topic_base, {"who": "alice"})
        await bob.request(unique_topic_base, {"who": "bob"})
        with anyio.fail_after(5):
            while alice.stats.late_replies < 1:  # bob's warm-up reply
                await anyio.sleep(0.01)
        alice_before, bob_before = alice.stats.late_replies, bob.stats.late_replies
        replies: dict[str, list[str]] = collections.defaultdict(list)

        async def call(client: RpcClient, who: str) -> None:
            reply = await client.request(unique_topic_base, {"who": who})
            replies[who].append(reply["for"])

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(call, alice, "alice")
                tg.start_soon(call, bob, "bob")
        # Both read every reply partition; each dropped the other's 20 replies as unknown.
        with anyio.fail_after(5):
            while (
                alice.stats.late_replies < alice_before + 20
                or bob.stats.late_replies < bob_before + 20
            ):
                await anyio.sleep(0.01)
    assert replies == {"alice": ["alice"] * 20, "bob": ["bob"] * 20}
    assert alice.stats.late_replies == alice_before + 20
    # Bob positioned after alice's warm-up reply; a broker with a lagging end offset may
    # still hand it to him, so his count may include that one reply.
    assert bob.stats.late_replies - bob_before in (20, 21)


async def test_reply_partition_pins_replies_to_one_partition(
    kafkarpc_broker: str, serve: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    async def echo(payload: dict[str, int]) -> dict[str, int]:
        return payload

    server = serve(echo)
    async with (
        server,
        RpcClient(kafkarpc_broker, service="pinned", topics=Topics(reply_partition=2)) as pinned,
        RpcClient(kafkarpc_broker, service="other", topics=Topics(reply_partition=0)) as other,
    ):
        for n in range(10):
            assert await pinned.request(unique_topic_base, {"n": n}) == {"n": n}
            assert await other.request(unique_topic_base, {"n": n}) == {"n": n}
        # Each reads only its own partition, so it never sees the other's replies.
        assert pinned.stats.late_replies == 0
        assert other.stats.late_replies == 0


async def test_two_responders_share_the_load_and_answer_each_request_once(
    kafkarpc_broker: str,
    make_server: Callable[..., RpcServer],
    unique_topic_base: str,
    client: RpcClient,
) -> None:
    handled: dict[str, list[int]] = {"a": [], "b": []}

    def build(name: str) -> RpcServer:
        server = make_server(service=f"responder-{name}")

        @server.responder(unique_topic_base)
        async def work(payload: dict[str, int]) -> dict[str, str]:
            handled[name].append(payload["n"])
            return {"by": name}

        return server

    async with build("a"), build("b"), anyio.create_task_group() as tg:
        for n in range(60):
            tg.start_soon(client.request, unique_topic_base, {"n": n})
    every = sorted(handled["a"] + handled["b"])
    assert every == list(range(60)), "each request handled exactly once"
    assert handled["a"] and handled["b"], "both group members took a share"


async def test_missing_topic_is_a_clear_error(kafkarpc_broker: str, unique_topic_base: str) -> None:
    async with RpcClient(kafkarpc_broker, service="strict") as client:
        # Without create_topics the client checks the trio's topics exist before
        # sending. (Tansu auto-creates a topic an admin lookup names, so which of
        # the three is reported missing first depends on the broker.)
        with pytest.raises(TopicNotFound) as caught:
            await client.request(TopicTrio.from_base(unique_topic_base), {}, timeout=5)
    trio = TopicTrio.from_base(unique_topic_base)
    assert caught.value.topic in {trio.requested, trio.completed, trio.failed}
    assert client.pending_count == 0


async def test_publish_stores_an_envelope(
    kafkarpc_broker: str, client: RpcClient, unique_topic_base: str
) -> None:
    topic = f"{unique_topic_base}.decided.v1"
    await ensure_topics(kafkarpc_broker, [topic], partitions=1)
    event_id = await client.publish(topic, {"agent": "db"}, key="tenant-1")
    consumer = Consumer({"bootstrap.servers": kafkarpc_broker, "group.id": "inspect"})
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        message = await anyio.to_thread.run_sync(consumer.poll, 10.0)
    finally:
        consumer.close()
    assert message is not None and message.error() is None
    envelope = decode_envelope(message.value())
    assert envelope.event_id == event_id
    assert envelope.payload == {"agent": "db"}
    assert envelope.event_type.endswith("_DECIDED")
    assert message.key() == b"tenant-1"


async def test_a_reply_to_a_partition_that_does_not_exist_is_rerouted_by_its_key(
    kafkarpc_broker: str, serve: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    # librdkafka refuses such a record at once, inside produce(): the refusal must still
    # reach the resend path (it used to be lost, leaving the request unacknowledged).
    async def echo(payload: dict[str, int]) -> dict[str, int]:
        return payload

    trio = TopicTrio.from_base(unique_topic_base)
    correlation_id = "reply-to-a-missing-partition"
    message = new_message(
        event_type=trio.event_type("requested"),
        correlation_id=correlation_id,
        service="raw-caller",
        payload={"n": 7},
    )
    routing = RequestRouting(
        reply_to=trio.completed, reply_partition=99, deadline_ms=int(time.time() * 1000) + 30_000
    )
    request = OutboundRecord(
        topic=trio.requested,
        value=message.value,
        key=correlation_id.encode(),
        headers=build_headers(message, routing=routing),
    )
    replies, seen = anyio.create_memory_object_stream[InboundRecord](100)

    def on_batch(batch: list[InboundRecord]) -> None:
        for record in batch:
            replies.send_nowait(record)

    transport = KafkaTransport(kafkarpc_broker)
    await transport.start()
    try:
        async with serve(echo):
            reader = await transport.reply_consumer(on_batch)
            await reader.assign(list(trio.reply_topics))
            await transport.send(request)
            with anyio.fail_after(30):
                reply = await seen.receive()
    finally:
        await transport.aclose()
    assert reply.topic == trio.completed
    assert decode_envelope(reply.value).payload == {"n": 7}


def _instance_slots(monkeypatch: pytest.MonkeyPatch, *slots: int) -> None:
    """Fix the random number each new client instance draws for reply_partition="auto"."""
    draws = iter(slots)
    monkeypatch.setattr(reply_partition, "new_instance_slot", lambda: next(draws))


async def test_auto_reply_partitions_keep_clients_from_reading_each_others_replies(
    kafkarpc_broker: str,
    serve: Callable[..., RpcServer],
    unique_topic_base: str,
    topic_records: Callable[[str], Awaitable[list[InboundRecord]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trio = TopicTrio.from_base(unique_topic_base)
    await ensure_topics(kafkarpc_broker, [trio], partitions=4)
    _instance_slots(monkeypatch, 4 * 1000 + 2, 4 * 7 + 3)  # partitions 2 and 3 of 4

    async def tag(payload: dict[str, str]) -> dict[str, str]:
        return {"for": payload["who"]}

    auto = Topics(reply_partition="auto")
    replies: dict[str, list[str]] = collections.defaultdict(list)

    async def call(client: RpcClient, who: str) -> None:
        reply = await client.request(unique_topic_base, {"who": who}, timeout=15)
        replies[who].append(reply["for"])

    async with (
        serve(tag),
        RpcClient(kafkarpc_broker, service="alice", topics=auto) as alice,
        RpcClient(kafkarpc_broker, service="bob", topics=auto) as bob,
        anyio.create_task_group() as tg,
    ):
        for _ in range(15):
            tg.start_soon(call, alice, "alice")
            tg.start_soon(call, bob, "bob")
    assert replies == {"alice": ["alice"] * 15, "bob": ["bob"] * 15}
    # Each read only its own partition: the other's replies never reached it.
    assert alice.stats.late_replies == 0
    assert bob.stats.late_replies == 0
    # The responder wrote each reply to the partition its client chose.
    by_partition = collections.Counter(
        record.partition for record in await topic_records(trio.completed)
    )
    assert by_partition == {2: 15, 3: 15}


async def test_clients_that_draw_the_same_auto_partition_both_get_every_reply(
    kafkarpc_broker: str,
    serve: Callable[..., RpcServer],
    unique_topic_base: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trio = TopicTrio.from_base(unique_topic_base)
    await ensure_topics(kafkarpc_broker, [trio], partitions=4)
    _instance_slots(monkeypatch, 5, 9)  # both partition 1 of 4

    async def tag(payload: dict[str, str]) -> dict[str, str]:
        return {"for": payload["who"]}

    auto = Topics(reply_partition="auto")
    replies: dict[str, list[str]] = collections.defaultdict(list)

    async def call(client: RpcClient, who: str) -> None:
        reply = await client.request(unique_topic_base, {"who": who}, timeout=15)
        replies[who].append(reply["for"])

    async with (
        serve(tag),
        RpcClient(kafkarpc_broker, service="alice", topics=auto) as alice,
        RpcClient(kafkarpc_broker, service="bob", topics=auto) as bob,
    ):
        # Position both routes before the race, as a shared partition means each
        # reads the other's replies from then on.
        await call(alice, "alice")
        await call(bob, "bob")
        alice_before, bob_before = alice.stats.late_replies, bob.stats.late_replies
        async with anyio.create_task_group() as tg:
            for _ in range(15):
                tg.start_soon(call, alice, "alice")
                tg.start_soon(call, bob, "bob")
        # Sharing costs reading: each drops the other's 15 replies (counted, never raised).
        with anyio.fail_after(10):
            while (
                alice.stats.late_replies < alice_before + 15
                or bob.stats.late_replies < bob_before + 15
            ):
                await anyio.sleep(0.01)
    assert replies == {"alice": ["alice"] * 16, "bob": ["bob"] * 16}
