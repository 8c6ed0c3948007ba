"""``kafkarpc dlq inspect|replay`` and ``kafkarpc asyncapi`` from the shell."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from confluent_kafka import Producer

from kafkarpc import HandlerRetry, RemoteError, RpcClient, RpcServer, TopicTrio, ensure_topics

pytestmark = pytest.mark.anyio


def _kafkarpc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kafkarpc", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


async def test_dlq_inspect_and_replay(kafkarpc_broker: str, unique_topic_base: str) -> None:
    trio = TopicTrio.from_base(unique_topic_base)
    await ensure_topics(kafkarpc_broker, [trio])
    dlq = f"{trio.requested}.dlq"
    fixed = False
    ran: list[int] = []
    server = RpcServer(
        kafkarpc_broker,
        service="cli-dlq",
        group_id=f"g-{unique_topic_base}",
        retry=HandlerRetry(max_attempts=2, initial_delay=0.01),
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
    )

    @server.responder(trio)
    async def flaky(payload: dict[str, int]) -> dict[str, int]:
        ran.append(payload["n"])
        if not fixed:
            raise RuntimeError("not yet")
        return payload

    async with server, RpcClient(kafkarpc_broker, service="cli-dlq-client") as client:
        with pytest.raises(RemoteError, match="not yet"):
            await client.request(trio, {"n": 1})
        producer = Producer({"bootstrap.servers": kafkarpc_broker})
        producer.produce(trio.requested, value=b"garbage")
        producer.flush(10)
        with anyio.fail_after(20):
            while server.stats.dead_lettered < 2:
                await anyio.sleep(0.05)

        inspected = _kafkarpc("dlq", "inspect", dlq, "--bootstrap", kafkarpc_broker)
        assert inspected.returncode == 0, inspected.stderr
        rows = [json.loads(line) for line in inspected.stdout.splitlines()]
        assert sorted(row["reason"] for row in rows) == ["handler_exhausted", "poison"]
        exhausted = next(row for row in rows if row["reason"] == "handler_exhausted")
        assert exhausted["original_topic"] == trio.requested
        assert exhausted["error_type"] == "RuntimeError"
        assert exhausted["correlation_id"]
        assert "garbage" not in inspected.stdout, "payloads are not printed"

        fixed = True
        replayed = _kafkarpc("dlq", "replay", dlq, "--bootstrap", kafkarpc_broker)
        # The poison record stays parked, so the command reports one failure.
        assert replayed.returncode == 1
        assert json.loads(replayed.stdout) == {
            "processed": 2,
            "republished": 1,
            "not_republished": 1,
            "succeeded": 1,  # the former names, kept for scripts
            "failed": 1,
        }
        with anyio.fail_after(20):
            while ran.count(1) < 3:  # two attempts, then the replay
                await anyio.sleep(0.05)


def test_dlq_needs_a_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKARPC_BOOTSTRAP", raising=False)
    result = _kafkarpc("dlq", "inspect", "x.dlq")
    assert result.returncode == 2
    assert "--bootstrap" in result.stderr


def test_asyncapi_document_of_an_app(tmp_path: Path) -> None:
    (tmp_path / "shop.py").write_text(
        textwrap.dedent(
            """
            from pydantic import BaseModel
            from kafkarpc import MemoryBroker, MemoryTransport, RpcServer

            class Order(BaseModel):
                sku: str
                quantity: int

            server = RpcServer(service="shop", transport=MemoryTransport(MemoryBroker()))

            @server.responder("shop.orders.place")
            async def place(order: Order) -> dict:
                return {}
            """
        )
    )
    out = tmp_path / "asyncapi.json"
    result = _kafkarpc("asyncapi", "shop:server", "-o", str(out), "--title", "Shop", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == "Shop"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert {
        "shop.orders.place.requested.v1",
        "shop.orders.place.completed.v1",
        "shop.orders.place.failed.v1",
    } <= addresses
    assert "Order" in document["components"]["schemas"]
