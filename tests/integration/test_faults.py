"""Things go wrong: poison pills, a responder killed mid-request, shutdown under load."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from tests.integration.script_process import script_process, wait_for_lines

from kafkarpc import (
    DlqHeader,
    KafkaRpcError,
    RpcClient,
    RpcServer,
    SqliteIdempotencyStore,
    TopicTrio,
    ensure_topics,
)
from kafkarpc.wire.dead_letter import dead_letter_fields

pytestmark = pytest.mark.anyio

RESPONDER = Path(__file__).with_name("responder_process.py")


def _dlq_records(bootstrap: str, topic: str, want: int) -> list[tuple[bytes, dict[str, str | int]]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "dlq-inspector"})
    found: list[tuple[bytes, dict[str, str | int]]] = []
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
        for _ in range(300):
            message = consumer.poll(0.1)
            if message is not None and not message.error():
                # The stub's HeadersType also allows the dict form a producer accepts;
                # a consumed message has a list of (name, bytes | None) pairs.
                pairs = message.headers() or []
                assert isinstance(pairs, list)
                raw = [(k, v.encode() if isinstance(v, str) else v) for k, v in pairs]
                headers = dead_letter_fields(raw)  # Spring's binary numbers as int
                value = message.value()
                assert value is not None, "every pill has a value"
                found.append((value, headers))
                if len(found) >= want:
                    break
    finally:
        consumer.close()
    return found


async def test_poison_pills_go_to_the_dlq_and_serving_continues(
    serve: Callable[..., RpcServer], client: RpcClient, kafkarpc_broker: str, trio: TopicTrio
) -> None:
    async def echo(payload: dict[str, int]) -> dict[str, int]:
        return payload

    server = serve(echo)

    poison = [
        b"\x00\x01 not json",
        b'{"event_id": "1", "event_type": "X_REQUESTED"',  # truncated
        json.dumps({"event_type": "X_REQUESTED", "payload": []}).encode(),  # wrong types
        os.urandom(900_000),  # near the default 1 MB message limit
    ]
    async with server:
        producer = Producer({"bootstrap.servers": kafkarpc_broker})
        for n, pill in enumerate(poison):
            producer.produce(trio.requested, value=pill, key=f"pill-{n}".encode())
        producer.flush(10)
        # The consumer kept going: fresh requests are answered.
        for n in range(3):
            assert await client.request(trio, {"n": n}) == {"n": n}
        records = await anyio.to_thread.run_sync(
            _dlq_records, kafkarpc_broker, f"{trio.requested}.dlq", len(poison)
        )
    assert sorted(value for value, _ in records) == sorted(poison)
    for _, headers in records:
        assert headers[DlqHeader.ORIGINAL_TOPIC] == trio.requested
        assert headers[DlqHeader.ORIGINAL_PARTITION] in range(3)
        assert int(headers[DlqHeader.ORIGINAL_OFFSET]) >= 0
        assert headers[DlqHeader.EXCEPTION_FQCN] == "kafkarpc.EnvelopeError"
        assert headers[DlqHeader.EXCEPTION_MESSAGE]
        assert headers[DlqHeader.REASON] == "poison"
    assert server.stats.dead_lettered == len(poison)


def doomed_responder(
    bootstrap: str, base: str, group: str, *store_path: str
) -> contextlib.AbstractContextManager[subprocess.Popen[str]]:
    """responder_process.py in a process of its own, for the test to kill; reaped at the end."""
    return script_process(RESPONDER, bootstrap, base, group, *store_path)


@pytest.fixture
async def spawn_doomed(
    kafkarpc_broker: str, unique_topic_base: str, trio: TopicTrio
) -> Callable[..., contextlib.AbstractContextManager[subprocess.Popen[str]]]:
    """``with spawn_doomed(*store_path) as doomed``: a responder of the test's operation
    in the group ``make_server`` joins by default, so a survivor takes over its work."""
    await ensure_topics(kafkarpc_broker, [trio])
    group = f"group-{unique_topic_base}"
    return functools.partial(doomed_responder, kafkarpc_broker, unique_topic_base, group)


async def test_request_of_a_killed_responder_is_redelivered_and_answered(
    make_server: Callable[..., RpcServer],
    client: RpcClient,
    trio: TopicTrio,
    spawn_doomed: Callable[..., contextlib.AbstractContextManager[subprocess.Popen[str]]],
) -> None:
    with spawn_doomed() as doomed:
        await wait_for_lines(doomed, "ready")
        reply: dict[str, object] = {}

        async def call() -> None:
            reply.update(await client.request(trio, {"n": 7, "hang": True}, timeout=30))

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await wait_for_lines(doomed, "handling 7")
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(10)
            # The survivor joins the same group and gets the uncommitted request.
            survivor = make_server(service="survivor")

            @survivor.responder(trio)
            async def work(payload: dict[str, object]) -> dict[str, object]:
                return {"by": "survivor", "n": payload["n"]}

            async with survivor:
                with anyio.fail_after(30):
                    while not reply:
                        await anyio.sleep(0.05)
        assert reply == {"by": "survivor", "n": 7}
        assert client.pending_count == 0


async def test_graceful_shutdown_drains_in_flight_requests_and_commits(
    make_server: Callable[..., RpcServer],
    serve: Callable[..., RpcServer],
    client: RpcClient,
    unique_topic_base: str,
) -> None:
    started = anyio.Event()
    executions: list[int] = []

    async def slow(payload: dict[str, int]) -> dict[str, int]:
        executions.append(payload["n"])
        if len(executions) == 5:
            started.set()
        await anyio.sleep(0.5)
        return payload

    server = serve(slow)
    replies: list[dict[str, int]] = []

    async def call(n: int) -> None:
        replies.append(await client.request(unique_topic_base, {"n": n}, timeout=20))

    async with anyio.create_task_group() as tg:
        await server.__aenter__()
        for n in range(5):
            tg.start_soon(call, n)
        with anyio.fail_after(20):
            await started.wait()
        await server.aclose()  # while all five are sleeping in the handler
        assert server.in_flight == 0
    assert sorted(r["n"] for r in replies) == list(range(5))

    # Offsets were committed: the group's next member does not run them again.
    again = make_server()
    rerun: list[int] = []

    @again.responder(unique_topic_base)
    async def count(payload: dict[str, int]) -> dict[str, int]:
        rerun.append(payload["n"])
        return payload

    async with again:
        assert await client.request(unique_topic_base, {"n": 99}) == {"n": 99}
    assert rerun == [99]


async def test_killing_a_responder_under_load_loses_nothing_and_repeats_nothing(
    tmp_path: Path,
    make_server: Callable[..., RpcServer],
    client: RpcClient,
    trio: TopicTrio,
    spawn_doomed: Callable[..., contextlib.AbstractContextManager[subprocess.Popen[str]]],
) -> None:
    store_path = tmp_path / "answered.sqlite"
    store = SqliteIdempotencyStore(store_path)
    survivor_ran: list[int] = []
    survivor = make_server(service="survivor", idempotency_store=store)

    @survivor.responder(trio)
    async def work(payload: dict[str, float]) -> dict[str, object]:
        survivor_ran.append(int(payload["n"]))
        await anyio.sleep(payload["work"])
        return {"by": "survivor", "n": payload["n"]}

    outcomes: dict[int, object] = {}

    async def call(n: int) -> None:
        try:
            outcomes[n] = await client.request(trio, {"n": n, "work": 0.2}, timeout=40)
        except KafkaRpcError as exc:  # a typed error is an acceptable end; a hang is not
            outcomes[n] = exc

    try:
        with spawn_doomed(str(store_path)) as doomed:
            async with survivor:
                await wait_for_lines(doomed, "ready")
                async with anyio.create_task_group() as tg:
                    for n in range(60):
                        tg.start_soon(call, n)
                    with anyio.fail_after(30):
                        while not any(
                            isinstance(o, dict) and o.get("by") == "doomed"
                            for o in outcomes.values()
                        ):
                            await anyio.sleep(0.01)
                    doomed.send_signal(signal.SIGKILL)  # with more of its requests in flight
                    doomed.wait(10)
    finally:
        store.close()

    assert sorted(outcomes) == list(range(60)), "every call ended; none hung"
    replies = {n: o for n, o in outcomes.items() if isinstance(o, dict)}
    assert len(replies) == 60, f"typed errors instead of replies: {set(outcomes) - set(replies)}"
    assert all(reply["n"] == n for n, reply in replies.items())
    by_doomed = {n for n, reply in replies.items() if reply["by"] == "doomed"}
    assert by_doomed, "the doomed responder answered some requests before it died"
    # Requests the dead responder answered were redelivered (their offsets were not
    # all committed) but the survivor answered them from the shared store.
    assert not by_doomed & set(survivor_ran), "no answered request executed twice"
    assert client.pending_count == 0
