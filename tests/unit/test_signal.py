"""The wake-up every call waits on: set, deadline and cancellation, on asyncio and trio."""

from __future__ import annotations

import anyio
import pytest

from kafkarpc.client.signal import Signals

pytestmark = pytest.mark.anyio


async def test_a_set_signal_wakes_its_waiter_before_the_deadline(anyio_backend: str) -> None:
    signals = Signals()
    signal = signals.new()
    woken = anyio.Event()

    async def waiter() -> None:
        await signal.wait_until(signals.clock() + 60)
        woken.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.sleep(0.01)
        assert not woken.is_set()
        signal.set()
        with anyio.fail_after(5):
            await woken.wait()


async def test_an_unset_signal_lets_its_waiter_go_at_the_deadline(anyio_backend: str) -> None:
    signals = Signals()
    signal = signals.new()
    deadline = signals.clock() + 0.05
    with anyio.fail_after(5):
        await signal.wait_until(deadline)
    assert signals.clock() >= deadline


async def test_a_signal_set_before_the_wait_returns_at_once(anyio_backend: str) -> None:
    signals = Signals()
    signal = signals.new()
    signal.set()
    signal.set()  # idempotent
    with anyio.fail_after(5):
        await signal.wait_until(signals.clock() + 60)


async def test_cancelling_the_waiter_propagates_and_a_late_set_is_harmless(
    anyio_backend: str,
) -> None:
    signals = Signals()
    signal = signals.new()
    with anyio.move_on_after(0.02) as scope:
        await signal.wait_until(signals.clock() + 60)
    assert scope.cancelled_caught
    signal.set()


async def test_the_clock_is_anyios_clock(anyio_backend: str) -> None:
    signals = Signals()
    before = anyio.current_time()
    reading = signals.clock()
    assert before <= reading <= anyio.current_time()


async def test_waiters_sharing_a_timeout_each_go_at_their_own_deadline(anyio_backend: str) -> None:
    signals = Signals()
    first, second, third = signals.new(), signals.new(), signals.new()
    start = signals.clock()
    woken: dict[str, float] = {}

    async def wait(name: str, signal: object, deadline: float) -> None:
        await signal.wait_until(deadline)  # type: ignore[attr-defined]
        woken[name] = signals.clock()

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait, "first", first, start + 0.05)
        tg.start_soon(wait, "second", second, start + 0.15)
        tg.start_soon(wait, "third", third, start + 0.15)
        await anyio.sleep(0.01)
        first.set()  # settled early: its deadline must not hold the others up
    assert woken["first"] < start + 0.05
    assert woken["second"] >= start + 0.15
    assert woken["third"] >= start + 0.15


async def test_a_shorter_deadline_after_a_longer_one_is_still_kept(anyio_backend: str) -> None:
    signals = Signals()
    long_wait, short_wait = signals.new(), signals.new()
    start = signals.clock()
    done: list[str] = []

    async def wait(name: str, signal: object, deadline: float) -> None:
        await signal.wait_until(deadline)  # type: ignore[attr-defined]
        done.append(name)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait, "long", long_wait, start + 0.3)
            await anyio.sleep(0.01)
            tg.start_soon(wait, "short", short_wait, start + 0.05)
    assert done == ["short", "long"]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the asyncio fast path's queue
async def test_settled_waits_do_not_pile_up_behind_a_slow_one(anyio_backend: str) -> None:
    signals = Signals()
    slow = signals.new()
    deadlines = slow._deadlines  # type: ignore[union-attr]
    deadlines.add(signals.clock() + 60, slow._future)  # type: ignore[union-attr]
    for _ in range(20_000):
        answered = signals.new()
        deadlines.add(signals.clock() + 60, answered._future)  # type: ignore[union-attr]
        answered.set()
    # The unanswered head blocks pruning from the front; compaction bounds the rest.
    assert len(deadlines._queue) <= 1024
    slow.set()


async def test_a_short_wait_after_a_long_one_finished_keeps_its_deadline(
    anyio_backend: str,
) -> None:
    signals = Signals()
    long_wait = signals.new()
    async with anyio.create_task_group() as tg:
        tg.start_soon(long_wait.wait_until, signals.clock() + 60)
        await anyio.sleep(0.01)
        long_wait.set()  # answered: its 60 s deadline must not delay the next wait
    short_wait = signals.new()
    with anyio.fail_after(5):
        await short_wait.wait_until(signals.clock() + 0.05)
