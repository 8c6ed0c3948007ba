"""Memory over a long run: kafkarpc's client resident set, sampled as requests go by.

``python -m benchmarks.soak`` (from the root of a clone)
sends ``--requests`` calls (default 100,000) through one ``RpcClient`` with
``--load`` in flight against an ``RpcServer`` in its own process, and reads the
client process's RSS every ``--every`` requests. The first sample is taken after
a warm-up, so imports, connection buffers and librdkafka's queues are already
paid for; what the run reports is the growth after that. It prints one line per
sample, a verdict line, and writes a JSON file next to the benchmark results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import child
from benchmarks.config import DEFAULT_OUT
from benchmarks.kafka import TopicAdmin, fresh_topics
from benchmarks.level import reap, receive
from benchmarks.memory import current_rss_mb
from benchmarks.protocol import ResponderSpec
from benchmarks.session import SetupError, broker
from benchmarks.systems.kafkarpc_system import echo_trios
from kafkarpc import RpcClient

__all__ = ["main"]

_READY_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 45.0


@dataclass(frozen=True, slots=True)
class Sample:
    requests: int
    rss_mb: float
    window_rps: float


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak", description="kafkarpc client memory over a long run."
    )
    parser.add_argument("--bootstrap", help="broker to use (default: start an embedded Tansu)")
    parser.add_argument("--requests", type=int, default=100_000, help="measured requests")
    parser.add_argument("--warmup", type=int, default=5_000, help="requests before sampling")
    parser.add_argument("--every", type=int, default=10_000, help="requests between samples")
    parser.add_argument("--load", type=int, default=256, help="requests in flight")
    # Tansu lists every stored batch of a partition on each fetch; spreading a long
    # run over more partitions keeps its fetches from slowing down as the log grows.
    parser.add_argument("--partitions", type=int, default=16, help="partitions per topic")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for the JSON")
    args = parser.parse_args(argv)
    for name in ("requests", "every", "load", "partitions"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    return args


async def _drive(bootstrap: str, args: argparse.Namespace, spec: ResponderSpec) -> list[Sample]:
    (trio,) = echo_trios(spec.topics)
    total = args.warmup + args.requests
    issued = 0
    done = 0
    samples: list[Sample] = []
    window_started = time.perf_counter()
    window_done = 0
    next_sample = args.warmup

    async with RpcClient(bootstrap, service="bench-soak", timeout=30.0) as client:

        async def worker() -> None:
            nonlocal issued, done, window_started, window_done, next_sample
            while issued < total:
                issued += 1
                await client.request(trio, {"seq": issued, "blob": "x" * 200})
                done += 1
                if done >= next_sample:
                    now = time.perf_counter()
                    rps = (done - window_done) / max(now - window_started, 1e-9)
                    rss = current_rss_mb() or 0.0
                    samples.append(Sample(done - args.warmup, round(rss, 1), round(rps)))
                    print(f"{done - args.warmup:>9,} requests  RSS {rss:7.1f} MB  {rps:7.0f} req/s")
                    window_started, window_done = now, done
                    next_sample += args.every

        async with asyncio.TaskGroup() as group:
            for _ in range(args.load):
                group.create_task(worker())
        if client.pending_count:
            raise RuntimeError(f"{client.pending_count} calls still pending after the run")
    return samples


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    try:
        with broker(args.bootstrap) as broker_info:
            bootstrap = broker_info.bootstrap
            admin = TopicAdmin(bootstrap)
            topics = fresh_topics("soak", args.load, args.partitions)
            admin.create(topics)
            spec = ResponderSpec(bootstrap, topics, group_id=f"soak-{uuid.uuid4().hex[:10]}")
            ctx = multiprocessing.get_context("spawn")
            conn, child_end = ctx.Pipe()
            responder = ctx.Process(
                target=child.responder_main,
                args=("benchmarks.systems.kafkarpc_system", spec, child_end),
                daemon=True,
            )
            responder.start()
            child_end.close()
            try:
                receive(conn, "ready", "responder", _READY_TIMEOUT_S)
                samples = asyncio.run(_drive(bootstrap, args, spec))
                conn.send("stop")
                receive(conn, "stopped", "responder", _STOP_TIMEOUT_S)
            finally:
                conn.close()
                reap(responder)
                admin.delete(topics)
    except SetupError as exc:
        print(f"soak not run: {exc}", file=sys.stderr)
        return 2
    first, last = samples[0], samples[-1]
    growth = last.rss_mb - first.rss_mb
    print(
        f"\nclient RSS after warm-up {first.rss_mb:.1f} MB, after {last.requests:,} requests "
        f"{last.rss_mb:.1f} MB: growth {growth:+.1f} MB"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"soak-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_text(
        json.dumps(
            {
                "requests": args.requests,
                "warmup": args.warmup,
                "load": args.load,
                "partitions": args.partitions,
                "samples": [asdict(s) for s in samples],
                "growth_mb": round(growth, 1),
            },
            indent=2,
        )
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
