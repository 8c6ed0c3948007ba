"""README's "What it guarantees", client and dead-letter side, on the real broker:
backpressure (``Limits(max_in_flight)``), client-side dead letters when a request
cannot be published, and ``replay_dlq(include_poison=...)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from kafkarpc import (
    DeadLetter,
    DlqHeader,
    DlqReason,
    Limits,
    PublishError,
    RequestTimeout,
    RpcClient,
    RpcServer,
    TopicTrio,
    ensure_topics,
    inspect_dlq,
    replay_dlq,
)

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("limit", [1, 4])
async def test_callers_beyond_max_in_flight_wait_and_none_is_dropped(
    limit: int,
    serve: Callable[..., RpcServer],
    make_client: Callable[..., RpcClient],
    trio: TopicTrio,
) -> None:
    client = make_client(limits=Limits(max_in_flight=limit))
    seen: list[int] = []  # client.pending_count, sampled from the handler and a watcher

    async def work(payload: dict[str, int]) -> dict[str, int]:
        seen.append(client.pending_count)
        await anyio.sleep(0.1)  # long enough for the other callers to pile up
        return payload

    async def watch() -> None:
        while True:
            seen.append(client.pending_count)
            await anyio.sleep(0.002)

    replies: dict[int, dict[str, int]] = {}

    async def call(n: int) -> None:
        replies[n] = await client.request(trio, {"n": n}, timeout=40)

    callers = 4 * limit
    async with serve(work), client:
        # The route first, so every caller below goes straight to the slots.
        assert await client.request(trio, {"n": -1}, timeout=20) == {"n": -1}
        async with anyio.create_task_group() as watching:
            watching.start_soon(watch)
            async with anyio.create_task_group() as tg:
                for n in range(callers):
                    tg.start_soon(call, n)
            watching.cancel_scope.cancel()
        assert client.pending_count == 0
    assert replies == {n: {"n": n} for n in range(callers)}, "every caller answered"
    assert client.stats.succeeded == callers + 1
    assert client.stats.timeouts == client.stats.publish_errors == 0
    assert max(seen) == limit, "the limit was reached and never passed"


@dataclass(frozen=True)
class _Parked:
    """A call whose request could not be published, and what it left in the DLQ."""

    error: PublishError
    payload: dict[str, int]  # the failed call's
    letters: list[DeadLetter]
    trio: TopicTrio
    before_ms: int  # epoch ms just before the call, and just after it failed
    after_ms: int


def _delete_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})  # alive until the result is in
    for future in admin.delete_topics([topic]).values():
        future.result(timeout=10)


def _produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, value=value, key=key)
    assert producer.flush(10) == 0, "the broker took the record"


@pytest.fixture
async def parked(kafkarpc_broker: str, trio: TopicTrio) -> _Parked:
    """A request whose topic vanished after the client routed to it, so the broker
    never takes it. (Tansu creates a topic any lookup or produce names, unless the
    client says ``allow.auto.create.topics=false``, which it honours.)"""
    dlq = f"{trio.requested}.dlq"
    await ensure_topics(kafkarpc_broker, [trio, dlq])
    config = {
        "allow.auto.create.topics": False,
        "message.timeout.ms": 2000,  # the broker's "no" is a delivery timeout
        "topic.metadata.refresh.interval.ms": 250,  # learn soon that the topic is gone
    }
    async with RpcClient(kafkarpc_broker, service="parker", config=config) as client:
        with pytest.raises(RequestTimeout):  # nobody serves: this only sets up the route
            await client.request(trio, {"n": 0}, timeout=0.5)
        await anyio.to_thread.run_sync(_delete_topic, kafkarpc_broker, trio.requested)
        # Until the producer's metadata says the topic is gone, Tansu still takes
        # records for it (and nobody answers them): call until the broker says no.
        failed: PublishError | None = None
        payload: dict[str, int] = {}
        for n in range(1, 8):  # one or two in practice; 7 fit the test timeout
            payload = {"n": n}
            before_ms = int(time.time() * 1000)
            try:
                await client.request(trio, payload, timeout=5)
            except RequestTimeout:
                continue
            except PublishError as exc:
                failed = exc
                break
        after_ms = int(time.time() * 1000)
        assert failed is not None, "the broker kept taking records for a deleted topic"
        assert client.stats.dead_lettered == 1
        assert client.pending_count == 0
    letters = await inspect_dlq(kafkarpc_broker, dlq)
    return _Parked(failed, payload, letters, trio, before_ms, after_ms)


async def test_a_request_the_broker_never_takes_fails_and_is_dead_lettered(
    parked: _Parked,
) -> None:
    error, trio = parked.error, parked.trio
    assert error.topic == trio.requested
    assert trio.requested in str(error)
    (letter,) = parked.letters
    assert letter.envelope is not None, "the request itself, as it was meant to be sent"
    assert letter.envelope.correlation_id == error.correlation_id
    assert letter.envelope.payload == parked.payload
    assert letter.reason == DlqReason.PUBLISH_FAILED
    assert letter.original_topic == trio.requested
    headers = letter.headers
    assert headers[DlqHeader.ORIGINAL_TOPIC] == trio.requested
    assert headers[DlqHeader.ORIGINAL_PARTITION] == "-1"  # it never reached the broker
    assert headers[DlqHeader.ORIGINAL_OFFSET] == "-1"
    assert headers[DlqHeader.EXCEPTION_FQCN] == "kafkarpc.PublishError"
    assert headers[DlqHeader.EXCEPTION_MESSAGE] == str(error)
    assert "PublishError" in headers[DlqHeader.EXCEPTION_STACKTRACE]
    assert headers[DlqHeader.REASON] == "publish_failed"
    assert headers[DlqHeader.RETRY_COUNT] == "0"
    # The request's own headers travel with it, so a replay is the same request.
    assert headers["correlation_id"] == error.correlation_id
    assert headers["idempotency_key"] == error.correlation_id
    assert headers["reply_to"] == trio.completed


async def test_a_client_side_dead_letter_carries_when_the_request_was_made(
    parked: _Parked,
) -> None:
    (letter,) = parked.letters
    stamp = int(letter.headers[DlqHeader.ORIGINAL_TIMESTAMP])
    # Epoch ms of the call; a second of slack for the envelope's rounding and clocks.
    assert parked.before_ms - 1000 <= stamp <= parked.after_ms


async def test_replay_leaves_poison_alone_unless_include_poison(
    serve: Callable[..., RpcServer], kafkarpc_broker: str, trio: TopicTrio
) -> None:
    async def echo(payload: dict[str, int]) -> dict[str, int]:
        return payload

    dlq = f"{trio.requested}.dlq"
    pill = b"\x00 not an envelope"
    # One partition, so "what the requested topic holds" is one ordered list.
    await ensure_topics(kafkarpc_broker, [trio, dlq], partitions=1)
    async with serve(echo) as server:
        await anyio.to_thread.run_sync(_produce, kafkarpc_broker, trio.requested, b"pill", pill)
        with anyio.fail_after(30):
            while server.stats.dead_lettered < 1:
                await anyio.sleep(0.05)

        kept = await replay_dlq(kafkarpc_broker, dlq)
        assert (kept.processed, kept.succeeded, kept.failed) == (1, 0, 1)
        sent = await replay_dlq(kafkarpc_broker, dlq, include_poison=True)
        assert (sent.processed, sent.succeeded, sent.failed) == (1, 1, 0)
        # The replayed pill is poison still: the responder parks it again.
        with anyio.fail_after(30):
            while server.stats.dead_lettered < 2:
                await anyio.sleep(0.05)
    # The pill went back exactly once: the first replay left it alone.
    requested = await inspect_dlq(kafkarpc_broker, trio.requested)
    assert [(r.key, r.value) for r in requested] == [(b"pill", pill)] * 2
    letters = await inspect_dlq(kafkarpc_broker, dlq)
    assert [(r.reason, r.value) for r in letters] == [(DlqReason.POISON, pill)] * 2
