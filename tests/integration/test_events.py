"""Events on the broker: dotted event types, catalogs and their fan-out."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Awaitable, Callable

import anyio
import pytest

from kafkarpc import (
    CallRetry,
    DlqReason,
    Envelope,
    EventCatalog,
    EventRegistration,
    EventTarget,
    RpcClient,
    RpcServer,
    TopicPrefix,
    Topics,
    decode_envelope,
    ensure_topics,
    inspect_dlq,
    onex_topic,
    redacted_preview,
)
from kafkarpc.transport import InboundRecord

pytestmark = pytest.mark.anyio

Records = Callable[[str], Awaitable[list[InboundRecord]]]


async def test_publish_stores_a_dotted_lower_case_event_type(
    kafkarpc_broker: str, client: RpcClient, unique_topic_base: str, topic_records: Records
) -> None:
    topic = f"{unique_topic_base}.validate.v1"
    await ensure_topics(kafkarpc_broker, [topic], partitions=1)
    await client.publish(topic, {"file": "a.py"}, event_type="omninode.codegen.request.validate.v1")
    (record,) = await topic_records(topic)
    assert decode_envelope(record.value).event_type == "omninode.codegen.request.validate.v1"


def adr_001_catalog(suffix: str) -> tuple[EventCatalog, dict[str, str]]:
    """ADR-001's two fan-out events, on topics of this test's own (owner names carry
    ``suffix``, so every test has fresh topics)."""
    topics = {
        "prompt_cmd": onex_topic("cmd", f"omniintelligence-{suffix}", "claude-hook-event"),
        "prompt_evt": onex_topic("evt", f"omniclaude-{suffix}", "prompt-submitted"),
        "outcome_cmd": onex_topic("cmd", f"omniintelligence-{suffix}", "session-outcome"),
        "outcome_evt": onex_topic("evt", f"omniclaude-{suffix}", "session-outcome"),
    }
    catalog = EventCatalog(
        [
            EventRegistration(
                "prompt.submitted",
                (
                    EventTarget(topics["prompt_cmd"], description="intelligence: full prompt"),
                    EventTarget(
                        topics["prompt_evt"],
                        transform=redacted_preview("prompt", limit=100),
                        description="observability: sanitized preview",
                    ),
                ),
                partition_key="session_id",
                required=("session_id", "prompt"),
            ),
            EventRegistration(
                "session.outcome",
                (EventTarget(topics["outcome_cmd"]), EventTarget(topics["outcome_evt"])),
                partition_key="session_id",
                required=("session_id", "outcome"),
            ),
        ]
    )
    return catalog, topics


SECRET_PROMPT = "deploy with api_key=sk-live-0123456789abcdefghij please; " + "x" * 200


async def test_the_adr_001_fan_out_events_land_on_both_topics(
    kafkarpc_broker: str,
    make_client: Callable[..., RpcClient],
    unique_topic_base: str,
    topic_records: Records,
) -> None:
    catalog, topics = adr_001_catalog(unique_topic_base.rsplit(".", 1)[1])
    await ensure_topics(kafkarpc_broker, list(topics.values()), partitions=1)
    prompt = {"session_id": "session-7", "prompt": SECRET_PROMPT}
    outcome = {"session_id": "session-7", "outcome": "success"}
    async with make_client(events=catalog) as client:
        submitted = await client.emit("prompt.submitted", prompt)
        finished = await client.emit("session.outcome", outcome)
    assert submitted.ok and finished.ok
    assert [t.topic for t in submitted.targets] == [topics["prompt_cmd"], topics["prompt_evt"]]

    async def only(topic: str) -> tuple[bytes | None, Envelope]:
        (record,) = await topic_records(topic)
        return record.key, decode_envelope(record.value)

    key, full = await only(topics["prompt_cmd"])
    assert key == b"session-7"
    assert full.payload == prompt
    assert full.event_type == "prompt.submitted"
    key, preview = await only(topics["prompt_evt"])
    assert key == b"session-7"
    assert len(preview.payload["prompt"]) <= 100
    assert "sk-live" not in preview.payload["prompt"]
    assert "[REDACTED]" in preview.payload["prompt"]
    assert preview.payload["prompt_truncated"] is True
    assert preview.payload["session_id"] == "session-7"
    # One event, two copies: one correlation id, an event id each.
    assert full.correlation_id == preview.correlation_id == submitted.correlation_id
    assert {full.event_id, preview.event_id} == {t.event_id for t in submitted.targets}
    for topic in (topics["outcome_cmd"], topics["outcome_evt"]):
        key, copy = await only(topic)
        assert key == b"session-7"
        assert copy.payload == outcome


async def test_a_missing_target_topic_parks_that_copy_and_stores_the_other(
    kafkarpc_broker: str,
    make_client: Callable[..., RpcClient],
    unique_topic_base: str,
    topic_records: Records,
) -> None:
    catalog, topics = adr_001_catalog(unique_topic_base.rsplit(".", 1)[1])
    missing = topics["prompt_cmd"]
    # The intelligence topic does not exist; its dead-letter topic does.
    await ensure_topics(kafkarpc_broker, [topics["prompt_evt"], f"{missing}.dlq"], partitions=1)
    prompt = {"session_id": "session-8", "prompt": "short and harmless"}
    retry = CallRetry(max_attempts=2, initial_delay=0.01, jitter=0)
    # Tansu creates a topic a producer asks about unless the producer says not to;
    # librdkafka gives a missing topic this long to appear before failing the copy.
    no_auto_create = {"allow.auto.create.topics": False, "topic.metadata.propagation.max.ms": 1000}
    async with make_client(events=catalog, config=no_auto_create) as client:
        result = await client.emit("prompt.submitted", prompt, retry=retry, timeout=15)
    assert not result.ok
    failed, stored = result[missing], result[topics["prompt_evt"]]
    assert (failed.stored, failed.attempts) == (False, 2)
    assert failed.dead_letter_topic == f"{missing}.dlq"
    assert failed.error is not None and missing in failed.error
    assert stored.stored and stored.dead_letter_topic is None
    assert result.failed == (failed,)
    (record,) = await topic_records(topics["prompt_evt"])
    assert decode_envelope(record.value).payload["prompt"] == "short and harmless"
    (letter,) = await inspect_dlq(kafkarpc_broker, f"{missing}.dlq")
    assert letter.original_topic == missing
    assert letter.reason == DlqReason.PUBLISH_FAILED
    assert letter.envelope is not None and letter.envelope.payload == prompt
    assert letter.envelope.event_id == failed.event_id


async def test_a_prefixed_server_and_client_meet_on_prefixed_topics(
    make_client: Callable[..., RpcClient],
    make_server: Callable[..., RpcServer],
    unique_topic_base: str,
    topic_records: Records,
) -> None:
    naming = TopicPrefix(f"env{unique_topic_base.rsplit('.', 1)[1]}", "payments")
    topics = Topics(create=True, naming=naming)
    server = make_server(topics=topics)

    @server.responder("charge")
    async def charge(payload: dict[str, int]) -> dict[str, int]:
        return {"cents": payload["cents"]}

    async with server, make_client(topics=topics) as client:
        assert await client.request("charge", {"cents": 5}, timeout=20) == {"cents": 5}
    requested = f"{naming.environment}.payments.charge.requested.v1"
    assert list(server.responders) == [requested]
    (record,) = await topic_records(requested)
    assert decode_envelope(record.value).payload == {"cents": 5}


async def test_kafkarpc_call_with_a_topic_prefix_reaches_a_prefixed_server(
    kafkarpc_broker: str, make_server: Callable[..., RpcServer], unique_topic_base: str
) -> None:
    environment = f"env{unique_topic_base.rsplit('.', 1)[1]}"
    server = make_server(topics=Topics(create=True, naming=TopicPrefix(environment, "cli")))

    @server.responder("shop.quote")
    async def quote(payload: dict[str, int]) -> dict[str, int]:
        return {"total": payload["n"] * 2}

    command = [sys.executable, "-m", "kafkarpc", "call", "shop.quote", '{"n": 21}']
    command += ["--bootstrap", kafkarpc_broker, "--topic-prefix", f"{environment}.cli"]
    async with server:
        result = await anyio.to_thread.run_sync(
            lambda: subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"total": 42}
