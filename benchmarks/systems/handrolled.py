"""The pattern the reference documents describe, written the way they write it.

An AIOKafkaProducer publishes each request with ``send_and_wait``; a background
task iterates a consumer of the completed and failed topics and resolves the
asyncio future stored under the reply's ``correlation_id``; the caller waits
with ``asyncio.wait_for``. The one deviation from the documents: the reply
consumer is assigned by hand from the end instead of joining a group, so its
start-up is not part of what is compared.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from benchmarks.aio import run_closed_loop
from benchmarks.envelope import encode_request
from benchmarks.kafka import FETCH_WAIT_MS
from benchmarks.protocol import ClientLink, ClientSpec
from benchmarks.tracker import LoadTracker, Samples

__all__ = ["HandrolledClient", "run_client"]


class RemoteError(Exception):
    """The responder answered on the failed topic."""


class HandrolledClient:
    def __init__(self, spec: ClientSpec) -> None:
        self._spec = spec
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._producer = AIOKafkaProducer(bootstrap_servers=spec.bootstrap, acks="all", linger_ms=0)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=spec.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=FETCH_WAIT_MS,
        )
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._producer.start()
        await self._consumer.start()
        topics = self._spec.topics
        partitions = [
            TopicPartition(topic, p)
            for topic in (topics.completed, topics.failed)
            for p in range(topics.partitions)
        ]
        self._consumer.assign(partitions)
        for partition, offset in (await self._consumer.end_offsets(partitions)).items():
            self._consumer.seek(partition, offset)
        self._reader = asyncio.create_task(self._read_replies())

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._consumer.stop()
        await self._producer.stop()

    async def _read_replies(self) -> None:
        failed_topic = self._spec.topics.failed
        async for message in self._consumer:
            if message.value is None:
                continue
            envelope = json.loads(message.value)
            future = self._pending.pop(envelope.get("correlation_id", ""), None)
            if future is None or future.done():
                continue
            if message.topic == failed_topic:
                future.set_exception(RemoteError(envelope.get("payload")))
            else:
                future.set_result(envelope.get("payload", {}))

    async def request(self, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        correlation_id = str(uuid.uuid4())
        # Registered before sending: a fast reply must find its future.
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        value, headers = encode_request(
            correlation_id, self._spec.service, payload, self._spec.topics.completed
        )
        try:
            await self._producer.send_and_wait(
                self._spec.topics.requested,
                value=value,
                key=correlation_id.encode(),
                headers=headers,
            )
            return await asyncio.wait_for(future, timeout=timeout_s)
        finally:
            self._pending.pop(correlation_id, None)


async def _run(spec: ClientSpec, link: ClientLink) -> Samples:
    client = HandrolledClient(spec)
    await client.start()
    try:
        await asyncio.to_thread(link.ready)
        tracker = LoadTracker(spec.workload, link.progress)
        timeout_s = spec.workload.timeout_s
        await run_closed_loop(lambda payload: client.request(payload, timeout_s), tracker)
        return tracker.samples()
    finally:
        await client.stop()


def run_client(spec: ClientSpec, link: ClientLink) -> Samples:
    return asyncio.run(_run(spec, link))
