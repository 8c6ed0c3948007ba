"""The wake-up every call waits on: set, deadline and cancellation, on asyncio and trio."""

from __future__ import annotations

import anyio
import pytest

from kafkarpc._signal import Signals

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
