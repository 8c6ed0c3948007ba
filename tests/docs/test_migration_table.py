"""docs/migration.md's table of old constructor keywords says what the library does.

Each row names an old keyword, the constructors that take it, and its new place.
Passing the keyword must warn ``DeprecationWarning`` naming that place (the warning
is written from the same table that applies the keyword), the other constructor
must refuse it, and the new place must be accepted without a warning.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest

import kafkarpc
from kafkarpc import MemoryBroker, MemoryTransport
from kafkarpc._legacy import LegacyClientOptions, LegacyServerOptions

MIGRATION = Path(__file__).resolve().parents[2] / "docs" / "migration.md"
_ROW = re.compile(
    r"^\| `(?P<old>\w+)=` \| (?P<on>client|server|both) \| "
    r"`(?P<group>\w+)=(?P<cls>\w+)\((?P<field>\w+)=\.\.\.\)` \|$"
)
# A value the new option object accepts for each field, different from its default.
_VALUES: dict[str, Any] = {
    "max_in_flight": 7,
    "max_concurrency": 5,
    "shutdown_timeout": 3.0,
    "create": True,
    "partitions": 2,
    "version": "v2",
    "reply_partition": 1,
    "tracer_provider": None,
    "meter_provider": None,
    "payload_preview": repr,
}


def _rows() -> list[tuple[str, str, str, str, str]]:
    lines = MIGRATION.read_text(encoding="utf-8").splitlines()
    rows = []
    for match in filter(None, map(_ROW.match, lines)):
        old, on, group, cls, field = match.group("old", "on", "group", "cls", "field")
        rows.append((old, on, group, cls, field))
    return rows


def _constructors(on: str) -> list[type[Any]]:
    sides: dict[str, list[type[Any]]] = {
        "client": [kafkarpc.RpcClient],
        "server": [kafkarpc.RpcServer],
        "both": [kafkarpc.RpcClient, kafkarpc.RpcServer],
    }
    return sides[on]


def test_the_table_lists_every_old_keyword() -> None:
    old = LegacyClientOptions.__optional_keys__ | LegacyServerOptions.__optional_keys__
    assert sorted(row[0] for row in _rows()) == sorted(old)


@pytest.mark.parametrize("row", _rows(), ids=lambda row: row[0])
def test_the_table_says_which_constructors_take_a_keyword(
    row: tuple[str, str, str, str, str],
) -> None:
    old, on = row[0], row[1]
    takers = {
        side
        for side, options in (("client", LegacyClientOptions), ("server", LegacyServerOptions))
        if old in options.__optional_keys__
    }
    assert takers == ({"client", "server"} if on == "both" else {on})
    if on != "both":
        (other,) = _constructors("server" if on == "client" else "client")
        with pytest.raises(TypeError, match=old):
            other(
                service="docs", transport=MemoryTransport(MemoryBroker()), **{old: _VALUES[row[4]]}
            )


@pytest.mark.parametrize("row", _rows(), ids=lambda row: row[0])
def test_an_old_keyword_warns_and_names_its_new_place(row: tuple[str, str, str, str, str]) -> None:
    old, on, group, cls, field = row
    assert hasattr(kafkarpc, cls), f"{cls} is not a public name"
    for constructor in _constructors(on):
        transport = MemoryTransport(MemoryBroker())
        with pytest.warns(DeprecationWarning, match=re.escape(f"{old}= -> {group}.{field}")):
            constructor(service="docs", transport=transport, **{old: _VALUES[field]})


@pytest.mark.parametrize("row", _rows(), ids=lambda row: row[0])
def test_the_new_place_is_accepted_without_a_warning(row: tuple[str, str, str, str, str]) -> None:
    _old, on, group, cls, field = row
    option = getattr(kafkarpc, cls)(**{field: _VALUES[field]})
    for constructor in _constructors(on):
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            constructor(
                service="docs", transport=MemoryTransport(MemoryBroker()), **{group: option}
            )


def test_retry_policy_is_deprecated_but_accepted_by_both_sides() -> None:
    with pytest.warns(DeprecationWarning, match="CallRetry"):
        policy = kafkarpc.RetryPolicy(max_attempts=2)
    transport = MemoryTransport(MemoryBroker())
    kafkarpc.RpcClient(service="docs", transport=transport, retry=policy)
    kafkarpc.RpcServer(service="docs", transport=transport, retry=policy)


@pytest.mark.parametrize("constructor", [kafkarpc.RpcClient, kafkarpc.RpcServer])
@pytest.mark.parametrize(
    "option", [{"config": {"linger.ms": 1}}, {"security": kafkarpc.Security(protocol="SSL")}]
)
def test_security_or_config_with_a_transport_is_a_configuration_error(
    constructor: type[Any], option: dict[str, Any]
) -> None:
    with pytest.raises(kafkarpc.ConfigurationError, match="transport"):
        constructor(service="docs", transport=MemoryTransport(MemoryBroker()), **option)
