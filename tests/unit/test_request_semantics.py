"""Finer request semantics: retryable remote errors, per-key ordering, peers' TTLs,
and the bookkeeping that must balance however a call ends."""

from __future__ import annotations

import collections
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import pytest

from kafkarpc import (
    CallRetry,
    CircuitBreaker,
    CircuitState,
    DlqHeader,
    HandlerRetry,
    Limits,
    RemoteError,
    TopicNotFound,
    TopicTrio,
)
from kafkarpc.transport import OutboundRecord

if TYPE_CHECKING:
    from tests.unit.conftest import MemoryRpc

pytestmark = pytest.mark.anyio


async def test_retry_remote_resends_retryable_failures(rpc: MemoryRpc) -> None:
    trio = rpc.trio("inventory.reserve")
    server = rpc.server()
    calls: list[int] = []

    @server.responder(trio)
    async def reserve(payload: dict[str, int]) -> dict[str, int]:
        calls.append(payload["n"])
        if len(calls) < 3:
            raise RemoteError(error_code="BUSY", error_message="try later", retryable=True)
        return {"reserved": payload["n"]}

    policy = CallRetry(max_attempts=3, initial_delay=0, jitter=0, retry_remote=True)
    async with server, rpc.client(retry=policy) as client:
        assert await client.request(trio, {"n": 7}) == {"reserved": 7}
        assert client.stats.retries == 2
    assert calls == [7, 7, 7]


async def test_non_retryable_remote_errors_are_not_resent(rpc: MemoryRpc) -> None:
    trio = rpc.trio("inventory.lookup")
    server = rpc.server()
    calls = 0

    @server.responder(trio)
    async def lookup(payload: dict[str, int]) -> dict[str, int]:
        nonlocal calls
        calls += 1
        raise RemoteError(error_code="NOT_FOUND", error_message="no such sku")

    policy = CallRetry(max_attempts=3, initial_delay=0, retry_remote=True)
    async with server, rpc.client(retry=policy) as client:
        with pytest.raises(RemoteError, match="NOT_FOUND"):
            await client.request(trio, {"n": 1})
    assert calls == 1


async def test_requests_with_one_partition_key_are_handled_in_order(rpc: MemoryRpc) -> None:
    trio = rpc.trio("ledger.post", partitions=1)
    server = rpc.server(limits=Limits(max_concurrency=16))
    tenants = ("tenant-a", "tenant-b")
    seen: dict[str, list[int]] = collections.defaultdict(list)
    running: dict[str, int] = collections.defaultdict(int)

    @server.responder(trio)
    async def post(payload: dict[str, object]) -> dict[str, object]:
        tenant = str(payload["tenant"])
        n = payload["n"]
        assert isinstance(n, int)
        running[tenant] += 1
        assert running[tenant] == 1, "one request per key at a time"
        await anyio.sleep(0.001 * (5 - n % 5))  # later ones are faster
        seen[tenant].append(n)
        running[tenant] -= 1
        return {}

    async with server, rpc.client() as client, anyio.create_task_group() as tg:

        async def send(n: int, tenant: str) -> None:
            await client.request(trio, {"tenant": tenant, "n": n}, partition_key=tenant)

        await client.request(trio, {"tenant": "warm-up", "n": 0})  # route set up
        sent = 1
        for n in range(20):
            for tenant in tenants:
                tg.start_soon(send, n, tenant)
                sent += 1
                # Send strictly in order (sibling tasks start in no promised order);
                # a call is on the wire by the time it is counted.
                while client.stats.requests < sent:
                    await anyio.lowlevel.checkpoint()
    for tenant in tenants:
        assert seen[tenant] == list(range(20)), f"{tenant} handled out of order: {seen[tenant]}"


async def test_a_peers_expired_ttl_is_answered_deadline_exceeded(rpc: MemoryRpc) -> None:
    ran: list[object] = []

    async def build(payload: dict[str, object]) -> dict[str, object]:
        ran.append(payload)
        return {}

    trio, server = rpc.serve("report.build", build)
    correlation_id = str(uuid.uuid4())
    sent = datetime.now(UTC) - timedelta(seconds=30)
    envelope = {
        "event_id": str(uuid.uuid4()),
        "event_type": "REPORT_BUILD_REQUESTED",
        "correlation_id": correlation_id,
        "timestamp": sent.isoformat(),
        "service": "legacy",
        "payload": {},
        "version": "v1",
    }
    async with server:
        rpc.broker.append(
            OutboundRecord(
                topic=trio.requested,
                value=json.dumps(envelope).encode(),
                headers=[("ttl_seconds", b"10")],
            )
        )
        with anyio.fail_after(5):
            while not rpc.broker.records(trio.failed):
                await anyio.sleep(0.01)
    reply = json.loads(rpc.broker.records(trio.failed)[0].value or b"{}")
    assert reply["correlation_id"] == correlation_id
    assert reply["payload"]["error_code"] == "DEADLINE_EXCEEDED"
    assert ran == []


async def test_a_missing_topic_during_a_half_open_probe_frees_the_probe(rpc: MemoryRpc) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=0.05)
    ghost = TopicTrio.from_base("ghost.op")
    async with rpc.client(circuit_breaker=breaker) as client:
        client._circuit(ghost).on_failure()  # type: ignore[union-attr]
        assert client.circuit_state(ghost) is CircuitState.OPEN
        await anyio.sleep(0.06)
        for _ in range(3):  # each probe fails on setup, none stays "in flight"
            with pytest.raises(TopicNotFound):
                await client.request(ghost, {}, timeout=1)


async def test_dlq_retry_count_is_the_retries_actually_made(rpc: MemoryRpc) -> None:
    trio = rpc.trio("mail.send")
    policy = HandlerRetry(max_attempts=4, initial_delay=0, jitter=0, handler_exceptions=(OSError,))
    server = rpc.server(retry=policy)
    attempts = 0

    @server.responder(trio)
    async def send(payload: dict[str, str]) -> dict[str, str]:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise OSError("smtp down")  # retryable
        raise ValueError("bad address")  # not retryable: ends here

    async with server, rpc.client() as client:
        with pytest.raises(RemoteError):
            await client.request(trio, {"to": "x"})
        with anyio.fail_after(5):
            while not rpc.broker.records(f"{trio.requested}.dlq"):
                await anyio.sleep(0.01)
    (letter,) = rpc.broker.records(f"{trio.requested}.dlq")
    headers = {k: v.decode() for k, v in letter.headers}
    assert headers[DlqHeader.RETRY_COUNT] == "1"
    assert attempts == 2
