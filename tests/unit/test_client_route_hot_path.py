"""The route layer's HOT PATH (a str-keyed, identity-first readiness check) agrees with
its plain version, ``RouteLayer.is_ready``, for every kind of trio a caller can pass."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kafkarpc import CallRetry, MemoryBroker, MemoryTransport, Topics, TopicTrio
from kafkarpc.client.call import Call
from kafkarpc.client.layers.route import RouteLayer
from kafkarpc.client.validate import new_call

pytestmark = pytest.mark.anyio


class _Replies:
    def __init__(self) -> None:
        self.assigned = 0

    async def assign(self, topics: Any, *, partition: int | None = None) -> None:
        self.assigned += 1

    async def aclose(self) -> None:
        return None


def _call(trio: TopicTrio) -> Call:
    return new_call(
        trio,
        {},
        timeout=5,
        policy=CallRetry(max_attempts=1),
        clock=time.monotonic,
        partition_key=None,
        headers=None,
        idempotency_key=None,
        priority=None,
    )


def _fast(layer: RouteLayer, trio: TopicTrio) -> bool:
    """What ``send`` decides without a frame of its own: does the call go straight below?"""
    reached: list[Call] = []

    async def below(call: Call) -> dict[str, Any]:
        return {}

    layer.below = lambda call: reached.append(call) or below(call)  # type: ignore[func-returns-value]
    awaitable = layer.send(_call(trio))
    awaitable.close()  # type: ignore[attr-defined]
    return bool(reached)


async def test_the_fast_readiness_check_agrees_with_the_plain_one() -> None:
    broker = MemoryBroker()
    base = TopicTrio.from_base("hot.op")
    same = TopicTrio.from_base("hot.op")  # equal, not identical
    other_replies = TopicTrio(
        requested=base.requested, completed="hot.op.done.v1", failed="hot.op.broke.v1"
    )
    other = TopicTrio.from_base("cold.op")
    for trio in (base, other_replies, other):
        for topic in (trio.requested, *trio.reply_topics):
            if topic not in broker.topics():
                broker.create_topic(topic, 1)
    replies = _Replies()

    async def done(call: Call) -> dict[str, Any]:
        return {}

    layer = RouteLayer(done, MemoryTransport(broker), replies, Topics())  # type: ignore[arg-type]
    trios = (base, same, other_replies, other)
    for set_up in (None, base, other_replies, other):
        if set_up is not None:
            layer.below = done
            await layer.send(_call(set_up))
        for trio in trios:
            # Straight below only when set up (the shortcut never skips a setup)...
            ready = layer.is_ready(trio)
            assert not _fast(layer, trio) or ready
            # ...and a call of a trio set up never sets it up again.
            assigned = replies.assigned
            layer.below = done
            await layer.send(_call(trio))
            assert replies.assigned == assigned + (not ready)
    assert replies.assigned == 3
    # A trio sharing its requested topic with another took the plain path after the
    # other one's setup; once it was used again, the shortcut serves it (and equals).
    await layer.send(_call(base))
    assert _fast(layer, base) and _fast(layer, same) and _fast(layer, other)
