"""README's "What it guarantees", server side, on the real broker: deadlines at
pickup, ``serve_forever``, ``shutdown_timeout`` with a handler still running, and
``Topics(partitions=N, create=True)``. (README names the test behind each claim.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from kafkarpc import (
    EnvelopeError,
    LifecycleError,
    Limits,
    RequestTimeout,
    RpcClient,
    RpcServer,
    Topics,
    TopicTrio,
    decode_envelope,
    ensure_topics,
)

pytestmark = pytest.mark.anyio


def _failure_reply(bootstrap: str, topic: str, correlation_id: str) -> dict[str, Any]:
    """The failure payload answering ``correlation_id`` on ``topic`` (read from the start)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "claims-reader"})
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
        for _ in range(300):  # ~30 s of polling: the reply is already on the broker
            message = consumer.poll(0.1)
            if message is None or message.error():
                continue
            try:
                envelope = decode_envelope(message.value())
            except EnvelopeError:
                continue
            if envelope.correlation_id == correlation_id:
                return envelope.payload
    finally:
        consumer.close()
    raise AssertionError(f"no reply to {correlation_id} on {topic}")


async def test_a_request_picked_up_after_its_deadline_is_not_executed(
    serve: Callable[..., RpcServer], client: RpcClient, kafkarpc_broker: str, trio: TopicTrio
) -> None:
    # One worker, held by the first request: the second waits on the responder past
    # its deadline, and is picked up only once the first is let go.
    holding = anyio.Event()
    release = anyio.Event()
    ran: list[int] = []

    async def work(payload: dict[str, int]) -> dict[str, int]:
        ran.append(payload["n"])
        if payload["n"] == 1:
            holding.set()
            await release.wait()
        return payload

    server = serve(work, limits=Limits(max_concurrency=1))
    first: dict[str, int] = {}

    async def call_first() -> None:
        first.update(await client.request(trio, {"n": 1}, timeout=30))

    async with server, anyio.create_task_group() as tg:
        tg.start_soon(call_first)
        with anyio.fail_after(30):
            await holding.wait()
        with pytest.raises(RequestTimeout) as late:
            await client.request(trio, {"n": 2}, timeout=1)
        release.set()  # the responder resumes, long after request 2's deadline
        with anyio.fail_after(30):
            while server.stats.deadline_expired < 1:
                await anyio.sleep(0.05)
    assert first == {"n": 1}
    assert ran == [1], "the handler never ran for the expired request"
    assert server.stats.deadline_expired == 1
    assert server.stats.succeeded == 1
    correlation_id = late.value.correlation_id
    assert correlation_id is not None
    reply = await anyio.to_thread.run_sync(
        _failure_reply, kafkarpc_broker, trio.failed, correlation_id
    )
    assert reply["error_code"] == "DEADLINE_EXCEEDED"
    assert "not executed" in reply["error_message"]


def _recording_echo() -> tuple[Callable[[dict[str, int]], Awaitable[dict[str, int]]], list[int]]:
    """A handler answering with its payload, and the list of each request's ``n`` it ran."""
    ran: list[int] = []

    async def work(payload: dict[str, int]) -> dict[str, int]:
        ran.append(payload["n"])
        return payload

    return work, ran


async def test_a_request_waiting_for_a_responder_to_start_expires_unexecuted(
    serve: Callable[..., RpcServer], client: RpcClient, kafkarpc_broker: str, trio: TopicTrio
) -> None:
    # Nobody serves yet: the request waits on the topic until after its deadline.
    work, ran = _recording_echo()

    await ensure_topics(kafkarpc_broker, [trio])
    with pytest.raises(RequestTimeout):
        await client.request(trio, {"n": 1}, timeout=1)
    async with serve(work) as server:
        # The group starts from the earliest offset, so it does read the stale request.
        with anyio.fail_after(30):
            while server.stats.deadline_expired < 1:
                await anyio.sleep(0.05)
        assert await client.request(trio, {"n": 2}, timeout=20) == {"n": 2}
    assert ran == [2]
    assert server.stats.received == 2


async def test_a_server_runs_at_most_max_concurrency_handlers_and_answers_every_request(
    serve: Callable[..., RpcServer], client: RpcClient, trio: TopicTrio
) -> None:
    running: list[int] = []
    peak = 0

    async def work(payload: dict[str, int]) -> dict[str, int]:
        nonlocal peak
        running.append(payload["n"])
        peak = max(peak, len(running))
        try:
            await anyio.sleep(0.3)  # long enough for the other requests to queue up
            return payload
        finally:
            running.remove(payload["n"])

    replies: dict[int, dict[str, int]] = {}

    async def call(n: int) -> None:
        replies[n] = await client.request(trio, {"n": n}, timeout=40)

    async with serve(work, limits=Limits(max_concurrency=2)), anyio.create_task_group() as tg:
        for n in range(8):
            tg.start_soon(call, n)
    assert replies == {n: {"n": n} for n in range(8)}, "the requests beyond the bound waited"
    assert peak == 2, "the bound was reached and never passed"


def _committed(bootstrap: str, group: str, topic: str) -> int:
    """How many records of ``topic`` (3 partitions) ``group`` has committed past."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        offsets = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    finally:
        consumer.close()
    return sum(max(tp.offset, 0) for tp in offsets)  # no commit yet: a negative sentinel


async def test_serve_forever_serves_until_cancelled_then_shuts_down_gracefully(
    serve: Callable[..., RpcServer], client: RpcClient, kafkarpc_broker: str, trio: TopicTrio
) -> None:
    work, ran = _recording_echo()

    server = serve(work)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve_forever)
        for n in range(3):
            assert await client.request(trio, {"n": n}, timeout=20) == {"n": n}
        tg.cancel_scope.cancel()
    assert ran == [0, 1, 2]
    with pytest.raises(LifecycleError):  # closed for good: a server starts once
        await server.__aenter__()
    # Cancelled, it still shut down gracefully: what it answered is committed, so
    # the group's next member would not run those requests again.
    committed = await anyio.to_thread.run_sync(
        _committed, kafkarpc_broker, server.group_id, trio.requested
    )
    assert committed == 3


async def test_shutdown_timeout_expiring_leaves_the_request_to_another_member(
    make_server: Callable[..., RpcServer], client: RpcClient, trio: TopicTrio
) -> None:
    stuck = make_server(service="stuck", limits=Limits(shutdown_timeout=0.5))
    started = anyio.Event()
    stuck_outcome: list[str] = []

    @stuck.responder(trio)
    async def hang(payload: dict[str, int]) -> dict[str, object]:
        started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            stuck_outcome.append("cancelled")
            raise
        raise AssertionError("unreachable")

    successor = make_server(service="successor")

    @successor.responder(trio)
    async def answer(payload: dict[str, int]) -> dict[str, object]:
        return {"by": "successor", "n": payload["n"]}

    reply: dict[str, object] = {}

    async def call() -> None:
        reply.update(await client.request(trio, {"n": 7}, timeout=40))

    async with anyio.create_task_group() as tg:
        await stuck.__aenter__()
        tg.start_soon(call)
        with anyio.fail_after(30):
            await started.wait()
        # The handler never finishes: shutdown_timeout expires. (No fail_after here:
        # aclose exits the server's task group, entered outside such a scope; the
        # test's own timeout bounds a hang.)
        await stuck.aclose()
        assert stuck_outcome == ["cancelled"]
        assert stuck.stats.succeeded == 0
        async with successor:  # same group: it reads from the uncommitted offset
            with anyio.fail_after(30):
                while not reply:
                    await anyio.sleep(0.05)
    assert reply == {"by": "successor", "n": 7}
    assert client.pending_count == 0


def _partition_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    # Listing every topic, not naming them: Tansu creates a topic a lookup names.
    listed = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    return {t: len(listed[t].partitions) for t in topics if t in listed}


@pytest.mark.parametrize("side", ["server", "client"])
async def test_topics_create_makes_the_trio_with_the_partitions_asked_for(
    side: str,
    serve: Callable[..., RpcServer],
    make_client: Callable[..., RpcClient],
    kafkarpc_broker: str,
    trio: TopicTrio,
) -> None:
    # 5: neither the default (3) nor what Tansu gives a topic it creates itself (4).
    topics = Topics(create=True, partitions=5)

    async def echo(payload: dict[str, int]) -> dict[str, int]:
        return payload

    created = [trio.requested, trio.completed, trio.failed]
    if side == "server":
        async with serve(echo, topics=topics):
            pass
        created.append(f"{trio.requested}.dlq")
    else:
        async with make_client(topics=topics) as client:
            with pytest.raises(RequestTimeout):  # nobody serves; the route is set up first
                await client.request(trio, {}, timeout=0.5)
    counts = await anyio.to_thread.run_sync(_partition_counts, kafkarpc_broker, created)
    assert counts == dict.fromkeys(created, 5)
