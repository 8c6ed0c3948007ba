"""The topic naming hook (docs/events.md, "Topic naming"): one function, every topic name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from kafkarpc import (
    ConfigurationError,
    EventCatalog,
    EventRegistration,
    EventTarget,
    InvalidTopicName,
    TopicPrefix,
    Topics,
    TopicTrio,
    generate_asyncapi,
    trio_topics,
)
from kafkarpc._cli._call import _prefix
from kafkarpc._cli._common import CliError
from kafkarpc.wire.topics import name_topic

if TYPE_CHECKING:
    from tests.unit.conftest import MemoryRpc

DEV = TopicPrefix("dev", "billing")


def test_a_prefix_names_topics_as_the_reference_adapter_does() -> None:
    assert DEV("charge.requested.v1") == "dev.billing.charge.requested.v1"
    for environment, group in [("", "g"), ("dev", ""), ("d.v", "g"), ("dev", "a b")]:
        with pytest.raises(InvalidTopicName):
            TopicPrefix(environment, group)


def test_no_naming_is_the_identity_and_a_bad_name_is_refused() -> None:
    assert name_topic(None, "a.b") == "a.b"
    assert name_topic(str.upper, "a.b") == "A.B"
    with pytest.raises(InvalidTopicName):
        name_topic(lambda name: f"{name} with spaces", "a.b")
    with pytest.raises(InvalidTopicName, match="not a str"):
        name_topic(lambda name: 42, "a.b")  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigurationError, match="naming"):
        Topics(naming="dev.")  # type: ignore[arg-type]


def test_a_trio_from_a_base_name_is_named_and_an_explicit_one_is_not() -> None:
    trio = TopicTrio.from_base("billing.charge", naming=DEV)
    assert trio.requested == "dev.billing.billing.charge.requested.v1"
    assert trio.failed == "dev.billing.billing.charge.failed.v1"
    assert trio.event_prefix == "BILLING_CHARGE"  # from the operation, not the prefix
    explicit = TopicTrio("a.req", "a.ok", "a.err")
    assert TopicTrio.coerce(explicit, naming=DEV) is explicit


def test_admin_helpers_take_the_same_hook() -> None:
    assert trio_topics(["pay"], naming=DEV) == [
        "dev.billing.pay.requested.v1",
        "dev.billing.pay.completed.v1",
        "dev.billing.pay.failed.v1",
        "dev.billing.pay.requested.v1.dlq",
    ]


def test_the_cli_prefix_option_is_env_dot_group() -> None:
    assert _prefix("dev.billing") == DEV
    assert _prefix(None) is None
    with pytest.raises(CliError, match=r"ENV\.GROUP"):
        _prefix("dev")


def create_named(rpc: MemoryRpc, op: str) -> TopicTrio:
    trio = TopicTrio.from_base(op, naming=DEV)
    for topic in (trio.requested, trio.completed, trio.failed, f"{trio.requested}.dlq"):
        rpc.broker.create_topic(topic, 1)
    return trio


@pytest.mark.anyio
async def test_client_server_publish_emit_and_asyncapi_all_use_the_hook(rpc: MemoryRpc) -> None:
    trio = create_named(rpc, "billing.charge")
    rpc.broker.create_topic("dev.billing.charged.v1", 1)
    rpc.broker.create_topic("dev.billing.audit.v1", 1)
    topics = Topics(naming=DEV)
    server = rpc.server(topics=topics)

    @server.responder("billing.charge")
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        return payload

    @server.subscriber("charged.v1")
    async def charged(payload: dict[str, Any]) -> None:
        return None

    catalog = EventCatalog([EventRegistration("billing.audited", (EventTarget("audit.v1"),))])
    async with server, rpc.client(topics=topics, events=catalog) as client:
        assert await client.request("billing.charge", {"n": 1}) == {"n": 1}
        await client.publish("charged.v1", {"n": 1})
        result = await client.emit("billing.audited", {"n": 1})
    assert list(server.responders) == [trio.requested]
    assert list(server.subscribers) == ["dev.billing.charged.v1"]
    assert len(rpc.broker.records(trio.requested)) == 1
    assert len(rpc.broker.records("dev.billing.charged.v1")) == 1
    assert [t.topic for t in result.targets] == ["dev.billing.audit.v1"] and result.ok
    channels = {c["address"] for c in generate_asyncapi(server)["channels"].values()}
    assert trio.requested in channels
