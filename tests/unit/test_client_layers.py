"""Each layer of the client's send pipeline on its own, with a stand-in for the layer below."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from kafkarpc import (
    CallRetry,
    CircuitBreaker,
    CircuitOpenError,
    ClientClosed,
    MemoryBroker,
    MemoryTransport,
    PublishError,
    RemoteError,
    RequestTimeout,
    TopicNotFound,
    Topics,
    TopicTrio,
    TransportError,
)
from kafkarpc._telemetry import ClientTelemetry
from kafkarpc.client.call import Call
from kafkarpc.client.circuit import Circuits, CircuitState
from kafkarpc.client.layers.circuit import CircuitLayer, verdict
from kafkarpc.client.layers.deadline import DeadlineLayer
from kafkarpc.client.layers.inflight import InFlightLayer
from kafkarpc.client.layers.observe import ObserveLayer, as_call_error
from kafkarpc.client.layers.retry import RetryLayer
from kafkarpc.client.layers.route import RouteLayer
from kafkarpc.client.pending import PendingCalls
from kafkarpc.client.signal import Signals
from kafkarpc.client.validate import new_call
from kafkarpc.transport import OutboundRecord

pytestmark = pytest.mark.anyio

TRIO = TopicTrio.from_base("layers.op")
REPLY = {"ok": True}
Below = Callable[[Call], Awaitable[dict[str, Any]]]


def make_call(
    *,
    trio: TopicTrio = TRIO,
    timeout: float = 5.0,
    policy: CallRetry | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Call:
    return new_call(
        trio,
        {"x": 1},
        timeout=timeout,
        policy=policy or CallRetry(max_attempts=1),
        clock=clock,
        partition_key=None,
        headers=None,
        idempotency_key=None,
        priority=None,
    )


def answering(*outcomes: BaseException | dict[str, Any]) -> tuple[Below, list[Call]]:
    """A stand-in lower layer: the n-th call raises or returns the n-th outcome."""
    seen: list[Call] = []

    async def below(call: Call) -> dict[str, Any]:
        seen.append(call)
        outcome = outcomes[min(len(seen), len(outcomes)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return below, seen


def remote(*, retryable: bool) -> RemoteError:
    return RemoteError(error_code="E", error_message="no", retryable=retryable)


# ---------------------------------------------------------------- circuit


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (None, "success"),
        (remote(retryable=False), "success"),
        (remote(retryable=True), "failure"),
        (RequestTimeout("late"), "failure"),
        (TimeoutError(), "failure"),
        (PublishError("refused"), "failure"),
        (TransportError("down"), "failure"),
        (TopicNotFound("t"), "abandoned"),
        (ClientClosed("closed"), "abandoned"),
        (KeyboardInterrupt(), "abandoned"),
    ],
)
def test_verdict_names_what_an_outcome_says_of_the_dependency(
    error: BaseException | None, expected: str
) -> None:
    assert verdict(error) == expected


async def test_circuit_layer_opens_after_failures_and_then_refuses_without_sending() -> None:
    circuits = Circuits(CircuitBreaker(failure_threshold=2, reset_timeout=60), lambda *_: None)
    below, seen = answering(PublishError("refused"))
    layer = CircuitLayer(below, circuits)
    for _ in range(2):
        with pytest.raises(PublishError):
            await layer.send(make_call())
    assert circuits.state(TRIO) is CircuitState.OPEN
    with pytest.raises(CircuitOpenError):
        await layer.send(make_call())
    assert len(seen) == 2


async def test_circuit_layer_closes_again_on_a_reply() -> None:
    circuits = Circuits(CircuitBreaker(failure_threshold=1, reset_timeout=0.01), lambda *_: None)
    below, _ = answering(PublishError("refused"), REPLY)
    layer = CircuitLayer(below, circuits)
    with pytest.raises(PublishError):
        await layer.send(make_call())
    await anyio.sleep(0.02)
    assert await layer.send(make_call()) == REPLY
    assert circuits.state(TRIO) is CircuitState.CLOSED


def test_circuits_without_a_breaker_are_closed_and_not_enabled() -> None:
    circuits = Circuits(None, lambda *_: None)
    assert not circuits.enabled
    assert circuits.state(TRIO) is CircuitState.CLOSED


# ---------------------------------------------------------------- retry and deadline


async def test_retry_layer_sends_a_single_attempt_call_straight_below() -> None:
    single, seen_single = answering(REPLY)
    each, seen_each = answering(REPLY)
    layer = RetryLayer(each, single=single)
    assert await layer.send(make_call()) == REPLY
    assert (len(seen_single), len(seen_each)) == (1, 0)


async def test_retry_layer_resends_publish_errors_numbering_the_attempts() -> None:
    attempts: list[int] = []
    below, _ = answering(PublishError("1"), PublishError("2"), REPLY)

    async def each(call: Call) -> dict[str, Any]:
        attempts.append(call.attempt)
        return await below(call)

    single, seen_single = answering(REPLY)
    layer = RetryLayer(each, single=single)
    call = make_call(policy=CallRetry(max_attempts=3, initial_delay=0, jitter=0))
    assert await layer.send(call) == REPLY
    assert attempts == [0, 1, 2]
    assert seen_single == []


async def test_retry_layer_gives_up_after_max_attempts_with_the_last_error() -> None:
    below, seen = answering(PublishError("refused"))
    layer = RetryLayer(below, single=below)
    call = make_call(policy=CallRetry(max_attempts=2, initial_delay=0, jitter=0))
    with pytest.raises(PublishError):
        await layer.send(call)
    assert len(seen) == 2


@pytest.mark.parametrize(("retry_remote", "sends"), [(False, 1), (True, 2)])
async def test_retry_layer_retries_remote_errors_only_when_asked(
    retry_remote: bool, sends: int
) -> None:
    below, seen = answering(remote(retryable=True), REPLY)
    layer = RetryLayer(below, single=below)
    policy = CallRetry(max_attempts=2, initial_delay=0, jitter=0, retry_remote=retry_remote)
    if retry_remote:
        assert await layer.send(make_call(policy=policy)) == REPLY
    else:
        with pytest.raises(RemoteError):
            await layer.send(make_call(policy=policy))
    assert len(seen) == sends


async def test_deadline_layer_splits_the_call_across_its_attempts() -> None:
    now = [100.0]
    retried: list[int] = []
    below, _ = answering(REPLY)
    layer = DeadlineLayer(below, lambda _op, _span, attempt: retried.append(attempt))
    policy = CallRetry(max_attempts=4, retry_timeouts=True)
    call = make_call(timeout=8.0, policy=policy, clock=lambda: now[0])
    call.pending = PendingCalls().add(call.correlation_id, _FakeSignals())  # type: ignore[arg-type]
    await layer.send(call)
    assert call.until == pytest.approx(102.0)  # a quarter of the call's 8 s
    call.attempt, now[0] = 1, 107.0
    await layer.send(call)
    assert call.until == pytest.approx(108.0)  # never past the call's deadline
    assert retried == [1]


async def test_deadline_layer_refuses_a_resend_after_the_deadline_without_counting_it() -> None:
    now = [100.0]
    retried: list[int] = []
    below, seen = answering(REPLY)
    layer = DeadlineLayer(below, lambda _op, _span, attempt: retried.append(attempt))
    call = make_call(timeout=1.0, policy=CallRetry(max_attempts=3), clock=lambda: now[0])
    await layer.send(call)
    call.attempt, now[0] = 1, 101.5
    with pytest.raises(RequestTimeout, match="before the deadline"):
        await layer.send(call)
    assert (len(seen), retried) == (1, [])


class _FakeSignals:
    """Signals without a loop: enough for a pending entry that is re-armed, never awaited."""

    def new(self) -> object:
        return object()


# ---------------------------------------------------------------- route


class _CountingReplies:
    def __init__(self) -> None:
        self.assigned: list[list[str]] = []

    async def assign(self, topics: Any, *, partition: int | None = None) -> None:
        self.assigned.append(list(topics))

    async def aclose(self) -> None:
        return None


async def test_route_layer_sets_up_an_operation_once_then_passes_calls_straight_through() -> None:
    broker = MemoryBroker()
    for topic in (TRIO.requested, *TRIO.reply_topics):
        broker.create_topic(topic, 1)
    replies = _CountingReplies()
    below, seen = answering(REPLY)
    layer = RouteLayer(below, MemoryTransport(broker), replies, Topics())  # type: ignore[arg-type]
    assert await layer.send(make_call()) == REPLY
    call = make_call()
    awaitable = layer.send(call)
    assert awaitable.__qualname__ == below.__qualname__  # type: ignore[attr-defined]
    assert await awaitable == REPLY
    assert replies.assigned == [list(TRIO.reply_topics)]
    assert len(seen) == 2


async def test_route_layer_lets_a_failed_setup_be_tried_again() -> None:
    broker = MemoryBroker()
    replies = _CountingReplies()
    below, _ = answering(REPLY)
    layer = RouteLayer(below, MemoryTransport(broker), replies, Topics())  # type: ignore[arg-type]
    with pytest.raises(TopicNotFound):
        await layer.send(make_call())
    for topic in (TRIO.requested, *TRIO.reply_topics):
        broker.create_topic(topic, 1)
    assert await layer.send(make_call()) == REPLY


# The route layer's HOT PATH (a str-keyed, identity-first readiness check) agrees with
# its plain version, ``RouteLayer.is_ready``, for every kind of trio a caller can pass.


def _fast(layer: RouteLayer, trio: TopicTrio) -> bool:
    """What ``send`` decides without a frame of its own: does the call go straight below?"""
    reached: list[Call] = []

    async def below(call: Call) -> dict[str, Any]:
        return {}

    layer.below = lambda call: reached.append(call) or below(call)  # type: ignore[func-returns-value]
    awaitable = layer.send(make_call(trio=trio))
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
    replies = _CountingReplies()

    async def done(call: Call) -> dict[str, Any]:
        return {}

    layer = RouteLayer(done, MemoryTransport(broker), replies, Topics())  # type: ignore[arg-type]
    trios = (base, same, other_replies, other)
    for set_up in (None, base, other_replies, other):
        if set_up is not None:
            layer.below = done
            await layer.send(make_call(trio=set_up))
        for trio in trios:
            # Straight below only when set up (the shortcut never skips a setup)...
            ready = layer.is_ready(trio)
            assert not _fast(layer, trio) or ready
            # ...and a call of a trio set up never sets it up again.
            assigned = len(replies.assigned)
            layer.below = done
            await layer.send(make_call(trio=trio))
            assert len(replies.assigned) == assigned + (not ready)
    assert len(replies.assigned) == 3
    # A trio sharing its requested topic with another took the plain path after the
    # other one's setup; once it was used again, the shortcut serves it (and equals).
    await layer.send(make_call(trio=base))
    assert _fast(layer, base) and _fast(layer, same) and _fast(layer, other)


# ---------------------------------------------------------------- in flight


async def _in_flight(
    below: Below,
    pending: PendingCalls,
    *,
    max_in_flight: int = 4,
    broker: MemoryBroker | None = None,
) -> InFlightLayer:
    transport = MemoryTransport(broker or MemoryBroker())
    await transport.start()
    return InFlightLayer(
        below,
        max_in_flight,
        pending,
        Signals(),
        transport=transport,
        telemetry=ClientTelemetry(),
    )


async def test_in_flight_layer_holds_a_pending_entry_only_while_the_call_runs() -> None:
    pending = PendingCalls()
    during: list[int] = []

    async def below(call: Call) -> dict[str, Any]:
        assert call.pending is pending.get(call.correlation_id)
        during.append(len(pending))
        return REPLY

    layer = await _in_flight(below, pending)
    assert await layer.send(make_call()) == REPLY
    assert (during, len(pending)) == ([1], 0)


@asynccontextmanager
async def _only_slot_taken() -> AsyncIterator[tuple[InFlightLayer, PendingCalls, anyio.Event]]:
    """A one-slot in-flight layer whose slot a call holds until the event (or the block) ends."""
    pending = PendingCalls()
    holding, release = anyio.Event(), anyio.Event()

    async def below(call: Call) -> dict[str, Any]:
        holding.set()
        await release.wait()
        return REPLY

    layer = await _in_flight(below, pending, max_in_flight=1)
    async with anyio.create_task_group() as tg:
        tg.start_soon(layer.send, make_call(clock=anyio.current_time))
        await holding.wait()
        try:
            yield layer, pending, release
        finally:
            release.set()


async def test_in_flight_layer_makes_callers_beyond_the_limit_wait_within_their_deadline() -> None:
    async with _only_slot_taken() as (layer, _, _):
        with pytest.raises(RequestTimeout, match="no free slot"):
            await layer.send(make_call(timeout=0.02, clock=anyio.current_time))


async def test_in_flight_layer_refuses_a_waiting_call_once_the_client_closed() -> None:
    async with _only_slot_taken() as (layer, pending, release), anyio.create_task_group() as tg:

        async def close_soon() -> None:
            await anyio.sleep(0.01)
            pending.close(ClientClosed, "closed")
            release.set()  # as on a real close, the call holding the slot ends

        tg.start_soon(close_soon)
        with pytest.raises(ClientClosed, match="free slot"):
            await layer.send(make_call(clock=anyio.current_time))


async def test_in_flight_layer_dead_letters_the_last_record_of_a_call_that_was_not_published() -> (
    None
):
    pending = PendingCalls()

    async def below(call: Call) -> dict[str, Any]:
        call.record = OutboundRecord(topic=TRIO.requested, value=b"{}", key=b"k")
        raise PublishError("refused")

    broker = MemoryBroker()
    broker.create_topic(f"{TRIO.requested}.dlq", 1)
    layer = await _in_flight(below, pending, broker=broker)
    with pytest.raises(PublishError):
        await layer.send(make_call())
    assert layer.telemetry.stats.dead_lettered == 1
    assert [record.key for record in broker.records(f"{TRIO.requested}.dlq")] == [b"k"]


# ---------------------------------------------------------------- observe


@pytest.mark.parametrize(
    ("error", "seen_as"),
    [
        (TimeoutError(), RequestTimeout),
        (TransportError("down"), PublishError),
        (TopicNotFound("t"), TopicNotFound),
        (RequestTimeout("late"), RequestTimeout),
        (PublishError("refused"), PublishError),
    ],
)
def test_as_call_error_names_the_error_a_caller_sees(
    error: BaseException, seen_as: type[BaseException]
) -> None:
    seen = as_call_error(error, make_call())
    assert type(seen) is seen_as
    if isinstance(seen, PublishError | RequestTimeout) and seen is not error:
        assert seen.topic == TRIO.requested


@pytest.mark.parametrize(
    ("outcome", "counter"),
    [
        (REPLY, "succeeded"),
        (remote(retryable=False), "remote_errors"),
        (TimeoutError(), "timeouts"),
        (TransportError("down"), "publish_errors"),
        (CircuitOpenError("open"), "circuit_rejections"),
    ],
)
async def test_observe_layer_counts_each_outcome_once(
    outcome: BaseException | dict[str, Any], counter: str
) -> None:
    telemetry = ClientTelemetry()
    below, _ = answering(outcome)
    layer = ObserveLayer(below, telemetry)
    if isinstance(outcome, BaseException):
        with pytest.raises((type(outcome), RequestTimeout, PublishError)):
            await layer.send(make_call())
    else:
        assert await layer.send(make_call()) == REPLY
    stats = telemetry.stats
    assert stats.requests == 1
    assert getattr(stats, counter) == 1
