"""``LoopTools.running()`` (the HOT PATH primitives resolved once per loop) behaves
as ``LoopTools.plain()`` (anyio's own functions) on asyncio and on trio."""

from __future__ import annotations

import anyio
import pytest

from kafkarpc._loop import LoopTools, running_library

pytestmark = pytest.mark.anyio


async def _behaviour(tools: LoopTools) -> list[object]:
    seen: list[object] = []
    before = anyio.current_time()
    now = tools.clock()
    seen.append(before <= now <= anyio.current_time())  # the same clock as anyio's
    reached = []
    with anyio.CancelScope() as scope:
        scope.cancel()
        await tools.sleep(0)  # a checkpoint: a pending cancellation is delivered here
        reached.append("past the checkpoint")
    seen.append((scope.cancelled_caught, reached))
    with tools.cancel_scope(deadline=tools.clock() + 0.01) as scope:
        await anyio.sleep_forever()
    seen.append(scope.cancelled_caught)
    with tools.cancel_scope(deadline=tools.clock() + 60) as scope:
        await tools.sleep(0)
    seen.append(scope.cancelled_caught)
    with tools.cancel_scope() as scope:
        scope.cancel()
        await anyio.sleep_forever()
    seen.append((scope.cancelled_caught, isinstance(scope, anyio.CancelScope)))
    return seen


async def test_running_tools_behave_as_plain_ones(anyio_backend: str) -> None:
    running = LoopTools.running()
    plain = LoopTools.plain(running_library())
    assert running.library == plain.library == anyio_backend
    expected = [True, (True, []), True, False, (True, True)]
    assert await _behaviour(running) == expected
    assert await _behaviour(plain) == expected


def test_plain_tools_are_anyio_itself() -> None:
    plain = LoopTools.plain("trio")
    assert plain.library == "trio"
    assert (plain.clock, plain.sleep, plain.cancel_scope) == (
        anyio.current_time,
        anyio.sleep,
        anyio.CancelScope,
    )
