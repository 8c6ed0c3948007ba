"""kafkarpc's own Python CPU per request, client and responder measured apart.

``python -m benchmarks.hotpath`` (from the root of a clone) runs an ``RpcClient``
and an ``RpcServer`` each against a loopback transport: no broker, no librdkafka,
no second process. The client's transport answers every request it is handed in
the next loop iteration, in one batch, with a canned reply; the responder's
transport feeds it batches of ready-made requests and takes its replies. What is
left is the CPU the library itself spends per request, which decides throughput
when the machine is CPU-bound (docs/benchmarks.md, "Where the time goes").

Process CPU time divided by requests, best of ``--reps`` rounds (the machine's
noise only ever adds time). Compare numbers from one machine only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kafkarpc import RpcClient, RpcServer, TopicTrio
from kafkarpc._ids import new_uuid
from kafkarpc.transport import (
    DeliveryCallback,
    GroupConsumer,
    InboundRecord,
    OutboundRecord,
    RecordBatchHandler,
    ReplyConsumer,
    Transport,
)
from kafkarpc.wire.envelope import new_message
from kafkarpc.wire.headers import RequestRouting, build_headers

__all__ = ["main"]

_TRIO = TopicTrio.from_base("hotpath.echo")
_BATCH = 100
_WARMUP = 500


class _Loopback(Transport):
    """Settles every record produced during one loop iteration in one go."""

    def __init__(self) -> None:
        self._outbox: list[tuple[OutboundRecord, DeliveryCallback]] = []
        self.on_reply_batch: RecordBatchHandler | None = None
        self.on_request_batch: RecordBatchHandler | None = None
        self.produced = 0
        self.idle = asyncio.Event()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    def produce(self, record: OutboundRecord, on_delivery: DeliveryCallback) -> None:
        self._outbox.append((record, on_delivery))
        if len(self._outbox) == 1:
            self._loop.call_soon(self._release)

    def _release(self) -> None:
        batch, self._outbox = self._outbox, []
        self.produced += len(batch)
        self.settle([record for record, _ in batch])
        for record, on_delivery in batch:
            on_delivery(None, record)

    def settle(self, records: list[OutboundRecord]) -> None:
        """What the far side does with what was produced."""

    async def flush(self, timeout: float) -> None:
        return None

    async def ensure_topics(self, topics: Sequence[str], *, partitions: int = 3) -> None:
        return None

    async def partition_count(self, topic: str) -> int:
        return 4

    async def reply_consumer(self, on_batch: RecordBatchHandler) -> ReplyConsumer:
        self.on_reply_batch = on_batch
        return _NoReplyConsumer()

    async def group_consumer(
        self,
        topics: Sequence[str],
        *,
        group_id: str,
        on_batch: RecordBatchHandler,
        max_in_flight: int,
    ) -> GroupConsumer:
        self.on_request_batch = on_batch
        return _FedGroupConsumer(self)

    async def aclose(self) -> None:
        return None


class _NoReplyConsumer(ReplyConsumer):
    async def assign(self, topics: Sequence[str], *, partition: int | None = None) -> None:
        return None

    async def aclose(self) -> None:
        return None


class _FedGroupConsumer(GroupConsumer):
    def __init__(self, transport: _Loopback) -> None:
        self._transport = transport
        self.acked = 0

    def ack(self, record: InboundRecord) -> None:
        self.acked += 1

    async def stop_fetching(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class _ClientSide(_Loopback):
    """Answers each request with a reply envelope, as a responder on the far side would."""

    _PLACEHOLDER = "00000000-0000-4000-8000-000000000000"

    def __init__(self) -> None:
        super().__init__()
        # One canned reply; each answer only swaps in its correlation id, so the
        # far side costs next to nothing next to the side being measured.
        message = new_message(
            event_type="HOTPATH_ECHO_COMPLETED",
            correlation_id=self._PLACEHOLDER,
            service="far-side",
            payload={"echo": "y" * 200},
        )
        self._value = message.value
        self._headers = build_headers(message)

    def settle(self, records: list[OutboundRecord]) -> None:
        assert self.on_reply_batch is not None
        placeholder = self._PLACEHOLDER.encode()
        replies = []
        for offset, request in enumerate(records):
            correlation_id = next(v for k, v in request.headers if k == "correlation_id")
            replies.append(
                InboundRecord(
                    topic=_TRIO.completed,
                    partition=0,
                    offset=offset,
                    key=request.key,
                    value=self._value.replace(placeholder, correlation_id),
                    headers=[
                        (k, correlation_id if k == "correlation_id" else v)
                        for k, v in self._headers
                    ],
                )
            )
        self._loop.call_soon(self.on_reply_batch, replies)


def _requests(count: int) -> list[InboundRecord]:
    """Requests as a kafkarpc client sends them (every header set), each with its own id."""
    placeholder = "00000000-0000-4000-8000-000000000000"
    message = new_message(
        event_type="HOTPATH_ECHO_REQUESTED",
        correlation_id=placeholder,
        service="far-side",
        payload={"x": "y" * 200},
    )
    routing = RequestRouting(
        reply_to=_TRIO.completed,
        deadline_ms=int((time.time() + 3600) * 1000),
        idempotency_key=placeholder,
        retry_count=0,
        max_retries=0,
        ttl_seconds=3600,
    )
    headers = build_headers(message, routing=routing)
    records = []
    for offset in range(count):
        correlation_id = new_uuid().encode()
        records.append(
            InboundRecord(
                topic=_TRIO.requested,
                partition=offset % 4,
                offset=offset // 4,
                key=correlation_id,
                value=message.value.replace(placeholder.encode(), correlation_id),
                headers=[(k, v.replace(placeholder.encode(), correlation_id)) for k, v in headers],
            )
        )
    return records


class _ServerSide(_Loopback):
    """Feeds prepared requests in batches, the next batch once replies come back."""

    def __init__(self, requests: list[InboundRecord], window: int) -> None:
        super().__init__()
        self._requests = requests
        self._next = 0
        self._window = window
        self._answered = 0
        self.finished = asyncio.Event()

    def feed(self) -> None:
        assert self.on_request_batch is not None
        while self._next - self._answered < self._window and self._next < len(self._requests):
            batch = self._requests[self._next : self._next + _BATCH]
            self._next += len(batch)
            self.on_request_batch(batch)

    def settle(self, records: list[OutboundRecord]) -> None:
        self._answered += len(records)
        if self._answered >= len(self._requests):
            self.finished.set()
        else:
            self.feed()


@dataclass(frozen=True, slots=True)
class Result:
    side: str
    best_us: float
    median_us: float


def _timed(rounds: list[float]) -> tuple[float, float]:
    return min(rounds), statistics.median(rounds)


async def _client_rounds(requests: int, load: int, reps: int) -> list[float]:
    transport = _ClientSide()
    rounds = []
    # A generous timeout: under callgrind on a busy machine a round of 256 calls
    # can outlast the default 5 s; the value does not change the path measured.
    async with RpcClient(transport=transport, service="hotpath-client", timeout=300.0) as client:
        for _ in range(_WARMUP):
            await client.request(_TRIO, {"x": "y" * 200})
        for _ in range(reps):
            remaining = requests

            async def caller() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    await client.request(_TRIO, {"x": "y" * 200})

            gc.collect()
            start = time.process_time()
            await asyncio.gather(*(caller() for _ in range(load)))
            rounds.append(1e6 * (time.process_time() - start) / requests)
    return rounds


async def _echo(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


async def _server_rounds(requests: int, load: int, reps: int) -> list[float]:
    rounds = []
    for size in [_WARMUP, *[requests] * reps]:
        batch = _requests(size)
        transport = _ServerSide(batch, window=load)
        server = RpcServer(transport=transport, service="hotpath-responder")
        server.add_responder(_TRIO, _echo)
        async with server:
            gc.collect()
            start = time.process_time()
            transport.feed()
            await transport.finished.wait()
            rounds.append(1e6 * (time.process_time() - start) / size)
    return rounds[1:]


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.hotpath",
        description="kafkarpc's own CPU per request, client and responder apart.",
    )
    parser.add_argument("--requests", type=int, default=20_000, help="requests per round")
    parser.add_argument("--load", type=int, default=256, help="requests in flight")
    parser.add_argument("--reps", type=int, default=5, help="measured rounds per side")
    parser.add_argument(
        "--side", choices=("client", "responder", "both"), default="both", help="what to measure"
    )
    args = parser.parse_args(argv)
    if args.requests <= 0 or args.load <= 0 or args.reps <= 0:
        parser.error("--requests, --load and --reps must be positive")
    return args


def measure(requests: int, load: int, reps: int, side: str = "both") -> list[Result]:
    sides: list[tuple[str, Callable[[int, int, int], Any]]] = [
        ("client", _client_rounds),
        ("responder", _server_rounds),
    ]
    results = []
    for name, rounds_of in sides:
        if side not in ("both", name):
            continue
        best, median = _timed(asyncio.run(rounds_of(requests, load, reps)))
        results.append(Result(name, best, median))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    print(f"{args.requests} requests x {args.reps} rounds, {args.load} in flight")
    for result in measure(args.requests, args.load, args.reps, args.side):
        print(
            f"{result.side:>9}: {result.best_us:6.1f} us/request best, "
            f"{result.median_us:6.1f} median"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
