"""How kafkarpc's records reach the broker: produce requests and record batches per record.

``python -m benchmarks.batching`` (from the root of a clone) starts the embedded
broker, a kafkarpc responder in a second process and a client in this one, runs
``--requests`` calls at ``--load`` in flight, and reads librdkafka's own statistics
(``statistics.interval.ms``) of each producer: produce requests sent, record batches
and records. Tansu's work grows with the number of batches it stores, so these
counts explain the broker's CPU per request in ``kafkarpc bench`` without its noise:
they depend on how records are handed over, not on how fast the machine is.
It also prints the broker's CPU per request (noisy, for context).
``--config KEY=VALUE`` overrides librdkafka settings on both sides.

``--system handrolled`` measures the hand-rolled pattern instead: its aiokafka
client's produce requests and partition batches are counted as aiokafka's sender
sends them (aiokafka packs every partition's batch into one request per broker;
librdkafka sends one partition per request), the raw responder's from librdkafka's
statistics, which it emits only while it serves (its record count can fall short).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.cpu import cpu_seconds
from kafkarpc import RpcClient, RpcServer, Topics, TopicTrio

__all__ = ["ProducerCounts", "main"]

_STATS_MS = 200
_SERVER_CONFIG = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


@dataclass(frozen=True, slots=True)
class ProducerCounts:
    """What one producer sent: librdkafka's counters at the end of a run."""

    produce_requests: int
    batches: int
    records: int

    @classmethod
    def from_stats(cls, stats: dict[str, Any], batches: int) -> ProducerCounts:
        produce = sum(
            broker.get("req", {}).get("Produce", 0) for broker in stats["brokers"].values()
        )
        return cls(produce, batches, int(stats["txmsgs"]))

    def __sub__(self, other: ProducerCounts) -> ProducerCounts:
        return ProducerCounts(
            self.produce_requests - other.produce_requests,
            self.batches - other.batches,
            self.records - other.records,
        )

    def line(self, name: str) -> str:
        records = max(self.records, 1)
        return (
            f"{name:>9}: {self.records:>7} records, {self.produce_requests:>6} produce requests "
            f"({self.produce_requests / records:.3f} per record), {self.batches:>6} batches "
            f"({self.records / max(self.batches, 1):.1f} records per batch)"
        )


class _Stats:
    """The last statistics of every librdkafka producer whose ``stats_cb`` this is."""

    def __init__(self) -> None:
        self.producers: dict[str, dict[str, Any]] = {}
        # librdkafka's histograms cover one statistics interval each: add them up.
        self.batches: dict[str, int] = {}

    def __call__(self, text: str) -> None:
        stats = json.loads(text)
        if stats.get("type") == "producer":
            name = stats["name"]
            self.producers[name] = stats
            window = sum(topic["batchcnt"]["cnt"] for topic in stats["topics"].values())
            self.batches[name] = self.batches.get(name, 0) + window

    def counts(self) -> ProducerCounts:
        total = ProducerCounts(0, 0, 0)
        for name, stats in self.producers.items():
            one = ProducerCounts.from_stats(stats, self.batches[name])
            total = ProducerCounts(
                total.produce_requests + one.produce_requests,
                total.batches + one.batches,
                total.records + one.records,
            )
        return total


def _config(extra: dict[str, str], stats: _Stats) -> dict[str, Any]:
    return {"statistics.interval.ms": _STATS_MS, "stats_cb": stats, **extra}


def _serve_raw(bootstrap: str, base: str, pipe: Any) -> None:
    """The raw responder (what the handrolled system runs against), its producer counted."""
    import threading

    import confluent_kafka

    from benchmarks.kafka import TopicSet
    from benchmarks.protocol import ResponderSpec
    from benchmarks.systems import raw_responder

    stats = _Stats()
    real = confluent_kafka.Producer

    def counted(conf: dict[str, Any]) -> Any:
        return real({**conf, "statistics.interval.ms": _STATS_MS, "stats_cb": stats})

    # The raw responder builds its producer from this module-level name.
    vars(raw_responder)["Producer"] = counted
    stop = threading.Event()

    class Link:
        def ready(self) -> None:
            pipe.send("ready")

        def stop_requested(self) -> bool:
            return stop.is_set()

    def answer_marks() -> None:
        while True:
            message = pipe.recv()
            time.sleep(2 * _STATS_MS / 1000)
            pipe.send(stats.counts())
            if message == "stop":
                stop.set()
                return

    threading.Thread(target=answer_marks, daemon=True).start()
    spec = ResponderSpec(bootstrap, TopicSet(base, 4), f"group-{base}")
    raw_responder.serve(spec, Link())  # type: ignore[arg-type]


def _serve(
    bootstrap: str, base: str, extra: dict[str, str], pipe: Any, partitions: int = 4
) -> None:
    async def run() -> None:
        stats = _Stats()

        async def echo(payload: dict[str, Any]) -> dict[str, Any]:
            return payload

        server = RpcServer(
            bootstrap,
            service="batching-responder",
            group_id=f"group-{base}",
            topics=Topics(create=True, partitions=partitions),
            config={**_SERVER_CONFIG, **_config(extra, stats)},
        )
        server.add_responder(TopicTrio.from_base(base), echo)
        async with server:
            pipe.send("ready")
            while True:
                message = await asyncio.to_thread(pipe.recv)
                await asyncio.sleep(2 * _STATS_MS / 1000)  # the last statistics
                pipe.send(stats.counts())
                if message == "stop":
                    return

    asyncio.run(run())


async def _client(
    bootstrap: str,
    base: str,
    extra: dict[str, str],
    requests: int,
    load: int,
    pipe: Any,
    partitions: int = 4,
) -> tuple[ProducerCounts, ProducerCounts, float]:
    stats = _Stats()
    trio = TopicTrio.from_base(base)
    async with RpcClient(
        bootstrap,
        service="batching-client",
        topics=Topics(create=True, partitions=partitions),
        timeout=60,
        config=_config(extra, stats),
    ) as client:
        for _ in range(200):  # warm-up: topics, reply assignment, connections
            await client.request(trio, {"x": "y" * 100})
        await asyncio.sleep(2 * _STATS_MS / 1000)
        client_before = stats.counts()
        pipe.send("mark")
        server_before = await asyncio.to_thread(pipe.recv)
        remaining = requests

        async def caller() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await client.request(trio, {"x": "y" * 100})

        start = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(load)))
        elapsed = time.perf_counter() - start
        await asyncio.sleep(2 * _STATS_MS / 1000)
        client_counts = stats.counts() - client_before
    pipe.send("stop")
    server_counts = await asyncio.to_thread(pipe.recv)
    return client_counts, server_counts - server_before, elapsed


async def _handrolled_client(
    bootstrap: str, base: str, requests: int, load: int, pipe: Any
) -> tuple[ProducerCounts, ProducerCounts, float]:
    """The handrolled (aiokafka) client; its produce requests counted as aiokafka sends them."""
    from aiokafka.producer.sender import Sender

    from benchmarks.kafka import TopicSet
    from benchmarks.protocol import ClientSpec
    from benchmarks.systems.handrolled import HandrolledClient
    from benchmarks.workload import Workload

    sent = [0, 0, 0]  # produce requests, batches (one per partition), records (counted apart)
    real_send = Sender._send_produce_req

    async def send(self: Any, node_id: Any, batches: dict[Any, Any]) -> Any:
        sent[0] += 1
        sent[1] += len(batches)
        return await real_send(self, node_id, batches)

    Sender._send_produce_req = send
    topics = TopicSet(base, 4)
    workload = Workload(load, 0, requests, 7, 100, 60.0, 600.0)
    client = HandrolledClient(ClientSpec(bootstrap, topics, workload))
    await client.start()
    records = 0
    try:
        for _ in range(200):
            await client.request({"x": "y" * 100}, 60)
        before = list(sent)
        pipe.send("mark")
        server_before = await asyncio.to_thread(pipe.recv)
        remaining = requests

        async def caller() -> None:
            nonlocal remaining, records
            while remaining > 0:
                remaining -= 1
                records += 1
                await client.request({"x": "y" * 100}, 60)

        start = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(load)))
        elapsed = time.perf_counter() - start
    finally:
        await client.stop()
    counts = ProducerCounts(sent[0] - before[0], sent[1] - before[1], records)
    pipe.send("stop")
    server_counts = await asyncio.to_thread(pipe.recv)
    return counts, server_counts - server_before, elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--load", type=int, default=256)
    parser.add_argument("--bootstrap", help="an existing broker (default: embedded Tansu)")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--partitions", type=int, default=4, help="kafkarpc system only")
    parser.add_argument("--system", choices=("kafkarpc", "handrolled"), default="kafkarpc")
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.config)
    broker = None
    if args.bootstrap is None:
        from kafkarpc._broker import start_broker

        broker = start_broker()
        bootstrap = broker.bootstrap
    else:
        bootstrap = args.bootstrap
    base = f"batching.{uuid.uuid4().hex[:10]}"
    ours, theirs = multiprocessing.Pipe()
    handrolled = args.system == "handrolled"
    if handrolled:
        from kafkarpc import ensure_topics

        asyncio.run(ensure_topics(bootstrap, [TopicTrio.from_base(base)], partitions=4))
    server = multiprocessing.get_context("spawn").Process(
        target=_serve_raw if handrolled else _serve,
        args=(bootstrap, base, theirs)
        if handrolled
        else (bootstrap, base, extra, theirs, args.partitions),
        daemon=True,
    )
    try:
        server.start()
        assert ours.recv() == "ready"
        broker_cpu = cpu_seconds(broker.process.pid if broker else None)
        client_counts, server_counts, elapsed = asyncio.run(
            _handrolled_client(bootstrap, base, args.requests, args.load, ours)
            if handrolled
            else _client(bootstrap, base, extra, args.requests, args.load, ours, args.partitions)
        )
        broker_after = cpu_seconds(broker.process.pid if broker else None)
        server.join(30)
    finally:
        if server.is_alive():
            server.kill()
        if broker is not None:
            broker.stop()
    print(
        f"{args.requests} requests at {args.load} in flight: {args.requests / elapsed:,.0f} req/s"
    )
    print(client_counts.line("client"))
    print(server_counts.line("responder"))
    if broker_cpu is not None and broker_after is not None:
        per_request = 1e6 * (broker_after - broker_cpu) / args.requests
        print(f"   broker: {per_request:.0f} us of CPU per request (warm-up and tail included)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
