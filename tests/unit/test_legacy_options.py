"""Deprecated constructor keywords and ``RetryPolicy``: still working, mapped, and warned about.

This is the one test module allowed to use the old spellings; everywhere else the
suite turns kafkarpc's DeprecationWarning into an error (pyproject.toml).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

import kafkarpc
from kafkarpc import (
    CallRetry,
    HandlerRetry,
    Limits,
    MemoryBroker,
    MemoryTransport,
    RemoteError,
    RequestTimeout,
    RetryPolicy,
    RpcClient,
    RpcServer,
    Telemetry,
    Topics,
    TopicTrio,
)
from kafkarpc._legacy import LegacyClientOptions, LegacyServerOptions, fold_legacy
from kafkarpc._retry import call_retry, handler_retry
from kafkarpc.wire.headers import header_dict

if TYPE_CHECKING:
    from tests.unit.conftest import MemoryRpc

KEYWORDS_WARNING = r"kafkarpc\.Rpc(Client|Server): these keywords are deprecated"
RETRY_WARNING = r"kafkarpc\.RetryPolicy is deprecated"


def preview(payload: Any) -> str:
    return "preview"


TRACER_PROVIDER = TracerProvider()
METER_PROVIDER = MeterProvider()

# old keyword, a value, the option object and field it now lands in
CLIENT_KEYWORDS: list[tuple[str, Any, str, str]] = [
    ("max_in_flight", 7, "limits", "max_in_flight"),
    ("reply_partition", 2, "topics", "reply_partition"),
    ("version", "v2", "topics", "version"),
    ("create_topics", True, "topics", "create"),
    ("topic_partitions", 5, "topics", "partitions"),
    ("tracer_provider", TRACER_PROVIDER, "telemetry", "tracer_provider"),
    ("meter_provider", METER_PROVIDER, "telemetry", "meter_provider"),
    ("payload_preview", preview, "telemetry", "payload_preview"),
]
SERVER_KEYWORDS: list[tuple[str, Any, str, str]] = [
    ("max_concurrency", 9, "limits", "max_concurrency"),
    ("shutdown_timeout", 1.5, "limits", "shutdown_timeout"),
    *(row for row in CLIENT_KEYWORDS if row[0] not in ("max_in_flight", "reply_partition")),
]
BOTH = [
    pytest.param(owner, *row, id=f"{owner.__name__}-{row[0]}")
    for owner, rows in ((RpcClient, CLIENT_KEYWORDS), (RpcServer, SERVER_KEYWORDS))
    for row in rows
]


def build(owner: type[RpcClient | RpcServer], **options: Any) -> RpcClient | RpcServer:
    return owner(service="svc", transport=MemoryTransport(MemoryBroker()), **options)


@pytest.mark.parametrize(("owner", "keyword", "value", "group", "field"), BOTH)
def test_every_old_keyword_lands_in_its_option_field(
    owner: type[RpcClient | RpcServer], keyword: str, value: Any, group: str, field: str
) -> None:
    allowed = LegacyClientOptions if owner is RpcClient else LegacyServerOptions
    defaults: dict[str, object] = {"limits": Limits(), "topics": Topics(), "telemetry": Telemetry()}
    with pytest.warns(DeprecationWarning, match=f"{keyword}= -> {group}.{field}"):
        limits, topics, telemetry = fold_legacy(
            owner.__name__,
            {keyword: value},
            allowed,
            limits=Limits(),
            topics=Topics(),
            telemetry=Telemetry(),
        )
    result: dict[str, object] = {"limits": limits, "topics": topics, "telemetry": telemetry}
    assert getattr(result[group], field) == value
    # Nothing else moved.
    for name, option in result.items():
        if name != group:
            assert option == defaults[name]


@pytest.mark.parametrize(("owner", "keyword", "value", "group", "field"), BOTH)
def test_every_old_keyword_is_still_accepted_with_a_warning(
    owner: type[RpcClient | RpcServer], keyword: str, value: Any, group: str, field: str
) -> None:
    with pytest.warns(DeprecationWarning, match=rf"kafkarpc\.{owner.__name__}: .*{keyword}="):
        build(owner, **{keyword: value})


def test_old_keywords_apply_on_top_of_option_objects() -> None:
    with pytest.warns(DeprecationWarning, match=KEYWORDS_WARNING):
        limits, topics, telemetry = fold_legacy(
            "RpcServer",
            {"shutdown_timeout": 2.0, "version": "v3"},
            LegacyServerOptions,
            limits=Limits(max_concurrency=5),
            topics=Topics(partitions=4),
            telemetry=Telemetry(payload_preview=preview),
        )
    assert limits == Limits(max_concurrency=5, shutdown_timeout=2.0)
    assert topics == Topics(partitions=4, version="v3")
    assert telemetry == Telemetry(payload_preview=preview)


def test_no_old_keywords_means_no_warning_and_the_same_objects() -> None:
    limits, topics, telemetry = Limits(), Topics(), Telemetry()
    folded = fold_legacy("RpcClient", {}, LegacyClientOptions, **locals())
    assert folded == (limits, topics, telemetry)


def test_old_server_version_names_the_topics() -> None:
    with pytest.warns(DeprecationWarning, match=KEYWORDS_WARNING):
        server = build(RpcServer, version="v2")
    assert isinstance(server, RpcServer)

    @server.responder("billing.charge")
    async def charge(payload: dict[str, Any]) -> dict[str, Any]:
        return payload

    assert list(server.responders) == ["billing.charge.requested.v2"]


@pytest.mark.anyio
async def test_old_client_topic_keywords_take_effect(broker: MemoryBroker) -> None:
    with pytest.warns(DeprecationWarning, match=KEYWORDS_WARNING):
        client = RpcClient(
            service="svc",
            transport=MemoryTransport(broker),
            version="v2",
            create_topics=True,
            topic_partitions=2,
            reply_partition=1,
        )
    trio = TopicTrio.from_base("agent.routing", version="v2")
    async with client:
        with pytest.raises(RequestTimeout):
            await client.request("agent.routing", {}, timeout=0.05)
    (request,) = broker.records(trio.requested)
    assert header_dict(request.headers)["reply_partition"] == "1"
    assert await MemoryTransport(broker).partition_count(trio.requested) == 2


@pytest.mark.parametrize(
    ("owner", "keyword"),
    [
        (RpcClient, "bogus"),
        (RpcServer, "bogus"),
        # Each side's own keywords are unknown to the other.
        (RpcClient, "max_concurrency"),
        (RpcClient, "shutdown_timeout"),
        (RpcServer, "max_in_flight"),
        (RpcServer, "reply_partition"),
    ],
)
def test_unknown_keywords_are_type_errors(owner: type[RpcClient | RpcServer], keyword: str) -> None:
    with pytest.raises(TypeError, match=rf"{owner.__name__}\(\) .* '{keyword}'"):
        build(owner, **{keyword: 1})


# ------------------------------------------------------------------ RetryPolicy


def test_retry_policy_warns_and_is_a_call_retry() -> None:
    with pytest.warns(DeprecationWarning, match=RETRY_WARNING):
        policy = RetryPolicy(max_attempts=4, retry_remote=True, handler_exceptions=(OSError,))
    assert isinstance(policy, CallRetry)
    assert call_retry(policy) is policy
    assert policy.should_retry_call(RemoteError(error_code="X", error_message="y", retryable=True))


def test_retry_policy_becomes_a_handler_retry_on_a_server() -> None:
    # Every field a HandlerRetry has, each away from its default.
    fields: dict[str, Any] = {
        "max_attempts": 4,
        "initial_delay": 0.5,
        "max_delay": 3,
        "multiplier": 3,
        "jitter": 0.25,
        "handler_exceptions": (OSError,),
    }
    with pytest.warns(DeprecationWarning, match=RETRY_WARNING):
        policy = RetryPolicy(retry_timeouts=True, **fields)
    assert handler_retry(policy) == HandlerRetry(**fields)
    new = HandlerRetry()
    assert handler_retry(new) is new


@pytest.mark.anyio
async def test_retry_policy_still_works_on_client_and_server(rpc: MemoryRpc) -> None:
    trio = rpc.trio("mail.send")
    with pytest.warns(DeprecationWarning, match=RETRY_WARNING):
        server_policy = RetryPolicy(max_attempts=3, initial_delay=0, jitter=0)
    with pytest.warns(DeprecationWarning, match=RETRY_WARNING):
        client_policy = RetryPolicy(max_attempts=2, initial_delay=0, jitter=0, retry_remote=True)
    server = rpc.server(retry=server_policy)
    calls: list[str] = []

    @server.responder(trio)
    async def send(payload: dict[str, str]) -> dict[str, str]:
        calls.append(payload["to"])
        if len(calls) < 3:
            raise OSError("smtp down")  # re-run by the server's policy
        if len(calls) == 3:
            raise RemoteError(error_code="BUSY", error_message="later", retryable=True)
        return {"sent": payload["to"]}

    async with server, rpc.client(retry=client_policy) as client:
        # Server: two OSErrors re-run, then the remote error is the call's first answer;
        # client: that answer is retryable, so the call is sent again and succeeds.
        assert await client.request(trio, {"to": "a"}) == {"sent": "a"}
    assert calls == ["a"] * 4
    assert client.stats.retries == 1
    assert server.stats.retries == 2


def test_retry_policy_is_still_exported() -> None:
    assert kafkarpc.RetryPolicy is RetryPolicy
    assert RetryPolicy.__module__ == "kafkarpc"
