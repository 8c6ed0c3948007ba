"""kafkarpc serving many operations: one RpcServer with N echo responders, one
RpcClient spreading its requests over all N round-robin.

Each operation is its own topic trio (``OperationTopics``), so a server of N
operations reads N request topics in one consumer group and the client reads
N pairs of reply topics. The settings are those of ``kafkarpc_system``: the
library's defaults, with the responder group's session timeout lowered the
same way so the group join costs the same start-up time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from benchmarks.aio import run_closed_loop
from benchmarks.kafka import TopicSet
from benchmarks.protocol import ClientLink, ClientSpec, ResponderLink, ResponderSpec
from benchmarks.tracker import LoadTracker, Samples
from kafkarpc import RpcClient, RpcServer, TopicTrio

__all__ = ["OperationTopics", "run_client", "serve"]

_RESPONDER_CONFIG = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


@dataclass(frozen=True, slots=True)
class OperationTopics(TopicSet):
    """The topic trios of ``operations`` operations, ``{base}.op{i}``, each with
    ``partitions`` partitions. ``names`` lists all of them, so ``TopicAdmin``
    creates and deletes every trio; ``requested`` and friends are operation 0's."""

    operations: int = 1

    def operation(self, index: int) -> TopicSet:
        return TopicSet(f"{self.base}.op{index:03d}", self.partitions)

    @property
    def requested(self) -> str:
        return self.operation(0).requested

    @property
    def completed(self) -> str:
        return self.operation(0).completed

    @property
    def failed(self) -> str:
        return self.operation(0).failed

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for i in range(self.operations) for name in self.operation(i).names)

    def trios(self) -> list[TopicTrio]:
        # The same event types as the other systems' echo operation.
        return [
            TopicTrio.from_base(self.operation(i).base, event_prefix="BENCH_ECHO")
            for i in range(self.operations)
        ]


def _operation_topics(topics: TopicSet) -> OperationTopics:
    if not isinstance(topics, OperationTopics):
        raise TypeError(f"kafkarpc_multi needs OperationTopics, got {type(topics).__name__}")
    return topics


async def _serve(spec: ResponderSpec, link: ResponderLink) -> int:
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
    )
    for trio in _operation_topics(spec.topics).trios():
        server.add_responder(trio, echo)
    # Entering returns once the group join produced an assignment of every topic.
    async with server:
        link.ready()
        await asyncio.to_thread(link.wait_for_stop)
    return handled


def serve(spec: ResponderSpec, link: ResponderLink) -> int:
    return asyncio.run(_serve(spec, link))


async def _run(spec: ClientSpec, link: ClientLink) -> Samples:
    trios = _operation_topics(spec.topics).trios()
    count = len(trios)
    async with RpcClient(
        spec.bootstrap,
        service=spec.service,
        timeout=spec.workload.timeout_s,
        config=dict(spec.extra_config) or None,
    ) as client:
        await asyncio.to_thread(link.ready)
        tracker = LoadTracker(spec.workload, link.progress)

        def call(payload: dict[str, Any]) -> Any:
            # Round-robin by request index: the warm-up (at least one round of
            # every operation) pays for positioning each operation's reply reader.
            return client.request(trios[payload["seq"] % count], payload)

        await run_closed_loop(call, tracker)
        return tracker.samples()


def run_client(spec: ClientSpec, link: ClientLink) -> Samples:
    return asyncio.run(_run(spec, link))
