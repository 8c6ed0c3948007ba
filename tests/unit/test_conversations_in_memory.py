"""Scatter-gather and streamed replies over the memory transport, on asyncio and trio."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from kafkarpc import (
    ClientClosed,
    ConfigurationError,
    GatherReply,
    HandlerRetry,
    Limits,
    Progress,
    RemoteError,
    RequestContext,
    RequestTimeout,
    TopicNotFound,
    TopicTrio,
)
from kafkarpc._config import NO_CALL_RETRY
from kafkarpc.client.gather import GatherCollector
from kafkarpc.client.stream import StreamCollector
from kafkarpc.client.validate import new_call
from kafkarpc.transport import InboundRecord
from kafkarpc.wire.envelope import new_message
from kafkarpc.wire.headers import build_headers
from kafkarpc.wire.streams import END_FIELD, cancel_topic, item_header

if TYPE_CHECKING:
    from tests.unit.conftest import MemoryRpc

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

OP = "conv.ask"


async def _serve_groups(rpc: MemoryRpc, stack: AsyncExitStack, handlers: dict[str, Any]) -> None:
    """One server per entry, each its own service and consumer group."""
    rpc.trio(OP)
    for service, handler in handlers.items():
        server = rpc.server(service=service, group_id=f"group-{service}")
        server.add_responder(OP, handler)
        await stack.enter_async_context(server)


def _answer(name: str) -> Any:
    async def answer(payload: dict[str, Any]) -> dict[str, Any]:
        return {"by": name, "q": payload["q"]}

    return answer


async def _fail(payload: dict[str, Any]) -> dict[str, Any]:
    raise ValueError("no answer here")


async def test_gather_collects_one_reply_per_group_and_failures_beside_them(
    rpc: MemoryRpc,
) -> None:
    async with AsyncExitStack() as stack:
        await _serve_groups(
            rpc, stack, {"alpha": _answer("alpha"), "beta": _answer("beta"), "gamma": _fail}
        )
        client = await stack.enter_async_context(rpc.client())
        result = await client.gather(OP, {"q": 1}, expect=3, timeout=5)
    assert result.complete
    assert sorted(result.services) == ["alpha", "beta", "gamma"]
    assert sorted(r["by"] for r in result.results) == ["alpha", "beta"]
    (error,) = result.errors
    assert isinstance(error, RemoteError)
    assert (error.error_code, error.error_type) == ("HANDLER_ERROR", "ValueError")
    assert client.pending_count == 0
    assert client.stats.succeeded == 1  # one call, answered


async def test_gather_on_timeout_returns_what_arrived_flagged_incomplete(
    rpc: MemoryRpc,
) -> None:
    release = anyio.Event()

    async def slow(payload: dict[str, Any]) -> dict[str, Any]:
        await release.wait()
        return {"by": "slow"}

    async with AsyncExitStack() as stack:
        await _serve_groups(rpc, stack, {"fast": _answer("fast"), "slow": slow})
        client = await stack.enter_async_context(rpc.client())
        result = await client.gather(OP, {"q": 2}, expect=2, timeout=2)
        release.set()
    assert not result.complete
    assert result.services == ["fast"]
    assert client.pending_count == 0


async def test_gather_with_expect_ends_when_that_many_arrived(rpc: MemoryRpc) -> None:
    release = anyio.Event()

    async def slow(payload: dict[str, Any]) -> dict[str, Any]:
        await release.wait()
        return {"by": "slow"}

    async with AsyncExitStack() as stack:
        await _serve_groups(
            rpc, stack, {"one": _answer("one"), "two": _answer("two"), "slow": slow}
        )
        client = await stack.enter_async_context(rpc.client())
        # A timeout the test never waits out: the gather ends at two replies.
        result = await client.gather(OP, {"q": 3}, expect=2, timeout=60)
        release.set()
    assert result.complete
    assert sorted(result.services) == ["one", "two"]


async def test_gather_iterates_replies_as_they_arrive(rpc: MemoryRpc) -> None:
    async with AsyncExitStack() as stack:
        await _serve_groups(rpc, stack, {"alpha": _answer("alpha"), "beta": _fail})
        client = await stack.enter_async_context(rpc.client())
        seen: list[GatherReply] = []
        gathering = client.gather(OP, {"q": 4}, expect=2, timeout=5)
        async for reply in gathering:
            seen.append(reply)
    assert gathering.complete
    by_service = {reply.service: reply for reply in seen}
    assert by_service["alpha"].unwrap() == {"by": "alpha", "q": 4}
    with pytest.raises(RemoteError):
        by_service["beta"].unwrap()


async def test_gather_checks_expect(rpc: MemoryRpc) -> None:
    rpc.trio(OP)
    async with rpc.client() as client:
        with pytest.raises(ConfigurationError):
            client.gather(OP, {}, expect=0)


async def _count(payload: dict[str, int]) -> AsyncIterator[dict[str, int]]:
    for n in range(payload["n"]):
        yield {"i": n}


async def test_a_stream_arrives_complete_and_in_order(rpc: MemoryRpc) -> None:
    trio, server = rpc.serve(OP, _count)
    async with server, rpc.client() as client:
        items = [item async for item in client.stream(trio, {"n": 300}, timeout=10)]
    assert items == [{"i": n} for n in range(300)]
    assert client.pending_count == 0


async def test_request_to_a_streaming_responder_gets_every_item_in_one_reply(
    rpc: MemoryRpc,
) -> None:
    trio, server = rpc.serve(OP, _count)
    async with server, rpc.client() as client:
        reply = await client.request(trio, {"n": 3})
    assert reply == {"items": [{"i": 0}, {"i": 1}, {"i": 2}]}


async def test_stream_items_as_progress_models(rpc: MemoryRpc) -> None:
    async def build(payload: dict[str, Any]) -> AsyncIterator[Progress]:
        for percent in (0, 50, 100):
            yield Progress(work_item_id="w1", progress_percentage=percent, status_message="ok")

    trio, server = rpc.serve(OP, build)
    async with server, rpc.client() as client:
        steps = [step async for step in client.stream(trio, {}, item_model=Progress)]
    assert [step.progress_percentage for step in steps] == [0, 50, 100]
    assert all(isinstance(step, Progress) for step in steps)


async def test_a_failing_stream_raises_after_its_items(rpc: MemoryRpc) -> None:
    async def breaks(payload: dict[str, Any]) -> AsyncIterator[dict[str, int]]:
        yield {"i": 0}
        yield {"i": 1}
        raise ValueError("broke at 2")

    trio, server = rpc.serve(OP, breaks)
    got: list[dict[str, Any]] = []
    async with server, rpc.client() as client:
        stream = client.stream(trio, {}, timeout=5)
        got.append(await anext(stream))
        got.append(await anext(stream))
        with pytest.raises(RemoteError) as caught:
            await anext(stream)
    assert got == [{"i": 0}, {"i": 1}]
    assert caught.value.error_type == "ValueError"


async def test_the_deadline_closes_the_responders_generator(rpc: MemoryRpc) -> None:
    closed = anyio.Event()

    async def endless(
        payload: dict[str, Any], ctx: RequestContext
    ) -> AsyncIterator[dict[str, int]]:
        try:
            n = 0
            while True:
                yield {"i": n}
                n += 1
                await anyio.sleep(0.01)
        finally:
            closed.set()

    trio, server = rpc.serve(OP, endless)
    got: list[dict[str, Any]] = []

    async def iterate(items: AsyncIterator[dict[str, Any]]) -> None:
        async for item in items:
            got.append(item)

    async with server, rpc.client() as client:
        with pytest.raises(RequestTimeout):
            await iterate(client.stream(trio, {}, timeout=0.5))
        with anyio.fail_after(10):
            await closed.wait()
    assert got[:2] == [{"i": 0}, {"i": 1}]


def _endless(closed: anyio.Event) -> Any:
    async def endless(payload: dict[str, Any]) -> AsyncIterator[dict[str, int]]:
        try:
            n = 0
            while True:
                yield {"i": n}
                n += 1
                await anyio.sleep(0.01)
        finally:
            closed.set()

    return endless


async def test_a_caller_that_stops_early_cancels_the_responders_generator(
    rpc: MemoryRpc,
) -> None:
    closed = anyio.Event()
    trio, server = rpc.serve(OP, _endless(closed))
    rpc.broker.create_topic(cancel_topic(trio.requested))
    async with server, rpc.client() as client:
        async with client.stream(trio, {}, timeout=60) as items:
            async for item in items:
                if item["i"] == 3:
                    break
        assert client.pending_count == 0
        # Long before the 60 s deadline: the cancel message closed it.
        with anyio.fail_after(10):
            await closed.wait()


async def test_without_a_cancel_topic_the_deadline_still_closes_the_generator(
    rpc: MemoryRpc,
) -> None:
    closed = anyio.Event()
    trio, server = rpc.serve(OP, _endless(closed))
    async with server, rpc.client() as client:
        async with client.stream(trio, {}, timeout=1) as items:
            async for item in items:
                if item["i"] == 3:
                    break
        assert client.pending_count == 0
        with anyio.fail_after(10):
            await closed.wait()


async def test_a_stream_cancelled_while_queued_never_runs(rpc: MemoryRpc) -> None:
    release, busy = anyio.Event(), anyio.Event()
    started: list[int] = []

    async def blocker(payload: dict[str, Any]) -> dict[str, Any]:
        busy.set()
        await release.wait()
        return {}

    async def counted(payload: dict[str, Any]) -> AsyncIterator[dict[str, int]]:
        started.append(payload["n"])
        yield {"i": 0}

    trio = rpc.trio(OP)
    other = rpc.trio(f"{OP}.other")
    rpc.broker.create_topic(cancel_topic(trio.requested))
    server = rpc.server(limits=Limits(max_concurrency=1))  # one worker: the stream queues
    server.add_responder(trio, counted)
    server.add_responder(other, blocker)
    async with server, rpc.client() as client, anyio.create_task_group() as tg:
        tg.start_soon(client.request, other, {})
        await busy.wait()
        stream = client.stream(trio, {"n": 1}, timeout=60)
        stream.start()  # sent; queued behind the blocker
        while client.pending_count < 2:
            await anyio.sleep(0.01)
        await stream.aclose()
        release.set()
        # The next request runs after the cancelled one was taken off the queue.
        assert await client.request(trio, {"n": 2}) == {"items": [{"i": 0}]}
    assert started == [2]


def _item(position: int | None, payload: dict[str, Any], topic: str) -> InboundRecord:
    message = new_message(
        event_type="CONV_ASK_COMPLETED", correlation_id="c", service="s", payload=payload
    )
    headers = build_headers(message)
    if position is not None:
        headers.append(item_header(position))
    return InboundRecord(topic, 0, 0, b"c", message.value, headers)


def test_the_collector_releases_in_order_once_each_and_ends_after_the_last() -> None:
    trio = TopicTrio.from_base(OP)
    call = new_call(
        trio,
        {},
        timeout=5,
        policy=NO_CALL_RETRY,
        clock=time.monotonic,
        partition_key=None,
        headers=None,
        idempotency_key=None,
        priority=None,
    )
    released: list[dict[str, Any]] = []
    collect = StreamCollector(call, released.append)
    done = trio.completed
    # Item 1 early, 0, then a rerun from 0 (a redelivery) and the end.
    assert collect(_item(1, {"i": 1}, done)) == (None, False)
    assert collect(_item(0, {"i": 0}, done)) == (None, False)
    end = _item(None, {END_FIELD: 3}, done)
    assert collect(end) == (None, False)  # item 2 is still missing
    assert collect(_item(0, {"i": "again"}, done)) == (None, False)
    last = _item(2, {"i": 2}, done)
    assert collect(last) == (end, True)
    assert released == [{"i": 0}, {"i": 1}, {"i": 2}]


async def test_stream_from_a_plain_responder_yields_its_reply(rpc: MemoryRpc) -> None:
    async def plain(payload: dict[str, Any]) -> dict[str, Any]:
        return {"whole": payload["q"]}

    trio, server = rpc.serve(OP, plain)
    async with server, rpc.client() as client:
        items = [item async for item in client.stream(trio, {"q": 5}, timeout=5)]
    assert items == [{"whole": 5}]


def test_a_sync_generator_responder_is_refused(rpc: MemoryRpc) -> None:
    def pages(payload: dict[str, Any]) -> Iterator[dict[str, int]]:
        yield {"page": 0}

    server = rpc.server()
    with pytest.raises(ConfigurationError, match="async generator"):
        server.add_responder(OP, pages)


async def test_a_non_object_item_fails_the_stream(rpc: MemoryRpc) -> None:
    async def numbers(payload: dict[str, Any]) -> AsyncIterator[Any]:
        yield {"ok": 1}
        yield 2

    trio, server = rpc.serve(OP, numbers)
    async with server, rpc.client() as client:
        stream = client.stream(trio, {}, timeout=5)
        assert await anext(stream) == {"ok": 1}
        with pytest.raises(RemoteError, match="JSON object"):
            await anext(stream)


async def test_a_stream_redelivered_to_another_member_is_seen_once_in_order(
    rpc: MemoryRpc,
) -> None:
    """The memory twin of the SIGKILL test: the first member stops mid-stream without
    finishing the request; the group's other member runs it again from position 0."""
    stalled = anyio.Event()
    rerun: list[int] = []

    async def first(payload: dict[str, int]) -> AsyncIterator[dict[str, int]]:
        for n in range(payload["stall_after"]):
            yield {"i": n}
        stalled.set()
        await anyio.sleep_forever()

    async def second(payload: dict[str, int]) -> AsyncIterator[dict[str, int]]:
        for n in range(payload["n"]):
            rerun.append(n)
            yield {"i": n}

    trio = rpc.trio(OP)
    doomed = rpc.server(service="doomed", group_id="streamers", limits=Limits(shutdown_timeout=0.1))
    doomed.add_responder(trio, first)
    survivor = rpc.server(service="survivor", group_id="streamers")
    survivor.add_responder(trio, second)
    items: list[dict[str, int]] = []
    async with rpc.client() as client:
        stream = client.stream(trio, {"n": 30, "stall_after": 12}, timeout=20)
        async with doomed:
            items.extend([await anext(stream) for _ in range(12)])
            await stalled.wait()
        # The doomed member left without finishing: its request goes to the survivor.
        async with survivor:
            items.extend([item async for item in stream])
    assert items == [{"i": n} for n in range(30)]
    assert rerun == list(range(30))


def test_a_subscriber_that_is_an_async_generator_is_refused(rpc: MemoryRpc) -> None:
    async def yields(event: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        yield event

    server = rpc.server()
    with pytest.raises(ConfigurationError, match="subscriber"):
        server.subscribe("conv.events", yields)


async def test_a_gather_counts_as_one_call_by_how_it_ended(rpc: MemoryRpc) -> None:
    async with AsyncExitStack() as stack:
        await _serve_groups(rpc, stack, {"gamma": _fail})
        client = await stack.enter_async_context(rpc.client())
        only_failures = await client.gather(OP, {"q": 1}, expect=1, timeout=5)
    assert len(only_failures.errors) == 1
    assert (client.stats.requests, client.stats.remote_errors) == (1, 1)


async def test_a_gather_with_no_reply_is_a_timeout_for_the_metrics(rpc: MemoryRpc) -> None:
    rpc.trio(OP)
    async with rpc.client() as client:
        result = await client.gather(OP, {}, timeout=0.2)
    assert result.replies == () and not result.complete
    assert client.stats.timeouts == 1


async def test_a_gather_that_cannot_be_sent_raises(rpc: MemoryRpc) -> None:
    async with rpc.client() as client:
        with pytest.raises(TopicNotFound):
            await client.gather("conv.no.such.op", {}, timeout=1)


def test_a_repeated_answer_of_one_service_is_one_reply() -> None:
    trio = TopicTrio.from_base(OP)
    call = new_call(
        trio,
        {},
        timeout=5,
        policy=NO_CALL_RETRY,
        clock=time.monotonic,
        partition_key=None,
        headers=None,
        idempotency_key=None,
        priority=None,
    )
    delivered: list[GatherReply] = []
    collect = GatherCollector(call, 2, delivered.append, None)

    def reply(service: str) -> InboundRecord:
        message = new_message(
            event_type="CONV_ASK_COMPLETED", correlation_id="c", service=service, payload={}
        )
        return InboundRecord(trio.completed, 0, 0, b"c", message.value, build_headers(message))

    first = reply("alpha")
    assert collect(first) == (first, False)
    assert collect(reply("alpha")) == (first, False)  # a redelivered request answered again
    assert collect(reply("beta"))[1] is True
    assert [r.service for r in delivered] == ["alpha", "beta"]


async def test_a_retried_generator_is_seen_once_in_order(rpc: MemoryRpc) -> None:
    runs: list[int] = []

    async def flaky(payload: dict[str, int]) -> AsyncIterator[dict[str, int]]:
        runs.append(len(runs))
        for n in range(10):
            if n == 6 and len(runs) == 1:
                raise ConnectionError("lost the source at item 6")
            yield {"i": n}

    trio = rpc.trio(OP)
    server = rpc.server(retry=HandlerRetry(max_attempts=2, initial_delay=0.01))
    server.add_responder(trio, flaky)
    async with server, rpc.client() as client:
        items = [item async for item in client.stream(trio, {}, timeout=10)]
    assert items == [{"i": n} for n in range(10)]
    assert runs == [0, 1]


async def test_closing_the_client_ends_a_gather_with_client_closed(rpc: MemoryRpc) -> None:
    async with AsyncExitStack() as stack:
        await _serve_groups(rpc, stack, {"alpha": _answer("alpha")})
        client = await stack.enter_async_context(rpc.client())
        gathering = client.gather(OP, {"q": 1}, timeout=30)  # waits for more groups
        first = await anext(gathering)
        await client.aclose()
        with pytest.raises(ClientClosed):
            await anext(gathering)
    assert first.service == "alpha"
