"""Topic names (docs/wire.md §1): the trio, event types, validation, DLQ naming."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkarpc import ConfigurationError, InvalidTopicName, TopicTrio, trio_topics
from kafkarpc.wire.topics import dlq_topic, validate_topic_name

LEGAL = string.ascii_letters + string.digits + "._-"

HYPHEN_TRIO = {
    "requested": "dev.archon-intelligence.intelligence.code-analysis-requested.v1",
    "completed": "dev.archon-intelligence.intelligence.code-analysis-completed.v1",
    "failed": "dev.archon-intelligence.intelligence.code-analysis-failed.v1",
}


def test_from_base_names_the_three_topics() -> None:
    trio = TopicTrio.from_base("agent.routing")
    assert trio.requested == "agent.routing.requested.v1"
    assert trio.completed == "agent.routing.completed.v1"
    assert trio.failed == "agent.routing.failed.v1"
    assert trio.reply_topics == ("agent.routing.completed.v1", "agent.routing.failed.v1")


def test_from_base_event_types() -> None:
    trio = TopicTrio.from_base("agent.routing")
    assert trio.event_type("requested") == "AGENT_ROUTING_REQUESTED"
    assert trio.event_type("completed") == "AGENT_ROUTING_COMPLETED"
    assert trio.event_type("failed") == "AGENT_ROUTING_FAILED"


def test_from_base_with_version() -> None:
    trio = TopicTrio.from_base("dev.billing.payments.charge", version="v2")
    assert trio.requested == "dev.billing.payments.charge.requested.v2"
    assert trio.completed == "dev.billing.payments.charge.completed.v2"
    assert trio.failed == "dev.billing.payments.charge.failed.v2"


@pytest.mark.parametrize("version", ["", "1", "version2", "v", "v1.", "V1", "v1\n"])
def test_from_base_rejects_bad_versions(version: str) -> None:
    with pytest.raises(InvalidTopicName):
        TopicTrio.from_base("agent.routing", version=version)


def test_onex_form_is_accepted() -> None:
    trio = TopicTrio.from_base("onex.cmd.owner.name")
    assert trio.requested == "onex.cmd.owner.name.requested.v1"
    assert trio.completed == "onex.cmd.owner.name.completed.v1"
    assert trio.failed == "onex.cmd.owner.name.failed.v1"
    for role in ("requested", "completed", "failed"):
        event_type = trio.event_type(role)
        assert event_type.endswith(f"_{role.upper()}")
        assert event_type == event_type.upper()


def test_env_service_domain_action_form_is_accepted() -> None:
    trio = TopicTrio.from_base("dev.archon-intelligence.intelligence.code-analysis")
    assert trio.requested == "dev.archon-intelligence.intelligence.code-analysis.requested.v1"
    assert trio.event_type("requested").endswith("_REQUESTED")


def test_explicit_hyphen_trio_from_the_spec() -> None:
    trio = TopicTrio(**HYPHEN_TRIO)
    assert trio.requested == HYPHEN_TRIO["requested"]
    assert trio.reply_topics == (HYPHEN_TRIO["completed"], HYPHEN_TRIO["failed"])
    assert trio.event_type("requested") == "CODE_ANALYSIS_REQUESTED"
    assert trio.event_type("completed") == "CODE_ANALYSIS_COMPLETED"
    assert trio.event_type("failed") == "CODE_ANALYSIS_FAILED"


def test_explicit_event_prefix_wins() -> None:
    trio = TopicTrio(**HYPHEN_TRIO, event_prefix="ANALYSIS")
    assert trio.event_type("completed") == "ANALYSIS_COMPLETED"


def test_explicit_trio_equals_from_base() -> None:
    explicit = TopicTrio(
        requested="agent.routing.requested.v1",
        completed="agent.routing.completed.v1",
        failed="agent.routing.failed.v1",
    )
    assert explicit == TopicTrio.from_base("agent.routing")
    assert hash(explicit) == hash(TopicTrio.from_base("agent.routing"))


def test_explicit_trio_topics_must_differ() -> None:
    with pytest.raises(InvalidTopicName):
        TopicTrio(requested="a.requested", completed="a.requested", failed="a.failed")


def test_explicit_trio_validates_each_name() -> None:
    with pytest.raises(InvalidTopicName, match="illegal"):
        TopicTrio(requested="a.requested", completed="a completed", failed="a.failed")
    with pytest.raises(InvalidTopicName):
        TopicTrio(requested="a.requested", completed="a.completed", failed="a.failed\n")


@pytest.mark.parametrize("base", ["", ".", "..", "has space", "emoji✓", "x" * 240])
def test_from_base_rejects_bad_bases(base: str) -> None:
    with pytest.raises(InvalidTopicName):
        TopicTrio.from_base(base)


def test_coerce_passes_trios_through() -> None:
    trio = TopicTrio(**HYPHEN_TRIO)
    assert TopicTrio.coerce(trio) is trio
    assert TopicTrio.coerce("agent.routing") == TopicTrio.from_base("agent.routing")


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("", "empty"),
        (".", "reserved"),
        ("..", "reserved"),
        ("orders/created", "illegal"),
        ("orders created", "illegal"),
        ("orders:created", "illegal"),
        ("ordérs", "illegal"),
        ("orders\n", "illegal"),
        ("orders.created\n", "illegal"),
        ("x" * 250, "249"),
    ],
)
def test_validate_topic_name_errors(name: str, match: str) -> None:
    with pytest.raises(InvalidTopicName, match=match):
        validate_topic_name(name)


def test_invalid_topic_name_is_a_configuration_and_value_error() -> None:
    with pytest.raises(ConfigurationError):
        validate_topic_name("bad topic")
    with pytest.raises(ValueError, match="illegal"):
        validate_topic_name("bad topic")


def test_validate_topic_name_rejects_non_strings() -> None:
    with pytest.raises(InvalidTopicName):
        validate_topic_name(42)  # type: ignore[arg-type]


def test_max_length_topic_is_accepted() -> None:
    assert validate_topic_name("x" * 249) == "x" * 249


@given(st.text(alphabet=LEGAL, min_size=1, max_size=249).filter(lambda s: s not in {".", ".."}))
def test_any_legal_name_is_accepted(name: str) -> None:
    assert validate_topic_name(name) == name


@given(
    st.text(alphabet=LEGAL, max_size=20),
    st.characters().filter(lambda c: c not in LEGAL),
    st.text(alphabet=LEGAL, max_size=20),
)
def test_any_illegal_character_is_rejected(head: str, bad: str, tail: str) -> None:
    with pytest.raises(InvalidTopicName):
        validate_topic_name(head + bad + tail)


# ------------------------------------------------------------------ DLQ


def test_dlq_topic_appends_dlq() -> None:
    assert dlq_topic("agent.routing.requested.v1") == "agent.routing.requested.v1.dlq"


def test_dlq_topic_of_a_too_long_name_is_rejected() -> None:
    with pytest.raises(InvalidTopicName):
        dlq_topic("x" * 246)


def test_trio_topics_lists_trio_and_request_dlq() -> None:
    assert trio_topics(["agent.routing"]) == [
        "agent.routing.requested.v1",
        "agent.routing.completed.v1",
        "agent.routing.failed.v1",
        "agent.routing.requested.v1.dlq",
    ]
    assert trio_topics(["agent.routing"], with_dlq=False, version="v3") == [
        "agent.routing.requested.v3",
        "agent.routing.completed.v3",
        "agent.routing.failed.v3",
    ]
