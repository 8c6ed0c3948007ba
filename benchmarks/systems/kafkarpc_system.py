"""The system under test: kafkarpc's RpcClient against kafkarpc's RpcServer.

Both sides run with the library's defaults, except the responder group's
session timeout, lowered to what the raw responder uses so that the group join
(Tansu holds it for about half the session timeout) costs the same start-up
time. ``--kafkarpc-config KEY=VALUE`` adds librdkafka overrides to both sides.
"""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks.aio import run_closed_loop
from benchmarks.kafka import TopicSet
from benchmarks.protocol import ClientLink, ClientSpec, ResponderLink, ResponderSpec
from benchmarks.tracker import LoadTracker, Samples
from kafkarpc import ExactlyOnce, RpcClient, RpcServer, TopicTrio

__all__ = ["echo_trios", "run_client", "serve", "serve_with"]

_RESPONDER_CONFIG = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


def echo_trios(topics: TopicSet) -> list[TopicTrio]:
    # The same names and event types the raw and handrolled systems use; several
    # with ``OperationTopics`` (one server serving N operations, a client calling all).
    return [TopicTrio.from_base(route.base, event_prefix="BENCH_ECHO") for route in topics.routes()]


async def serve_with(
    spec: ResponderSpec, link: ResponderLink, *, exactly_once: ExactlyOnce | None = None
) -> int:
    """Serve the echo operation until told to stop; the number of requests answered."""
    handled = 0

    async def echo(payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal handled
        handled += 1
        return payload

    server = RpcServer(
        spec.bootstrap,
        service=spec.service,
        group_id=spec.group_id,
        config={**_RESPONDER_CONFIG, **spec.extra_config},
        exactly_once=exactly_once,
    )
    for trio in echo_trios(spec.topics):
        server.add_responder(trio, echo)
    # Entering returns once the group join produced an assignment of every topic.
    async with server:
        link.ready()
        await asyncio.to_thread(link.wait_for_stop)
    return handled


def serve(spec: ResponderSpec, link: ResponderLink) -> int:
    return asyncio.run(serve_with(spec, link))


async def _run(spec: ClientSpec, link: ClientLink) -> Samples:
    trios = echo_trios(spec.topics)
    count = len(trios)
    async with RpcClient(
        spec.bootstrap,
        service=spec.service,
        timeout=spec.workload.timeout_s,
        config=dict(spec.extra_config) or None,
    ) as client:
        # The reply topics are assigned on the first request of the operation;
        # the warm-up (at least one round of every operation) pays for that.
        await asyncio.to_thread(link.ready)
        tracker = LoadTracker(spec.workload, link.progress)

        def call(payload: dict[str, Any]) -> Any:
            return client.request(trios[payload["seq"] % count], payload)

        await run_closed_loop(call, tracker)
        return tracker.samples()


def run_client(spec: ClientSpec, link: ClientLink) -> Samples:
    return asyncio.run(_run(spec, link))
