"""kafkarpc's conversations next to its single call: a stream's items and a gather's replies.

One process holds the client and the responders (three groups for the gather), so
the three figures share the same CPU and broker and compare with each other, not
with the closed-loop levels of the main benchmark (separate processes):

* ``single_call`` - sequential ``request`` calls: p50/p95 latency and calls/s;
* ``stream`` - streams of ``stream_items`` items: time to the first item, the whole
  stream, and items/s (every item is one record on the broker);
* ``gather`` - sequential ``gather(expect=3)`` calls answered by three groups: p50/p95
  latency until the third reply, and gathers/s.

Run on its own: ``python -m benchmarks.conversations [--bootstrap HOST:PORT]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import anyio

from kafkarpc import RpcClient, RpcServer, Topics

__all__ = ["ConversationSizes", "format_conversations", "measure_conversations"]

_FAST_GROUPS = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}
_GROUPS = ("alpha", "beta", "gamma")


@dataclass(frozen=True, slots=True)
class ConversationSizes:
    calls: int = 200
    """Single calls, and gathers, measured (after ``warmup`` of each)."""
    streams: int = 5
    stream_items: int = 1000
    warmup: int = 20
    timeout_s: float = 30.0


def _percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _latencies(samples_s: Sequence[float], total_s: float, unit: str) -> dict[str, float]:
    return {
        "p50_ms": round(1000 * statistics.median(samples_s), 3),
        "p95_ms": round(1000 * _percentile(samples_s, 0.95), 3),
        f"{unit}_per_s": round(len(samples_s) / total_s, 1),
    }


async def _echo(payload: dict[str, Any], group: str) -> dict[str, Any]:
    return {"by": group, **payload}


async def _items(payload: dict[str, int]) -> AsyncIterator[dict[str, int]]:
    for n in range(payload["n"]):
        yield {"i": n}


async def _timed(
    call: Callable[[int], Awaitable[object]], warmup: int, measured: int
) -> tuple[list[float], float]:
    for index in range(warmup):
        await call(index)
    samples: list[float] = []
    started = time.perf_counter()
    for index in range(measured):
        sent = time.perf_counter()
        await call(index)
        samples.append(time.perf_counter() - sent)
    return samples, time.perf_counter() - started


async def _run(bootstrap: str, sizes: ConversationSizes) -> dict[str, Any]:
    base = f"bench.conv.{uuid.uuid4().hex[:8]}"
    single, gathered, streamed = f"{base}.single", f"{base}.gather", f"{base}.stream"
    topics = Topics(create=True, partitions=3)
    async with AsyncExitStack() as stack:
        for group in _GROUPS:
            server = RpcServer(
                bootstrap, service=group, group_id=f"{base}-{group}", topics=topics,
                config=_FAST_GROUPS,
            )  # fmt: skip
            server.add_responder(gathered, partial(_echo, group=group))
            if group == _GROUPS[0]:
                server.add_responder(single, partial(_echo, group=group))
                server.add_responder(streamed, _items)
            await stack.enter_async_context(server)
        client = await stack.enter_async_context(
            RpcClient(bootstrap, service="bench-conversations", topics=topics)
        )
        timeout = sizes.timeout_s

        async def call(index: int) -> object:
            return await client.request(single, {"seq": index}, timeout=timeout)

        async def gather(index: int) -> object:
            result = await client.gather(gathered, {"seq": index}, expect=3, timeout=timeout)
            if not result.complete:
                raise RuntimeError(f"gather {index} got {len(result)} of 3 replies")
            return result

        firsts: list[float] = []

        async def stream(index: int) -> object:
            sent, count = time.perf_counter(), 0
            async for _ in client.stream(streamed, {"n": sizes.stream_items}, timeout=timeout):
                if not count:
                    firsts.append(time.perf_counter() - sent)
                count += 1
            if count != sizes.stream_items:
                raise RuntimeError(f"stream {index} got {count} of {sizes.stream_items} items")
            return count

        single_samples, single_s = await _timed(call, sizes.warmup, sizes.calls)
        gather_samples, gather_s = await _timed(gather, sizes.warmup, sizes.calls)
        firsts.clear()
        await stream(-1)  # warm-up
        firsts.clear()
        stream_samples, stream_s = await _timed(stream, 0, sizes.streams)
    return {
        "sizes": asdict(sizes),
        "single_call": _latencies(single_samples, single_s, "calls"),
        "gather": _latencies(gather_samples, gather_s, "gathers") | {"groups": len(_GROUPS)},
        "stream": {
            "items": sizes.stream_items,
            "first_item_p50_ms": round(1000 * statistics.median(firsts), 3),
            "stream_p50_ms": round(1000 * statistics.median(stream_samples), 3),
            "items_per_s": round(sizes.streams * sizes.stream_items / stream_s, 1),
        },
    }


def measure_conversations(bootstrap: str, sizes: ConversationSizes | None = None) -> dict[str, Any]:
    """The three figures, measured against the broker at ``bootstrap``."""
    return anyio.run(_run, bootstrap, sizes or ConversationSizes())


def format_conversations(figures: dict[str, Any]) -> str:
    single, gather, stream = figures["single_call"], figures["gather"], figures["stream"]
    first_item = f"stream of {stream['items']} items: first item"
    return "\n".join(
        [
            "conversations (one process, sequential)    p50 ms   p95 ms   per second",
            "-" * 72,
            f"{'single call':<40} {single['p50_ms']:>8.2f} {single['p95_ms']:>8.2f} "
            f"{single['calls_per_s']:>10.1f} calls",
            f"{'gather, 3 groups, until the 3rd reply':<40} {gather['p50_ms']:>8.2f} "
            f"{gather['p95_ms']:>8.2f} {gather['gathers_per_s']:>10.1f} gathers",
            f"{first_item:<40} "
            f"{stream['first_item_p50_ms']:>8.2f} {'-':>8} {stream['items_per_s']:>10.1f} items",
            f"{'stream: whole stream':<40} {stream['stream_p50_ms']:>8.2f}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bootstrap", help="a running broker (default: an embedded one)")
    defaults = ConversationSizes()
    parser.add_argument("--calls", type=int, default=defaults.calls)
    parser.add_argument("--stream-items", type=int, default=defaults.stream_items)
    args = parser.parse_args(argv)
    sizes = ConversationSizes(calls=args.calls, stream_items=args.stream_items)
    from benchmarks.session import broker

    with broker(args.bootstrap) as info:
        figures = measure_conversations(info.bootstrap, sizes)
    print(format_conversations(figures))
    json.dump(figures, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
