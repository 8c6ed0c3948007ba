"""Event subscribers on the real broker: nothing lost, nothing handled twice, failures parked."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import anyio
import pytest
from confluent_kafka import Producer
from pydantic import BaseModel

from kafkarpc import (
    DlqReason,
    HandlerRetry,
    RequestContext,
    RpcClient,
    RpcServer,
    ensure_topics,
    inspect_dlq,
)
from kafkarpc.server.subscriber import FOREIGN_SERVICE

pytestmark = pytest.mark.anyio

EVENTS = 10_000
# Deterministic failures: ~10% fail their first attempt only, ~1% fail every attempt.
RETRY = HandlerRetry(max_attempts=3, initial_delay=0.005, max_delay=0.02, jitter=0)


def _bucket(event_id: int) -> int:
    return zlib.crc32(str(event_id).encode()) % 100


def _flaky(event_id: int) -> bool:
    return _bucket(event_id) % 10 == 0


def _doomed(event_id: int) -> bool:
    return _bucket(event_id) == 1


class Shipment(BaseModel):
    id: int
    weight_grams: int


async def _publish_all(client: RpcClient, topic: str, ids: range) -> None:
    # Many sends in flight at once: one at a time would spend the test waiting on acks.
    limiter = anyio.CapacityLimiter(256)

    async def one(event_id: int) -> None:
        async with limiter:
            await client.publish(topic, {"id": event_id, "weight_grams": 100}, key=str(event_id))

    async with anyio.create_task_group() as tasks:
        for event_id in ids:
            tasks.start_soon(one, event_id)


async def _wait_until(predicate: Callable[[], bool], *, timeout: float) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.05)


@pytest.mark.timeout(240)
async def test_ten_thousand_events_with_failures_are_each_handled_once_or_parked(
    make_server: Callable[..., RpcServer],
    make_client: Callable[..., RpcClient],
    kafkarpc_broker: str,
    unique_topic_base: str,
) -> None:
    topic = f"{unique_topic_base}.shipped"
    handled: Counter[int] = Counter()  # successful runs per event
    attempts: Counter[tuple[int, int]] = Counter()  # (event, attempt) runs
    deliveries: Counter[tuple[int, int, int]] = Counter()  # (event, partition, offset)
    partitions: set[int] = set()

    async def on_shipped(event: Shipment, context: RequestContext) -> None:
        attempts[(event.id, context.attempt)] += 1
        if context.attempt == 1:
            deliveries[(event.id, context.partition, context.offset)] += 1
        partitions.add(context.partition)
        if _doomed(event.id) or (_flaky(event.id) and context.attempt == 1):
            raise ConnectionError(f"warehouse unavailable for {event.id}")
        handled[event.id] += 1

    def member() -> RpcServer:
        server = make_server(retry=RETRY)
        server.subscribe(topic, on_shipped)
        return server

    doomed = {i for i in range(EVENTS) if _doomed(i)}
    # Half the events go to a first member, which then leaves the group; a second
    # member takes over from what the first committed.
    half = EVENTS // 2
    async with make_client() as client:
        async with member() as first:
            await _publish_all(client, topic, range(half))
            await _wait_until(lambda: len(handled) + first.stats.dead_lettered >= half, timeout=120)
        async with member() as second:
            await _publish_all(client, topic, range(half, EVENTS))
            await _wait_until(
                lambda: (
                    len(handled) + first.stats.dead_lettered + second.stats.dead_lettered >= EVENTS
                ),
                timeout=120,
            )

    letters = await inspect_dlq(kafkarpc_broker, f"{topic}.dlq")
    parked = Counter(letter.envelope.payload["id"] for letter in letters if letter.envelope)
    assert {letter.reason for letter in letters} == {DlqReason.HANDLER_EXHAUSTED}
    assert {letter.headers["dlq_retry_count"] for letter in letters} == {"2"}
    # Nothing lost: every event was handled or parked, never both.
    assert set(handled) | set(parked) == set(range(EVENTS))
    assert set(parked) == doomed
    assert not set(handled) & set(parked)
    # Nothing handled twice without a redelivery. The member handing over commits
    # everything it finished, so normally nothing is redelivered at all; a member a
    # loaded machine drops from the group may see some of its records again, and
    # only those may be handled (or parked) twice.
    redelivered = {event for (event, _, _), n in deliveries.items() if n > 1}
    assert {event for event, n in handled.items() if n > 1} <= redelivered
    assert {event for event, n in parked.items() if n > 1} <= redelivered
    assert len(redelivered) < EVENTS // 10
    # The flaky tenth really failed once and succeeded on its second attempt.
    flaky = {i for i in range(EVENTS) if _flaky(i)}
    assert {i for (i, a) in attempts if a == 2} == flaky | doomed
    assert partitions == {0, 1, 2}


class Parcel(BaseModel):
    sku: str
    grams: int


async def test_invalid_foreign_and_undecodable_events_on_the_real_broker(
    make_server: Callable[..., RpcServer],
    make_client: Callable[..., RpcClient],
    kafkarpc_broker: str,
    unique_topic_base: str,
) -> None:
    topic = f"{unique_topic_base}.parcels"
    seen: list[tuple[Parcel, str]] = []

    async def on_parcel(parcel: Parcel, context: RequestContext) -> None:
        seen.append((parcel, context.caller))

    server = make_server()
    server.subscribe(topic, on_parcel)
    async with server, make_client(service="warehouse") as client:
        await client.publish(topic, {"sku": "a", "grams": 5})
        await client.publish(topic, {"sku": "b"}, key="b")  # no grams: fails validation
        # Another producer, which knows no envelope: bare JSON, and bytes that are not JSON.
        producer = Producer({"bootstrap.servers": kafkarpc_broker})
        producer.produce(topic, b'{"sku": "c", "grams": 7}', key=b"c")
        producer.produce(topic, b"\x00\x01 not json", key=b"d")
        assert producer.flush(10) == 0
        await _wait_until(lambda: server.stats.received == 4 and server.in_flight == 0, timeout=30)

    letters = await inspect_dlq(kafkarpc_broker, f"{topic}.dlq")
    assert sorted(seen, key=lambda s: s[0].sku) == [
        (Parcel(sku="a", grams=5), "warehouse"),
        (Parcel(sku="c", grams=7), FOREIGN_SERVICE),
    ]
    assert {letter.key: letter.reason for letter in letters} == {
        b"b": DlqReason.INVALID_PAYLOAD,
        b"d": DlqReason.POISON,
    }
    invalid = next(letter for letter in letters if letter.key == b"b")
    assert invalid.envelope is not None and invalid.envelope.payload == {"sku": "b"}
    assert server.stats.validation_errors == 1


async def test_pattern_subscription_on_the_real_broker(
    make_server: Callable[..., RpcServer],
    fast_group: dict[str, int],
    make_client: Callable[..., RpcClient],
    kafkarpc_broker: str,
    unique_topic_base: str,
) -> None:
    base = unique_topic_base
    created, paid, shipped = (f"{base}.orders.{name}" for name in ("created", "paid", "shipped"))
    other = f"{base}.payments.settled"
    # The pattern also matches orders.paid.dlq, which exists from the start.
    await ensure_topics(kafkarpc_broker, [created, paid, f"{paid}.dlq", other])
    seen: list[tuple[str, int]] = []

    async def on_order(event: dict[str, Any], context: RequestContext) -> None:
        seen.append((context.topic, event["n"]))
        if event["n"] == 2:
            raise ValueError("cannot take payment 2")

    # librdkafka matches the pattern against topic metadata, refreshed this often:
    # a topic created later is served from the next refresh on.
    server = make_server(config={**fast_group, "topic.metadata.refresh.interval.ms": 500})
    server.subscribe(rf"^{re.escape(base)}\.orders\..*", on_order)
    async with server, make_client() as client:
        await client.publish(created, {"n": 1})
        await client.publish(paid, {"n": 2})
        await client.publish(other, {"n": 3})
        # Handled: 1; parked: 2, whose dead letter is then read (the pattern matches
        # its topic) and skipped, not handled as a new event.
        await _wait_until(lambda: server.stats.received == 3 and server.in_flight == 0, timeout=30)
        await ensure_topics(kafkarpc_broker, [shipped])
        await client.publish(shipped, {"n": 4})
        await _wait_until(lambda: (shipped, 4) in seen, timeout=60)

    assert sorted(seen) == [(created, 1), (paid, 2), (shipped, 4)]
    letters = await inspect_dlq(kafkarpc_broker, f"{paid}.dlq")
    assert [(letter.original_topic, letter.reason) for letter in letters] == [
        (paid, DlqReason.HANDLER_EXHAUSTED)
    ]


async def test_dead_letters_of_a_pattern_topic_go_to_a_dlq_topic_the_broker_creates(
    make_server: Callable[..., RpcServer],
    make_client: Callable[..., RpcClient],
    kafkarpc_broker: str,
    unique_topic_base: str,
) -> None:
    # Topics(create=True) cannot know a pattern's topics; Tansu (like Kafka with
    # auto.create.topics.enable) creates the dead-letter topic on its first write.
    topic = f"{unique_topic_base}.refunds.issued"
    await ensure_topics(kafkarpc_broker, [topic])

    async def refuse(event: dict[str, Any]) -> None:
        raise ValueError(f"refund {event['n']} refused")

    server = make_server()
    server.subscribe(rf"^{re.escape(unique_topic_base)}\.refunds\..*", refuse)
    async with server, make_client() as client:
        await client.publish(topic, {"n": 1})
        await _wait_until(lambda: server.stats.dead_lettered == 1, timeout=30)
        await _wait_until(lambda: server.in_flight == 0, timeout=30)

    (letter,) = await inspect_dlq(kafkarpc_broker, f"{topic}.dlq")
    assert (letter.original_topic, letter.reason) == (topic, DlqReason.HANDLER_EXHAUSTED)
    assert letter.error_message == "refund 1 refused"


_APP = """
import os

from kafkarpc import RpcServer, Topics

server = RpcServer(
    os.environ["KAFKARPC_BOOTSTRAP"],
    service="cli-subscriber-test",
    group_id={base!r},
    topics=Topics(create=True),
    config={config!r},
)


@server.responder({base!r} + ".quote")
async def quote(request: dict) -> dict:
    return {{"cents": 100 * request["n"]}}


@server.subscriber({base!r} + ".orders")
async def on_order(event: dict) -> None:
    print("order", event["n"], flush=True)
"""


def _lines(stream: IO[str]) -> queue.Queue[str]:
    """The stream's lines, pumped by a thread so the test can wait with a deadline."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for_line(lines: queue.Queue[str], text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        with contextlib.suppress(queue.Empty):
            if text in lines.get(timeout=remaining):
                return
    raise AssertionError(f"no line with {text!r} within {timeout}s")


async def test_kafkarpc_serve_serves_responders_and_subscribers_together(
    tmp_path: Path, kafkarpc_broker: str, unique_topic_base: str, fast_group: dict[str, int]
) -> None:
    base = f"{unique_topic_base}.shop"  # ends in a word: its event types are UPPER_SNAKE
    (tmp_path / "shop_app.py").write_text(_APP.format(base=base, config=fast_group))
    child = subprocess.Popen(
        [sys.executable, "-m", "kafkarpc", "serve", "shop_app:server"],
        cwd=tmp_path,
        env={**os.environ, "KAFKARPC_BOOTSTRAP": kafkarpc_broker},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stderr is not None
        stdout, stderr = _lines(child.stdout), _lines(child.stderr)
        await anyio.to_thread.run_sync(_wait_for_line, stderr, "serving")
        async with RpcClient(kafkarpc_broker, service="shop-test") as client:
            assert await client.request(f"{base}.quote", {"n": 3}, timeout=30) == {"cents": 300}
            await client.publish(f"{base}.orders", {"n": 7})
        await anyio.to_thread.run_sync(_wait_for_line, stdout, "order 7")

        child.send_signal(signal.SIGINT)
        assert await anyio.to_thread.run_sync(lambda: child.wait(timeout=30)) == 0
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
