"""Scatter-gather and streamed replies on the real broker.

Groups are separate ``RpcServer``s with their own ``group_id`` (and ``service``):
each consumer group reads the request topic whole, so each answers a gather once.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest
from tests.integration.script_process import script_process, wait_for_lines

from kafkarpc import (
    RemoteError,
    RequestTimeout,
    RpcClient,
    RpcServer,
    TopicTrio,
    ensure_topics,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

STREAMER = Path(__file__).with_name("stream_responder_process.py")


async def _start_groups(
    stack: AsyncExitStack,
    make_server: Callable[..., RpcServer],
    trio: TopicTrio,
    handlers: dict[str, Callable[..., Any]],
) -> None:
    """A server per entry: its own service and consumer group, answering ``trio``."""
    for service, handler in handlers.items():
        server = make_server(service=service, group_id=f"{trio.requested}-{service}")
        server.add_responder(trio, handler)
        await stack.enter_async_context(server)


def _answer(service: str) -> Callable[..., Any]:
    async def answer(payload: dict[str, Any]) -> dict[str, Any]:
        return {"by": service, "q": payload["q"]}

    return answer


async def _fail(payload: dict[str, Any]) -> dict[str, Any]:
    raise ValueError("this group cannot answer")


def _slow(release: anyio.Event) -> Callable[..., Any]:
    async def slow(payload: dict[str, Any]) -> dict[str, Any]:
        await release.wait()  # answers only after the gather is over
        return {"by": "slow"}

    return slow


async def test_gather_returns_results_and_errors_flagged_incomplete_at_the_timeout(
    make_server: Callable[..., RpcServer], client: RpcClient, trio: TopicTrio
) -> None:
    release = anyio.Event()
    async with AsyncExitStack() as stack:
        stack.callback(release.set)  # runs first on the way out: the slow group finishes
        await _start_groups(
            stack,
            make_server,
            trio,
            {"alpha": _answer("alpha"), "beta": _answer("beta"), "gamma": _fail},
        )
        await _start_groups(stack, make_server, trio, {"slow": _slow(release)})
        result = await client.gather(trio, {"q": 7}, expect=4, timeout=15)
    assert not result.complete
    assert "slow" not in result.services
    assert sorted(r["by"] for r in result.results) == ["alpha", "beta"]
    (error,) = result.errors
    assert isinstance(error, RemoteError)
    assert (error.error_code, error.error_type) == ("HANDLER_ERROR", "ValueError")
    assert sorted(result.services) == ["alpha", "beta", "gamma"]
    assert client.pending_count == 0


async def test_gather_with_expect_ends_as_soon_as_that_many_arrived(
    make_server: Callable[..., RpcServer], client: RpcClient, trio: TopicTrio
) -> None:
    release = anyio.Event()
    async with AsyncExitStack() as stack:
        stack.callback(release.set)
        await _start_groups(
            stack,
            make_server,
            trio,
            {"one": _answer("one"), "two": _answer("two"), "slow": _slow(release)},
        )
        # The slow group answers only once the gather returned: had the gather waited
        # for its timeout, it could not have ended.
        result = await client.gather(trio, {"q": 1}, expect=2, timeout=90)
    assert result.complete
    assert sorted(result.services) == ["one", "two"]


async def test_gather_gets_one_reply_per_group_not_per_instance(
    make_server: Callable[..., RpcServer], client: RpcClient, trio: TopicTrio
) -> None:
    handled: list[str] = []

    def counted(service: str) -> Callable[..., Any]:
        async def answer(payload: dict[str, Any]) -> dict[str, Any]:
            handled.append(service)
            return {"by": service}

        return answer

    async with AsyncExitStack() as stack:
        for _instance in range(2):  # two members of one group share its work
            server = make_server(service="alpha", group_id=f"{trio.requested}-alpha")
            server.add_responder(trio, counted("alpha"))
            await stack.enter_async_context(server)
        await _start_groups(stack, make_server, trio, {"beta": counted("beta")})
        # Without expect the gather takes everything that arrives within its timeout.
        result = await client.gather(trio, {"q": 3}, timeout=10)
    assert sorted(result.services) == ["alpha", "beta"]
    assert sorted(handled) == ["alpha", "beta"]  # one member of each group ran it
    assert not result.complete  # nothing told the gather how many groups to expect


async def _count(payload: dict[str, int]) -> AsyncIterator[dict[str, int]]:
    for n in range(payload["n"]):
        yield {"i": n}


async def test_a_stream_of_1000_items_arrives_complete_and_in_order(
    serve: Callable[..., RpcServer], client: RpcClient, trio: TopicTrio
) -> None:
    async with serve(_count):
        items = [item async for item in client.stream(trio, {"n": 1000}, timeout=60)]
    assert items == [{"i": n} for n in range(1000)]
    assert client.pending_count == 0


def _doomed_streamer(
    bootstrap: str, base: str, group: str
) -> contextlib.AbstractContextManager[subprocess.Popen[str]]:
    return script_process(STREAMER, bootstrap, base, group)


async def test_a_stream_whose_responder_is_killed_is_rerun_and_seen_once_in_order(
    make_server: Callable[..., RpcServer],
    client: RpcClient,
    kafkarpc_broker: str,
    unique_topic_base: str,
    trio: TopicTrio,
) -> None:
    """docs/patterns.md: the rerun starts at position 0; the caller skips what it holds."""
    total, stall_after = 60, 25
    await ensure_topics(kafkarpc_broker, [trio])
    group = f"group-{unique_topic_base}"
    items: list[dict[str, int]] = []
    first_part = anyio.Event()
    done = anyio.Event()
    rerun: list[int] = []

    async def consume() -> None:
        try:
            async for item in client.stream(
                trio, {"n": total, "stall_after": stall_after}, timeout=90
            ):
                items.append(item)
                if len(items) == stall_after:
                    first_part.set()
        finally:
            done.set()

    async def survivor_count(payload: dict[str, int]) -> AsyncIterator[dict[str, int]]:
        for n in range(payload["n"]):
            rerun.append(n)
            yield {"i": n}

    with _doomed_streamer(kafkarpc_broker, unique_topic_base, group) as doomed:
        await wait_for_lines(doomed, "ready")
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await wait_for_lines(doomed, "stalled")
            with anyio.fail_after(60):
                await first_part.wait()  # the caller holds items 0..K-1 of the first run
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(10)
            survivor = make_server(service="survivor", group_id=group)
            survivor.add_responder(trio, survivor_count)
            async with survivor:
                with anyio.fail_after(90):
                    await done.wait()
    assert items == [{"i": n} for n in range(total)]
    assert rerun == list(range(total))  # the redelivered request ran from the start
    assert client.pending_count == 0


def _endless(closed: anyio.Event, yielded: list[int]) -> Callable[..., Any]:
    async def endless(payload: dict[str, Any]) -> AsyncIterator[dict[str, int]]:
        try:
            n = 0
            while True:
                yielded.append(n)
                yield {"i": n}
                n += 1
                await anyio.sleep(0.02)
        finally:
            closed.set()  # what the server observes: the generator was closed

    return endless


async def test_a_caller_that_stops_iterating_has_the_generator_cancelled(
    serve: Callable[..., RpcServer], client: RpcClient, trio: TopicTrio
) -> None:
    closed, yielded = anyio.Event(), list[int]()
    async with serve(_endless(closed, yielded)):  # Topics(create=True): the cancel topic too
        async with client.stream(trio, {}, timeout=90) as items:
            async for item in items:
                if item["i"] == 2:
                    break
        assert client.pending_count == 0
        # Long before the call's 90 s deadline: the caller's cancel message closed it.
        with anyio.fail_after(30):
            await closed.wait()


async def test_a_plain_break_without_async_with_still_cancels_the_generator(
    serve: Callable[..., RpcServer], client: RpcClient, trio: TopicTrio
) -> None:
    closed, yielded = anyio.Event(), list[int]()
    async with serve(_endless(closed, yielded)):
        async for item in client.stream(trio, {}, timeout=90):
            if item["i"] == 2:
                break
        # The dropped iteration is closed by the event loop, which sends the cancel:
        # long before the call's 90 s deadline, the responder's generator is closed.
        with anyio.fail_after(30):
            await closed.wait()
        assert client.pending_count == 0


async def test_the_deadline_stops_the_caller_and_cancels_the_generator(
    serve: Callable[..., RpcServer], client: RpcClient, trio: TopicTrio
) -> None:
    closed, yielded = anyio.Event(), list[int]()
    received: list[dict[str, int]] = []

    async def iterate(items: AsyncIterator[dict[str, int]]) -> None:
        async for item in items:
            received.append(item)

    async with serve(_endless(closed, yielded)):
        with pytest.raises(RequestTimeout):
            await iterate(client.stream(trio, {}, timeout=5))
        with anyio.fail_after(30):
            await closed.wait()
    assert received == [{"i": n} for n in range(len(received))]
    assert received, "items arrived before the deadline"
