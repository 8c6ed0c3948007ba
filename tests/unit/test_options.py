"""Constructor options: each value object rejects bad values when it is built, and
Kafka settings (``security``, ``config``) cannot ride along with ``transport=``."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kafkarpc import (
    ConfigurationError,
    Limits,
    MemoryBroker,
    MemoryTransport,
    RpcClient,
    RpcServer,
    Security,
    Telemetry,
    Topics,
)


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        (Limits, {"max_in_flight": 0}, "max_in_flight must be >= 1, got 0"),
        (Limits, {"max_concurrency": -3}, "max_concurrency must be >= 1, got -3"),
        (Limits, {"shutdown_timeout": -0.5}, "shutdown_timeout must be >= 0"),
        (Topics, {"partitions": 0}, "partitions must be >= 1, got 0"),
        (Topics, {"reply_partition": -1}, "reply_partition must be >= 0, got -1"),
    ],
)
def test_bad_option_values_are_configuration_errors(
    kind: type[Limits | Topics], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        kind(**options)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "option",
    [
        Limits(max_in_flight=1, max_concurrency=1, shutdown_timeout=0),
        Topics(partitions=1, reply_partition=0, version="v2", create=True),
        Telemetry(),
    ],
    ids=lambda option: type(option).__name__,
)
def test_boundary_values_are_accepted_and_options_are_frozen(
    option: Limits | Topics | Telemetry,
) -> None:
    first = dataclasses.fields(option)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(option, first, getattr(option, first))


@pytest.mark.parametrize("owner", [RpcClient, RpcServer])
@pytest.mark.parametrize(
    "kafka_setting",
    [{"security": Security()}, {"config": {"linger.ms": 5}}, {"config": {}}],
    ids=["security", "config", "empty-config"],
)
def test_kafka_settings_with_a_transport_are_configuration_errors(
    owner: type[RpcClient | RpcServer], kafka_setting: dict[str, Any]
) -> None:
    # They configure the Kafka transport built from bootstrap; with transport= they
    # would be silently ignored.
    with pytest.raises(ConfigurationError, match="with transport="):
        owner(service="svc", transport=MemoryTransport(MemoryBroker()), **kafka_setting)
