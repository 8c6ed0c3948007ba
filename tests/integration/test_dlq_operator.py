"""The DLQ tools against the real broker: missing and empty topics, and a late replay."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import anyio
import pytest

from kafkarpc import (
    HandlerRetry,
    RemoteError,
    RpcClient,
    RpcServer,
    TopicNotFound,
    TopicTrio,
    ensure_topics,
    inspect_dlq,
    replay_dlq,
)
from kafkarpc._cli import main

pytestmark = pytest.mark.anyio


async def test_a_missing_dlq_raises(kafkarpc_broker: str, unique_topic_base: str) -> None:
    missing = f"{unique_topic_base}.requested.v1.dlq"
    with pytest.raises(TopicNotFound):
        await inspect_dlq(kafkarpc_broker, missing)
    with pytest.raises(TopicNotFound):
        await replay_dlq(kafkarpc_broker, missing)


def test_cli_inspect_of_a_missing_dlq_fails(
    kafkarpc_broker: str, unique_topic_base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"{unique_topic_base}.requested.v1.dlq"
    assert main(["dlq", "inspect", missing, "--bootstrap", kafkarpc_broker]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{missing!r} does not exist" in err


def test_cli_inspect_of_an_empty_dlq_says_so(
    kafkarpc_broker: str, unique_topic_base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    trio = TopicTrio.from_base(unique_topic_base)
    anyio.run(ensure_topics, kafkarpc_broker, [trio])  # creates the .dlq topic too
    dlq = f"{trio.requested}.dlq"
    assert main(["dlq", "inspect", dlq, "--bootstrap", kafkarpc_broker]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{dlq!r} exists and is empty" in err


async def test_a_replay_after_the_callers_deadline_runs_the_handler(
    serve: Callable[..., RpcServer],
    make_client: Callable[..., RpcClient],
    kafkarpc_broker: str,
    trio: TopicTrio,
) -> None:
    """Operators replay long after the caller gave up: the responder must still run it
    (issue 18), not answer DEADLINE_EXCEEDED from the original deadline or time to live."""
    dlq = f"{trio.requested}.dlq"
    fixed = False
    ran: list[int] = []

    async def flaky(payload: dict[str, int]) -> dict[str, int]:
        ran.append(payload["n"])
        if not fixed:
            raise RuntimeError("not yet")
        return payload

    server = serve(flaky, retry=HandlerRetry(max_attempts=1))
    async with server, make_client() as client:
        with pytest.raises(RemoteError, match="not yet"):
            await client.request(trio, {"n": 7}, timeout=1)
        with anyio.fail_after(20):
            while server.stats.dead_lettered < 1:
                await anyio.sleep(0.05)
        (letter,) = await inspect_dlq(kafkarpc_broker, dlq)
        assert letter.envelope is not None
        # Wait until both ways the responder derives a deadline have passed.
        sent_ms = datetime.fromisoformat(letter.envelope.timestamp).timestamp() * 1000
        expired_ms = max(
            int(letter.headers["deadline_ms"]),
            sent_ms + int(letter.headers["ttl_seconds"]) * 1000,
        )
        while time.time() * 1000 <= expired_ms + 200:
            await anyio.sleep(0.1)

        fixed = True
        result = await replay_dlq(kafkarpc_broker, dlq)
        assert (result.processed, result.republished, result.not_republished) == (1, 1, 0)
        with anyio.fail_after(20):
            while ran.count(7) < 2:  # the first run, then the replay
                await anyio.sleep(0.05)
        assert server.stats.dead_lettered == 1, "the replay was answered, not parked again"
