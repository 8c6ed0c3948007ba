"""The responder's two intakes, the deque (HOT PATH) and the memory object stream
(plain), hand the same records to the workers in the same order, drain the same
way on close and refuse the same batches."""

from __future__ import annotations

import itertools

import anyio
import anyio.lowlevel
import pytest

from kafkarpc._loop import LoopTools
from kafkarpc.server.intake import (
    RECORDS_PER_CHECKPOINT,
    DequeIntake,
    Intake,
    StreamIntake,
    fetch_high_mark,
)
from kafkarpc.transport import InboundRecord

pytestmark = pytest.mark.anyio


def _records(first: int, count: int) -> list[InboundRecord]:
    return [
        InboundRecord(
            topic="t.requested.v1",
            partition=offset % 3,
            offset=offset,
            key=f"k{offset % 4}".encode(),
            value=b"{}",
            headers=[],
        )
        for offset in range(first, first + count)
    ]


async def _run(intake: Intake, workers: int) -> tuple[list[int], list[int], list[str]]:
    """Feed batches, close part-way, and note what the workers took and finished."""
    taken: list[int] = []
    finished: list[int] = []
    events: list[str] = []

    async def handle(record: InboundRecord) -> None:
        taken.append(record.offset)
        # Uneven work, so workers finish out of order; a third never suspend.
        for _ in range(record.offset % 3):
            await anyio.lowlevel.checkpoint()
        finished.append(record.offset)

    async with anyio.create_task_group() as tg:
        intake.start(tg, handle)
        intake.accept(_records(0, 10))
        await anyio.lowlevel.checkpoint()
        intake.accept(_records(10, 25))
        events.append(f"before close: {len(finished) < 35}")
        intake.close()
        intake.accept(_records(100, 5))  # after close: refused, never handled
        await intake.drained()
        events.append(f"drained: {len(finished)}")
    return taken, finished, events


@pytest.mark.parametrize("workers", [1, 4])
async def test_both_intakes_hand_out_the_same_records_in_the_same_order(workers: int) -> None:
    loop = LoopTools.running()
    fast = await _run(DequeIntake(workers, loop), workers)
    plain = await _run(StreamIntake(workers, LoopTools.plain(loop.library)), workers)
    taken, finished, events = fast
    assert taken == plain[0] == list(range(35))  # fetch order, nothing after close
    assert sorted(finished) == sorted(plain[1]) == list(range(35))
    assert events == plain[2] == ["before close: True", "drained: 35"]
    if workers == 1:
        assert finished == plain[1] == list(range(35))


async def _neighbour_sees(intake: Intake) -> list[int]:
    """Handle 50 records that never suspend; what a neighbouring task saw meanwhile."""
    handled = 0
    seen_by_neighbour: list[int] = []

    async def handle(record: InboundRecord) -> None:
        nonlocal handled
        handled += 1

    async def neighbour() -> None:
        while handled < 50:
            seen_by_neighbour.append(handled)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        intake.accept(_records(0, 50))  # not started: refused
        intake.start(tg, handle)
        tg.start_soon(neighbour)
        intake.accept(_records(0, 50))
        await anyio.lowlevel.checkpoint()
        intake.close()
        await intake.drained()
    assert handled == 50
    return seen_by_neighbour


async def test_both_intakes_let_other_tasks_in_between_records() -> None:
    """Handlers that never suspend do not starve the loop: the stream checkpoints on
    every record, the deque on every RECORDS_PER_CHECKPOINT-th (HOT PATH)."""
    loop = LoopTools.running()
    for intake, most in (
        (DequeIntake(1, loop), RECORDS_PER_CHECKPOINT),
        (StreamIntake(1, LoopTools.plain(loop.library)), 1),
    ):
        seen = await _neighbour_sees(intake)
        assert any(0 < count < 50 for count in seen), type(intake).__name__
        # Between two turns of the neighbour, at most two stretches of records were
        # handled (a scheduler may run the worker's next stretch first: trio's does).
        steps = [later - earlier for earlier, later in itertools.pairwise(seen)]
        assert max(steps) <= 2 * most, (type(intake).__name__, steps)


async def _handled_after_close(intake: Intake) -> list[int]:
    handled: list[int] = []

    async def handle(record: InboundRecord) -> None:
        handled.append(record.offset)

    async with anyio.create_task_group() as tg:
        intake.start(tg, handle)
        await anyio.lowlevel.checkpoint()  # every worker now waits for records
        intake.accept(_records(0, 2))
        intake.close()
        await intake.drained()
    return handled


async def test_closing_wakes_idle_workers_after_they_take_what_is_queued() -> None:
    loop = LoopTools.running()
    assert await _handled_after_close(DequeIntake(3, loop)) == [0, 1]
    assert await _handled_after_close(StreamIntake(3, LoopTools.plain(loop.library))) == [0, 1]


def test_fetching_pauses_at_a_high_mark() -> None:
    assert fetch_high_mark(1) == 256
    assert fetch_high_mark(64) == 256
    assert fetch_high_mark(100) == 400
