"""Event catalogs (pure): declaring events, planning their copies, ONEX names, redaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from pydantic import BaseModel

from kafkarpc import (
    CallRetry,
    ConfigurationError,
    EventCatalog,
    EventRegistration,
    EventTarget,
    InvalidTopicName,
    MemoryBroker,
    MemoryTransport,
    OnexTopic,
    PayloadError,
    SyncClient,
    decode_envelope,
    mask_secrets,
    onex_topic,
    redacted_preview,
)

if TYPE_CHECKING:
    from tests.unit.conftest import MemoryRpc

CMD = "onex.cmd.omniintelligence.claude-hook-event.v1"
EVT = "onex.evt.omniclaude.prompt-submitted.v1"


def prompt_catalog() -> EventCatalog:
    return EventCatalog(
        [
            EventRegistration(
                "prompt.submitted",
                (EventTarget(CMD), EventTarget(EVT, transform=redacted_preview("prompt"))),
                partition_key="session_id",
                required=("session_id", "prompt"),
            )
        ]
    )


def test_a_plan_has_a_copy_per_target_transformed_and_keyed_alike() -> None:
    payload = {"session_id": "s-1", "prompt": "p" * 150}
    full, preview = prompt_catalog().plan("prompt.submitted", payload)
    assert (full.topic, full.payload, full.key) == (CMD, payload, "s-1")
    assert (preview.topic, preview.key) == (EVT, "s-1")
    assert preview.payload["prompt"] == "p" * 100
    assert preview.payload["prompt_length"] == 150
    assert payload == {"session_id": "s-1", "prompt": "p" * 150}  # untouched


def test_a_transform_gets_its_own_copy() -> None:
    def meddle(payload: Any) -> dict[str, Any]:
        payload["nested"]["x"] = 2
        return dict(payload)

    catalog = EventCatalog(
        [EventRegistration("a.b", (EventTarget("t1", meddle), EventTarget("t2")))]
    )
    first, second = catalog.plan("a.b", {"nested": {"x": 1}})
    assert first.payload == {"nested": {"x": 2}}
    assert second.payload == {"nested": {"x": 1}}


def test_a_pydantic_payload_is_planned_as_its_json_shape() -> None:
    class Outcome(BaseModel):
        session_id: str
        outcome: str

    catalog = EventCatalog(
        [EventRegistration("session.outcome", (EventTarget("t"),), partition_key="session_id")]
    )
    (copy,) = catalog.plan("session.outcome", Outcome(session_id="s", outcome="ok"))
    assert (copy.payload, copy.key) == ({"session_id": "s", "outcome": "ok"}, "s")


def test_without_the_key_field_the_copies_are_not_keyed() -> None:
    catalog = EventCatalog([EventRegistration("a.b", (EventTarget("t"),), partition_key="k")])
    (copy,) = catalog.plan("a.b", {"other": 1})
    assert copy.key is None


def test_bad_input_is_refused_before_anything_is_planned() -> None:
    catalog = prompt_catalog()
    with pytest.raises(ConfigurationError, match="not in the catalog"):
        catalog.plan("prompt.unknown", {})
    with pytest.raises(PayloadError, match=r"missing required fields \['prompt'\]"):
        catalog.plan("prompt.submitted", {"session_id": "s"})

    def broken(payload: Any) -> dict[str, Any]:
        raise KeyError("gone")

    failing = EventCatalog([EventRegistration("a.b", (EventTarget("t", broken),))])
    with pytest.raises(PayloadError, match="transform for t failed"):
        failing.plan("a.b", {})


def test_declarations_are_checked_when_made() -> None:
    with pytest.raises(ConfigurationError, match="event_type"):
        EventRegistration("Not An Event", (EventTarget("t"),))
    with pytest.raises(ConfigurationError, match="at least one target"):
        EventRegistration("a.b", ())
    with pytest.raises(ConfigurationError, match="names a topic twice"):
        EventRegistration("a.b", (EventTarget("t"), EventTarget("t")))
    with pytest.raises(ConfigurationError, match="registered twice"):
        EventCatalog([EventRegistration("a.b", (EventTarget("t"),))] * 2)
    with pytest.raises(InvalidTopicName):
        EventTarget("bad topic")
    with pytest.raises(InvalidTopicName, match="not an ONEX topic"):
        EventTarget("onex.event.omniclaude.prompt-submitted.v1")  # claims ONEX, breaks it


def test_a_catalog_lists_its_event_types_and_topics() -> None:
    catalog = prompt_catalog()
    assert list(catalog) == ["prompt.submitted"] and len(catalog) == 1
    assert "prompt.submitted" in catalog
    assert catalog.topics == (CMD, EVT)


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        (CMD, ("cmd", "omniintelligence", "claude-hook-event", 1)),
        ("onex.evt.omniclaude.routing-decision.v12", ("evt", "omniclaude", "routing-decision", 12)),
    ],
)
def test_onex_names_parse_into_their_parts_and_back(
    name: str, parts: tuple[str, str, str, int]
) -> None:
    topic = OnexTopic.parse(name)
    assert (topic.kind, topic.owner, topic.event, topic.version) == parts
    assert str(topic) == name
    assert onex_topic(topic.kind, parts[1], parts[2], parts[3]) == name


@pytest.mark.parametrize(
    "name",
    [
        "onex.event.omniclaude.x.v1",  # kind is cmd or evt
        "onex.evt.OmniClaude.x.v1",  # lower-case
        "onex.evt.omniclaude.prompt_submitted.v1",  # words joined by '-'
        "onex.evt.omniclaude.x",  # no version
        "onex.evt.omniclaude.x.v0",
        "dev.onex.evt.omniclaude.x.v1",  # realm-agnostic: no prefix
        "onex.evt.omniclaude.x.y.v1",
    ],
)
def test_names_breaking_the_onex_convention_are_refused(name: str) -> None:
    with pytest.raises(InvalidTopicName):
        OnexTopic.parse(name)


def test_onex_parts_are_checked_when_built() -> None:
    with pytest.raises(InvalidTopicName, match="kind"):
        onex_topic("dlq", "a", "b")  # type: ignore[arg-type]
    with pytest.raises(InvalidTopicName, match="owner"):
        onex_topic("evt", "Omni", "b")
    with pytest.raises(InvalidTopicName, match="version"):
        onex_topic("evt", "a", "b", 0)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("my api_key=abc123XYZ done", "abc123XYZ"),
        ("password: hunter2", "hunter2"),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
        ("key sk-ant-0123456789abcdefghijkl here", "sk-ant-0123456789"),
        ("token ghp_0123456789abcdefghijABCDEFGHIJ", "ghp_0123456789"),
        ("slack xoxb-1234567890-abcdef", "xoxb-1234567890"),
        ("aws AKIAABCDEFGHIJKLMNOP", "AKIAABCDEFGHIJKLMNOP"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "MIIE"),
    ],
)
def test_secrets_are_masked(text: str, secret: str) -> None:
    masked = mask_secrets(text)
    assert secret not in masked
    assert "[REDACTED]" in masked


def test_ordinary_text_is_left_alone() -> None:
    text = "Refactor the parser; the token count is 12 and keys are sorted."
    assert mask_secrets(text) == text


def test_a_preview_is_masked_before_it_is_cut_and_never_ends_in_half_a_mask() -> None:
    preview = redacted_preview("prompt", limit=20)
    cut = preview({"prompt": "0123456789 password=hunter2 and more"})
    assert cut["prompt"] == "0123456789 password="  # "[REDACTED]" would not fit whole
    assert cut["prompt_truncated"] is True
    assert cut["prompt_length"] == 36
    short = preview({"prompt": "hi", "other": 1})
    assert short == {"prompt": "hi", "other": 1, "prompt_length": 2, "prompt_truncated": False}


def test_a_preview_may_keep_only_some_fields() -> None:
    preview = redacted_preview("prompt", limit=5, keep=("session_id",))
    out = preview({"prompt": "abcdefgh", "session_id": "s", "cwd": "/home/me"})
    assert out == {
        "session_id": "s",
        "prompt": "abcde",
        "prompt_length": 8,
        "prompt_truncated": True,
    }
    with pytest.raises(ValueError, match="limit"):
        redacted_preview("prompt", limit=0)


@pytest.mark.anyio
async def test_emit_publishes_every_copy_and_reports_each(rpc: MemoryRpc) -> None:
    rpc.broker.create_topic(CMD, 1)
    rpc.broker.create_topic(EVT, 1)
    async with rpc.client(events=prompt_catalog()) as client:
        result = await client.emit("prompt.submitted", {"session_id": "s", "prompt": "hello"})
    assert result.ok and result.failed == ()
    assert [t.topic for t in result.targets] == [CMD, EVT]
    (record,) = rpc.broker.records(EVT)
    assert decode_envelope(record.value).payload["prompt"] == "hello"


@pytest.mark.anyio
async def test_emit_without_a_catalog_is_a_configuration_error(rpc: MemoryRpc) -> None:
    async with rpc.client() as client:
        with pytest.raises(ConfigurationError, match="events="):
            await client.emit("prompt.submitted", {})


@pytest.mark.anyio
async def test_a_copy_the_broker_refuses_goes_to_its_dlq(rpc: MemoryRpc) -> None:
    rpc.broker.create_topic(EVT, 1)
    rpc.broker.create_topic(f"{CMD}.dlq", 1)  # the command topic itself is missing
    async with rpc.client(events=prompt_catalog()) as client:
        result = await client.emit(
            "prompt.submitted",
            {"session_id": "s", "prompt": "hello"},
            retry=CallRetry(max_attempts=3, initial_delay=0, jitter=0),
        )
    assert [t.topic for t in result.failed] == [CMD]
    assert result[CMD].attempts == 3 and result[CMD].dead_letter_topic == f"{CMD}.dlq"
    assert result[EVT].stored
    (parked,) = rpc.broker.records(f"{CMD}.dlq")
    assert decode_envelope(parked.value).event_id == result[CMD].event_id
    with pytest.raises(KeyError):
        result["not.a.target"]


def test_the_blocking_client_emits_too(broker: MemoryBroker) -> None:
    broker.create_topic(CMD, 1)
    broker.create_topic(EVT, 1)
    catalog = prompt_catalog()
    with SyncClient(transport=MemoryTransport(broker), service="sync", events=catalog) as sync:
        result = sync.emit("prompt.submitted", {"session_id": "s", "prompt": "hi"}, key="k")
    assert result.ok
    assert [r.key for r in broker.records(CMD) + broker.records(EVT)] == [b"k", b"k"]
