"""CallRetry and HandlerRetry: validation, what a client call retries, and the backoff it uses."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kafkarpc import (
    CallRetry,
    CircuitOpenError,
    ClientClosed,
    ConfigurationError,
    HandlerRetry,
    MemoryBroker,
    MemoryTransport,
    PayloadTooLarge,
    PublishError,
    RemoteError,
    RequestTimeout,
    RpcClient,
    TopicTrio,
    decode_envelope,
)
from kafkarpc.transport import OutboundRecord
from kafkarpc.wire.envelope import encode_envelope, make_envelope
from kafkarpc.wire.headers import build_headers, header_dict

if TYPE_CHECKING:
    from tests.unit.conftest import MemoryRpc


@pytest.mark.parametrize(
    "options",
    [
        {"max_attempts": 0},
        {"max_attempts": -1},
        {"initial_delay": -0.1},
        {"max_delay": -1},
        {"jitter": -0.01},
        {"multiplier": 0.5},
    ],
)
@pytest.mark.parametrize("kind", [CallRetry, HandlerRetry])
def test_bad_policies_are_configuration_errors(
    kind: type[CallRetry | HandlerRetry], options: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError):
        kind(**options)


@pytest.mark.parametrize("attempt_timeout", [0, -1.0])
def test_attempt_timeout_must_be_positive(attempt_timeout: float) -> None:
    with pytest.raises(ConfigurationError, match="attempt_timeout must be > 0"):
        CallRetry(attempt_timeout=attempt_timeout)


def test_defaults_are_sane() -> None:
    policy = CallRetry()
    assert policy.max_attempts >= 1
    assert policy.retry_timeouts is False
    assert policy.retry_remote is False


def test_policy_is_immutable() -> None:
    policy = CallRetry()
    with pytest.raises(AttributeError):
        policy.max_attempts = 9  # type: ignore[misc]


def remote(retryable: bool) -> RemoteError:
    return RemoteError(error_code="X", error_message="y", retryable=retryable)


def test_publish_errors_are_always_retried() -> None:
    assert CallRetry().should_retry_call(PublishError("broker said no")) is True


def test_timeouts_retry_only_when_asked() -> None:
    timeout = RequestTimeout("late")
    assert CallRetry().should_retry_call(timeout) is False
    assert CallRetry(retry_timeouts=True).should_retry_call(timeout) is True


def test_remote_errors_retry_only_when_asked_and_retryable() -> None:
    assert CallRetry().should_retry_call(remote(True)) is False
    assert CallRetry(retry_remote=True).should_retry_call(remote(True)) is True
    assert CallRetry(retry_remote=True).should_retry_call(remote(False)) is False


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("x"),
        PayloadTooLarge("big", size=2, limit=1),
        CircuitOpenError("open"),
        ClientClosed("closed"),
        KeyboardInterrupt(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_other_errors_are_not_retried(exc: BaseException) -> None:
    policy = CallRetry(retry_timeouts=True, retry_remote=True)
    assert policy.should_retry_call(exc) is False


def _schedule(initial: float, multiplier: float, max_delay: float, attempt: int) -> float:
    """The documented wait after failed attempt ``attempt`` (1-based), before jitter."""
    return min(initial * multiplier ** (attempt - 1), max_delay)


@pytest.mark.parametrize("kind", [CallRetry, HandlerRetry])
# A wait that grows, then is capped by max_delay from the third attempt on.
@example(attempts=4, initial=0.5, multiplier=2.0, max_delay=1.5, jitter=0.1)
@given(
    attempts=st.integers(min_value=1, max_value=10),
    initial=st.floats(min_value=0, max_value=1),
    multiplier=st.floats(min_value=1, max_value=4),
    max_delay=st.floats(min_value=0, max_value=5),
    jitter=st.floats(min_value=0, max_value=0.5),
)
def test_backoff_grows_exponentially_up_to_max_delay_plus_jitter(
    kind: type[CallRetry | HandlerRetry],
    attempts: int,
    initial: float,
    multiplier: float,
    max_delay: float,
    jitter: float,
) -> None:
    # Both implementations of the schedule are held to it: the tenacity wait the
    # client's retries sleep on, and backoff() the server's handler retries sleep on.
    # A wait of 0 (or one that ignores max_delay) fails the bounds below.
    import tenacity

    policy = kind(
        max_attempts=attempts,
        initial_delay=initial,
        multiplier=multiplier,
        max_delay=max_delay,
        jitter=jitter,
    )
    wait = policy.wait_strategy()
    retrying = tenacity.Retrying()  # the state's owner; the wait reads only attempt_number
    for attempt in range(1, attempts + 1):
        state = tenacity.RetryCallState(retry_object=retrying, fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        floor = _schedule(initial, multiplier, max_delay, attempt)
        for source, delay in (("wait_strategy", wait(state)), ("backoff", policy.backoff(attempt))):
            assert not math.isnan(delay)
            assert 0 <= delay <= max_delay + jitter + 1e-9
            assert floor - 1e-9 <= delay <= floor + jitter + 1e-9, (source, attempt, delay)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("max_attempts", "error", "expected_calls"),
    [
        # A publish error is retried until the attempts run out...
        (3, lambda: PublishError("no"), 3),
        # ...a remote error (retry_remote is off) is not retried at all.
        (5, lambda: remote(True), 1),
    ],
    ids=["stops-after-max-attempts", "does-not-retry-what-it-should-not"],
)
async def test_retrying(
    max_attempts: int, error: Callable[[], Exception], expected_calls: int
) -> None:
    policy = CallRetry(max_attempts=max_attempts, initial_delay=0, jitter=0)
    calls = 0

    async def run() -> None:
        nonlocal calls
        async for attempt in policy.retrying(policy.should_retry_call):
            with attempt:
                calls += 1
                raise error()

    with pytest.raises(type(error())):
        await run()
    assert calls == expected_calls


class TimedTransport(MemoryTransport):
    """A MemoryTransport that remembers when each record was produced."""

    def __init__(self, broker: MemoryBroker) -> None:
        super().__init__(broker)
        self.sent: list[tuple[float, OutboundRecord]] = []

    def produce(self, record: OutboundRecord, on_delivery: Any) -> None:
        self.sent.append((time.time(), record))
        super().produce(record, on_delivery)


async def answer_retries_only(broker: MemoryBroker, trio: TopicTrio) -> None:
    """A slow responder: the first attempt of every call is lost, retries are answered."""
    seen: set[tuple[int, int]] = set()
    while True:
        for record in broker.records(trio.requested):
            if (record.partition, record.offset) in seen:
                continue
            seen.add((record.partition, record.offset))
            if header_dict(record.headers).get("retry_count") == "0":
                continue
            request = decode_envelope(record.value)
            reply = make_envelope(
                event_type=trio.event_type("completed"),
                correlation_id=request.correlation_id,
                service="peer",
                payload={"attempt": header_dict(record.headers)["retry_count"]},
            )
            broker.append(
                OutboundRecord(
                    topic=trio.completed,
                    value=encode_envelope(reply),
                    headers=build_headers(reply),
                )
            )
        await anyio.sleep(0.002)


@pytest.mark.anyio
async def test_client_retry_on_timeout_succeeds_within_the_deadline(rpc: MemoryRpc) -> None:
    # retry_timeouts=True re-sends a call that got no reply, and every retry stays
    # inside the call's deadline: a lost first attempt must not eat the whole budget.
    trio = rpc.trio("slow.op")
    policy = CallRetry(max_attempts=3, initial_delay=0, jitter=0, retry_timeouts=True)
    async with rpc.client(retry=policy) as client, anyio.create_task_group() as tg:
        tg.start_soon(answer_retries_only, rpc.broker, trio)
        reply = await client.request("slow.op", {}, timeout=1.5)
        tg.cancel_scope.cancel()
    assert reply["attempt"] != "0"
    assert client.stats.retries >= 1
    assert client.pending_count == 0


@pytest.mark.anyio
@pytest.mark.parametrize("initial_delay", [0, 0.25])
async def test_client_timeout_retries_reuse_ids_and_respect_the_deadline(
    rpc: MemoryRpc, initial_delay: float
) -> None:
    # With a 0.3 s call and 3 attempts, a 0.25 s backoff would land the second attempt
    # after the deadline: it must not be sent then.
    trio = rpc.trio("slow.op")
    transport = TimedTransport(rpc.broker)
    policy = CallRetry(max_attempts=3, initial_delay=initial_delay, jitter=0, retry_timeouts=True)
    async with RpcClient(service="c", transport=transport, retry=policy) as client:
        with pytest.raises(RequestTimeout):
            await client.request("slow.op", {}, timeout=0.3)
        assert client.pending_count == 0
    attempts = [(at, r) for at, r in transport.sent if r.topic == trio.requested]
    assert attempts
    headers = [header_dict(r.headers) for _, r in attempts]
    assert len({decode_envelope(r.value).correlation_id for _, r in attempts}) == 1
    assert len({h["idempotency_key"] for h in headers}) == 1
    assert [int(h["retry_count"]) for h in headers] == list(range(len(attempts)))
    for (at, _), h in zip(attempts, headers, strict=True):
        # 5 ms of slack for the ms rounding of deadline_ms; a late retry is ~50 ms late.
        assert at * 1000 <= int(h["deadline_ms"]) + 5, "an attempt was sent after the deadline"
