"""The operations curve's probe: a fresh client's first calls to every operation at once.

Each operation's first call positions the client on its reply topics; a client
that calls many operations as soon as it starts (a gateway, say) makes all those
first calls together. The probe times them, in the harness process, against a
server of the curve's largest operation count: when the last one was answered,
the median, and how many failed within the timeout.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import Any

from benchmarks.kafka import OperationTopics, TopicAdmin
from benchmarks.systems.kafkarpc_system import echo_trios
from kafkarpc import RpcClient, RpcServer, TopicTrio

__all__ = ["probe_first_calls"]

_GROUP_CONFIG = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


async def _echo(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


async def _first_calls(bootstrap: str, trios: list[TopicTrio], timeout_s: float) -> dict[str, Any]:
    server = RpcServer(
        bootstrap,
        service="bench-first-calls",
        group_id=f"bench-first-{uuid.uuid4().hex[:10]}",
        config=_GROUP_CONFIG,
    )
    for trio in trios:
        server.add_responder(trio, _echo)
    async with server, RpcClient(bootstrap, service="bench-first-calls", timeout=timeout_s) as c:
        started = time.perf_counter()

        async def call(trio: TopicTrio) -> float:
            await c.request(trio, {"first": True})
            return time.perf_counter() - started

        outcomes = await asyncio.gather(*(call(trio) for trio in trios), return_exceptions=True)
    answered = sorted(o for o in outcomes if isinstance(o, float))
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    return {
        "operations": len(trios),
        "timeout_s": timeout_s,
        "answered": len(answered),
        "errors": len(failures),
        "first_error": f"{type(failures[0]).__name__}: {failures[0]}" if failures else None,
        "first_answered_s": round(answered[0], 3) if answered else None,
        "median_answered_s": round(statistics.median(answered), 3) if answered else None,
        "last_answered_s": round(answered[-1], 3) if answered else None,
    }


def probe_first_calls(
    bootstrap: str, admin: TopicAdmin, operations: int, *, timeout_s: float
) -> dict[str, Any]:
    """One client's first calls to ``operations`` operations of one server, all at once."""
    topics = OperationTopics(f"bench.ops.first.{uuid.uuid4().hex[:10]}", 1, operations)
    admin.create(topics)
    try:
        return asyncio.run(_first_calls(bootstrap, echo_trios(topics), timeout_s))
    finally:
        admin.delete(topics)
