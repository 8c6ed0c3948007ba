"""Retries, dead letters, replay and idempotency on the real broker."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import anyio
import pytest

from kafkarpc import (
    CallRetry,
    DlqHeader,
    HandlerRetry,
    RemoteError,
    RpcClient,
    RpcServer,
    TopicTrio,
    inspect_dlq,
    replay_dlq,
)

pytestmark = pytest.mark.anyio


async def _wait_until(predicate: Callable[[], bool], seconds: float = 20) -> None:
    with anyio.fail_after(seconds):
        while not predicate():
            await anyio.sleep(0.02)


async def test_failing_handlers_retry_dead_letter_and_replay(
    kafkarpc_broker: str,
    make_server: Callable[..., RpcServer],
    client: RpcClient,
    trio: TopicTrio,
) -> None:
    executions: Counter[int] = Counter()
    broken = {5, 15, 25, 35}  # 10% always fail until "fixed"
    flaky = {0, 10, 20, 30}  # 10% fail once, then succeed on retry
    server = make_server(retry=HandlerRetry(max_attempts=3, initial_delay=0.01, jitter=0))

    @server.responder(trio)
    async def work(payload: dict[str, int]) -> dict[str, int]:
        n = payload["n"]
        executions[n] += 1
        if n in broken or (n in flaky and executions[n] == 1):
            raise ConnectionError(f"downstream refused {n}")
        return {"n": n}

    outcomes: dict[int, object] = {}

    async def call(n: int) -> None:
        try:
            outcomes[n] = await client.request(trio, {"n": n}, timeout=20)
        except RemoteError as exc:
            outcomes[n] = exc

    async with server:
        async with anyio.create_task_group() as tg:
            for n in range(40):
                tg.start_soon(call, n)

        # Every call ended in success or a RemoteError; none hung.
        assert sorted(outcomes) == list(range(40))
        failed = {n for n, o in outcomes.items() if isinstance(o, RemoteError)}
        assert failed == broken
        for n in failed:
            error = outcomes[n]
            assert isinstance(error, RemoteError)
            assert error.error_code == "HANDLER_ERROR"
            assert error.error_type == "ConnectionError"
        assert all(executions[n] == 2 for n in flaky), "flaky calls succeeded on their retry"
        assert all(executions[n] == 3 for n in broken), "exhausted after max_attempts"

        # Exhausted requests are parked with Spring-style origin headers.
        dlq = f"{trio.requested}.dlq"
        await _wait_until(lambda: server.stats.dead_lettered == len(broken))
        letters = await inspect_dlq(kafkarpc_broker, dlq)
        assert sorted(
            letter.envelope.payload["n"] for letter in letters if letter.envelope
        ) == sorted(broken)
        for letter in letters:
            assert letter.reason == "handler_exhausted"
            assert letter.original_topic == trio.requested
            assert letter.error_type == "ConnectionError"
            assert "downstream refused" in letter.error_message
            assert "Traceback" in letter.headers[DlqHeader.EXCEPTION_STACKTRACE]
            assert letter.headers[DlqHeader.RETRY_COUNT] == "2"

        # The dependency is fixed: replay brings them back and they execute once more.
        broken.clear()
        result = await replay_dlq(kafkarpc_broker, dlq)
        assert (result.processed, result.succeeded, result.failed) == (4, 4, 0)
        await _wait_until(lambda: all(executions[n] == 4 for n in (5, 15, 25, 35)))

        # Replaying again is safe: the idempotency keys make the responder answer
        # from its store instead of executing again.
        deduplicated = server.stats.deduplicated
        again = await replay_dlq(kafkarpc_broker, dlq)
        assert again.succeeded == 4
        await _wait_until(lambda: server.stats.deduplicated == deduplicated + 4)
        assert all(executions[n] == 4 for n in (5, 15, 25, 35))


async def test_timed_out_attempts_are_resent_with_the_same_idempotency_key(
    kafkarpc_broker: str, serve: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    executions: list[str] = []

    async def slow(payload: dict[str, str]) -> dict[str, str]:
        executions.append(payload["job"])
        await anyio.sleep(1.5)  # longer than one attempt's wait
        return {"done": payload["job"]}

    server = serve(slow)
    policy = CallRetry(max_attempts=4, retry_timeouts=True, attempt_timeout=0.5, jitter=0)
    async with server, RpcClient(kafkarpc_broker, service="patient", retry=policy) as client:
        reply = await client.request(unique_topic_base, {"job": "report"}, timeout=15)
        assert reply == {"done": "report"}
        assert client.stats.retries >= 1
        assert client.pending_count == 0
    assert executions == ["report"], "the slow responder executed the call once"
    assert server.stats.deduplicated >= 1
