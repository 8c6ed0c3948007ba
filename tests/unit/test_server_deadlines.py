"""Handler deadlines (server/deadlines.py): on asyncio the scopes share one timer
(HOT PATH) and must behave as anyio's own cancel scopes, the plain version, on
asyncio and on trio: cancelled at the deadline and not before, the deadline told to
``anyio.current_effective_deadline()``, shields honoured, and a scope already left
never cancelling its task later."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from kafkarpc._loop import LoopTools
from kafkarpc.server.deadlines import DeadlineWatch, deadline_scopes

pytestmark = pytest.mark.anyio


async def _behaviour(scopes: type[anyio.CancelScope], clock: LoopTools) -> list[object]:
    now = clock.clock
    seen: list[object] = []

    with scopes(deadline=now() + 0.05) as scope:
        await anyio.sleep_forever()
    seen.append(("cancelled at the deadline", scope.cancelled_caught))

    deadline = now() + 30
    with scopes(deadline=deadline) as scope:
        seen.append(("told its deadline", anyio.current_effective_deadline() == deadline))
        await anyio.lowlevel.checkpoint()
    seen.append(("not cancelled before", scope.cancelled_caught))

    with scopes(deadline=now() + 0.05) as scope:
        pass  # left long before the deadline
    reached = []
    with anyio.CancelScope() as outer:
        await anyio.sleep(0.15)  # past the left scope's deadline
        reached.append(True)
    seen.append(("a left scope never cancels later", reached, outer.cancelled_caught))

    with scopes(deadline=now() + 30) as late:
        with scopes(deadline=now() + 0.05) as early:  # earlier than one already queued
            await anyio.sleep_forever()
        await anyio.lowlevel.checkpoint()
    seen.append(("out of order", early.cancelled_caught, late.cancelled_caught))

    with scopes(deadline=now() + 30):
        pass
    with scopes(deadline=now() + 0.05) as scope:  # after a longer one already left
        await anyio.sleep_forever()
    seen.append(("short after long", scope.cancelled_caught))

    shielded = []
    with scopes(deadline=now() + 0.05) as scope:
        with anyio.CancelScope(shield=True):
            await anyio.sleep(0.15)  # through the deadline
            shielded.append(True)
        await anyio.sleep_forever()
    seen.append(("shield honoured", shielded, scope.cancelled_caught))

    with scopes(deadline=now() - 1) as scope:
        await anyio.sleep_forever()
    seen.append(("already due", scope.cancelled_caught))

    ends: dict[int, bool] = {}

    async def run(n: int, seconds: float) -> None:
        with scopes(deadline=now() + seconds) as own:
            await anyio.sleep(0.3)
        ends[n] = own.cancelled_caught

    async with anyio.create_task_group() as tg:
        for n, seconds in enumerate((0.05, 0.1, 30, 0.15)):
            tg.start_soon(run, n, seconds)
    seen.append(("tasks, each at its own deadline", ends))
    return seen


EXPECTED = [
    ("cancelled at the deadline", True),
    ("told its deadline", True),
    ("not cancelled before", False),
    ("a left scope never cancels later", [True], False),
    ("out of order", True, False),
    ("short after long", True),
    ("shield honoured", [True], True),
    ("already due", True),
    ("tasks, each at its own deadline", {0: True, 1: True, 2: False, 3: True}),
]


async def test_handler_scopes_behave_as_anyios_own(anyio_backend: str) -> None:
    loop = LoopTools.running()
    assert await _behaviour(deadline_scopes(loop), loop) == EXPECTED
    assert await _behaviour(deadline_scopes(loop, plain=True), loop) == EXPECTED


async def test_on_asyncio_one_shared_timer_keeps_the_deadlines(anyio_backend: str) -> None:
    loop = LoopTools.running()
    scopes = deadline_scopes(loop)
    if anyio_backend != "asyncio":
        assert scopes is loop.cancel_scope  # trio keeps its own (cheap) deadlines
        return
    assert scopes is not loop.cancel_scope
    assert issubclass(scopes, loop.cancel_scope)
    watch = scopes.watch  # type: ignore[attr-defined]
    assert isinstance(watch, DeadlineWatch)
    with scopes(deadline=loop.clock() + 30):
        # anyio still arms deadlines through the hook replaced: the watch has it.
        assert watch.watched == 1
    assert watch.watched == 0


async def test_the_watch_holds_about_as_many_entries_as_scopes_running(anyio_backend: str) -> None:
    if anyio_backend != "asyncio":
        pytest.skip("the shared timer is asyncio's")
    loop = LoopTools.running()
    scopes = deadline_scopes(loop)
    watch = scopes.watch  # type: ignore[attr-defined]
    with scopes(deadline=loop.clock() + 60):  # one that stays, at the front
        for n in range(10_000):
            with scopes(deadline=loop.clock() + 60 + n / 1000):
                pass
        assert watch.watched == 1
        assert watch.queued <= 2 * 1024
